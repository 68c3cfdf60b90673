/**
 * Conformance of stream reads, checked by node-eventstore-client: ReadEvent (including -1 = last and
 * the not-found cases) and forward/backward stream reads with their slice fields, using the worked
 * examples of protocol.md section 4.4, and the 4096 max-count limit.
 */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, it, assert } from "vitest"
import { conformanceServer, EventStore, jsonEvents, num, sliceFields, streamName } from "./Harness.ts"
import { RawConnection, readStreamEvents, ReadStreamResult, writeEvents } from "./RawConnection.ts"

const { expectedVersion } = EventStore

const es = conformanceServer()

/** A stream of ten events, 0..9, written once for the read examples. */
const tenEvents = streamName("ten")

beforeAll(async () => {
  await es.connection.appendToStream(tenEvents, expectedVersion.noStream, jsonEvents(10))
})

describe("ReadEvent (protocol.md 4.4)", () => {
  it("reads an event by its number", async () => {
    const stream = streamName("read-event")
    const events = jsonEvents(3)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    const result = await es.connection.readEvent(stream, 1)
    assert.strictEqual(result.status, "success")
    const record = result.event!.event!
    assert.strictEqual(record.eventStreamId, stream)
    assert.strictEqual(num(record.eventNumber), 1)
    assert.strictEqual(record.eventId, events[1]!.eventId)
    assert.strictEqual(record.eventType, "Event-1")
    assert.isNull(result.event!.link)
  })

  it("reads event number 0", async () => {
    const result = await es.connection.readEvent(tenEvents, 0)
    assert.strictEqual(result.status, "success")
    assert.strictEqual(num(result.event!.event!.eventNumber), 0)
    assert.strictEqual(result.event!.event!.eventType, "Event-0")
  })

  it("-1 reads the last event", async () => {
    const result = await es.connection.readEvent(tenEvents, -1)
    assert.strictEqual(result.status, "success")
    assert.strictEqual(num(result.event!.event!.eventNumber), 9)
    assert.strictEqual(result.event!.event!.eventType, "Event-9")
  })

  it("a number past the last event is NotFound, with no event", async () => {
    const result = await es.connection.readEvent(tenEvents, 10)
    assert.strictEqual(result.status, "notFound")
    assert.isNull(result.event)
    const far = await es.connection.readEvent(tenEvents, 1_000_000)
    assert.strictEqual(far.status, "notFound")
  })

  it("a stream that does not exist is NoStream, for a number and for -1", async () => {
    const stream = streamName("read-event-missing")
    for (const number of [0, -1]) {
      const result = await es.connection.readEvent(stream, number)
      assert.strictEqual(result.status, "noStream")
      assert.isNull(result.event)
    }
  })
})

describe("stream reads forward (protocol.md 4.4 worked examples, 10 events)", () => {
  it("from 0, count 5: events 0..4, next 5, not the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(tenEvents, 0, 5)), {
      status: "success",
      events: [0, 1, 2, 3, 4],
      nextEventNumber: 5,
      lastEventNumber: 9,
      isEndOfStream: false
    })
  })

  it("from 5, count 5: events 5..9, next 10, the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(tenEvents, 5, 5)), {
      status: "success",
      events: [5, 6, 7, 8, 9],
      nextEventNumber: 10,
      lastEventNumber: 9,
      isEndOfStream: true
    })
  })

  it("from 8, count 5: events 8..9, next 10, the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(tenEvents, 8, 5)), {
      status: "success",
      events: [8, 9],
      nextEventNumber: 10,
      lastEventNumber: 9,
      isEndOfStream: true
    })
  })

  it("from 20, count 10: no events, next 10, the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(tenEvents, 20, 10)), {
      status: "success",
      events: [],
      nextEventNumber: 10,
      lastEventNumber: 9,
      isEndOfStream: true
    })
  })

  it("paging forward with nextEventNumber visits every event once", async () => {
    const seen: Array<number> = []
    let from = 0
    for (;;) {
      const slice = await es.connection.readStreamEventsForward(tenEvents, from, 3)
      seen.push(...slice.events.map((e) => num(e.event!.eventNumber)))
      if (slice.isEndOfStream) break
      from = num(slice.nextEventNumber)
    }
    assert.deepStrictEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it("a stream that does not exist: NoStream, no events, next -1, last -1, the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(streamName("missing"), 0, 10)), {
      status: "streamNotFound",
      events: [],
      nextEventNumber: -1,
      lastEventNumber: -1,
      isEndOfStream: true
    })
  })
})

