/**
 * photonpump, used as its README shows: one `EventStore.connect` per run (authenticated as admin in
 * the handshake, so requests carry no credentials), `publishEvent`/`publish` from `concurrency` fibers
 * that each await their own request, `iter`/`iterAll` and catch-up subscriptions consumed with
 * `Stream.runForEachArray`: the events are counted a chunk (a page) at a time, as the other contenders
 * count a page at a time, so that the loop measures the client and not an effect run per event by the
 * bench's own consumer (`Stream.runForEach` adds ~0.15 µs per event once warm, ~1 µs cold).
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Credentials, EventStore, NewEvent, Subscription } from "@photonpump/client"
import type { Implementations } from "../Contender.ts"
import * as Events from "../Events.ts"
import { LatencyRecorder, MemorySampler, type RunContext, TimedSection } from "../Measurement.ts"
import {
  type AppendParams,
  type LiveLatencyParams,
  type PersistentParams,
  type SlowSubscriberParams
} from "../Workload.ts"

const connect = (context: RunContext) =>
  EventStore.connect({ host: context.host, port: context.port, credentials: Credentials.defaultAdmin })

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.scoped(effect))

const expectCount = (what: string, counted: number, expected: number) =>
  counted === expected ? Effect.void : Effect.die(new Error(`${what}: read ${counted} events, expected ${expected}`))

const appends = (params: AppendParams, context: RunContext) =>
  run(Effect.gen(function*() {
    const es = yield* connect(context)
    const stream = `bench-appends-${randomUUID()}`
    const latencies = new LatencyRecorder(params.operations)
    let sequence = 0
    const request = params.eventsPerOperation === 1
      ? () => es.publishEvent(stream, Events.eventType, { body: Events.body(sequence++) })
      : () =>
        es.publish(
          stream,
          Array.from(
            { length: params.eventsPerOperation },
            () => NewEvent.make(Events.eventType, { body: Events.body(sequence++) })
          )
        )
    // `concurrency` workers share the count, each awaiting its own request: `concurrency` in flight.
    const appendAll = (operations: number) => {
      let remaining = operations
      const worker = Effect.gen(function*() {
        while (remaining > 0) {
          remaining--
          const startedAt = performance.now()
          yield* request()
          latencies.record(performance.now() - startedAt)
        }
      })
      return Effect.forEach(Array.from({ length: params.concurrency }), () => worker, {
        concurrency: "unbounded",
        discard: true
      })
    }

    yield* appendAll(params.warmupOperations)
    latencies.reset()
    const section = new TimedSection(context)
    yield* Effect.promise(() => section.begin())
    yield* appendAll(params.operations)
    return yield* Effect.promise(() =>
      section.end({
        events: params.operations * params.eventsPerOperation,
        requests: params.operations,
        latency: latencies.summary()
      })
    )
  }))

/**
 * Runs `stream` to its end, counting its items a chunk at a time, as the other contenders count a page
 * at a time; `pageSize` gives the requests it took.
 */
const countChunks = <A, E, R>(stream: Stream.Stream<A, E, R>, pageSize: number) =>
  Effect.suspend(() => {
    let events = 0
    return Stream.runForEachArray(stream, (chunk) =>
      Effect.sync(() => {
        events += chunk.length
      })).pipe(Effect.map(() => ({ events, requests: Math.ceil(events / pageSize) })))
  })

/** Reads a stream to its end through `iter`, counting the events. */
const iterate = (es: EventStore.Service, stream: string, pageSize: number) =>
  countChunks(es.iter(stream, { batchSize: pageSize }), pageSize)

/** Reads a stream to its end through `get`, page after page, counting the events. */
const getPages = Effect.fnUntraced(function*(es: EventStore.Service, stream: string, pageSize: number) {
  let from = 0n
  let events = 0
  let requests = 0
  while (true) {
    const slice = yield* es.get(stream, { fromEventNumber: from, maxCount: pageSize })
    requests++
    events += slice.events.length
    if (slice.isEndOfStream) return { events, requests }
    from = slice.nextEventNumber
  }
})

