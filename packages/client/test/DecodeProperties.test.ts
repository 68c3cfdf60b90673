/**
 * Properties of the hand-written decoders (`internal/Decode.ts`), checked against the generated protobuf
 * code on generated replies rather than on a few chosen ones:
 *
 * - any reply the generated code encodes, in either wire style and with unknown fields mixed in, decodes
 *   to the same values by hand as by the generated decoder, every lazily read field of every event
 *   included;
 * - any bytes at all, and any damaged reply, give a decoded reply or `Malformed`, never a throw, and every
 *   event decoded from them can be read whole without a throw;
 * - a result past its enum's values is kept as its number.
 *
 * The seed is fixed (`Properties.checks`), so that a run in CI checks what a run here checked.
 */
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Guid, Messages, Ticks } from "@photonpump/protocol"
import type { RecordedEvent, ResolvedEvent } from "@photonpump/client"
import * as Decode from "../src/internal/Decode.ts"
import { checks, intBetween, mutate, mutations } from "./Properties.ts"

// --- generated replies ---------------------------------------------------------------------------

const between = (minimum: bigint, maximum: bigint) =>
  Arbitrary.schema(Schema.BigInt.check(Schema.isBetweenBigInt({ minimum, maximum })))

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

/**
 * 64-bit numbers that reach the decoders' edges often: small ones, both sides of 2^30 (event numbers
 * kept as plain numbers below it) and of 2^53 (positions kept as doubles below it), negatives (ten-byte
 * varints) and anything in the range.
 */
const int64 = Arbitrary.all([intBetween(0, 5), between(-1000n, 1000n)]).pipe(
  Arbitrary.flatMap(([kind, near]) =>
    kind === 0
      ? Arbitrary.Constant(near)
      : kind === 1
      ? Arbitrary.Constant(2n ** 30n + near)
      : kind === 2
      ? Arbitrary.Constant(2n ** 53n + near)
      : kind === 3
      ? Arbitrary.Constant(near < 0n ? int64Min - near - 1n : int64Max - near)
      : between(int64Min, int64Max)
  )
)

const int32 = intBetween(-(2 ** 31), 2 ** 31 - 1)
const smallEnum = intBetween(0, 9)
/**
 * A reply's result: one of the enum's values, up to `last`. The generated decoder reads a value past
 * the enum as its default (Success), so those are checked on their own below.
 */
const resultUpTo = <Result extends number>(last: number): Arbitrary.Arbitrary<Result> =>
  intBetween(0, last).pipe(Arbitrary.map((value) => value as Result))
const bytes = Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(40)))
/** Text, now and then with a leading U+FEFF: a character of the text, not a byte order mark to drop. */
const text = Arbitrary.all([Arbitrary.schema(Schema.String.check(Schema.isMaxLength(20))), intBetween(0, 4)]).pipe(
  Arbitrary.map(([random, kind]) => kind === 0 ? `\uFEFF${random}` : random)
)
const flag = Arbitrary.schema(Schema.Boolean)

/** Ids mostly of 16 bytes, as servers send them, sometimes of any other length. */
const eventId = Arbitrary.all([flag, Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(16, 16))), bytes]).pipe(
  Arbitrary.map(([usual, sixteen, other]) => usual ? sixteen : other)
)

/** Creation times: absent (zero), epoch milliseconds, .NET ticks, or both. */
const creation = Arbitrary.all([smallEnum, between(-(2n ** 40n), 2n ** 45n), int64]).pipe(
  Arbitrary.map(([kind, millis, ticks]) => ({
    createdEpoch: kind % 3 === 0 ? 0n : millis,
    created: kind % 2 === 0 ? ticks : kind === 1 ? Ticks.fromEpochMillis(1_700_000_000_000n) : 0n
  }))
)

const eventRecord = Arbitrary.all({
  eventStreamId: text,
  eventNumber: int64,
  eventId,
  eventType: text,
  dataContentType: Arbitrary.all([flag, int32]).pipe(Arbitrary.map(([json, other]) => json ? 1 : other)),
  metadataContentType: int32,
  data: bytes,
  metadata: bytes,
  creation
}).pipe(
  Arbitrary.map(({ creation, ...fields }): MessageInitShape<typeof Messages.EventRecordSchema> => ({
    ...fields,
    ...creation
  }))
)

