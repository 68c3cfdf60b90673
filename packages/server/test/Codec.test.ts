/**
 * The hand-written codecs of the hot path against the generated ones of `@photonpump/protocol`:
 * replies must be the same bytes in both encoding styles, and requests must read as the same values,
 * for many generated inputs (a seeded generator keeps failures reproducible).
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf"
import { assert, describe, it } from "@effect/vitest"
import { Command, Guid, Messages, Ticks } from "@photonpump/protocol"
import { Store } from "@photonpump/server"
import * as Result from "effect/Result"
import * as Protobuf from "../src/internal/Protobuf.ts"
import * as Replies from "../src/internal/Replies.ts"
import * as Requests from "../src/internal/Requests.ts"
import type { Resolved } from "../src/internal/Wire.ts"

/** A small seeded generator (mulberry32). */
const generator = (seed: number) => {
  let state = seed
  const next = () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (max: number) => Math.floor(next() * max)
  const pick = <A>(values: ReadonlyArray<A>): A => values[int(values.length)]!
  const bytes = (length: number) => Uint8Array.from({ length }, () => int(256))
  return { int, pick, bytes, bool: () => next() < 0.5 }
}
type Generator = ReturnType<typeof generator>

const names = ["s", "orders-1", "$$meta", "ünïcødé-stream", "x".repeat(70), "日本語", ""]
const numbers = [0, 1, 127, 128, 300, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 40, Number.MAX_SAFE_INTEGER]

/**
 * A recorded event with every kind of field value, including the defaults that the 22.6+ style leaves
 * out. Replies take it through its pre-encoded form (`StoredEvent.of`), as they take the store's.
 */
const recordedEvent = (g: Generator, eventType?: string): Store.RecordedEvent => {
  const data = g.bytes(g.pick([0, 1, 17, 127, 128, 300]))
  return {
    streamId: g.pick([...names, "s", "s"]),
    eventNumber: g.pick([...numbers, Number.POSITIVE_INFINITY]),
    eventId: g.bytes(g.pick([16, 16, 16, 0])),
    eventType: eventType ?? g.pick(["t", "OrderPlaced", "$>", "é", "z".repeat(100), ""]),
    isJson: g.bool(),
    data,
    metadata: g.bytes(g.pick([0, 0, 5, 200])),
    created: g.pick([0, 1, 86_400_000, 1_700_000_000_000, Date.now(), 253_402_300_799_000]),
    commitPosition: g.pick(numbers),
    preparePosition: g.pick(numbers),
    size: 1,
    commitEnd: 1
  }
}

const resolved = (g: Generator): Resolved => {
  const event = recordedEvent(g)
  switch (g.int(3)) {
    case 0:
      return { event, link: undefined, original: event }
    case 1:
      return { event: recordedEvent(g), link: event, original: event }
    default:
      return { event: undefined, link: event, original: event }
  }
}

/**
 * A page of events as a read gives them, with what each should go out as: with links resolved (half
 * the pages), a `$>` event goes out as its target (when it has one) and itself as the link.
 */
const page = (g: Generator) => {
  const resolving = g.bool()
  const targets = new Map<Store.RecordedEvent, Store.RecordedEvent | undefined>()
  const events: Array<Store.RecordedEvent> = []
  const expected: Array<Resolved> = []
  for (let k = g.int(5); k > 0; k--) {
    const event = recordedEvent(g, g.bool() ? "$>" : undefined)
    events.push(event)
    if (resolving && event.eventType === "$>") {
      const target = g.int(3) > 0 ? recordedEvent(g) : undefined
      targets.set(event, target)
      expected.push({ event: target, link: event, original: event })
    } else {
      expected.push({ event, link: undefined, original: event })
    }
  }
  const resolveLink: Replies.LinkResolver = resolving ? (link) => targets.get(link) : undefined
  return { events, resolveLink, expected }
}

const wireNumber = (n: number): bigint => (n === Number.POSITIVE_INFINITY ? 2n ** 63n - 1n : BigInt(n))

