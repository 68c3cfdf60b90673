/**
 * Conformance of stream deletion, checked by node-eventstore-client (protocol.md section 4.6): a soft
 * delete makes a stream read as NoStream until a later write recreates it with its numbering
 * continued; a hard delete leaves a tombstone and StreamDeleted for reads and writes forever.
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import {
  admin,
  comparePositions,
  conformanceServer,
  deletedStream,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  rejection,
  sliceFields,
  streamName,
  text
} from "./Harness.ts"
import { deleteStream as deleteStreamRaw, OperationResult, RawConnection } from "./RawConnection.ts"

const { expectedVersion, positions } = EventStore

const es = conformanceServer()

/** A stream of three events, 0..2. */
const threeEvents = async (prefix: string) => {
  const stream = streamName(prefix)
  await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
  return stream
}

const streamDeleted = async (promise: Promise<unknown>) => {
  const error = await rejection(promise)
  assert.instanceOf(error, EventStore.StreamDeletedError)
}

describe("soft delete (protocol.md 4.6)", () => {
  it("succeeds with the position of the delete record", async () => {
    const stream = await threeEvents("soft-result")
    const last = await es.connection.appendToStream(stream, 2, jsonEvent("Fourth"))
    const result = await es.connection.deleteStream(stream, 3)
    assert.strictEqual(num(result.logPosition.commitPosition), num(result.logPosition.preparePosition))
    assert.isAbove(comparePositions(result.logPosition, last.logPosition), 0)
  })

  it("makes the stream read as NoStream, with the real last event number", async () => {
    const stream = await threeEvents("soft-reads")
    await es.connection.deleteStream(stream, 2)
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "streamNotFound",
      events: [],
      nextEventNumber: -1,
      lastEventNumber: 2,
      isEndOfStream: true
    })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(stream, -1, 10)), {
      status: "streamNotFound",
      events: [],
      nextEventNumber: -1,
      lastEventNumber: 2,
      isEndOfStream: true
    })
    for (const number of [0, -1]) {
      const result = await es.connection.readEvent(stream, number)
      assert.strictEqual(result.status, "noStream")
    }
  })

  it("a later write with Any recreates the stream; numbering continues and old events stay hidden", async () => {
    const stream = await threeEvents("soft-recreate-any")
    await es.connection.deleteStream(stream, expectedVersion.any)
    const result = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvents(2, "New"))
    assert.strictEqual(num(result.nextExpectedVersion), 4)
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "success",
      events: [3, 4],
      nextEventNumber: 5,
      lastEventNumber: 4,
      isEndOfStream: true
    })
    assert.strictEqual((await es.connection.readEvent(stream, 1)).status, "notFound")
    assert.strictEqual((await es.connection.readEvent(stream, 3)).status, "success")
  })

  it("a later write with NoStream recreates the stream", async () => {
    const stream = await threeEvents("soft-recreate-nostream")
    await es.connection.deleteStream(stream, 2)
    const result = await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("New"))
    assert.strictEqual(num(result.nextExpectedVersion), 3)
  })

  it("a later write at the last real event number recreates the stream", async () => {
    const stream = await threeEvents("soft-recreate-exact")
    await es.connection.deleteStream(stream, 2)
    const result = await es.connection.appendToStream(stream, 2, jsonEvent("New"))
    assert.strictEqual(num(result.nextExpectedVersion), 3)
    const slice = await es.connection.readStreamEventsBackward(stream, -1, 10)
    assert.deepStrictEqual(sliceFields(slice), {
      status: "success",
      events: [3],
      nextEventNumber: -1,
      lastEventNumber: 3,
      isEndOfStream: true
    })
  })

  it("a later write with StreamExists fails with StreamDeleted", async () => {
    const stream = await threeEvents("soft-exists")
    await es.connection.deleteStream(stream, 2)
    await streamDeleted(es.connection.appendToStream(stream, expectedVersion.streamExists, jsonEvent("New")))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
  })

  it("replaces the metadata with {$tb: 2^63-1}; recreating then sets $tb to the first new number", async () => {
    // As the real server does: a soft delete writes metadata holding only $tb, whatever was there.
    const stream = await threeEvents("soft-metadata")
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 100, custom: "lost" })
    await es.connection.deleteStream(stream, 2)
    const deleted = await es.connection.getStreamMetadataRaw(stream)
    assert.deepStrictEqual(deleted.streamMetadata, { $tb: Number(deletedStream) })
    assert.strictEqual(num(deleted.metastreamVersion), 1)
    await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("New"))
    const recreated = await es.connection.getStreamMetadataRaw(stream)
    assert.isFalse(recreated.isStreamDeleted)
    assert.deepStrictEqual(recreated.streamMetadata, { $tb: 3 })
    assert.strictEqual(num(recreated.metastreamVersion), 2)
  })

  it("recreating a stream whose metadata marks it deleted keeps the metadata's other keys", async () => {
    const stream = await threeEvents("soft-metadata-kept")
    // Written directly, so that $tb holds exactly 2^63-1, which JSON.stringify cannot produce.
    const metadata = `{"$maxCount":100,"$tb":${deletedStream},"custom":"kept","nested":{"a":[1,2]}}`
    await es.connection.appendToStream(
      `$$${stream}`,
      expectedVersion.noStream,
      EventStore.createEventData(randomUUID(), "$metadata", true, Buffer.from(metadata))
    )
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
    const result = await es.connection.appendToStream(stream, 2, jsonEvent("New"))
    assert.strictEqual(num(result.nextExpectedVersion), 3)
    const recreated = await es.connection.getStreamMetadataRaw(stream)
    assert.deepStrictEqual(recreated.streamMetadata, { $maxCount: 100, $tb: 3, custom: "kept", nested: { a: [1, 2] } })
    assert.strictEqual(num(recreated.metastreamVersion), 1)
  })

  it("deleting again is allowed", async () => {
    const stream = await threeEvents("soft-twice")
    await es.connection.deleteStream(stream, 2)
    await es.connection.deleteStream(stream, expectedVersion.any)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
  })

  it("checks the expected version", async () => {
    const stream = await threeEvents("soft-wev")
    const error = await rejection(es.connection.deleteStream(stream, 1))
    assert.instanceOf(error, EventStore.WrongExpectedVersionError)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).events.length, 3)
  })

  it("a WrongExpectedVersion reply carries the stream's current version and no position", async () => {
    const stream = await threeEvents("soft-wev-raw")
    const raw = await RawConnection.open(es.server)
    try {
      const reply = await deleteStreamRaw(raw, stream, 5, false)
      assert.strictEqual(reply.result, OperationResult.WrongExpectedVersion)
      assert.strictEqual(reply.message, "Wrong expected version.")
      assert.strictEqual(num(reply.currentVersion), 2)
      assert.strictEqual(num(reply.preparePosition), -1)
      assert.strictEqual(num(reply.commitPosition), -1)
    } finally {
      await raw.close()
    }
  })

  it("of a stream that does not exist succeeds with Any and with NoStream", async () => {
    for (const version of [expectedVersion.any, expectedVersion.noStream]) {
      const stream = streamName("soft-missing")
      const result = await es.connection.deleteStream(stream, version)
      assert.isAtLeast(num(result.logPosition.commitPosition), 0)
      assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
    }
  })

  it("writing metadata to a soft-deleted stream undeletes it: it reads as existing and empty", async () => {
    const stream = await threeEvents("soft-undelete")
    await es.connection.deleteStream(stream, 2)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.any, { custom: "undelete" })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "success",
      events: [],
      nextEventNumber: 3,
      lastEventNumber: 2,
      isEndOfStream: true
    })
    const metadata = await es.connection.getStreamMetadataRaw(stream)
    assert.strictEqual(metadata.streamMetadata.$tb, 3)
    assert.strictEqual(metadata.streamMetadata.custom, "undelete")
  })

  it("shows in $all as a $metadata event in the metastream", async () => {
    const stream = await threeEvents("soft-in-all")
    const result = await es.connection.deleteStream(stream, 2)
    const slice = await es.connection.readAllEventsBackward(positions.end, 1, false, admin)
    const record = slice.events[0]!.event!
    assert.strictEqual(record.eventStreamId, `$$${stream}`)
    assert.strictEqual(record.eventType, "$metadata")
    assert.strictEqual(JSON.parse(record.data!.toString("utf8")).$tb, Number(deletedStream))
    assert.strictEqual(comparePositions(slice.events[0]!.originalPosition!, result.logPosition), 0)
  })
})