/** A `ResolvedIndexedEvent`: an event, a link to it, a link alone (its target gone), or neither. */
const indexedEvent = Arbitrary.all([smallEnum, eventRecord, eventRecord]).pipe(
  Arbitrary.map(([kind, event, link]): MessageInitShape<typeof Messages.ResolvedIndexedEventSchema> =>
    kind < 4 ? { event } : kind < 7 ? { event, link } : kind < 9 ? { link } : {}
  )
)

const allEvent = Arbitrary.all([indexedEvent, int64, int64]).pipe(
  Arbitrary.map(([{ event, link }, commitPosition, preparePosition]): MessageInitShape<typeof Messages.ResolvedEventSchema> => ({
    ...(event === undefined ? {} : { event }),
    ...(link === undefined ? {} : { link }),
    commitPosition,
    preparePosition
  }))
)

const streamPage = Arbitrary.all({
  events: Arbitrary.array(indexedEvent, { maxLength: 6 }),
  result: resultUpTo<Messages.ReadStreamEventsCompleted_ReadStreamResult>(5),
  nextEventNumber: int64,
  lastEventNumber: int64,
  isEndOfStream: flag,
  lastCommitPosition: int64,
  error: text
})

const allPage = Arbitrary.all({
  commitPosition: int64,
  preparePosition: int64,
  events: Arbitrary.array(allEvent, { maxLength: 6 }),
  nextCommitPosition: int64,
  nextPreparePosition: int64,
  isEndOfStream: flag,
  result: resultUpTo<Messages.ReadAllEventsCompleted_ReadAllResult>(3),
  error: text
})

const writeReply = Arbitrary.all({
  result: resultUpTo<Messages.OperationResult>(7),
  message: text,
  firstEventNumber: int64,
  lastEventNumber: int64,
  preparePosition: int64,
  commitPosition: int64,
  currentVersion: int64
})

/** An unknown field of each wire type, groups included (numbers from 20 up: none of these messages has one). */
const unknownField = Arbitrary.all([smallEnum, int64, bytes]).pipe(
  Arbitrary.map(([kind, number, payload]): Uint8Array => {
    const field = 20 + kind
    switch (kind % 5) {
      case 4:
        // A group, as proto2 allows: fields between a start and an end tag, a nested group among them.
        return new Uint8Array([
          ...varint(BigInt((field << 3) | 3)),
          ...varint(BigInt(31 << 3)),
          ...varint(number),
          ...varint(BigInt((32 << 3) | 3)),
          ...varint(BigInt((33 << 3) | 2)),
          ...varint(BigInt(payload.length)),
          ...payload,
          ...varint(BigInt((32 << 3) | 4)),
          ...varint(BigInt((field << 3) | 4))
        ])
      case 0:
        return new Uint8Array([...varint(BigInt(field << 3)), ...varint(number)])
      case 1:
        return new Uint8Array([...varint(BigInt((field << 3) | 1)), 1, 2, 3, 4, 5, 6, 7, 8])
      case 2:
        return new Uint8Array([...varint(BigInt((field << 3) | 2)), ...varint(BigInt(payload.length)), ...payload])
      default:
        return new Uint8Array([...varint(BigInt((field << 3) | 5)), 1, 2, 3, 4])
    }
  })
)

/** How a reply is put on the wire: its style, and unknown fields before and after its known ones. */
const wireStyle = Arbitrary.all({
  omitDefaults: flag,
  before: Arbitrary.array(unknownField, { maxLength: 2 }),
  after: Arbitrary.array(unknownField, { maxLength: 2 })
})

type WireStyle = {
  readonly omitDefaults: boolean
  readonly before: ReadonlyArray<Uint8Array>
  readonly after: ReadonlyArray<Uint8Array>
}

const varint = (value: bigint): Array<number> => {
  let rest = BigInt.asUintN(64, value)
  const out: Array<number> = []
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80)
    rest >>= 7n
  }
  out.push(Number(rest))
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/**
 * Encodes a message in a style. The proto2 style refuses an embedded `EventRecord` left without its
 * required fields only when they are unset, and `create` sets them all, so both styles take every
 * generated reply.
 */
const encode = <Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>, style: WireStyle): Uint8Array => {
  const message = create(schema, init)
  const known = Result.getOrThrow(
    style.omitDefaults ? Messages.encodeOmittingDefaults(schema, message) : Messages.encode(schema, message)
  )
  return concat([...style.before, known, ...style.after])
}

const generic = <Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> =>
  Result.getOrThrow(Messages.decode(schema, bytes))

// --- what an event reads as ----------------------------------------------------------------------

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")