describe("stream reads backward (protocol.md 4.4 worked examples, 10 events)", () => {
  it("from -1 (the end), count 5: events 9..5, next 4, not the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(tenEvents, -1, 5)), {
      status: "success",
      events: [9, 8, 7, 6, 5],
      nextEventNumber: 4,
      lastEventNumber: 9,
      isEndOfStream: false
    })
  })

  it("from 4, count 5: events 4..0, next -1, the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(tenEvents, 4, 5)), {
      status: "success",
      events: [4, 3, 2, 1, 0],
      nextEventNumber: -1,
      lastEventNumber: 9,
      isEndOfStream: true
    })
  })

  it("from 12, count 5: events 9..8, next 7, not the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(tenEvents, 12, 5)), {
      status: "success",
      events: [9, 8],
      nextEventNumber: 7,
      lastEventNumber: 9,
      isEndOfStream: false
    })
  })

  it("from 20, count 5: no events, next 9, not the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(tenEvents, 20, 5)), {
      status: "success",
      events: [],
      nextEventNumber: 9,
      lastEventNumber: 9,
      isEndOfStream: false
    })
  })

  it("from 2, count 10: events 2..0, next -1, the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(tenEvents, 2, 10)), {
      status: "success",
      events: [2, 1, 0],
      nextEventNumber: -1,
      lastEventNumber: 9,
      isEndOfStream: true
    })
  })

  it("paging backward with nextEventNumber visits every event once", async () => {
    const seen: Array<number> = []
    let from = -1
    for (;;) {
      const slice = await es.connection.readStreamEventsBackward(tenEvents, from, 3)
      seen.push(...slice.events.map((e) => num(e.event!.eventNumber)))
      if (slice.isEndOfStream) break
      from = num(slice.nextEventNumber)
    }
    assert.deepStrictEqual(seen, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
  })

  it("a stream that does not exist: NoStream, no events, next -1, last -1, the end", async () => {
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(streamName("missing"), -1, 10)), {
      status: "streamNotFound",
      events: [],
      nextEventNumber: -1,
      lastEventNumber: -1,
      isEndOfStream: true
    })
  })
})

describe("the 4096 max-count limit (protocol.md 4.4)", () => {
  const raw: { connection?: RawConnection } = {}
  const big = streamName("big")
  const total = 4100

  beforeAll(async () => {
    raw.connection = await RawConnection.open(es.server)
    const written = await writeEvents(raw.connection, big, expectedVersion.noStream, Array.from({ length: total }, () => randomUUID()))
    assert.strictEqual(num(written.lastEventNumber), total - 1)
  })
  afterAll(async () => {
    await raw.connection?.close()
  })

  it("a forward read of 4096 events returns 4096 events", async () => {
    const slice = await es.connection.readStreamEventsForward(big, 0, 4096)
    assert.strictEqual(slice.events.length, 4096)
    assert.strictEqual(num(slice.events[4095]!.event!.eventNumber), 4095)
    assert.strictEqual(num(slice.nextEventNumber), 4096)
    assert.strictEqual(num(slice.lastEventNumber), total - 1)
    assert.isFalse(slice.isEndOfStream)
  })

  it("a backward read of 4096 events returns 4096 events", async () => {
    const slice = await es.connection.readStreamEventsBackward(big, -1, 4096)
    assert.strictEqual(slice.events.length, 4096)
    assert.strictEqual(num(slice.events[0]!.event!.eventNumber), total - 1)
    assert.strictEqual(num(slice.events[4095]!.event!.eventNumber), total - 4096)
    assert.strictEqual(num(slice.nextEventNumber), total - 4097)
    assert.isFalse(slice.isEndOfStream)
  })

  it("a read of 4097 events is refused with result Error, in both directions", async () => {
    for (const direction of ["forward", "backward"] as const) {
      const reply = await readStreamEvents(raw.connection!, direction, big, direction === "forward" ? 0 : -1, 4097)
      assert.strictEqual(reply.result, ReadStreamResult.Error, direction)
      assert.strictEqual(reply.events.length, 0, direction)
      assert.include(reply.error, "Read size too big", direction)
    }
  })

  it("a read of 0 events is refused with result Error", async () => {
    const reply = await readStreamEvents(raw.connection!, "forward", big, 0, 0)
    assert.strictEqual(reply.result, ReadStreamResult.Error)
  })
})
