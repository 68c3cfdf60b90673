/**
 * Conformance of catch-up subscriptions as node-eventstore-client runs them (subscribeToStreamFrom,
 * subscribeToAllFrom; protocol.md section 5.3): pure client logic over reads, a volatile subscription
 * and its confirmation, so what they check is that the server's reads, confirmation values and live
 * pushes fit together. Every subscriber must see each event exactly once, in order, from the
 * exclusive checkpoint on, with no gap and no duplicate at the switch to live, even while a writer
 * appends during the switch; liveProcessingStarted fires once, when history is done.
 *
 * node-eventstore-client quirks worked around here:
 * - a catch-up subscription of $all reads $all, which only admins may do: it runs as admin;
 * - its `stop()` reports the drop (userInitiated) on its own, whatever the server answers.
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import { Collector } from "./Collector.ts"
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
  streamName
} from "./Harness.ts"

const { expectedVersion } = EventStore

const es = conformanceServer()

interface CatchUpOptions {
  readonly readBatchSize?: number
  readonly resolveLinkTos?: boolean
  readonly credentials?: EventStore.UserCredentials
}

/** A catch-up subscription through node-eventstore-client, with what it delivers collected. */
const catchUp = (
  connection: Connection,
  source: { readonly stream: string; readonly from: number | null } | { readonly all: EventStore.Position | null },
  options: CatchUpOptions = {}
) => {
  const events = new Collector<EventStore.ResolvedEvent>()
  /** How many events had been delivered each time liveProcessingStarted fired. */
  const live = new Collector<number>()
  const drops = new Collector<{ readonly reason: string; readonly error: Error | undefined }>()
  const appeared = (_: EventStore.EventStoreCatchUpSubscription, event: EventStore.ResolvedEvent) => events.push(event)
  const liveStarted = () => live.push(events.items.length)
  const dropped = (_: EventStore.EventStoreCatchUpSubscription, reason: string, error?: Error) =>
    drops.push({ reason, error })
  const subscription = "stream" in source
    ? connection.subscribeToStreamFrom(
      source.stream,
      source.from,
      options.resolveLinkTos ?? false,
      appeared,
      liveStarted,
      dropped,
      options.credentials,
      options.readBatchSize
    )
    : connection.subscribeToAllFrom(
      source.all,
      options.resolveLinkTos ?? false,
      appeared,
      liveStarted,
      dropped,
      options.credentials,
      options.readBatchSize
    )
  return { subscription, events, live, drops }
}

const numbersOf = (events: ReadonlyArray<EventStore.ResolvedEvent>) => events.map((e) => num(e.originalEventNumber))
const idOf = (event: EventStore.ResolvedEvent) => event.originalEvent!.eventId
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

/** Appends `count` events to `stream` one write at a time, as fast as the connection allows. */
const writeOneByOne = async (connection: Connection, stream: string, count: number, onEach?: (i: number) => void) => {
  const ids: Array<string> = []
  for (let i = 0; i < count; i++) {
    const event = jsonEvent(`Written-${i}`, { i })
    await connection.appendToStream(stream, i - 1, event)
    ids.push(event.eventId)
    onEach?.(i)
  }
  return ids
}

