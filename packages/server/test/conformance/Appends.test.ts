/**
 * Conformance of appends, checked by node-eventstore-client: every expected version, the
 * WrongExpectedVersion replies (protocol.md section 4.2), the idempotency rows of the write decision
 * table, event numbers and $all positions in write results (section 4.3), event records (sections
 * 3.3 and 4.12), a 1 MiB event and concurrent appends on one connection.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, it, assert } from "vitest"
import {
  admin,
  comparePositions,
  conformanceServer,
  type Connection,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  positionOf,
  rejection,
  streamName
} from "./Harness.ts"
import { Command, OperationResult, RawConnection, topLevelFields, writeEvents, writeEventsReply } from "./RawConnection.ts"

const { expectedVersion } = EventStore

const es = conformanceServer()

/** Every event of `stream`, read forward in one page. */
const readAll = async (connection: Connection, stream: string) => {
  const slice = await connection.readStreamEventsForward(stream, 0, 4096)
  return slice.events.map((e) => ({ number: num(e.event!.eventNumber), id: e.event!.eventId, type: e.event!.eventType }))
}

/** The events of `stream` as they appear in $all, read forward from the start by admin. */
const inAll = async (connection: Connection, stream: string) => {
  const found: Array<EventStore.ResolvedEvent> = []
  let position = EventStore.positions.start
  for (;;) {
    const slice = await connection.readAllEventsForward(position, 500, false, admin)
    for (const event of slice.events) if (event.originalStreamId === stream) found.push(event)
    if (slice.isEndOfStream) return found
    position = slice.nextPosition
  }
}

/** Asserts that `promise` fails with node-eventstore-client's WrongExpectedVersionError for `stream`. */
const wrongExpectedVersion = async (promise: Promise<unknown>, stream: string) => {
  const error = await rejection(promise)
  assert.instanceOf(error, EventStore.WrongExpectedVersionError)
  assert.strictEqual((error as EventStore.WrongExpectedVersionError).stream, stream)
}

