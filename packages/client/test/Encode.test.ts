/**
 * The hand-written encoders of the write path against the generated protobuf code: what they write
 * decodes, with the generated decoder, to exactly the message that was meant. The properties check
 * generated requests with a fixed seed (`PROPERTY_SEED` sets another, `PROPERTY_RUNS` multiplies the runs).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { create, toBinary } from "@bufbuild/protobuf"
import { Guid, Messages } from "@photonpump/protocol"
import * as Encode from "../src/internal/Encode.ts"
import { checks, intBetween } from "./Properties.ts"

const encoder = new TextEncoder()

const event = (type: string, data: string, metadata = ""): Encode.WireEvent => ({
  id: Result.getOrThrow(Guid.toWire(Guid.random())),
  type,
  isJson: data.startsWith("{"),
  data: encoder.encode(data),
  metadata: encoder.encode(metadata)
})

/** An event whose data and metadata are text, written as UTF-8 by the encoder itself. */
const textEvent = (type: string, data: string, metadata = ""): Encode.WireEvent => ({
  id: Result.getOrThrow(Guid.toWire(Guid.random())),
  type,
  isJson: true,
  data,
  metadata
})

const bytesOf = (value: Uint8Array | string): Uint8Array => typeof value === "string" ? encoder.encode(value) : value

const newEventMessage = (e: Encode.WireEvent) => {
  const metadata = bytesOf(e.metadata)
  return create(Messages.NewEventSchema, {
    eventId: e.id,
    eventType: e.type,
    dataContentType: e.isJson ? 1 : 0,
    metadataContentType: 0,
    data: bytesOf(e.data),
    ...(metadata.length > 0 ? { metadata } : {})
  })
}