describe("catch-up subscription to a stream (protocol.md 5.3)", () => {
  it("from the start delivers the history, signals live processing, then delivers live events", async () => {
    const stream = streamName("catch-up")
    const history = jsonEvents(5, "History")
    await es.connection.appendToStream(stream, expectedVersion.noStream, history)
    const { subscription, events, live } = catchUp(es.connection, { stream, from: null }, { readBatchSize: 2 })
    const [deliveredWhenLive] = await live.atLeast(1, "liveProcessingStarted")
    assert.strictEqual(deliveredWhenLive, 5, "the whole history precedes liveProcessingStarted")
    assert.deepStrictEqual(events.items.map(idOf), history.map((e) => e.eventId))
    const later = jsonEvents(3, "Live")
    await es.connection.appendToStream(stream, 4, later.slice(0, 1))
    await es.connection.appendToStream(stream, 5, later.slice(1))
    const all = await events.atLeast(8, "the live events")
    assert.deepStrictEqual(numbersOf(all), range(0, 8))
    assert.deepStrictEqual(all.map(idOf), [...history, ...later].map((e) => e.eventId))
    assert.strictEqual(live.items.length, 1, "liveProcessingStarted fires once")
    subscription.stop()
  })

  it("from a checkpoint delivers only the events after it (the checkpoint is exclusive)", async () => {
    const stream = streamName("catch-up-checkpoint")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(6))
    const { subscription, events, live } = catchUp(es.connection, { stream, from: 2 }, { readBatchSize: 2 })
    await live.atLeast(1, "liveProcessingStarted")
    assert.deepStrictEqual(numbersOf(events.items), [3, 4, 5])
    await es.connection.appendToStream(stream, 5, jsonEvent("Live"))
    assert.deepStrictEqual(numbersOf(await events.atLeast(4, "the live event")), [3, 4, 5, 6])
    subscription.stop()
  })

  it("from a checkpoint at the last event delivers no history, then live events", async () => {
    const stream = streamName("catch-up-at-end")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    const { subscription, events, live } = catchUp(es.connection, { stream, from: 2 })
    const [deliveredWhenLive] = await live.atLeast(1, "liveProcessingStarted")
    assert.strictEqual(deliveredWhenLive, 0)
    await es.connection.appendToStream(stream, 2, jsonEvent("Live"))
    assert.deepStrictEqual(numbersOf(await events.atLeast(1, "the live event")), [3])
    subscription.stop()
  })

  it("of a stream that does not exist yet goes live and delivers the stream from event 0", async () => {
    const stream = streamName("catch-up-new")
    const { subscription, events, live } = catchUp(es.connection, { stream, from: null })
    await live.atLeast(1, "liveProcessingStarted")
    assert.strictEqual(events.items.length, 0)
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(2))
    assert.deepStrictEqual(numbersOf(await events.atLeast(2, "the live events")), [0, 1])
    subscription.stop()
  })

  it("with a writer appending during the switch to live delivers exactly 0..N-1, in order", async () => {
    const stream = streamName("catch-up-concurrent")
    const total = 400
    const writer = await es.connect()
    const started = new Collector<number>()
    const writing = writeOneByOne(writer, stream, total, started.push)
    // Subscribe once part of the stream exists, so that history, the switch and live all see writes.
    await started.atLeast(100, "the first 100 writes")
    const { subscription, events, live } = catchUp(es.connection, { stream, from: null }, { readBatchSize: 20 })
    await live.atLeast(1, "liveProcessingStarted")
    const ids = await writing
    const delivered = await events.atLeast(total, `${total} events`)
    assert.deepStrictEqual(numbersOf(delivered), range(0, total))
    assert.deepStrictEqual(delivered.map(idOf), ids)
    // A marker written last arrives right after: no duplicate came late.
    await es.connection.appendToStream(stream, total - 1, jsonEvent("Marker"))
    assert.deepStrictEqual(numbersOf(await events.atLeast(total + 1, "the marker")), range(0, total + 1))
    subscription.stop()
  })

  it("resolves links in history and live when asked", async () => {
    const target = streamName("catch-up-target")
    const targets = jsonEvents(2, "Target")
    await es.connection.appendToStream(target, expectedVersion.noStream, targets)
    const links = streamName("catch-up-links")
    const link = (n: number) => EventStore.createEventData(randomUUID(), "$>", false, Buffer.from(`${n}@${target}`))
    await es.connection.appendToStream(links, expectedVersion.noStream, link(0))
    const { subscription, events, live } = catchUp(es.connection, { stream: links, from: null }, { resolveLinkTos: true })
    await live.atLeast(1, "liveProcessingStarted")
    await es.connection.appendToStream(links, 0, link(1))
    const delivered = await events.atLeast(2, "both links")
    assert.deepStrictEqual(delivered.map((e) => e.event!.eventId), targets.map((e) => e.eventId))
    assert.deepStrictEqual(numbersOf(delivered), [0, 1], "the original event numbers are the links'")
    assert.isTrue(delivered.every((e) => e.isResolved && e.link!.eventStreamId === links))
    subscription.stop()
  })

  it("stop() drops it with userInitiated", async () => {
    const stream = streamName("catch-up-stop")
    const { subscription, live, drops } = catchUp(es.connection, { stream, from: null })
    await live.atLeast(1, "liveProcessingStarted")
    subscription.stop()
    const [drop] = await drops.atLeast(1, "the drop")
    assert.strictEqual(drop!.reason, "userInitiated")
  })
})