const eventRecord = (event: Store.RecordedEvent) =>
  create(Messages.EventRecordSchema, {
    eventStreamId: event.streamId,
    eventNumber: wireNumber(event.eventNumber),
    eventId: event.eventId,
    eventType: event.eventType,
    dataContentType: event.isJson ? 1 : 0,
    metadataContentType: event.isJson ? 1 : 0,
    data: event.data,
    metadata: event.metadata,
    created: Ticks.fromEpochMillis(event.created),
    createdEpoch: BigInt(event.created)
  })

const records = (r: Resolved) => ({
  ...(r.event === undefined ? {} : { event: eventRecord(r.event) }),
  ...(r.link === undefined ? {} : { link: eventRecord(r.link) })
})

/** The payload of the single frame a writer holds, checking its header on the way. */
const payloadOf = (out: Protobuf.Writer, command: number, correlationId: string): Uint8Array => {
  const bytes = out.take()!
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  assert.strictEqual(view.getInt32(0, true), bytes.length - 4)
  assert.strictEqual(bytes[4], command)
  assert.strictEqual(bytes[5], 0)
  assert.strictEqual(Guid.readUnsafe(bytes, 6), correlationId)
  return bytes.subarray(22)
}

const encode = <Desc extends Parameters<typeof Messages.encode>[0]>(
  schema: Desc,
  init: MessageInitShape<Desc>,
  omit: boolean
) => Result.getOrThrow((omit ? Messages.encodeOmittingDefaults : Messages.encode)(schema, create(schema, init) as never))

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

const cases = 300

const newEvent = (g: Generator) => ({
  eventId: g.bytes(g.pick([16, 16, 0, 3])),
  eventType: g.pick(["t", "OrderPlaced", "é", ""]),
  dataContentType: g.pick([0, 1, 2, -1]),
  metadataContentType: g.pick([0, 1]),
  data: g.bytes(g.pick([0, 10, 200])),
  metadata: g.bytes(g.pick([0, 3]))
})