/** Every field of a decoded event, each read through its public getter. */
const readRecord = (event: RecordedEvent.RecordedEvent) => ({
  stream: event.stream,
  eventNumber: event.eventNumber,
  id: event.id,
  type: event.type,
  isJson: event.isJson,
  data: hex(event.data),
  metadata: hex(event.metadata),
  // A time past what a `Date` holds reads as NaN on both sides: compare as text.
  created: String(event.created.getTime())
})

/** What the generated decoder's record reads as, by the rules the client documents. */
const expectedRecord = (record: Messages.EventRecord | undefined) => {
  // An empty record stands for no event (docs/protocol.md 3.3).
  if (record === undefined || (record.eventStreamId === "" && record.eventId.length === 0 && record.eventType === "")) {
    return undefined
  }
  const created = record.createdEpoch !== 0n
    ? Number(record.createdEpoch)
    : record.created !== 0n
    ? Ticks.toEpochMillis(record.created)
    : 0
  return {
    stream: record.eventStreamId,
    eventNumber: record.eventNumber,
    id: record.eventId.length === 16 ? Result.getOrThrow(Guid.fromWire(record.eventId)) : Guid.empty,
    type: record.eventType,
    isJson: record.dataContentType === 1,
    data: hex(record.data),
    metadata: hex(record.metadata),
    created: String(new Date(created).getTime())
  }
}

const readResolved = (event: ResolvedEvent.ResolvedEvent) => ({
  event: readRecord(event.event),
  link: event.link === undefined ? undefined : readRecord(event.link),
  isResolved: event.isResolved,
  original: readRecord(event.originalEvent)
})

/** A `ResolvedIndexedEvent` (or a `$all` event, position aside) as the client reads it, or none. */
const expectedResolved = (indexed: { readonly event?: Messages.EventRecord | undefined; readonly link?: Messages.EventRecord | undefined }) => {
  const event = expectedRecord(indexed.event)
  const link = expectedRecord(indexed.link)
  if (event !== undefined) return { event, link, isResolved: true, original: link ?? event }
  if (link !== undefined) return { event: link, link, isResolved: false, original: link }
  return undefined
}

const position = (commit: bigint, prepare: bigint) => ({ commit, prepare })

const decoded = <A>(value: A | Decode.Malformed): A => {
  if (Decode.isMalformed(value)) throw new Error(`did not decode: ${value.reason}`)
  return value
}

const present = <A>(values: ReadonlyArray<A | undefined>): Array<A> => values.filter((value) => value !== undefined)

// --- bytes that are not a reply -----------------------------------------------------------------------

/**
 * Runs every decoder of the read path over the same bytes. Each must give a value or `Malformed`, and
 * every event it gives must read whole: a throw from a getter would reach the user's code as a defect.
 */
const readAll = (events: ReadonlyArray<ResolvedEvent.ResolvedEvent>): void =>
  events.forEach((event) => {
    readResolved(event)
    void event.position
  })

const decodeEveryWay = (input: Uint8Array): void => {
  const stream = Decode.readStreamEventsCompleted(input)
  if (!Decode.isMalformed(stream)) readAll(stream.events)
  for (const filtered of [false, true]) {
    const all = Decode.readAllEventsCompleted(input, filtered)
    if (!Decode.isMalformed(all)) readAll(all.events)
    Decode.allPageNext(input, filtered, { commit: 0n, prepare: 0n })
  }
  Decode.streamPageHead(input)
  const single = Decode.readEventCompleted(input)
  if (!Decode.isMalformed(single) && single.event !== undefined) readAll([single.event])
  for (const one of [Decode.decodeResolvedEvent(input), Decode.decodeResolvedIndexedEvent(input), Decode.streamEventAppeared(input)]) {
    if (!Decode.isMalformed(one) && one !== undefined) readAll([one])
  }
  const record = Decode.decodeEventRecord(input)
  if (!Decode.isMalformed(record) && record !== undefined) readRecord(record)
  const persistent = Decode.persistentEventAppeared(input)
  if (!Decode.isMalformed(persistent) && persistent !== undefined) {
    readRecord(persistent.event)
    if (persistent.link !== undefined) readRecord(persistent.link)
  }
  Decode.subscriptionDropReason(input)
  Decode.writeEventsCompleted(input)
}