describe("appends: expected version (protocol.md 4.2)", () => {
  it("Any creates a stream and numbers its events from 0", async () => {
    const stream = streamName("any-new")
    const events = jsonEvents(3)
    const result = await es.connection.appendToStream(stream, expectedVersion.any, events)
    assert.strictEqual(num(result.nextExpectedVersion), 2)
    assert.deepStrictEqual(
      await readAll(es.connection, stream),
      events.map((e, i) => ({ number: i, id: e.eventId, type: e.type }))
    )
  })

  it("Any appends after the last event, numbering contiguously", async () => {
    const stream = streamName("any-existing")
    await es.connection.appendToStream(stream, expectedVersion.any, jsonEvents(2))
    const result = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvents(3))
    assert.strictEqual(num(result.nextExpectedVersion), 4)
    assert.deepStrictEqual((await readAll(es.connection, stream)).map((e) => e.number), [0, 1, 2, 3, 4])
  })

  it("NoStream succeeds on a stream that does not exist", async () => {
    const stream = streamName("nostream-new")
    const result = await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("First"))
    assert.strictEqual(num(result.nextExpectedVersion), 0)
  })

  it("NoStream fails with WrongExpectedVersion on a stream that exists", async () => {
    const stream = streamName("nostream-existing")
    await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("First"))
    await wrongExpectedVersion(es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("Second")), stream)
    assert.strictEqual((await readAll(es.connection, stream)).length, 1)
  })

  it("StreamExists (-4) fails with WrongExpectedVersion on a stream that does not exist", async () => {
    assert.strictEqual(expectedVersion.streamExists, -4)
    const stream = streamName("exists-new")
    await wrongExpectedVersion(es.connection.appendToStream(stream, expectedVersion.streamExists, jsonEvent("E")), stream)
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10)
    assert.strictEqual(slice.status, "streamNotFound")
  })

  it("StreamExists (-4) succeeds on a stream that exists", async () => {
    const stream = streamName("exists-existing")
    await es.connection.appendToStream(stream, expectedVersion.any, jsonEvents(2))
    const result = await es.connection.appendToStream(stream, expectedVersion.streamExists, jsonEvent("Third"))
    assert.strictEqual(num(result.nextExpectedVersion), 2)
  })

  it("StreamExists (-4) succeeds on a stream that has only metadata", async () => {
    const stream = streamName("exists-metadata-only")
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { custom: 1 })
    const result = await es.connection.appendToStream(stream, expectedVersion.streamExists, jsonEvent("First"))
    assert.strictEqual(num(result.nextExpectedVersion), 0)
  })

  it("an exact expected version equal to the last event number succeeds", async () => {
    const stream = streamName("exact-match")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    const result = await es.connection.appendToStream(stream, 2, jsonEvents(2))
    assert.strictEqual(num(result.nextExpectedVersion), 4)
  })

  it("an exact expected version above the last event number fails with WrongExpectedVersion", async () => {
    const stream = streamName("exact-ahead")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    await wrongExpectedVersion(es.connection.appendToStream(stream, 5, jsonEvent("E")), stream)
    await wrongExpectedVersion(es.connection.appendToStream(stream, 3, jsonEvent("E")), stream)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("an exact expected version on a stream that does not exist fails with WrongExpectedVersion", async () => {
    const stream = streamName("exact-missing")
    await wrongExpectedVersion(es.connection.appendToStream(stream, 0, jsonEvent("E")), stream)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
  })

  it("an exact expected version below the last event number, with new event ids, fails", async () => {
    const stream = streamName("exact-behind")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    await wrongExpectedVersion(es.connection.appendToStream(stream, 1, jsonEvent("E")), stream)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("an empty append succeeds and reports the stream's current version", async () => {
    const stream = streamName("empty-append")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    const result = await es.connection.appendToStream(stream, expectedVersion.any, [])
    assert.strictEqual(num(result.nextExpectedVersion), 2)
    const exact = await es.connection.appendToStream(stream, 2, [])
    assert.strictEqual(num(exact.nextExpectedVersion), 2)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("expected versions -3 and below -4 are bad requests, and the connection stays usable", async () => {
    const stream = streamName("bad-expected-version")
    for (const version of [-3, -5]) {
      const error = await rejection(es.connection.appendToStream(stream, version, jsonEvent("E")))
      assert.match(error.message, /^Bad request/)
    }
    const result = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E"))
    assert.strictEqual(num(result.nextExpectedVersion), 0)
  })
})

describe("appends: the WrongExpectedVersion reply (protocol.md 4.2, WriteEventsCompleted contents)", () => {
  const raw: { connection?: RawConnection } = {}
  beforeAll(async () => {
    raw.connection = await RawConnection.open(es.server)
  })
  afterAll(async () => {
    await raw.connection?.close()
  })

  const expectWrongExpectedVersion = async (
    stream: string,
    expected: number,
    currentVersion: number
  ) => {
    const reply = await writeEvents(raw.connection!, stream, expected, [randomUUID()])
    assert.strictEqual(reply.result, OperationResult.WrongExpectedVersion)
    assert.strictEqual(reply.message, "Wrong expected version.")
    assert.strictEqual(num(reply.firstEventNumber), -2147483648)
    assert.strictEqual(num(reply.lastEventNumber), -2147483648)
    assert.strictEqual(num(reply.currentVersion), currentVersion, `current_version for expected ${expected}`)
  }

  it("reports the stream's actual last event number as current_version", async () => {
    const stream = streamName("wev-reply")
    const written = await writeEvents(raw.connection!, stream, expectedVersion.noStream, [randomUUID(), randomUUID(), randomUUID()])
    assert.strictEqual(written.result, OperationResult.Success)
    assert.strictEqual(num(written.firstEventNumber), 0)
    assert.strictEqual(num(written.lastEventNumber), 2)
    await expectWrongExpectedVersion(stream, 5, 2)
    await expectWrongExpectedVersion(stream, expectedVersion.noStream, 2)
    await expectWrongExpectedVersion(stream, 0, 2)
  })

  it("a success reply carries every required field, even those holding 0 (proto2 style)", async () => {
    const reply = await writeEventsReply(raw.connection!, streamName("proto2"), expectedVersion.noStream, [randomUUID()])
    assert.strictEqual(reply.command, Command.WriteEventsCompleted)
    const fields = topLevelFields(reply.payload)
    for (const field of [1, 3, 4]) assert.include(fields, field, `field ${field}`)
  })

  it("reports -1 as current_version for a stream that does not exist", async () => {
    const stream = streamName("wev-missing")
    await expectWrongExpectedVersion(stream, expectedVersion.streamExists, -1)
    await expectWrongExpectedVersion(stream, 0, -1)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
  })
})

describe("appends: idempotent re-sends (protocol.md 4.2, steps 3-6)", () => {
  it("re-sending the same events with Any writes nothing and reports the original result", async () => {
    const stream = streamName("idem-any")
    const events = jsonEvents(3)
    const first = await es.connection.appendToStream(stream, expectedVersion.any, events)
    const again = await es.connection.appendToStream(stream, expectedVersion.any, events)
    assert.strictEqual(num(again.nextExpectedVersion), num(first.nextExpectedVersion))
    assert.deepStrictEqual(positionOf(again.logPosition), positionOf(first.logPosition))
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("re-sending an earlier write with StreamExists reports that write's original numbers and position", async () => {
    const stream = streamName("idem-exists")
    const earlier = jsonEvents(2, "Earlier")
    const first = await es.connection.appendToStream(stream, expectedVersion.any, earlier)
    await es.connection.appendToStream(stream, expectedVersion.any, jsonEvents(2, "Later"))
    const again = await es.connection.appendToStream(stream, expectedVersion.streamExists, earlier)
    assert.strictEqual(num(again.nextExpectedVersion), 1)
    assert.deepStrictEqual(positionOf(again.logPosition), positionOf(first.logPosition))
    assert.strictEqual((await readAll(es.connection, stream)).length, 4)
  })

  it("re-sending a prefix of a write with Any is idempotent", async () => {
    const stream = streamName("idem-prefix")
    const events = jsonEvents(3)
    await es.connection.appendToStream(stream, expectedVersion.any, events)
    const again = await es.connection.appendToStream(stream, expectedVersion.any, events.slice(0, 2))
    assert.strictEqual(num(again.nextExpectedVersion), 1)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("with Any, a known first id followed by an unknown one fails with WrongExpectedVersion", async () => {
    const stream = streamName("idem-corrupted")
    const events = jsonEvents(2)
    await es.connection.appendToStream(stream, expectedVersion.any, events)
    await wrongExpectedVersion(
      es.connection.appendToStream(stream, expectedVersion.any, [events[0]!, jsonEvent("New")]),
      stream
    )
    assert.strictEqual((await readAll(es.connection, stream)).length, 2)
  })

  it("with Any, an unknown first id writes normally even when a later id is known", async () => {
    const stream = streamName("idem-unknown-first")
    const known = jsonEvent("Known")
    await es.connection.appendToStream(stream, expectedVersion.any, known)
    const fresh = jsonEvent("Fresh")
    const result = await es.connection.appendToStream(stream, expectedVersion.any, [fresh, known])
    assert.strictEqual(num(result.nextExpectedVersion), 2)
    assert.deepStrictEqual((await readAll(es.connection, stream)).map((e) => e.id), [known.eventId, fresh.eventId, known.eventId])
  })

  it("an event id committed in another stream does not make an Any write idempotent", async () => {
    const first = streamName("idem-other-a")
    const second = streamName("idem-other-b")
    const event = jsonEvent("Shared")
    await es.connection.appendToStream(first, expectedVersion.any, event)
    const result = await es.connection.appendToStream(second, expectedVersion.any, event)
    assert.strictEqual(num(result.nextExpectedVersion), 0)
    assert.deepStrictEqual((await readAll(es.connection, second)).map((e) => e.id), [event.eventId])
  })

  it("re-sending with the original exact or NoStream expected version succeeds without writing", async () => {
    const stream = streamName("idem-exact")
    const head = jsonEvents(3, "Head")
    const tail = jsonEvents(2, "Tail")
    await es.connection.appendToStream(stream, expectedVersion.noStream, head)
    await es.connection.appendToStream(stream, 2, tail)

    assert.strictEqual(num((await es.connection.appendToStream(stream, 2, tail)).nextExpectedVersion), 4)
    assert.strictEqual(num((await es.connection.appendToStream(stream, expectedVersion.noStream, head)).nextExpectedVersion), 2)
    assert.strictEqual(num((await es.connection.appendToStream(stream, 0, head.slice(1))).nextExpectedVersion), 2)
    assert.strictEqual(num((await es.connection.appendToStream(stream, 1, [head[2]!, tail[0]!])).nextExpectedVersion), 3)
    assert.strictEqual((await readAll(es.connection, stream)).length, 5)
  })

  it("at an old expected version, a first id that does not match fails with WrongExpectedVersion", async () => {
    const stream = streamName("idem-first-mismatch")
    const events = jsonEvents(3)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await wrongExpectedVersion(es.connection.appendToStream(stream, 0, [events[2]!, events[1]!]), stream)
    await wrongExpectedVersion(es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3)), stream)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("at an old expected version, a later id that does not match fails with WrongExpectedVersion", async () => {
    const stream = streamName("idem-later-mismatch")
    const events = jsonEvents(3)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await wrongExpectedVersion(es.connection.appendToStream(stream, 0, [events[1]!, jsonEvent("Other")]), stream)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("at an old expected version, events running past the end of the stream fail with WrongExpectedVersion", async () => {
    const stream = streamName("idem-past-end")
    const events = jsonEvents(3)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await wrongExpectedVersion(es.connection.appendToStream(stream, 1, [events[2]!, jsonEvent("Beyond")]), stream)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("at an old expected version, an empty append fails with WrongExpectedVersion", async () => {
    const stream = streamName("idem-empty-old")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    await wrongExpectedVersion(es.connection.appendToStream(stream, 0, []), stream)
    assert.strictEqual((await readAll(es.connection, stream)).length, 3)
  })

  it("re-sending the same ids at the now-current version appends them again", async () => {
    const stream = streamName("idem-duplicates")
    const event = jsonEvent("Twice")
    await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    const again = await es.connection.appendToStream(stream, 0, event)
    assert.strictEqual(num(again.nextExpectedVersion), 1)
    assert.deepStrictEqual(await readAll(es.connection, stream), [
      { number: 0, id: event.eventId, type: "Twice" },
      { number: 1, id: event.eventId, type: "Twice" }
    ])
  })
})

describe("appends: write results and positions (protocol.md 4.2, 4.3)", () => {
  it("a write result carries the last event's number and its $all position", async () => {
    const stream = streamName("positions")
    const result = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvents(3))
    assert.strictEqual(num(result.nextExpectedVersion), 2)
    assert.strictEqual(num(result.logPosition.commitPosition), num(result.logPosition.preparePosition))
    const found = await inAll(es.connection, stream)
    assert.deepStrictEqual(found.map((e) => num(e.originalEventNumber)), [0, 1, 2])
    for (const event of found) {
      assert.isNotNull(event.originalPosition)
      assert.strictEqual(num(event.originalPosition!.commitPosition), num(event.originalPosition!.preparePosition))
    }
    for (let i = 1; i < found.length; i++) {
      assert.isBelow(comparePositions(found[i - 1]!.originalPosition!, found[i]!.originalPosition!), 0)
    }
    assert.deepStrictEqual(positionOf(found[2]!.originalPosition), positionOf(result.logPosition))
  })

  it("positions strictly increase across writes to different streams", async () => {
    const first = streamName("positions-a")
    const second = streamName("positions-b")
    const results = []
    for (const stream of [first, second, first, second]) {
      results.push(await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E")))
    }
    for (let i = 1; i < results.length; i++) {
      assert.isBelow(comparePositions(results[i - 1]!.logPosition, results[i]!.logPosition), 0)
    }
    assert.deepStrictEqual(results.map((r) => num(r.nextExpectedVersion)), [0, 0, 1, 1])
  })

  it("event records carry the id, type, data, metadata, content type and creation time written", async () => {
    const stream = streamName("records")
    const before = Date.now()
    const json = EventStore.createJsonEventData(randomUUID(), { name: "pony" }, { by: "test" }, "Json")
    const binary = EventStore.createEventData(randomUUID(), "Binary", false, Buffer.from([0, 1, 2, 255]), Buffer.from([9]))
    await es.connection.appendToStream(stream, expectedVersion.noStream, [json, binary])
    const after = Date.now()
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10)
    const [first, second] = slice.events.map((e) => e.event!)
    assert.strictEqual(first!.eventStreamId, stream)
    assert.strictEqual(first!.eventId, json.eventId)
    assert.strictEqual(first!.eventType, "Json")
    assert.isTrue(first!.isJson)
    assert.deepStrictEqual(JSON.parse(first!.data!.toString("utf8")), { name: "pony" })
    assert.deepStrictEqual(JSON.parse(first!.metadata!.toString("utf8")), { by: "test" })
    assert.strictEqual(second!.eventId, binary.eventId)
    assert.strictEqual(second!.eventType, "Binary")
    assert.isFalse(second!.isJson)
    assert.deepStrictEqual([...second!.data!], [0, 1, 2, 255])
    assert.deepStrictEqual([...second!.metadata!], [9])
    for (const record of [first!, second!]) {
      // created_epoch is the server's clock; allow for a second of skew either way.
      assert.isAtLeast(record.createdEpoch, before - 1_000)
      assert.isAtMost(record.createdEpoch, after + 1_000)
      assert.strictEqual(record.created.getTime(), record.createdEpoch)
    }
  })
})

describe("appends: size and concurrency", () => {
  it("a 1 MiB event round-trips byte for byte", async () => {
    const stream = streamName("large")
    const data = randomBytes(1024 * 1024)
    const metadata = randomBytes(1024)
    const event = EventStore.createEventData(randomUUID(), "Large", false, data, metadata)
    const result = await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    assert.strictEqual(num(result.nextExpectedVersion), 0)
    const read = await es.connection.readEvent(stream, 0)
    assert.strictEqual(read.status, "success")
    assert.isTrue(data.equals(read.event!.event!.data!))
    assert.isTrue(metadata.equals(read.event!.event!.metadata!))
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10)
    assert.isTrue(data.equals(slice.events[0]!.event!.data!))
  })

  it("many concurrent appends on one connection all succeed, each with its own event number", async () => {
    const stream = streamName("concurrent")
    const events = jsonEvents(200)
    const results = await Promise.all(events.map((e) => es.connection.appendToStream(stream, expectedVersion.any, e)))
    assert.deepStrictEqual(
      new Set(results.map((r) => num(r.nextExpectedVersion))),
      new Set(Array.from({ length: 200 }, (_, i) => i))
    )
    const positions = new Set(results.map((r) => r.logPosition.toString()))
    assert.strictEqual(positions.size, 200)
    const stored = await readAll(es.connection, stream)
    assert.deepStrictEqual(stored.map((e) => e.number), Array.from({ length: 200 }, (_, i) => i))
    assert.deepStrictEqual(new Set(stored.map((e) => e.id)), new Set(events.map((e) => e.eventId)))
    // Each write's reported number is the number the event was stored at.
    const numberById = new Map(stored.map((e) => [e.id, e.number]))
    events.forEach((event, i) => assert.strictEqual(numberById.get(event.eventId), num(results[i]!.nextExpectedVersion)))
  })

  it("of many concurrent NoStream appends to one new stream, exactly one succeeds", async () => {
    const stream = streamName("concurrent-nostream")
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("E")))
    )
    const succeeded = outcomes.filter((o) => o.status === "fulfilled")
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected")
    assert.strictEqual(succeeded.length, 1)
    for (const failure of failed) assert.instanceOf(failure.reason, EventStore.WrongExpectedVersionError)
    assert.strictEqual((await readAll(es.connection, stream)).length, 1)
  })

  it("concurrent appends to many streams get distinct, per-stream contiguous numbers", async () => {
    const streams = Array.from({ length: 10 }, (_, i) => streamName(`concurrent-many-${i}`))
    const writes = streams.flatMap((stream) => Array.from({ length: 10 }, () => ({ stream, event: jsonEvent("E") })))
    const results = await Promise.all(writes.map((w) => es.connection.appendToStream(w.stream, expectedVersion.any, w.event)))
    assert.strictEqual(new Set(results.map((r) => r.logPosition.toString())).size, writes.length)
    for (const stream of streams) {
      assert.deepStrictEqual((await readAll(es.connection, stream)).map((e) => e.number), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    }
  })
})
