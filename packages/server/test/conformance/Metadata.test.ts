/**
 * Conformance of stream metadata, checked by node-eventstore-client (protocol.md section 4.7): raw
 * JSON set and get with the metastream version, custom keys, the metastream's own $maxCount of 1, and
 * the effect of $maxCount and $tb on reads (section 4.4).
 */
import { describe, it, assert } from "vitest"
import {
  conformanceServer,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  rejection,
  sliceFields,
  streamName
} from "./Harness.ts"

const { expectedVersion } = EventStore

const es = conformanceServer()

const streamOf = async (prefix: string, events: number) => {
  const stream = streamName(prefix)
  await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(events))
  return stream
}

describe("stream metadata: set and get (protocol.md 4.7)", () => {
  it("a stream that does not exist has no metadata and metastream version -1", async () => {
    const stream = streamName("meta-missing")
    assert.strictEqual((await es.connection.readEvent(`$$${stream}`, -1)).status, "noStream")
    const result = await es.connection.getStreamMetadataRaw(stream)
    assert.strictEqual(result.stream, stream)
    assert.isFalse(result.isStreamDeleted)
    assert.strictEqual(num(result.metastreamVersion), -1)
    assert.isNull(result.streamMetadata)
  })

  it("a stream that exists but never had metadata has none, with metastream version -1", async () => {
    const stream = await streamOf("meta-none", 1)
    // The metastream does not exist, but the stream does: Success with an empty event (protocol.md 4.4).
    const direct = await es.connection.readEvent(`$$${stream}`, -1)
    assert.strictEqual(direct.status, "success")
    assert.isNull(direct.event!.event)
    assert.isNull(direct.event!.link)
    const result = await es.connection.getStreamMetadataRaw(stream)
    assert.isFalse(result.isStreamDeleted)
    assert.strictEqual(num(result.metastreamVersion), -1)
    assert.isNull(result.streamMetadata)
  })

  it("round-trips raw JSON, well-known and custom keys alike, with the metastream version", async () => {
    const stream = await streamOf("meta-roundtrip", 1)
    const metadata = {
      $maxCount: 50,
      $maxAge: 3600,
      $cacheControl: 60,
      custom: "value",
      nested: { list: [1, 2, 3], flag: true }
    }
    const written = await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, metadata)
    assert.strictEqual(num(written.nextExpectedVersion), 0)
    const result = await es.connection.getStreamMetadataRaw(stream)
    assert.strictEqual(num(result.metastreamVersion), 0)
    assert.deepStrictEqual(result.streamMetadata, metadata)
  })

  it("each metadata write increments the metastream version and replaces the previous metadata", async () => {
    const stream = await streamOf("meta-versions", 1)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { first: 1 })
    const second = await es.connection.setStreamMetadataRaw(stream, 0, { second: 2 })
    assert.strictEqual(num(second.nextExpectedVersion), 1)
    const third = await es.connection.setStreamMetadataRaw(stream, expectedVersion.any, { third: 3 })
    assert.strictEqual(num(third.nextExpectedVersion), 2)
    const result = await es.connection.getStreamMetadataRaw(stream)
    assert.strictEqual(num(result.metastreamVersion), 2)
    assert.deepStrictEqual(result.streamMetadata, { third: 3 })
  })

  it("checks the expected metastream version", async () => {
    const stream = await streamOf("meta-wev", 1)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { first: 1 })
    const error = await rejection(es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { second: 2 }))
    assert.instanceOf(error, EventStore.WrongExpectedVersionError)
    assert.deepStrictEqual((await es.connection.getStreamMetadataRaw(stream)).streamMetadata, { first: 1 })
  })

  it("can be set before the stream exists, which does not create the stream's events", async () => {
    const stream = streamName("meta-first")
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { custom: true })
    assert.deepStrictEqual((await es.connection.getStreamMetadataRaw(stream)).streamMetadata, { custom: true })
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10)
    assert.strictEqual(slice.status, "streamNotFound")
  })

  it("is stored in $$stream as a JSON $metadata event, and only the latest is readable there", async () => {
    const stream = await streamOf("meta-metastream", 1)
    for (let i = 0; i < 3; i++) {
      await es.connection.setStreamMetadataRaw(stream, expectedVersion.any, { revision: i })
    }
    const slice = await es.connection.readStreamEventsForward(`$$${stream}`, 0, 10)
    assert.strictEqual(slice.status, "success")
    assert.strictEqual(num(slice.lastEventNumber), 2)
    assert.strictEqual(slice.events.length, 1)
    const record = slice.events[0]!.event!
    assert.strictEqual(num(record.eventNumber), 2)
    assert.strictEqual(record.eventType, "$metadata")
    assert.isTrue(record.isJson)
    assert.deepStrictEqual(JSON.parse(record.data!.toString("utf8")), { revision: 2 })
    // Below the metastream's $maxCount of 1 the event is not found; since the stream itself exists, the
    // server answers Success with an empty event instead (protocol.md 4.4, ReadEvent special case).
    const hidden = await es.connection.readEvent(`$$${stream}`, 0)
    assert.strictEqual(hidden.status, "success")
    assert.isNull(hidden.event!.event)
  })
})