describe("Hand-written codecs", () => {
  for (const omit of [false, true]) {
    const style = omit ? "omitting defaults" : "with every required field"

    it(`WriteEventsCompleted matches the generated encoder, ${style}`, () => {
      const g = generator(1)
      for (let i = 0; i < cases; i++) {
        const failed = g.bool()
        const reply: Replies.WriteEventsCompleted = failed
          ? {
            result: g.pick([4, 5, 7]),
            message: g.pick(["Wrong expected version.", "", "é"]),
            firstEventNumber: -2147483648,
            lastEventNumber: -2147483648,
            preparePosition: -2147483648,
            commitPosition: 0,
            currentVersion: g.pick([-1, 0, 5, 2 ** 40])
          }
          : {
            result: 0,
            firstEventNumber: g.pick(numbers),
            lastEventNumber: g.pick(numbers),
            preparePosition: g.pick(numbers),
            commitPosition: g.pick(numbers)
          }
        const out = new Protobuf.Writer()
        const id = Guid.random()
        Replies.writeEventsCompleted(out, Command.Command.WriteEventsCompleted, id, reply, omit)
        const expected = encode(Messages.WriteEventsCompletedSchema, {
          result: reply.result as Messages.OperationResult,
          ...(reply.message === undefined ? {} : { message: reply.message }),
          firstEventNumber: BigInt(reply.firstEventNumber),
          lastEventNumber: BigInt(reply.lastEventNumber),
          preparePosition: BigInt(reply.preparePosition),
          commitPosition: BigInt(reply.commitPosition),
          ...(reply.currentVersion === undefined ? {} : { currentVersion: BigInt(reply.currentVersion) })
        }, omit)
        assert.strictEqual(hex(payloadOf(out, Command.Command.WriteEventsCompleted, id)), hex(expected), `case ${i}`)
      }
    })

    it(`ReadEventCompleted matches the generated encoder, ${style}`, () => {
      const g = generator(2)
      for (let i = 0; i < cases; i++) {
        const success = g.bool()
        const r = success ? resolved(g) : undefined
        const result = success ? 0 : g.pick([1, 2, 3, 5])
        const error = success ? undefined : g.pick([undefined, "Access Denied"])
        const out = new Protobuf.Writer()
        const id = Guid.random()
        Replies.readEventCompleted(out, Command.Command.ReadEventCompleted, id, result, r, error, omit)
        const expected = encode(Messages.ReadEventCompletedSchema, {
          result: result as Messages.ReadEventCompleted_ReadEventResult,
          event: create(Messages.ResolvedIndexedEventSchema, r === undefined ? {} : records(r)),
          ...(error === undefined ? {} : { error })
        }, omit)
        assert.strictEqual(hex(payloadOf(out, Command.Command.ReadEventCompleted, id)), hex(expected), `case ${i}`)
      }
    })

    it(`ReadStreamEventsCompleted matches the generated encoder, ${style}`, () => {
      const g = generator(3)
      for (let i = 0; i < cases; i++) {
        const { events, expected: resolvedEvents, resolveLink } = page(g)
        const reply: Replies.ReadStreamEventsCompleted = {
          events,
          resolveLink,
          result: g.pick([0, 0, 1, 2, 4, 5]),
          nextEventNumber: g.pick([-1, ...numbers]),
          lastEventNumber: g.pick([-1, Number.POSITIVE_INFINITY, ...numbers]),
          isEndOfStream: g.bool(),
          lastCommitPosition: g.pick(numbers),
          error: g.pick([undefined, "", "Read size too big, should be less than 4096 items"])
        }
        const out = new Protobuf.Writer()
        const id = Guid.random()
        Replies.readStreamEventsCompleted(out, Command.Command.ReadStreamEventsForwardCompleted, id, reply, omit)
        const expected = encode(Messages.ReadStreamEventsCompletedSchema, {
          events: resolvedEvents.map((r) => create(Messages.ResolvedIndexedEventSchema, records(r))),
          result: reply.result as Messages.ReadStreamEventsCompleted_ReadStreamResult,
          nextEventNumber: wireNumber(reply.nextEventNumber),
          lastEventNumber: wireNumber(reply.lastEventNumber),
          isEndOfStream: reply.isEndOfStream,
          lastCommitPosition: BigInt(reply.lastCommitPosition),
          ...(reply.error === undefined ? {} : { error: reply.error })
        }, omit)
        assert.strictEqual(hex(payloadOf(out, Command.Command.ReadStreamEventsForwardCompleted, id)), hex(expected), `case ${i}`)
      }
    })

    for (const filtered of [false, true]) {
      const name = filtered ? "FilteredReadAllEventsCompleted" : "ReadAllEventsCompleted"
      it(`${name} matches the generated encoder, ${style}`, () => {
        const g = generator(filtered ? 5 : 4)
        for (let i = 0; i < cases; i++) {
          const { events, expected: resolvedEvents, resolveLink } = page(g)
          const reply: Replies.ReadAllEventsCompleted = {
            commitPosition: g.pick([-1, ...numbers]),
            preparePosition: g.pick([-1, ...numbers]),
            events,
            resolveLink,
            nextCommitPosition: g.pick([-1, ...numbers]),
            nextPreparePosition: g.pick([-1, ...numbers]),
            isEndOfStream: g.bool(),
            result: g.pick([0, 0, 2, 3]),
            error: g.pick([undefined, "Invalid position."])
          }
          const out = new Protobuf.Writer()
          const id = Guid.random()
          const command = filtered
            ? Command.Command.FilteredReadAllEventsForwardCompleted
            : Command.Command.ReadAllEventsForwardCompleted
          Replies.readAllEventsCompleted(out, command, id, reply, filtered, omit)
          const common = {
            commitPosition: BigInt(reply.commitPosition),
            preparePosition: BigInt(reply.preparePosition),
            events: resolvedEvents.map((r) =>
              create(Messages.ResolvedEventSchema, {
                ...records(r),
                commitPosition: BigInt(r.original.commitPosition),
                preparePosition: BigInt(r.original.preparePosition)
              })
            ),
            nextCommitPosition: BigInt(reply.nextCommitPosition),
            nextPreparePosition: BigInt(reply.nextPreparePosition),
            ...(reply.error === undefined ? {} : { error: reply.error })
          }
          const expected = filtered
            ? encode(Messages.FilteredReadAllEventsCompletedSchema, {
              ...common,
              isEndOfStream: reply.isEndOfStream,
              ...(reply.result === 0 ? {} : { result: reply.result as Messages.FilteredReadAllEventsCompleted_FilteredReadAllResult })
            }, omit)
            : encode(Messages.ReadAllEventsCompletedSchema, {
              ...common,
              ...(reply.result === 0 ? {} : { result: reply.result as Messages.ReadAllEventsCompleted_ReadAllResult })
            }, omit)
          assert.strictEqual(hex(payloadOf(out, command, id)), hex(expected), `case ${i}`)
        }
      })
    }

    it(`the store's events, encoded when committed, go out as the generated encoder writes them, ${style}`, () => {
      const g = generator(8)
      let now = 0
      const store = Store.make({ now: () => now })
      const streams = ["s", "orders-1", "ünïcødé-stream", "x".repeat(70), "日本語", "$$s"]
      for (let i = 0; i < 60; i++) {
        now = g.pick([0, 1, 1_700_000_000_000, 253_402_300_799_000])
        const stream = g.pick(streams)
        store.append(stream, -2, Array.from({ length: 1 + g.int(3) }, () => ({
          eventId: g.bytes(16),
          eventType: g.pick(["t", "OrderPlaced", "é", "z".repeat(100)]),
          isJson: g.bool(),
          data: g.bytes(g.pick([0, 1, 17, 300])),
          metadata: g.bytes(g.pick([0, 0, 5, 200]))
        })))
      }
      store.deleteStream("s", -2, true)
      const all = store.readAllForward(0, 0, 4096)
      assert.strictEqual(all.status, "Success")
      if (all.status !== "Success") return
      // The last one is the tombstone, numbered 2^63-1.
      assert.strictEqual(all.events[all.events.length - 1]!.eventNumber, Number.POSITIVE_INFINITY)
      const out = new Protobuf.Writer()
      const id = Guid.random()
      const reply: Replies.ReadAllEventsCompleted = {
        commitPosition: 0,
        preparePosition: 0,
        events: all.events,
        nextCommitPosition: all.next.commit,
        nextPreparePosition: all.next.prepare,
        isEndOfStream: true,
        result: 0
      }
      Replies.readAllEventsCompleted(out, Command.Command.ReadAllEventsForwardCompleted, id, reply, false, omit)
      const expected = encode(Messages.ReadAllEventsCompletedSchema, {
        commitPosition: 0n,
        preparePosition: 0n,
        events: all.events.map((event) =>
          create(Messages.ResolvedEventSchema, {
            event: eventRecord(event),
            commitPosition: BigInt(event.commitPosition),
            preparePosition: BigInt(event.preparePosition)
          })
        ),
        nextCommitPosition: BigInt(all.next.commit),
        nextPreparePosition: BigInt(all.next.prepare)
      }, omit)
      assert.strictEqual(hex(payloadOf(out, Command.Command.ReadAllEventsForwardCompleted, id)), hex(expected))
    })

    it(`StreamEventAppeared matches the generated encoder, and copies keep it with their own id, ${style}`, () => {
      const g = generator(6)
      for (let i = 0; i < cases; i++) {
        const r = resolved(g)
        const scratch = new Protobuf.Writer()
        Replies.streamEventAppeared(scratch, Command.Command.StreamEventAppeared, new Uint8Array(16), r, omit)
        const frame = scratch.take()!
        const out = new Protobuf.Writer()
        const id = Guid.random()
        Replies.copyFrame(out, frame, Result.getOrThrow(Guid.toWire(id)))
        const expected = encode(Messages.StreamEventAppearedSchema, {
          event: create(Messages.ResolvedEventSchema, {
            ...records(r),
            commitPosition: BigInt(r.original.commitPosition),
            preparePosition: BigInt(r.original.preparePosition)
          })
        }, omit)
        assert.strictEqual(hex(payloadOf(out, Command.Command.StreamEventAppeared, id)), hex(expected), `case ${i}`)
      }
    })

    it(`PersistentSubscriptionStreamEventAppeared matches the generated encoder, ${style}`, () => {
      const g = generator(7)
      for (let i = 0; i < cases; i++) {
        const r = resolved(g)
        const retryCount = g.pick([0, 1, 10, 300])
        const out = new Protobuf.Writer()
        const id = Guid.random()
        const command = Command.Command.PersistentSubscriptionStreamEventAppeared
        Replies.persistentSubscriptionStreamEventAppeared(out, command, id, r, retryCount, omit)
        const expected = encode(Messages.PersistentSubscriptionStreamEventAppearedSchema, {
          event: create(Messages.ResolvedIndexedEventSchema, records(r)),
          retryCount
        }, omit)
        assert.strictEqual(hex(payloadOf(out, command, id)), hex(expected), `case ${i}`)
      }
    })
  }

  it("writes the .NET ticks of any moment exactly", () => {
    for (const millis of [0, 1, 999, 86_400_000, 1_700_000_000_123, 4_102_444_800_000, 253_402_300_799_999]) {
      const { high, low } = Protobuf.ticksOf(millis)
      assert.strictEqual((BigInt(high) << 32n) | BigInt(low), Ticks.fromEpochMillis(millis))
    }
  })

  const int64s = [0, -1, -2, -3, -4, -5, -2147483648, 1, 127, 128, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER]

  it("reads WriteEvents as the generated decoder does", () => {
    const g = generator(6)
    for (let i = 0; i < cases; i++) {
      const init = {
        eventStreamId: g.pick(names),
        expectedVersion: BigInt(g.pick(int64s)),
        events: Array.from({ length: g.int(4) }, () => newEvent(g)),
        requireLeader: g.bool()
      }
      const payload = encode(Messages.WriteEventsSchema, init, g.bool())
      const expected = Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, payload))
      const actual = Requests.writeEvents(payload)
      assert.strictEqual(actual.eventStreamId, expected.eventStreamId)
      assert.strictEqual(actual.expectedVersion, Number(expected.expectedVersion))
      assert.strictEqual(actual.requireLeader, expected.requireLeader)
      assert.strictEqual(actual.events.length, expected.events.length)
      actual.events.forEach((event, j) => {
        const other = expected.events[j]!
        assert.deepStrictEqual([...event.eventId], [...other.eventId])
        assert.strictEqual(event.eventType, other.eventType)
        assert.strictEqual(event.dataContentType, other.dataContentType)
        assert.strictEqual(event.metadataContentType, other.metadataContentType)
        assert.deepStrictEqual([...event.data], [...other.data])
        assert.deepStrictEqual([...event.metadata], [...other.metadata])
      })
    }
  })

  it("reads recurring stream ids and event types right, however many share an interning slot", () => {
    // More names than the interner has slots, so slots are shared and overwritten; same-length
    // names differing in one byte, non-ASCII and names past the interned length among them.
    const many = Array.from({ length: 3000 }, (_, i) => `stream-${i}`)
    const odd = ["stream-a", "stream-b", "flux-é", "流れ", "x".repeat(64), "y".repeat(65), ""]
    const all = [...many, ...odd]
    for (let round = 0; round < 3; round++) {
      for (const name of all) {
        const payload = encode(
          Messages.WriteEventsSchema,
          {
            eventStreamId: name,
            expectedVersion: -2n,
            events: [
              {
                eventId: new Uint8Array(16),
                eventType: `${name}-type`,
                dataContentType: 0,
                metadataContentType: 0,
                data: new Uint8Array(0)
              }
            ],
            requireLeader: false
          },
          false
        )
        const actual = Requests.writeEvents(payload)
        assert.strictEqual(actual.eventStreamId, name)
        assert.strictEqual(actual.events[0]!.eventType, `${name}-type`)
        const read = Requests.readEvent(
          encode(
            Messages.ReadEventSchema,
            { eventStreamId: name, eventNumber: 0n, resolveLinkTos: false, requireLeader: false },
            false
          )
        )
        assert.strictEqual(read.eventStreamId, name)
      }
    }
  })

  it("reads ReadEvent, ReadStreamEvents and ReadAllEvents as the generated decoder does", () => {
    const g = generator(7)
    for (let i = 0; i < cases; i++) {
      const omit = g.bool()
      const readEvent = {
        eventStreamId: g.pick(names),
        eventNumber: BigInt(g.pick(int64s)),
        resolveLinkTos: g.bool(),
        requireLeader: g.bool()
      }
      const actualEvent = Requests.readEvent(encode(Messages.ReadEventSchema, readEvent, omit))
      assert.deepStrictEqual(actualEvent, { ...readEvent, eventNumber: Number(readEvent.eventNumber) })
      const readStream = {
        eventStreamId: g.pick(names),
        fromEventNumber: BigInt(g.pick(int64s)),
        maxCount: g.pick([0, 1, 500, 4096, 4097, -1, 2 ** 31 - 1]),
        resolveLinkTos: g.bool(),
        requireLeader: g.bool()
      }
      const actualStream = Requests.readStreamEvents(encode(Messages.ReadStreamEventsSchema, readStream, omit))
      assert.deepStrictEqual(actualStream, { ...readStream, fromEventNumber: Number(readStream.fromEventNumber) })
      const readAll = {
        commitPosition: BigInt(g.pick(int64s)),
        preparePosition: BigInt(g.pick(int64s)),
        maxCount: g.pick([1, 500, -3]),
        resolveLinkTos: g.bool(),
        requireLeader: g.bool()
      }
      const actualAll = Requests.readAllEvents(encode(Messages.ReadAllEventsSchema, readAll, omit))
      assert.deepStrictEqual(actualAll, {
        ...readAll,
        commitPosition: Number(readAll.commitPosition),
        preparePosition: Number(readAll.preparePosition)
      })
    }
  })

  it("skips unknown fields and refuses truncated or mistyped payloads", () => {
    // Field 15 (varint) and field 14 (bytes) are unknown and skipped.
    const withUnknown = new Uint8Array([0x78, 0x05, 0x72, 0x02, 0x61, 0x62, 0x0a, 0x01, 0x73, 0x10, 0x03])
    assert.deepStrictEqual(Requests.readEvent(withUnknown), {
      eventStreamId: "s",
      eventNumber: 3,
      resolveLinkTos: false,
      requireLeader: false
    })
    for (
      const bad of [
        [0x0a, 0x7f, 0x01], // a string that runs past the end
        [0x10], // a varint cut short
        [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // eleven varint bytes
        [0x0b], // field 1 (a string) as a group
        [0x7b, 0x08, 0x01], // a group that never ends
        [0x7b, 0x84, 0x01], // a group that ends with the tag of another field
        [0x08, 0x01], // field 1 (a string) as a varint
        [0x00, 0x00] // field number 0
      ]
    ) {
      assert.throws(() => Requests.readEvent(new Uint8Array(bad)), Protobuf.Malformed)
      assert.throws(() => Requests.writeEvents(new Uint8Array(bad)), Protobuf.Malformed)
    }
  })
})