describe("catch-up subscription to $all (protocol.md 5.3)", () => {
  it("from the start delivers every event once, in position order, then live events", async () => {
    const stream = streamName("all-catch-up")
    const history = jsonEvents(4, "History")
    await es.connection.appendToStream(stream, expectedVersion.noStream, history.slice(0, 2))
    await es.connection.appendToStream(stream, 1, history.slice(2))
    const { subscription, events, live } = catchUp(es.connection, { all: null }, { readBatchSize: 3, credentials: admin })
    await live.atLeast(1, "liveProcessingStarted")
    const later = jsonEvent("Live")
    await es.connection.appendToStream(stream, 3, later)
    await events.find((e) => idOf(e) === later.eventId, "the live event")
    const delivered = events.items
    for (let i = 1; i < delivered.length; i++) {
      assert.isBelow(comparePositions(delivered[i - 1]!.originalPosition!, delivered[i]!.originalPosition!), 0, `at ${i}`)
    }
    assert.deepStrictEqual(
      delivered.filter((e) => e.originalStreamId === stream).map(idOf),
      [...history, later].map((e) => e.eventId)
    )
    subscription.stop()
  })

  it("from a position delivers only the events after it (the position is exclusive)", async () => {
    const stream = streamName("all-catch-up-from")
    const written = []
    for (const event of jsonEvents(3)) {
      written.push(await es.connection.appendToStream(stream, expectedVersion.any, event))
    }
    const from = written[0]!.logPosition
    const { subscription, events, live } = catchUp(es.connection, { all: from }, { credentials: admin })
    await live.atLeast(1, "liveProcessingStarted")
    const delivered = events.items
    assert.isAbove(delivered.length, 0)
    assert.isAbove(comparePositions(delivered[0]!.originalPosition!, from), 0)
    assert.deepStrictEqual(
      delivered.filter((e) => e.originalStreamId === stream).map((e) => positionOf(e.originalPosition)),
      written.slice(1).map((w) => positionOf(w.logPosition))
    )
    subscription.stop()
  })

  it("with a writer appending during the switch to live delivers each event exactly once, in order", async () => {
    const stream = streamName("all-catch-up-concurrent")
    const total = 300
    const writer = await es.connect()
    const started = new Collector<number>()
    const writing = writeOneByOne(writer, stream, total, started.push)
    await started.atLeast(80, "the first 80 writes")
    const { subscription, events, live } = catchUp(es.connection, { all: null }, { readBatchSize: 25, credentials: admin })
    await live.atLeast(1, "liveProcessingStarted")
    const ids = await writing
    const mine = await events.until(
      (items) => items.filter((e) => e.originalStreamId === stream).length >= total,
      `${total} events`
    )
    const delivered = mine.filter((e) => e.originalStreamId === stream)
    assert.deepStrictEqual(delivered.map(idOf), ids)
    const all = mine.map(idOf)
    assert.strictEqual(new Set(all).size, all.length, "no event is delivered twice")
    for (let i = 1; i < mine.length; i++) {
      assert.isBelow(comparePositions(mine[i - 1]!.originalPosition!, mine[i]!.originalPosition!), 0, `at ${i}`)
    }
    subscription.stop()
  })

  it("as anonymous is dropped with catchUpError: reading $all is denied", async () => {
    const { drops } = catchUp(es.connection, { all: null })
    const [drop] = await drops.atLeast(1, "the drop")
    assert.strictEqual(drop!.reason, "catchUpError")
    assert.instanceOf(drop!.error, EventStore.AccessDeniedError)
  })
})