describe("hard delete (protocol.md 4.6)", () => {
  it("makes reads answer StreamDeleted, with last event number 2^63-1", async () => {
    const stream = await threeEvents("hard-reads")
    await es.connection.deleteStream(stream, 2, true)
    for (const slice of [
      await es.connection.readStreamEventsForward(stream, 0, 10),
      await es.connection.readStreamEventsBackward(stream, -1, 10)
    ]) {
      assert.strictEqual(slice.status, "streamDeleted")
      assert.deepStrictEqual(slice.events, [])
      assert.strictEqual(num(slice.nextEventNumber), -1)
      assert.strictEqual(text(slice.lastEventNumber), deletedStream)
      assert.isTrue(slice.isEndOfStream)
    }
    for (const number of [0, -1]) {
      const result = await es.connection.readEvent(stream, number)
      assert.strictEqual(result.status, "streamDeleted")
      assert.isNull(result.event)
    }
  })

  it("refuses every later write with StreamDeleted, whatever the expected version", async () => {
    const stream = await threeEvents("hard-writes")
    await es.connection.deleteStream(stream, expectedVersion.any, true)
    for (const version of [expectedVersion.any, expectedVersion.noStream, expectedVersion.streamExists, 2, 3]) {
      await streamDeleted(es.connection.appendToStream(stream, version, jsonEvent("New")))
    }
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamDeleted")
  })

  it("refuses metadata writes with StreamDeleted, and the metastream reads as deleted", async () => {
    const stream = await threeEvents("hard-metadata")
    await es.connection.deleteStream(stream, expectedVersion.any, true)
    await streamDeleted(es.connection.setStreamMetadataRaw(stream, expectedVersion.any, { custom: 1 }))
    const metadata = await es.connection.getStreamMetadataRaw(stream)
    assert.isTrue(metadata.isStreamDeleted)
  })

  it("refuses deleting again, softly or hard, with StreamDeleted", async () => {
    const stream = await threeEvents("hard-twice")
    await es.connection.deleteStream(stream, expectedVersion.any, true)
    await streamDeleted(es.connection.deleteStream(stream, expectedVersion.any, true))
    await streamDeleted(es.connection.deleteStream(stream, expectedVersion.any, false))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamDeleted")
  })

  it("of a stream that does not exist succeeds, and the stream stays deleted", async () => {
    const stream = streamName("hard-missing")
    await es.connection.deleteStream(stream, expectedVersion.noStream, true)
    await streamDeleted(es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("New")))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamDeleted")
  })

  it("checks the expected version", async () => {
    const stream = await threeEvents("hard-wev")
    const error = await rejection(es.connection.deleteStream(stream, 5, true))
    assert.instanceOf(error, EventStore.WrongExpectedVersionError)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "success")
  })

  it("shows in $all as a $streamDeleted tombstone numbered 2^63-1", async () => {
    const stream = await threeEvents("hard-in-all")
    const result = await es.connection.deleteStream(stream, 2, true)
    const slice = await es.connection.readAllEventsBackward(positions.end, 1, false, admin)
    const record = slice.events[0]!.event!
    assert.strictEqual(record.eventStreamId, stream)
    assert.strictEqual(record.eventType, "$streamDeleted")
    assert.strictEqual(text(record.eventNumber), deletedStream)
    assert.strictEqual(record.data!.length, 0)
    assert.strictEqual(comparePositions(slice.events[0]!.originalPosition!, result.logPosition), 0)
  })
})