/** A varint, written the short way. */
const varintBytes = (value: bigint): Array<number> => {
  const bytes: Array<number> = []
  let rest = BigInt.asUintN(64, value)
  while (rest > 0x7fn) {
    bytes.push(Number(rest & 0x7fn) | 0x80)
    rest >>= 7n
  }
  return [...bytes, Number(rest)]
}

/** A varint in ten bytes, as a writer may put any. */
const overlongBytes = (value: bigint): Array<number> =>
  Array.from({ length: 10 }, (_, i) => {
    const group = Number((BigInt.asUintN(64, value) >> BigInt(7 * i)) & 0x7fn)
    return i < 9 ? group | 0x80 : group & 0x01
  })

/** Reads a ReadStreamEvents made of the given fields, checking it against the generated decoder. */
const readStreamLikeGenerated = (...fields: ReadonlyArray<ReadonlyArray<number>>) => {
  const payload = new Uint8Array(fields.flat())
  const expected = Result.getOrThrow(Messages.decode(Messages.ReadStreamEventsSchema, payload))
  const actual = Requests.readStreamEvents(payload)
  assert.strictEqual(actual.eventStreamId, expected.eventStreamId)
  assert.strictEqual(actual.fromEventNumber, Number(expected.fromEventNumber))
  assert.strictEqual(actual.maxCount, expected.maxCount)
  return actual
}