/** Reads the first `count` events of `$all` through `iterAll`, counting them. */
const iterateAll = (es: EventStore.Service, count: number, pageSize: number) =>
  countChunks(es.iterAll({ batchSize: pageSize }).pipe(Stream.take(count)), pageSize)

/** Subscribes to a stream from its start and counts events until `count` have arrived, then unsubscribes. */
const catchUp = (es: EventStore.Service, stream: string, count: number, readBatchSize: number) =>
  countChunks(
    es.subscribeTo(stream, { from: "start", readBatchSize }).pipe(Subscription.events, Stream.take(count)),
    readBatchSize
  )

/**
 * A volatile subscription (`subscribeTo` without `from`) to a fresh stream, and a writer that appends
 * each event once the one before is both confirmed and received: the subscriber stamps each event's
 * arrival into a queue, the writer takes that stamp after its append is confirmed.
 */
const liveLatency = (params: LiveLatencyParams, context: RunContext) =>
  run(Effect.gen(function*() {
    const es = yield* connect(context)
    const stream = `bench-live-${randomUUID()}`
    const confirmed = yield* Deferred.make<void>()
    const arrivals = yield* Queue.unbounded<number>()
    yield* es.subscribeTo(stream).pipe(
      Stream.runForEach((item) =>
        Subscription.isEvent(item)
          ? Queue.offer(arrivals, performance.now())
          : Subscription.isCaughtUp(item)
          ? Deferred.succeed(confirmed, undefined)
          : Effect.void
      ),
      Effect.forkScoped
    )
    yield* Deferred.await(confirmed)
    const latencies = new LatencyRecorder(params.events)
    let sequence = 0
    const oneByOne = (events: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < events; i++) {
          const startedAt = performance.now()
          yield* es.publishEvent(stream, Events.eventType, { body: Events.body(sequence++) })
          const arrivedAt = yield* Queue.take(arrivals)
          latencies.record(arrivedAt - startedAt)
        }
      })
    yield* oneByOne(params.warmupEvents)
    latencies.reset()
    const section = new TimedSection(context)
    yield* Effect.promise(() => section.begin())
    yield* oneByOne(params.events)
    return yield* Effect.promise(() =>
      section.end({ events: params.events, requests: params.events, latency: latencies.summary() })
    )
  }))

/**
 * Consumes `count` events of a persistent subscription group, acking each, then leaves the group (the
 * stream's end sends the queued acks first) and pings: the server handles a connection's frames in
 * order, so the pong comes once the last ack has been processed.
 */
const consumeGroup = (es: EventStore.Service, stream: string, group: string, count: number, bufferSize: number) =>
  Effect.gen(function*() {
    let events = 0
    yield* es.connectSubscription(stream, group, { bufferSize }).pipe(
      Stream.take(count),
      Stream.runForEach((event) => {
        events++
        return event.ack()
      })
    )
    yield* es.ping()
    return { events, requests: events }
  })

const persistent = (params: PersistentParams, context: RunContext) =>
  run(Effect.gen(function*() {
    const es = yield* connect(context)
    for (const seed of [params.warmup, params]) {
      yield* es.createSubscription(seed.stream, params.group, { startFrom: 0 })
    }
    yield* consumeGroup(es, params.warmup.stream, params.group, params.warmup.events, params.bufferSize)
    const section = new TimedSection(context)
    yield* Effect.promise(() => section.begin())
    const counted = yield* consumeGroup(es, params.stream, params.group, params.events, params.bufferSize)
    const measurement = yield* Effect.promise(() => section.end(counted))
    yield* expectCount(params.stream, counted.events, params.events)
    return measurement
  }))

/**
 * A catch-up subscription from the start of a fresh stream that pauses every `pauseEvery` events while
 * the server appends as fast as it can, from the moment the subscription is live. The subscription's
 * live buffer is bounded (10,000 events by default): when the subscriber falls that far behind, the
 * client lets the live events go and reads history again (`FellBehind`, counted as a restart).
 */
