/**
 * Conformance of the 22.6+ encoding style (`omitDefaultValues: true`), in which the server leaves out
 * every field holding its default value (protocol.md section 3.1). node-eventstore-client 22.10+
 * decodes proto3, so event number 0, Success results, false end-of-stream flags, empty data and
 * (0,0) positions must all still read correctly.
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import {
  admin,
  comparePositions,
  conformanceServer,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  positionOf,
  rejection,
  reversed,
  sliceFields,
  streamName
} from "./Harness.ts"
import { Command, RawConnection, topLevelFields, writeEventsReply } from "./RawConnection.ts"

const { expectedVersion, positions } = EventStore

const es = conformanceServer({ omitDefaultValues: true })

describe("a server encoding replies the 22.6+ way (protocol.md 3.1)", () => {
  it("the first event of the first write is numbered 0, at position (0,0) or later, and reads back", async () => {
    const stream = streamName("omit-first")
    const event = jsonEvent("First")
    const result = await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    assert.strictEqual(num(result.nextExpectedVersion), 0)
    assert.isAtLeast(num(result.logPosition.commitPosition), 0)
    const all = await es.connection.readAllEventsForward(positions.start, 4096, false, admin)
    const found = all.events.find((e) => e.originalEvent!.eventId === event.eventId)
    assert.isDefined(found)
    assert.strictEqual(num(found!.originalEventNumber), 0)
    assert.deepStrictEqual(positionOf(found!.originalPosition), positionOf(result.logPosition))
  })

  it("ReadEvent of event number 0 decodes its number, type and data", async () => {
    const stream = streamName("omit-read-0")
    const event = jsonEvent("Zero", { value: 0 })
    await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    const result = await es.connection.readEvent(stream, 0)
    assert.strictEqual(result.status, "success")
    const record = result.event!.event!
    assert.strictEqual(num(record.eventNumber), 0)
    assert.strictEqual(record.eventId, event.eventId)
    assert.strictEqual(record.eventType, "Zero")
    assert.isTrue(record.isJson)
    assert.deepStrictEqual(JSON.parse(record.data!.toString("utf8")), { value: 0 })
    assert.isAbove(record.createdEpoch, 0)
  })

  it("an end-of-stream slice and a slice that is not the end both decode", async () => {
    const stream = streamName("omit-slices")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "success",
      events: [0, 1, 2],
      nextEventNumber: 3,
      lastEventNumber: 2,
      isEndOfStream: true
    })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 1)), {
      status: "success",
      events: [0],
      nextEventNumber: 1,
      lastEventNumber: 2,
      isEndOfStream: false
    })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(stream, 0, 1)), {
      status: "success",
      events: [0],
      nextEventNumber: -1,
      lastEventNumber: 2,
      isEndOfStream: true
    })
  })

  it("a one-event stream reads as events [0], next 1, last 0, the end", async () => {
    const stream = streamName("omit-single")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("Only"))
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "success",
      events: [0],
      nextEventNumber: 1,
      lastEventNumber: 0,
      isEndOfStream: true
    })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(stream, -1, 10)), {
      status: "success",
      events: [0],
      nextEventNumber: -1,
      lastEventNumber: 0,
      isEndOfStream: true
    })
  })

  it("an event with empty binary data and no metadata reads back empty and not JSON", async () => {
    const stream = streamName("omit-empty")
    const event = EventStore.createEventData(randomUUID(), "Empty", false, Buffer.alloc(0))
    await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    const record = (await es.connection.readEvent(stream, 0)).event!.event!
    assert.isFalse(record.isJson)
    assert.strictEqual(record.data!.length, 0)
    assert.strictEqual(record.metadata!.length, 0)
    assert.strictEqual(record.eventId, event.eventId)
  })

  it("NotFound, NoStream and missing-stream slices decode", async () => {
    const stream = streamName("omit-missing")
    assert.strictEqual((await es.connection.readEvent(stream, 0)).status, "noStream")
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "streamNotFound",
      events: [],
      nextEventNumber: -1,
      lastEventNumber: -1,
      isEndOfStream: true
    })
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("E"))
    assert.strictEqual((await es.connection.readEvent(stream, 1)).status, "notFound")
  })

  it("metadata of a stream without metadata, and metadata at metastream version 0, decode", async () => {
    const stream = streamName("omit-metadata")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("E"))
    const none = await es.connection.getStreamMetadataRaw(stream)
    assert.strictEqual(num(none.metastreamVersion), -1)
    assert.isNull(none.streamMetadata)
    const written = await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 5 })
    assert.strictEqual(num(written.nextExpectedVersion), 0)
    const some = await es.connection.getStreamMetadataRaw(stream)
    assert.strictEqual(num(some.metastreamVersion), 0)
    assert.deepStrictEqual(some.streamMetadata, { $maxCount: 5 })
  })

  it("WrongExpectedVersion and StreamDeleted results decode", async () => {
    const stream = streamName("omit-errors")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("E"))
    assert.instanceOf(
      await rejection(es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("E"))),
      EventStore.WrongExpectedVersionError
    )
    await es.connection.deleteStream(stream, 0, true)
    assert.instanceOf(
      await rejection(es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E"))),
      EventStore.StreamDeletedError
    )
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamDeleted")
  })

  it("a transaction committing the first events of a stream decodes", async () => {
    const stream = streamName("omit-transaction")
    const transaction = await es.connection.startTransaction(stream, expectedVersion.noStream)
    await transaction.write(jsonEvent("InTransaction"))
    const result = await transaction.commit()
    assert.strictEqual(num(result.nextExpectedVersion), 0)
    assert.strictEqual(num((await es.connection.readEvent(stream, 0)).event!.event!.eventNumber), 0)
  })

  it("$all reads in both directions decode, with strictly ordered positions", async () => {
    await es.connection.appendToStream(streamName("omit-all"), expectedVersion.any, jsonEvents(3))
    const forward = await es.connection.readAllEventsForward(positions.start, 4096, false, admin)
    const backward = await es.connection.readAllEventsBackward(positions.end, 4096, false, admin)
    assert.isAbove(forward.events.length, 0)
    assert.deepStrictEqual(
      backward.events.map((e) => positionOf(e.originalPosition)),
      reversed(forward.events.map((e) => positionOf(e.originalPosition)))
    )
    for (let i = 1; i < forward.events.length; i++) {
      assert.isBelow(comparePositions(forward.events[i - 1]!.originalPosition!, forward.events[i]!.originalPosition!), 0)
    }
  })

  it("really leaves out default values: a first write's reply has no result nor event numbers", async () => {
    const raw = await RawConnection.open(es.server)
    try {
      const reply = await writeEventsReply(raw, streamName("omit-raw"), expectedVersion.noStream, [randomUUID()])
      assert.strictEqual(reply.command, Command.WriteEventsCompleted)
      const fields = topLevelFields(reply.payload)
      // 1 result (Success = 0), 3 first_event_number (0) and 4 last_event_number (0) are defaults.
      assert.notInclude(fields, 1)
      assert.notInclude(fields, 3)
      assert.notInclude(fields, 4)
    } finally {
      await raw.close()
    }
  })
})