describe("Requests, where protobuf leaves the writer a choice", () => {
  const stream = [0x0a, 0x01, 0x73]

  it("reads a leading U+FEFF as part of a string, not as a byte order mark", () => {
    const actual = readStreamLikeGenerated([0x0a, 0x04, 0xef, 0xbb, 0xbf, 0x73], [0x18, 0x01])
    assert.strictEqual(actual.eventStreamId, "\uFEFFs")
  })

  it("reads varints written the long way as the short ones", () => {
    for (const value of [0n, 5n, 4096n, 2n ** 40n]) {
      const read = readStreamLikeGenerated(stream, [0x10, ...overlongBytes(value)], [0x18, ...overlongBytes(value)])
      assert.strictEqual(read.fromEventNumber, Number(value))
    }
    // Ten bytes with bit 63 set are a negative number, whatever the bits past it.
    const minusTwo = overlongBytes(-2n).slice(0, 9)
    for (const last of [0x01, 0x7f]) {
      const read = readStreamLikeGenerated(stream, [0x10, ...minusTwo, last], [0x18, 0x01])
      assert.strictEqual(read.fromEventNumber, -2)
    }
  })

  it("reads an int32 as the low 32 bits of its varint", () => {
    for (const high of [1n, 2n ** 21n, 2n ** 30n - 1n]) {
      const read = readStreamLikeGenerated(stream, [0x18, ...varintBytes(7n + (high << 32n))])
      assert.strictEqual(read.maxCount, 7)
    }
    assert.strictEqual(readStreamLikeGenerated(stream, [0x18, ...varintBytes(2n ** 31n)]).maxCount, -(2 ** 31))
  })

  it("skips unknown fields that are groups, nested ones included", () => {
    const group = [0x7b, 0x08, 0x01, 0x83, 0x01, 0x12, 0x00, 0x84, 0x01, 0x7c]
    const actual = readStreamLikeGenerated(group, stream, group, [0x18, 0x02])
    assert.strictEqual(actual.maxCount, 2)
    // Deep enough to exhaust the stack, were the depth not bounded.
    const nested = new Uint8Array(100_000).fill(0x7b)
    assert.throws(() => Requests.readEvent(nested), Protobuf.Malformed)
  })
})

