/**
 * Conformance of explicit transactions, checked by node-eventstore-client (protocol.md section 4.10):
 * start, write and commit; events invisible until the commit; the expected version checked at commit,
 * not at start; and the $all positions of committed transaction events (section 4.3).
 */
import { describe, it, assert } from "vitest"
import {
  admin,
  comparePositions,
  conformanceServer,
  type Connection,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  rejection,
  reversed,
  sliceFields,
  streamName
} from "./Harness.ts"

const { expectedVersion, positions } = EventStore

const es = conformanceServer()

/** The events of `stream` in $all, read backward from the end by admin, oldest first. */
const newestInAll = async (connection: Connection, stream: string, count: number) => {
  const slice = await connection.readAllEventsBackward(positions.end, count, false, admin)
  const events = slice.events.filter((e) => e.originalStreamId === stream)
  return reversed(events)
}

describe("transactions (protocol.md 4.10)", () => {
  it("start, write and commit append the events written, numbered from the expected version", async () => {
    const stream = streamName("tx")
    const transaction = await es.connection.startTransaction(stream, expectedVersion.noStream)
    const first = jsonEvents(2, "First")
    const second = jsonEvent("Second")
    await transaction.write(first)
    await transaction.write(second)
    const result = await transaction.commit()
    assert.strictEqual(num(result.nextExpectedVersion), 2)
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10)
    assert.deepStrictEqual(
      slice.events.map((e) => ({ number: num(e.event!.eventNumber), id: e.event!.eventId })),
      [...first, second].map((e, i) => ({ number: i, id: e.eventId }))
    )
  })

  it("events written in a transaction are invisible until it commits", async () => {
    const stream = streamName("tx-invisible")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("Before"))
    const transaction = await es.connection.startTransaction(stream, 0)
    await transaction.write(jsonEvents(2))
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)), {
      status: "success",
      events: [0],
      nextEventNumber: 1,
      lastEventNumber: 0,
      isEndOfStream: true
    })
    assert.strictEqual((await es.connection.readEvent(stream, 1)).status, "notFound")
    await transaction.commit()
    assert.deepStrictEqual(sliceFields(await es.connection.readStreamEventsForward(stream, 0, 10)).events, [0, 1, 2])
  })

  it("a transaction on a new stream leaves it non-existent until the commit", async () => {
    const stream = streamName("tx-new")
    const transaction = await es.connection.startTransaction(stream, expectedVersion.any)
    await transaction.write(jsonEvent("E"))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
    const result = await transaction.commit()
    assert.strictEqual(num(result.nextExpectedVersion), 0)
  })

  it("the expected version is not checked at start, only at commit", async () => {
    const stream = streamName("tx-wev-start")
    const transaction = await es.connection.startTransaction(stream, 5)
    await transaction.write(jsonEvent("E"))
    const error = await rejection(transaction.commit())
    assert.instanceOf(error, EventStore.WrongExpectedVersionError)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
  })

  it("a write to the stream between start and commit makes the commit fail with WrongExpectedVersion", async () => {
    const stream = streamName("tx-wev-race")
    const transaction = await es.connection.startTransaction(stream, expectedVersion.noStream)
    await transaction.write(jsonEvents(2))
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("Interloper"))
    const error = await rejection(transaction.commit())
    assert.instanceOf(error, EventStore.WrongExpectedVersionError)
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10)
    assert.deepStrictEqual(slice.events.map((e) => e.event!.eventType), ["Interloper"])
  })

  it("committing to a hard-deleted stream fails with StreamDeleted", async () => {
    const stream = streamName("tx-deleted")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("E"))
    const transaction = await es.connection.startTransaction(stream, expectedVersion.any)
    await transaction.write(jsonEvent("Late"))
    await es.connection.deleteStream(stream, expectedVersion.any, true)
    const error = await rejection(transaction.commit())
    assert.instanceOf(error, EventStore.StreamDeletedError)
  })

  it("a transaction with no events commits without writing", async () => {
    const stream = streamName("tx-empty")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(2))
    const transaction = await es.connection.startTransaction(stream, 1)
    const result = await transaction.commit()
    assert.strictEqual(num(result.nextExpectedVersion), 1)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).events.length, 2)
  })

  it("re-committing the same events at the original expected version is idempotent", async () => {
    const stream = streamName("tx-idempotent")
    const events = jsonEvents(2)
    const first = await es.connection.startTransaction(stream, expectedVersion.noStream)
    await first.write(events)
    await first.commit()
    const again = await es.connection.startTransaction(stream, expectedVersion.noStream)
    await again.write(events)
    const result = await again.commit()
    assert.strictEqual(num(result.nextExpectedVersion), 1)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).events.length, 2)
  })

  it("committed events share the commit's position in $all, ordered by their prepare positions", async () => {
    const stream = streamName("tx-positions")
    const other = streamName("tx-positions-other")
    const transaction = await es.connection.startTransaction(stream, expectedVersion.noStream)
    await transaction.write(jsonEvents(3))
    // Written after the transaction's events but committed before them: it comes first in $all.
    const otherWrite = await es.connection.appendToStream(other, expectedVersion.noStream, jsonEvent("Other"))
    const result = await transaction.commit()
    assert.strictEqual(num(result.logPosition.commitPosition), num(result.logPosition.preparePosition))
    assert.isAbove(comparePositions(result.logPosition, otherWrite.logPosition), 0)

    const events = await newestInAll(es.connection, stream, 10)
    assert.deepStrictEqual(events.map((e) => num(e.originalEventNumber)), [0, 1, 2])
    for (const event of events) {
      const position = event.originalPosition!
      assert.strictEqual(num(position.commitPosition), num(result.logPosition.commitPosition))
      assert.isBelow(num(position.preparePosition), num(position.commitPosition))
    }
    for (let i = 1; i < events.length; i++) {
      assert.isBelow(comparePositions(events[i - 1]!.originalPosition!, events[i]!.originalPosition!), 0)
    }
    // In $all, the other stream's event comes before the transaction's events.
    const forward = await es.connection.readAllEventsForward(otherWrite.logPosition, 10, false, admin)
    assert.deepStrictEqual(
      forward.events.map((e) => e.originalStreamId),
      [other, stream, stream, stream]
    )
  })
})
