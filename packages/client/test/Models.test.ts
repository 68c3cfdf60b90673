/**
 * The models on their own: expected versions, positions, new events, recorded and resolved events
 * (JSON and Schema decoding), and stream metadata's JSON form, by example and by property (with a fixed
 * seed; `PROPERTY_SEED` sets another, `PROPERTY_RUNS` multiplies the runs).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Guid } from "@photonpump/protocol"
import { EventStoreError, ExpectedVersion, NewEvent, Position, RecordedEvent, ResolvedEvent, StreamMetadata } from "@photonpump/client"
import { checks } from "./Properties.ts"

const encoder = new TextEncoder()

const recorded = (data: string, overrides?: Partial<RecordedEvent.Fields>) =>
  new RecordedEvent.RecordedEvent({
    stream: "ponies",
    eventNumber: 3n,
    idBytes: Result.getOrThrow(Guid.toWire("01234567-89ab-cdef-0123-456789abcdef")),
    type: "PonyJumped",
    data: encoder.encode(data),
    metadata: new Uint8Array(0),
    isJson: true,
    createdEpochMillis: 1_700_000_000_000n,
    createdTicks: 0n,
    ...overrides
  })

describe("ExpectedVersion", () => {
  it("maps to the protocol's numbers", () => {
    assert.strictEqual(ExpectedVersion.toWire(ExpectedVersion.Any), -2n)
    assert.strictEqual(ExpectedVersion.toWire(ExpectedVersion.NoStream), -1n)
    assert.strictEqual(ExpectedVersion.toWire(ExpectedVersion.StreamExists), -4n)
    assert.strictEqual(ExpectedVersion.toWire(ExpectedVersion.exact(5)), 5n)
  })

  it("reads plain numbers as the official clients do", () => {
    assert.deepStrictEqual(ExpectedVersion.fromInput(7), ExpectedVersion.exact(7n))
    assert.deepStrictEqual(ExpectedVersion.fromInput(-1n), ExpectedVersion.NoStream)
    assert.deepStrictEqual(ExpectedVersion.fromInput(-2), ExpectedVersion.Any)
    assert.deepStrictEqual(ExpectedVersion.fromInput(-4), ExpectedVersion.StreamExists)
    assert.strictEqual(ExpectedVersion.fromInput(-3), undefined)
    assert.strictEqual(ExpectedVersion.fromInput(1.5), undefined)
  })
})

describe("Position", () => {
  it("orders by commit, then prepare", () => {
    assert.strictEqual(Position.compare(Position.make(1, 5), Position.make(2, 0)), -1)
    assert.strictEqual(Position.compare(Position.make(2, 5), Position.make(2, 3)), 1)
    assert.strictEqual(Position.compare(Position.make(2), Position.make(2, 2)), 0)
    assert.isTrue(Position.equals(Position.start, Position.make(0)))
  })
})

describe("NewEvent", () => {
  it("takes JSON from any value and gets a random id", () => {
    const a = NewEvent.make("PonyJumped", { body: { Pony: "Derpy Hooves" } })
    const b = NewEvent.make("PonyJumped", { body: { Pony: "Derpy Hooves" } })
    assert.isTrue(a.isJson)
    assert.isTrue(Guid.isUuid(a.id))
    assert.notStrictEqual(a.id, b.id)
  })

  it("takes raw bytes as binary unless told otherwise", () => {
    const bytes = new Uint8Array([1, 2, 3])
    assert.isFalse(NewEvent.make("Blob", { body: bytes }).isJson)
    assert.isTrue(NewEvent.make("Blob", { body: encoder.encode("{}"), isJson: true }).isJson)
    assert.isFalse(NewEvent.binary("Blob", bytes).isJson)
    assert.strictEqual(NewEvent.json("X", 1, { id: "01234567-89ab-cdef-0123-456789abcdef" }).id, "01234567-89ab-cdef-0123-456789abcdef")
  })
})

describe("RecordedEvent", () => {
  it("gives its id, creation date and JSON", () => {
    const event = recorded(`{"Pony":"Derpy Hooves","Height":10}`)
    assert.strictEqual(event.id, "01234567-89ab-cdef-0123-456789abcdef")
    assert.strictEqual(event.created.getTime(), 1_700_000_000_000)
    assert.deepStrictEqual(event.json(), { Pony: "Derpy Hooves", Height: 10 })
    assert.strictEqual(event.text(), `{"Pony":"Derpy Hooves","Height":10}`)
  })

  it("reads its id at idOffset when idBytes holds more than the id", () => {
    const id = Result.getOrThrow(Guid.toWire("01234567-89ab-cdef-0123-456789abcdef"))
    const reply = new Uint8Array(40)
    reply.set(id, 9)
    assert.strictEqual(recorded("{}", { idBytes: reply, idOffset: 9 }).id, "01234567-89ab-cdef-0123-456789abcdef")
    assert.strictEqual(recorded("{}", { idBytes: new Uint8Array(3) }).id, Guid.empty)
  })

  it("falls back to .NET ticks for the creation date", () => {
    const event = recorded("{}", { createdEpochMillis: undefined, createdTicks: 621_355_968_000_000_000n + 10_000n * 42n })
    assert.strictEqual(event.created.getTime(), 42)
    assert.strictEqual(recorded("{}", { createdEpochMillis: undefined, createdTicks: 0n }).created.getTime(), 0)
  })

  it("gives back the fields it was made from, and logs without throwing on a time past what a Date holds", () => {
    const data = encoder.encode("{}")
    const metadata = encoder.encode(`{"m":1}`)
    const event = recorded("", { data, metadata, eventNumber: 2n ** 63n - 1n, createdEpochMillis: 2 ** 53 })
    assert.strictEqual(event.data, data)
    assert.strictEqual(event.metadata, metadata)
    assert.strictEqual(event.eventNumber, 2n ** 63n - 1n)
    assert.deepStrictEqual(event.metadataJson(), { m: 1 })
    assert.deepStrictEqual(event.toJSON(), {
      _id: "RecordedEvent",
      stream: "ponies",
      eventNumber: "9223372036854775807",
      id: "01234567-89ab-cdef-0123-456789abcdef",
      type: "PonyJumped",
      isJson: true,
      created: "Invalid Date",
      dataLength: 2,
      metadataLength: 7
    })
  })

  it.effect("decodes with a Schema", () =>
    Effect.gen(function*() {
      const Jump = Schema.Struct({ Pony: Schema.String, Height: Schema.Number })
      const jump = yield* recorded(`{"Pony":"Derpy Hooves","Height":10}`).decode(Jump)
      assert.deepStrictEqual(jump, { Pony: "Derpy Hooves", Height: 10 })
    }))

  it.effect("fails with EventDecodeError on a mismatch or on data that is not JSON", () =>
    Effect.gen(function*() {
      const Jump = Schema.Struct({ Pony: Schema.String, Height: Schema.Number })
      const mismatch = yield* Effect.flip(recorded(`{"Pony":"Derpy Hooves","Height":"tall"}`).decode(Jump))
      assert.instanceOf(mismatch, EventStoreError.EventDecodeError)
      assert.strictEqual(mismatch.eventNumber, 3n)
      assert.isDefined(mismatch.issue)
      const notJson = yield* Effect.flip(recorded("not json").decode(Jump))
      assert.instanceOf(notJson, EventStoreError.EventDecodeError)
      assert.include(notJson.reason, "not JSON")
      assert.isUndefined(notJson.issue)
    }))

  it("is reachable through a ResolvedEvent", () => {
    const link = recorded("0@ponies", { stream: "$ce-ponies", eventNumber: 9n, type: "$>", isJson: false })
    const target = recorded(`{"a":1}`)
    const resolved = new ResolvedEvent.ResolvedEvent(target, link, undefined, true)
    assert.strictEqual(resolved.type, "PonyJumped")
    assert.strictEqual(resolved.originalEvent, link)
    assert.strictEqual(resolved.originalEventNumber, 9n)
    assert.strictEqual(resolved.originalStream, "$ce-ponies")
    assert.deepStrictEqual(resolved.json(), { a: 1 })
  })
})

describe("StreamMetadata", () => {
  it("writes the well-known keys in the server's order, then the custom ones", () => {
    const json = StreamMetadata.toJson(StreamMetadata.make({
      custom: { owner: "ops", "$maxCount": 99 },
      acl: { readRoles: ["$all"], writeRoles: ["admin", "ops"] },
      cacheControl: "1 minute",
      truncateBefore: 9223372036854775807n,
      maxAge: "2 hours",
      maxCount: 10
    }))
    assert.strictEqual(
      json,
      `{"$maxCount":10,"$maxAge":7200,"$tb":9223372036854775807,"$cacheControl":60,` +
        `"$acl":{"$r":"$all","$w":["admin","ops"]},"owner":"ops"}`
    )
  })

  it("reads them back, keeping $tb exact and the custom keys", () => {
    const metadata = StreamMetadata.fromJson(
      `{"$maxCount":10,"$maxAge":7200,"$tb":9223372036854775807,"$tmp":true,"$cacheControl":60,` +
        `"$acl":{"$r":"$all","$mw":["$admins"]},"owner":"ops","$unknown":1}`
    )
    assert.strictEqual(metadata.maxCount, 10)
    assert.strictEqual(Duration.toSeconds(metadata.maxAge!), 7200)
    assert.strictEqual(metadata.truncateBefore, 9223372036854775807n)
    assert.strictEqual(metadata.tempStream, true)
    assert.strictEqual(Duration.toSeconds(metadata.cacheControl!), 60)
    assert.deepStrictEqual(metadata.acl, { readRoles: ["$all"], metaWriteRoles: ["$admins"] })
    assert.deepStrictEqual(metadata.custom, { owner: "ops", $unknown: 1 })
  })

  it("reads a $tb past int64, written as a float, as the last event number: it hides every event", () => {
    assert.strictEqual(StreamMetadata.fromJson(`{"$tb":9.223372036854776e18}`).truncateBefore, 2n ** 63n - 1n)
    assert.strictEqual(StreamMetadata.fromJson(`{"$tb":1e300}`).truncateBefore, 2n ** 63n - 1n)
  })

  it("treats what the server ignores as not set", () => {
    assert.deepStrictEqual(StreamMetadata.fromJson("not json"), {})
    assert.deepStrictEqual(StreamMetadata.fromJson("[1,2]"), {})
    assert.deepStrictEqual(StreamMetadata.fromJson(`{"$maxCount":0,"$maxAge":-5,"$tb":-1}`), {})
  })
})

/** A value, or now and then none. */
const optional = <A>(value: Arbitrary.Arbitrary<A>) =>
  Arbitrary.all([Arbitrary.schema(Schema.Boolean), value]).pipe(Arbitrary.map(([set, v]) => set ? v : undefined))