/** Writes a frame whose payload is `size` bytes of `fill`. */
const frameOf = (out: Protobuf.Writer, fill: number, size: number): void => {
  out.frame(Command.Command.Pong, Guid.empty, size)
  out.buffer.fill(fill, out.position, out.position + size)
  out.position += size
}

/** Whether two batches lie in the same memory (small buffers share node's pool: compare offsets too). */
const sameMemory = (a: Uint8Array, b: Uint8Array): boolean => a.buffer === b.buffer && a.byteOffset === b.byteOffset

describe("Protobuf.Writer", () => {
  it("hands out each batch in a buffer of its own unless told to reuse it", () => {
    const out = new Protobuf.Writer()
    frameOf(out, 1, 100)
    const first = out.take()!
    frameOf(out, 2, 100)
    const second = out.take()!
    assert.isFalse(sameMemory(second, first))
    assert.isTrue(first.subarray(22).every((byte) => byte === 1))
    // The socket is done with the second batch: the third goes over it.
    out.reuse()
    frameOf(out, 3, 100)
    const third = out.take()!
    assert.isTrue(sameMemory(third, second))
    assert.isTrue(third.subarray(22).every((byte) => byte === 3))
  })

  it("keeps a buffer grown for a large batch (a page of 500 events) for the next ones", () => {
    const out = new Protobuf.Writer()
    frameOf(out, 1, 200 * 1024)
    const large = out.take()!
    out.reuse()
    frameOf(out, 2, 100)
    assert.isTrue(sameMemory(out.take()!, large))
  })

  it("reuses nothing once new frames are written, and no buffer over 8 MiB", () => {
    const out = new Protobuf.Writer()
    frameOf(out, 1, 100)
    const first = out.take()!
    frameOf(out, 2, 100)
    out.reuse()
    const second = out.take()!
    assert.isFalse(sameMemory(second, first))
    assert.isTrue(first.subarray(22).every((byte) => byte === 1))
    // A burst of replies over 1 MiB (eight pages of 500 events) is kept...
    frameOf(out, 4, 1536 * 1024)
    const burst = out.take()!
    out.reuse()
    frameOf(out, 5, 100)
    assert.isTrue(sameMemory(out.take()!, burst))
    // ...one over 8 MiB is not.
    frameOf(out, 6, 9 * 1024 * 1024)
    const large = out.take()!
    out.reuse()
    frameOf(out, 7, 100)
    const after = out.take()!
    assert.isFalse(sameMemory(after, large))
    assert.isTrue(large.subarray(22).every((byte) => byte === 6))
  })
})