describe("stream metadata: truncation visible in reads (protocol.md 4.4, 4.7)", () => {
  it("$maxCount keeps only the last N events readable", async () => {
    const stream = await streamOf("maxcount", 5)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 2 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "success",
      events: [3, 4],
      nextEventNumber: 5,
      lastEventNumber: 4,
      isEndOfStream: true
    })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(stream, -1, 10)), {
      status: "success",
      events: [4, 3],
      nextEventNumber: -1,
      lastEventNumber: 4,
      isEndOfStream: true
    })
    assert.strictEqual((await es.connection.readEvent(stream, 2)).status, "notFound")
    assert.strictEqual((await es.connection.readEvent(stream, 3)).status, "success")
  })

  it("a forward read that ends below the first readable event skips to it", async () => {
    const stream = await streamOf("maxcount-skip", 5)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 2 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 2)), {
      status: "success",
      events: [],
      nextEventNumber: 3,
      lastEventNumber: 4,
      isEndOfStream: false
    })
  })

  it("a backward read that starts below the first readable event is the end", async () => {
    const stream = await streamOf("maxcount-backward", 5)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 2 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsBackward(stream, 1, 10)), {
      status: "success",
      events: [],
      nextEventNumber: -1,
      lastEventNumber: 4,
      isEndOfStream: true
    })
  })

  it("$maxCount follows later appends", async () => {
    const stream = await streamOf("maxcount-moving", 3)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 2 })
    await es.connection.appendToStream(stream, 2, jsonEvents(2))
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10)
    assert.deepStrictEqual(sliceFields(slice).events, [3, 4])
  })

  it("$tb hides events numbered below it", async () => {
    const stream = await streamOf("tb", 5)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $tb: 3 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "success",
      events: [3, 4],
      nextEventNumber: 5,
      lastEventNumber: 4,
      isEndOfStream: true
    })
    assert.strictEqual((await es.connection.readEvent(stream, 0)).status, "notFound")
    assert.strictEqual((await es.connection.readEvent(stream, -1)).status, "success")
  })

  it("the stricter of $maxCount and $tb wins", async () => {
    const stream = await streamOf("tb-and-maxcount", 10)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $tb: 4, $maxCount: 8 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 20)).events, [4, 5, 6, 7, 8, 9])
    await es.connection.setStreamMetadataRaw(stream, 0, { $tb: 4, $maxCount: 3 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 20)).events, [7, 8, 9])
  })

  it("non-positive $maxCount and negative $tb are ignored", async () => {
    const stream = await streamOf("meta-ignored", 3)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 0, $tb: -5 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)).events, [0, 1, 2])
  })

  it("removing the truncation makes the events readable again", async () => {
    const stream = await streamOf("meta-removed", 4)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $maxCount: 1 })
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)).events, [3])
    await es.connection.setStreamMetadataRaw(stream, 0, {})
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)).events, [0, 1, 2, 3])
  })

  it("truncation does not change event numbering for later appends", async () => {
    const stream = await streamOf("meta-numbering", 3)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $tb: 10 })
    const result = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("Next"))
    assert.strictEqual(num(result.nextExpectedVersion), 3)
  })
})