describe("StreamMetadata, by property", () => {
  const options = checks(500)
  const positive = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 2 ** 31 - 1 })))
  const tb = Arbitrary.all([Arbitrary.schema(Schema.Boolean), positive]).pipe(
    Arbitrary.flatMap(([big, small]) =>
      big
        ? Arbitrary.schema(Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 2n ** 53n, maximum: 2n ** 63n - 1n })))
        : Arbitrary.Constant(BigInt(small))
    )
  )
  const roles = Arbitrary.array(Arbitrary.schema(Schema.String.check(Schema.isMinLength(1))), { minLength: 1, maxLength: 3 })
  /** Custom keys, some of them objects that hold a `$tb` of their own, or strings that mention one. */
  const custom = Arbitrary.array(
    Arbitrary.all([
      Arbitrary.schema(Schema.String.check(Schema.isMaxLength(8))),
      Arbitrary.schema(Schema.Json),
      Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })))
    ]).pipe(
      Arbitrary.map(([key, value, kind]) =>
        [
          `c-${key}`,
          kind === 0 ? { $tb: 5, inner: value } : kind === 1 ? `"$tb": 7 ${JSON.stringify(value)}` : value
        ] as const
      )
    ),
    { maxLength: 4 }
  )
  const metadata = Arbitrary.all({
    maxCount: optional(positive),
    maxAge: optional(positive),
    truncateBefore: optional(tb),
    cacheControl: optional(positive),
    tempStream: optional(Arbitrary.schema(Schema.Boolean)),
    readRoles: optional(roles),
    writeRoles: optional(roles),
    custom
  })

  it.prop("what toJson writes, fromJson reads back", [metadata], ([m]) => {
    const input = StreamMetadata.make({
      ...(m.maxCount === undefined ? {} : { maxCount: m.maxCount }),
      ...(m.maxAge === undefined ? {} : { maxAge: Duration.seconds(m.maxAge) }),
      ...(m.truncateBefore === undefined ? {} : { truncateBefore: m.truncateBefore }),
      ...(m.cacheControl === undefined ? {} : { cacheControl: Duration.seconds(m.cacheControl) }),
      ...(m.tempStream === undefined ? {} : { tempStream: m.tempStream }),
      ...(m.readRoles === undefined && m.writeRoles === undefined ? {} : {
        acl: {
          ...(m.readRoles === undefined ? {} : { readRoles: m.readRoles }),
          ...(m.writeRoles === undefined ? {} : { writeRoles: m.writeRoles })
        }
      }),
      ...(m.custom.length === 0 ? {} : { custom: Object.fromEntries(m.custom) })
    })
    const read = StreamMetadata.fromJson(StreamMetadata.toJson(input))
    assert.strictEqual(read.maxCount, input.maxCount)
    assert.strictEqual(read.maxAge && Duration.toSeconds(read.maxAge), input.maxAge && Duration.toSeconds(input.maxAge))
    assert.strictEqual(read.truncateBefore, input.truncateBefore)
    assert.strictEqual(
      read.cacheControl && Duration.toSeconds(read.cacheControl),
      input.cacheControl && Duration.toSeconds(input.cacheControl)
    )
    assert.strictEqual(read.tempStream, input.tempStream)
    assert.deepStrictEqual(read.acl, input.acl)
    assert.deepStrictEqual(read.custom, input.custom === undefined ? undefined : JSON.parse(JSON.stringify(input.custom)))
  }, options)

  it.prop(
    "$tb reads exactly wherever it stands among the keys, past a nested or quoted $tb, the last one when repeated",
    [tb, custom, Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4 }))), Arbitrary.schema(Schema.Boolean)],
    ([value, keys, at, repeated]) => {
      const entries = keys.map(([key, v]) => `${JSON.stringify(key)} : ${JSON.stringify(v)}`)
      // An earlier $tb that a later one overrides, as JSON.parse reads a repeated key.
      if (repeated) entries.unshift(`"$tb":1`)
      entries.splice(Math.min(at + (repeated ? 1 : 0), entries.length), 0, `"$tb" :\n ${value}`)
      assert.strictEqual(StreamMetadata.fromJson(`{ ${entries.join(" , ")} }`).truncateBefore, value)
    },
    options
  )
})