describe("Encode", () => {
  const cases: ReadonlyArray<readonly [string, bigint, ReadonlyArray<Encode.WireEvent>]> = [
    ["ponies", -2n, [event("PonyJumped", `{"Pony":"Derpy Hooves"}`)]],
    ["more_ponies", -1n, [event("A", "{}", `{"by":"me"}`), event("B", "raw bytes"), event("C", "")]],
    ["stream-ü-名前", 4n, [event("Typé", "x".repeat(300))]],
    ["big", 9_007_199_254_740_993n, [event("T", "y".repeat(70_000))]],
    ["exists", -4n, []],
    ["text", -2n, [textEvent("A", `{"Pony":"Derpy Hooves"}`, `{"by":"me"}`), textEvent("B", `"x"`)]],
    ["text-unicode", -2n, [
      textEvent("Ü", `{"name":"Pinkie Pie ü 名前 🐴 ${"\u00ff".repeat(100)}"}`, `{"m":"é"}`),
      // A lone surrogate becomes U+FFFD, three bytes, as TextEncoder writes it.
      textEvent("L", `"\ud800 and \udc00 ${"z".repeat(200)}"`)
    ]],
    ["text-big", 1n, [textEvent("T", "w".repeat(70_000)), textEvent("U", "é".repeat(9_000))]]
  ]

  for (const [stream, expected, events] of cases) {
    for (const requireLeader of [true, false]) {
      it(`writes WriteEvents like the generated encoder (${stream}, ${expected}, leader ${requireLeader})`, () => {
        const bytes = Encode.writeEvents(stream, expected, events, requireLeader)
        const generated = toBinary(
          Messages.WriteEventsSchema,
          create(Messages.WriteEventsSchema, {
            eventStreamId: stream,
            expectedVersion: expected,
            events: events.map(newEventMessage),
            requireLeader
          })
        )
        assert.deepStrictEqual(bytes, generated)
        const decoded = Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, bytes))
        assert.strictEqual(decoded.eventStreamId, stream)
        assert.strictEqual(decoded.expectedVersion, expected)
        assert.strictEqual(decoded.events.length, events.length)
      })
    }
  }

  it("writes TransactionWrite like the generated encoder", () => {
    const events = [event("A", "{}"), event("B", "bytes", "meta")]
    for (const id of [0n, 1n, 123_456_789_012n]) {
      const bytes = Encode.transactionWrite(id, events, true)
      const generated = toBinary(
        Messages.TransactionWriteSchema,
        create(Messages.TransactionWriteSchema, {
          transactionId: id,
          events: events.map(newEventMessage),
          requireLeader: true
        })
      )
      assert.deepStrictEqual(bytes, generated)
    }
  })

  it("draws event ids as random version 4 UUIDs, never handing out the same bytes twice", () => {
    const first = Encode.randomEventId()
    const kept = Uint8Array.from(first)
    const texts = new Set<string>()
    for (let i = 0; i < 1_000; i++) {
      const text = Result.getOrThrow(Guid.fromWire(Encode.randomEventId()))
      assert.match(text, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      texts.add(text)
    }
    assert.strictEqual(texts.size, 1_000)
    // Refilling the pool (every 256 ids) must not overwrite an id already handed out.
    assert.deepStrictEqual(first, kept)
  })

  it("writes a WriteEvents frame as the same message after room for the frame header", () => {
    const events = [event("A", `{"a":1}`), textEvent("B", `{"b":"é"}`, `{"m":1}`)]
    const frame = Encode.writeEventsFrame("ponies", -2n, events, true)
    assert.deepStrictEqual(
      frame.subarray(Encode.frameHeaderLength),
      Encode.writeEvents("ponies", -2n, events, true)
    )
  })

  it("writes ReadStreamEvents and ReadAllEvents frames like the generated encoder, after room for the header", () => {
    const numbers = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 35n, 2n ** 42n + 5n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, -1n, -2n]
    for (const stream of ["ponies", "stream-ü-名前", "$all-ish", ""]) {
      for (const from of numbers) {
        for (const [maxCount, flag] of [[1, true], [100, false], [4096, true]] as const) {
          const frame = Encode.readStreamEventsFrame(stream, from, maxCount, flag, !flag)
          const generated = toBinary(
            Messages.ReadStreamEventsSchema,
            create(Messages.ReadStreamEventsSchema, {
              eventStreamId: stream,
              fromEventNumber: from,
              maxCount,
              resolveLinkTos: flag,
              requireLeader: !flag
            })
          )
          assert.deepStrictEqual(frame.subarray(Encode.frameHeaderLength), generated)
        }
      }
    }
    for (const commit of numbers) {
      for (const prepare of [0n, 300n, -1n]) {
        const frame = Encode.readAllEventsFrame(commit, prepare, 500, false, true)
        const generated = toBinary(
          Messages.ReadAllEventsSchema,
          create(Messages.ReadAllEventsSchema, {
            commitPosition: commit,
            preparePosition: prepare,
            maxCount: 500,
            resolveLinkTos: false,
            requireLeader: true
          })
        )
        assert.deepStrictEqual(frame.subarray(Encode.frameHeaderLength), generated)
      }
    }
  })

  describe("properties", () => {
    const int64 = Arbitrary.schema(Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: -(2n ** 63n), maximum: 2n ** 63n - 1n })))
    /** Expected versions and positions: the special negative values, small numbers, or anything. */
    const number = Arbitrary.all([intBetween(0, 2), intBetween(-4, 300), int64]).pipe(
      Arbitrary.map(([kind, small, any]) => kind === 0 ? BigInt(small) : kind === 1 ? 2n ** 53n + BigInt(small) : any)
    )
    /**
     * Text of every kind the encoder treats apart: short and long ASCII (written char by char below 32
     * characters), other scripts, pairs and lone surrogates (written as U+FFFD, as TextEncoder does).
     */
    const text = Arbitrary.all([
      Arbitrary.schema(Schema.String.check(Schema.isMaxLength(40))),
      intBetween(0, 4),
      intBetween(0, 200)
    ]).pipe(
      Arbitrary.map(([random, kind, repeat]) =>
        kind === 0
          ? random
          : kind === 1
          ? "a".repeat(repeat)
          : kind === 2
          ? `${random}\ud800${random}`
          : kind === 3
          ? `é🐴名${random}`.repeat(1 + (repeat % 5))
          : random.slice(0, 31)
      )
    )
    const bytes = Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(300)))
    const content = Arbitrary.all([Arbitrary.schema(Schema.Boolean), bytes, text]).pipe(
      Arbitrary.map(([asBytes, raw, written]): Uint8Array | string => asBytes ? raw : written)
    )
    const wireEvent = Arbitrary.all({
      id: Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(16, 16))),
      type: text,
      isJson: Arbitrary.schema(Schema.Boolean),
      data: content,
      metadata: content
    })
    const events = Arbitrary.array(wireEvent, { maxLength: 5 })
    const flag = Arbitrary.schema(Schema.Boolean)
    const options = checks(300)

    it.prop(
      "WriteEvents, in a frame or not, is the generated encoder's message for any stream, version and events",
      [text, number, events, flag],
      ([stream, expected, written, requireLeader]) => {
        const generated = toBinary(
          Messages.WriteEventsSchema,
          create(Messages.WriteEventsSchema, {
            eventStreamId: stream,
            expectedVersion: expected,
            events: written.map(newEventMessage),
            requireLeader
          })
        )
        assert.deepStrictEqual(Encode.writeEvents(stream, expected, written, requireLeader), generated)
        const frame = Encode.writeEventsFrame(stream, expected, written, requireLeader)
        assert.deepStrictEqual(frame.subarray(Encode.frameHeaderLength), generated)
      },
      options
    )

    it.prop(
      "TransactionWrite is the generated encoder's message for any transaction and events",
      [number, events, flag],
      ([transactionId, written, requireLeader]) => {
        const generated = toBinary(
          Messages.TransactionWriteSchema,
          create(Messages.TransactionWriteSchema, { transactionId, events: written.map(newEventMessage), requireLeader })
        )
        assert.deepStrictEqual(Encode.transactionWrite(transactionId, written, requireLeader), generated)
      },
      options
    )

    it.prop(
      "ReadStreamEvents and ReadAllEvents frames hold the generated encoder's message for any request",
      [text, number, number, intBetween(1, 4096), flag, flag],
      ([stream, from, prepare, maxCount, resolveLinkTos, requireLeader]) => {
        const stored = Encode.readStreamEventsFrame(stream, from, maxCount, resolveLinkTos, requireLeader)
        const storedMessage = toBinary(
          Messages.ReadStreamEventsSchema,
          create(Messages.ReadStreamEventsSchema, { eventStreamId: stream, fromEventNumber: from, maxCount, resolveLinkTos, requireLeader })
        )
        assert.deepStrictEqual(stored.subarray(Encode.frameHeaderLength), storedMessage)
        const all = Encode.readAllEventsFrame(from, prepare, maxCount, resolveLinkTos, requireLeader)
        const allMessage = toBinary(
          Messages.ReadAllEventsSchema,
          create(Messages.ReadAllEventsSchema, { commitPosition: from, preparePosition: prepare, maxCount, resolveLinkTos, requireLeader })
        )
        assert.deepStrictEqual(all.subarray(Encode.frameHeaderLength), allMessage)
      },
      options
    )
  })
})