describe("Decode, by property", () => {
  describe("against the generated decoder", () => {
    it.prop("an EventRecord reads the same", [eventRecord, wireStyle], ([init, style]) => {
      const bytes = encode(Messages.EventRecordSchema, init, style)
      const record = decoded(Decode.decodeEventRecord(bytes))
      assert.deepStrictEqual(
        record === undefined ? undefined : readRecord(record),
        expectedRecord(generic(Messages.EventRecordSchema, bytes))
      )
    }, checks(400))

    it.prop("a ReadStreamEventsCompleted reads the same, and so does its head", [streamPage, wireStyle], ([init, style]) => {
      const bytes = encode(Messages.ReadStreamEventsCompletedSchema, init, style)
      const page = decoded(Decode.readStreamEventsCompleted(bytes))
      const reference = generic(Messages.ReadStreamEventsCompletedSchema, bytes)
      assert.deepStrictEqual(
        {
          result: page.result,
          next: page.nextEventNumber,
          last: page.lastEventNumber,
          isEndOfStream: page.isEndOfStream,
          lastCommitPosition: page.lastCommitPosition,
          error: page.error,
          events: page.events.map(readResolved)
        },
        {
          result: reference.result as number,
          next: reference.nextEventNumber,
          last: reference.lastEventNumber,
          isEndOfStream: reference.isEndOfStream,
          lastCommitPosition: reference.lastCommitPosition,
          error: reference.error,
          events: present(reference.events.map(expectedResolved))
        }
      )
      assert.deepStrictEqual(Decode.streamPageHead(bytes), {
        result: reference.result as number,
        next: reference.nextEventNumber,
        last: reference.lastEventNumber,
        isEndOfStream: reference.isEndOfStream
      })
    }, checks(300))

    for (const filtered of [false, true]) {
      const schema = filtered ? Messages.FilteredReadAllEventsCompletedSchema : Messages.ReadAllEventsCompletedSchema
      it.prop(
        `a ${schema.name} reads the same, positions included, and its next page starts where the reply says`,
        [allPage, wireStyle],
        ([{ isEndOfStream, ...init }, style]) => {
          const bytes = encode(schema, (filtered ? { ...init, isEndOfStream } : init) as never, style)
          const page = decoded(Decode.readAllEventsCompleted(bytes, filtered))
          const reference = generic(schema, bytes) as Messages.FilteredReadAllEventsCompleted
          assert.deepStrictEqual(
            {
              result: page.result,
              next: page.nextPosition,
              isEndOfStream: page.isEndOfStream,
              error: page.error,
              events: page.events.map((event) => ({ ...readResolved(event), position: event.position }))
            },
            {
              result: reference.result as number,
              next: position(reference.nextCommitPosition, reference.nextPreparePosition),
              isEndOfStream: filtered ? reference.isEndOfStream : false,
              error: reference.error,
              events: present(reference.events.map((event) => {
                const expected = expectedResolved(event)
                return expected === undefined
                  ? undefined
                  : { ...expected, position: position(event.commitPosition, event.preparePosition) }
              }))
            }
          )
          const from = { commit: 0n, prepare: 0n }
          const next = Decode.allPageNext(bytes, filtered, from)
          if (next !== undefined) assert.deepStrictEqual(next, page.nextPosition)
        },
        checks(300)
      )
    }

    it.prop("a ReadEventCompleted reads the same", [indexedEvent, resultUpTo<Messages.ReadEventCompleted_ReadEventResult>(5), text, wireStyle], ([event, result, error, style]) => {
      const bytes = encode(Messages.ReadEventCompletedSchema, { result, event, error }, style)
      const reply = decoded(Decode.readEventCompleted(bytes))
      const reference = generic(Messages.ReadEventCompletedSchema, bytes)
      assert.deepStrictEqual(
        { result: reply.result, error: reply.error, event: reply.event === undefined ? undefined : readResolved(reply.event) },
        {
          result: reference.result as number,
          error: reference.error,
          event: reference.event === undefined ? undefined : expectedResolved(reference.event)
        }
      )
    }, checks(300))

    it.prop("a StreamEventAppeared reads the same", [allEvent, wireStyle], ([event, style]) => {
      const bytes = encode(Messages.StreamEventAppearedSchema, { event }, style)
      const appeared = decoded(Decode.streamEventAppeared(bytes))
      const reference = generic(Messages.StreamEventAppearedSchema, bytes).event!
      const expected = expectedResolved(reference)
      assert.deepStrictEqual(
        appeared === undefined ? undefined : { ...readResolved(appeared), position: appeared.position },
        expected === undefined
          ? undefined
          : { ...expected, position: { commit: reference.commitPosition, prepare: reference.preparePosition } }
      )
    }, checks(300))

    it.prop(
      "a PersistentSubscriptionStreamEventAppeared reads the same, and is acknowledged by its original event's id",
      [indexedEvent, int32, wireStyle],
      ([event, retryCount, style]) => {
        const bytes = encode(Messages.PersistentSubscriptionStreamEventAppearedSchema, { event, retryCount }, style)
        const delivery = decoded(Decode.persistentEventAppeared(bytes))
        const reference = generic(Messages.PersistentSubscriptionStreamEventAppearedSchema, bytes)
        const expected = expectedResolved(reference.event!)
        if (expected === undefined) return assert.isUndefined(delivery)
        assert.isDefined(delivery)
        assert.deepStrictEqual(
          {
            event: readRecord(delivery!.event),
            link: delivery!.link === undefined ? undefined : readRecord(delivery!.link),
            isResolved: delivery!.isResolved,
            retryCount: delivery!.retryCount,
            ackId: hex(delivery!.ackId)
          },
          {
            event: expected.event,
            link: expected.link,
            isResolved: expected.isResolved,
            retryCount: reference.retryCount,
            ackId: hex((expected.link !== undefined ? reference.event!.link! : reference.event!.event!).eventId)
          }
        )
      },
      checks(300)
    )

    it.prop("a WriteEventsCompleted reads the same", [writeReply, wireStyle], ([init, style]) => {
      const bytes = encode(Messages.WriteEventsCompletedSchema, init, style)
      const reply = decoded(Decode.writeEventsCompleted(bytes))
      const reference = generic(Messages.WriteEventsCompletedSchema, bytes)
      assert.deepStrictEqual(
        { ...reply },
        {
          result: reference.result,
          message: reference.message,
          firstEventNumber: reference.firstEventNumber,
          lastEventNumber: reference.lastEventNumber,
          preparePosition: reference.preparePosition,
          commitPosition: reference.commitPosition,
          currentVersion: reference.currentVersion
        }
      )
    }, checks(300))
  })

  it.prop(
    "a result past the enum's values is kept as its number, not read as Success as the generated decoder reads it",
    [intBetween(8, 2 ** 31 - 1), wireStyle],
    ([unknown, anyStyle]) => {
      // Past every result enum's values on purpose.
      const result = unknown as never
      // Replies of only a result: the proto2 style would refuse the required fields left unset.
      const style = { ...anyStyle, omitDefaults: true }
      const write = encode(Messages.WriteEventsCompletedSchema, { result }, style)
      assert.strictEqual(decoded(Decode.writeEventsCompleted(write)).result, result)
      const stream = encode(Messages.ReadStreamEventsCompletedSchema, { result }, style)
      assert.strictEqual(decoded(Decode.readStreamEventsCompleted(stream)).result, result)
      assert.strictEqual(Decode.nextPageOf(Decode.streamPageHead(stream)), undefined)
      const event = encode(Messages.ReadEventCompletedSchema, { result }, style)
      assert.strictEqual(decoded(Decode.readEventCompleted(event)).result, result)
      for (const filtered of [false, true]) {
        const schema = filtered ? Messages.FilteredReadAllEventsCompletedSchema : Messages.ReadAllEventsCompletedSchema
        const all = encode(schema, { result, events: [{ event: { eventStreamId: "s" } }] } as never, style)
        assert.strictEqual(decoded(Decode.readAllEventsCompleted(all, filtered)).result, result)
      }
    },
    checks(200)
  )

  describe("on bytes that are not a reply", () => {
    it.prop(
      "random bytes decode or are Malformed, never throw, and what decodes reads whole",
      [Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(200)))],
      ([input]) => decodeEveryWay(input),
      checks(2000)
    )

    it.prop(
      "a damaged stream page decodes or is Malformed, never throws, and what decodes reads whole",
      [streamPage, wireStyle, mutations],
      ([init, style, changes]) => decodeEveryWay(mutate(encode(Messages.ReadStreamEventsCompletedSchema, init, style), changes)),
      checks(1000)
    )

    it.prop(
      "a damaged $all page decodes or is Malformed, never throws, and what decodes reads whole",
      [allPage, wireStyle, mutations],
      ([init, style, changes]) =>
        decodeEveryWay(mutate(encode(Messages.FilteredReadAllEventsCompletedSchema, init, style), changes)),
      checks(1000)
    )
  })
})