const slowSubscriber = (params: SlowSubscriberParams, context: RunContext) =>
  run(Effect.gen(function*() {
    const es = yield* connect(context)
    const stream = `bench-slow-${randomUUID()}`
    const section = new TimedSection(context)
    const sampler = new MemorySampler()
    yield* Effect.promise(() => section.begin())
    sampler.start()
    let writer: Promise<void> | undefined
    let processed = 0
    let restarts = 0
    // takeUntil looks at a whole chunk before runForEach sees its first item: it keeps its own count.
    let delivered = 0
    yield* es.subscribeTo(stream, { from: "start" }).pipe(
      Stream.takeUntil((item) => Subscription.isEvent(item) && ++delivered === params.events),
      Stream.runForEach((item) => {
        if (Subscription.isEvent(item)) {
          processed++
          return processed % params.pauseEvery === 0 ? Effect.sleep(params.pauseMillis) : Effect.void
        }
        if (Subscription.isCaughtUp(item)) writer ??= context.appendInServer(stream, params.events)
        else if (Subscription.isFellBehind(item)) restarts++
        return Effect.void
      })
    )
    yield* Effect.promise(() => writer ?? Promise.resolve())
    const memory = sampler.stop()
    const measurement = yield* Effect.promise(() =>
      section.end({ events: processed, requests: processed, memory, restarts })
    )
    yield* expectCount(stream, processed, params.events)
    return measurement
  }))

/**
 * photonpump's implementations.
 *
 * @since 0.1.0
 * @category contenders
 */
export const implementations: Implementations = {
  appends,

  streamRead: (params, context) =>
    run(Effect.gen(function*() {
      const es = yield* connect(context)
      const read = (stream: string) =>
        params.via === "iter" ? iterate(es, stream, params.pageSize) : getPages(es, stream, params.pageSize)
      for (let pass = 0; pass < params.warmupPasses; pass++) yield* read(params.warmup.stream)
      const section = new TimedSection(context)
      yield* Effect.promise(() => section.begin())
      const counted = yield* read(params.stream)
      const measurement = yield* Effect.promise(() => section.end(counted))
      yield* expectCount(params.stream, counted.events, params.events)
      return measurement
    })),

  allRead: (params, context) =>
    run(Effect.gen(function*() {
      const es = yield* connect(context)
      for (let pass = 0; pass < params.warmupPasses; pass++) yield* iterateAll(es, params.warmupEvents, params.pageSize)
      const section = new TimedSection(context)
      yield* Effect.promise(() => section.begin())
      const counted = yield* iterateAll(es, params.events, params.pageSize)
      const measurement = yield* Effect.promise(() => section.end(counted))
      yield* expectCount("$all", counted.events, params.events)
      return measurement
    })),

  catchUp: (params, context) =>
    run(Effect.gen(function*() {
      const es = yield* connect(context)
      yield* catchUp(es, params.warmup.stream, params.warmup.events, params.readBatchSize)
      const section = new TimedSection(context)
      yield* Effect.promise(() => section.begin())
      const counted = yield* catchUp(es, params.stream, params.events, params.readBatchSize)
      const measurement = yield* Effect.promise(() => section.end(counted))
      yield* expectCount(params.stream, counted.events, params.events)
      return measurement
    })),

  liveLatency,

  persistent,

  slowSubscriber,

  memoryRead: (params, context) =>
    run(Effect.gen(function*() {
      const es = yield* connect(context)
      const warmed = yield* iterate(es, params.warmup.stream, params.pageSize)
      yield* expectCount(params.warmup.stream, warmed.events, params.warmup.events)
      const section = new TimedSection(context)
      const sampler = new MemorySampler()
      yield* Effect.promise(() => section.begin())
      sampler.start()
      const counted = yield* iterate(es, params.stream, params.pageSize)
      const memory = sampler.stop()
      const measurement = yield* Effect.promise(() => section.end({ ...counted, memory }))
      yield* expectCount(params.stream, counted.events, params.events)
      return measurement
    }))
}
