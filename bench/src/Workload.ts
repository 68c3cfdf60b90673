/**
 * What the bench measures. A workload is a family (what kind of work: appends, stream reads, ...) with
 * its parameters; each contender implements families (`Contender.ts`), so a new workload of an existing
 * family is one entry in `workloads`, and a new family is a new `Params` case here plus one
 * implementation per contender.
 *
 * Extension point for the subscription workloads (issue 5, phase 2): add their families to `Params`
 * (`CatchUpParams`, `LiveLatencyParams`, `PersistentParams`, `SlowSubscriberParams`), their entries to
 * `workloads` (with smoke sizes), and their implementations to `contenders/*.ts`. A family that needs
 * a fresh process per measurement (memory) says so with `isolated: true`; one that needs data in the
 * server before it runs says so in `seeds`.
 *
 * @since 0.1.0
 */

/**
 * Appends of `eventsPerOperation` events per request, `concurrency` requests in flight on one
 * connection, `operations` requests in all, after `warmupOperations` untimed at the same concurrency.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppendParams {
  readonly family: "appends"
  readonly concurrency: number
  readonly operations: number
  readonly eventsPerOperation: number
  readonly warmupOperations: number
}

/**
 * Reading a whole seeded stream forwards, through the client's stream (`iter`) or page by page
 * (`get`), `pageSize` events per request. The same read of the (ten times shorter) `warmup` stream
 * comes first, untimed, `warmupPasses` times, so that both the client and the fresh server run warm
 * code: at full scale that is `serverWarmupRequests` requests.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamReadParams {
  readonly family: "streamRead"
  readonly via: "iter" | "pages"
  readonly stream: string
  readonly events: number
  readonly warmup: Seed
  readonly warmupPasses: number
  readonly pageSize: number
}

/**
 * Reading the first `events` events of `$all` forwards (`iterAll`), `pageSize` events per request.
 * The seeded read stream is written first, so these are its events. Reading the first
 * `warmupEvents` the same way comes first, untimed, `warmupPasses` times (at full scale,
 * `serverWarmupRequests` requests in all).
 *
 * `warmupEvents` is `events`: the raw socket cannot pre-encode a `$all` page before it knows where the
 * page before it ends, so it reads every page once before its clock starts; the clients' warm-up
 * reads as much, so that each contender's timed section meets a server that has served those pages
 * once (a server's first pass over a read path is slower while its JIT compiles it).
 *
 * @since 0.1.0
 * @category models
 */
export interface AllReadParams {
  readonly family: "allRead"
  readonly events: number
  readonly warmupEvents: number
  readonly warmupPasses: number
  readonly pageSize: number
}

/**
 * Reading a whole seeded stream through `iter` while sampling the process's heap and RSS, in a
 * process of its own so that nothing else has touched its memory.
 *
 * The `warmup` stream (the shorter of the two memory streams) is read the same way first, before the
 * baseline is taken, neither timed nor sampled: a new process's first reads are not its steady state
 * (the JIT's tiers, the collector sizing its young generation and how long received buffers wait to
 * be freed), and without the warm-up that start-up showed in the longer read's peaks only, as if
 * memory grew with the stream's length (bench/NOTES.md, phase 5).
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryReadParams {
  readonly family: "memoryRead"
  readonly stream: string
  readonly events: number
  readonly warmup: Seed
  readonly pageSize: number
}

/**
 * A catch-up subscription from the start of a seeded stream, timed until the subscriber has received
 * all of its `events` (history read in pages of `readBatchSize`). The same subscription to the
 * `warmup` stream comes first, untimed. The raw socket has no catch-up: it reads the same pages
 * pipelined, which is the ceiling of any catch-up over history.
 *
 * @since 0.1.0
 * @category models
 */
export interface CatchUpParams {
  readonly family: "catchUp"
  readonly stream: string
  readonly events: number
  readonly warmup: Seed
  readonly readBatchSize: number
}

/**
 * Live delivery latency: a volatile subscription to a fresh stream, and a writer that appends event
 * `i` only once event `i - 1` is both confirmed and received by the subscriber, so one event is in
 * flight and each sample is pure latency (append sent → event received). `warmupEvents` go the same
 * way first, unrecorded.
 *
 * @since 0.1.0
 * @category models
 */
export interface LiveLatencyParams {
  readonly family: "liveLatency"
  readonly events: number
  readonly warmupEvents: number
}

/**
 * A persistent subscription consuming and acking a seeded stream: the group (starting from event 0)
 * is created before the clock starts; the clock runs from connecting to the group until the server
 * has processed the last ack (a round trip on the same connection after it: the server handles a
 * connection's frames in order). The same on the `warmup` stream comes first, untimed. `bufferSize`
 * is the in-flight limit the consumer asks for.
 *
 * @since 0.1.0
 * @category models
 */
export interface PersistentParams {
  readonly family: "persistent"
  readonly stream: string
  readonly events: number
  readonly warmup: Seed
  readonly group: string
  readonly bufferSize: number
}

/**
 * A slow subscriber falling behind a fast writer, its process's heap and RSS sampled: a catch-up
 * subscription from the start of a fresh stream; once it is live, the server's own process appends
 * `events` events (straight into its store, as fast as it can); the subscriber pauses `pauseMillis`
 * after every `pauseEvery` events. Done when it has processed every event. A subscriber that drops
 * (node-eventstore-client's queue overflow) restarts from the last event it processed, and the
 * restarts are counted; photonpump's catch-up lets go of its live events and reads history again
 * instead (`FellBehind`), counted the same way.
 *
 * @since 0.1.0
 * @category models
 */
export interface SlowSubscriberParams {
  readonly family: "slowSubscriber"
  readonly events: number
  readonly pauseEvery: number
  readonly pauseMillis: number
}

/**
 * The parameters of any workload.
 *
 * @since 0.1.0
 * @category models
 */
export type Params =
  | AppendParams
  | StreamReadParams
  | AllReadParams
  | MemoryReadParams
  | CatchUpParams
  | LiveLatencyParams
  | PersistentParams
  | SlowSubscriberParams

/**
 * The kinds of work a contender may implement.
 *
 * @since 0.1.0
 * @category models
 */
export type Family = Params["family"]

/**
 * A stream the server must hold before a workload runs: seeded straight into its store, not over the
 * wire, so that seeding costs no round trips.
 *
 * @since 0.1.0
 * @category models
 */
export interface Seed {
  readonly stream: string
  readonly events: number
}

/**
 * One row of the results.
 *
 * @since 0.1.0
 * @category models
 */
export interface Workload {
  readonly id: string
  readonly title: string
  /**
   * `throughput` rows are timed and charted; `latency` rows report latency only (their rate is one
   * event in flight, not a throughput); `memory` rows report heap and RSS.
   */
  readonly kind: "throughput" | "latency" | "memory"
  /**
   * Run in a fresh runner process, after the other workloads, against one server shared by every
   * measurement of these workloads (they only read); the others run in each contender's long-lived
   * runner, each measurement against a fresh server.
   */
  readonly isolated: boolean
  readonly params: Params
  /** Streams the server must hold first, seeded in this order. */
  readonly seeds: ReadonlyArray<Seed>
}

/**
 * How big a run is: the full benchmark, or the CI smoke run that only checks that everything works.
 *
 * @since 0.1.0
 * @category models
 */
export type Scale = "full" | "smoke"

/** The seeded stream that the read workloads read; seeded before anything else, so it opens `$all`. */
const readStream = (scale: Scale): Seed => ({ stream: "bench-read", events: scale === "full" ? 100_000 : 2_000 })

/** The stream read before the timed read, to warm up client and server. */
const warmupStream = (scale: Scale): Seed => ({ stream: "bench-warmup", events: readStream(scale).events / 10 })

/**
 * The streams of the memory workload: a small one, one ten times longer, and one thirty times longer.
 * A read's RSS climbs over its first few hundred thousand events, as V8 and the C library settle into
 * their cycle, and then holds (bench/NOTES.md, phase 11): the small read ends before that, the two
 * longer ones both reach it, so that comparing them asks whether memory grows with the stream itself.
 */
const memoryStreams = (scale: Scale): readonly [Seed, Seed, Seed] =>
  scale === "full"
    ? [
      { stream: "bench-memory-100k", events: 100_000 },
      { stream: "bench-memory-1m", events: 1_000_000 },
      { stream: "bench-memory-3m", events: 3_000_000 }
    ]
    : [
      { stream: "bench-memory-small", events: 2_000 },
      { stream: "bench-memory-large", events: 20_000 },
      { stream: "bench-memory-longest", events: 60_000 }
    ]

/**
 * Requests a fresh server is sent before the timed section of the append (one event each), live
 * delivery and read workloads, at full scale. A fresh server's CPU per request falls over its first
 * several thousand requests, whichever client sends them (one at a time, from 100–350 µs to 35–60 µs
 * on the machine of BENCHMARKS.md; bench/NOTES.md, phase 6); a timed section that starts earlier
 * measures the server's start-up, for every contender alike.
 *
 * @since 0.1.0
 * @category workloads
 */
export const serverWarmupRequests = 10_000

/**
 * Requests made before the timed section of an append workload, at the same concurrency: a tenth of
 * the timed ones, and at full scale at least `serverWarmupRequests` single-event appends. Batches keep
 * a tenth: 10,000 batches of 100 would be a million events, far past the 150,000 below.
 */
const appendWarmup = (scale: Scale, concurrency: number, operations: number, eventsPerOperation: number): number =>
  Math.max(
    concurrency,
    Math.ceil(operations / 10),
    scale === "full" && eventsPerOperation === 1 ? serverWarmupRequests : 0
  )

/** How many reads of `events` events, `pageSize` per request, make `serverWarmupRequests` (full scale). */
const readWarmupPasses = (scale: Scale, events: number, pageSize: number): number =>
  scale === "full" ? Math.ceil(serverWarmupRequests / Math.ceil(events / pageSize)) : 1

/**
 * Events per read request, for every read workload and contender.
 *
 * @since 0.1.0
 * @category workloads
 */
export const pageSize = 100

/**
 * Events per history page of the catch-up subscriptions: 500, both clients' default.
 *
 * @since 0.1.0
 * @category workloads
 */
export const catchUpBatchSize = 500

/**
 * Events a persistent subscription consumer may hold unacked: 10, both clients' default.
 *
 * @since 0.1.0
 * @category workloads
 */
export const persistentBufferSize = 10

/** The streams the persistent subscription consumes: the timed one and its warm-up, ten times shorter. */
const persistentStreams = (scale: Scale): readonly [Seed, Seed] => {
  const events = scale === "full" ? 100_000 : 500
  return [{ stream: "bench-persistent", events }, { stream: "bench-persistent-warmup", events: events / 10 }]
}

/** Events the fast writer appends behind the slow subscriber: 0.05 ms of pause per event, 10 s in all. */
const slowWriterEvents = (scale: Scale): number => (scale === "full" ? 200_000 : 3_000)

/*
 * No append measurement writes more than 150,000 events, warm-up included: past that many the
 * server's idempotency cache starts evicting, and each eviction costs time that grows with the
 * evictions before it (bench/NOTES.md). Every measurement gets a fresh server, so that stays true.
 */
const appends = (scale: Scale, concurrency: number, full: number): Workload => {
  const operations = scale === "full" ? full : Math.max(50, concurrency * 2)
  return {
    id: `appends-c${concurrency}`,
    title: `appends, concurrency ${concurrency.toLocaleString("en-US")}`,
    kind: "throughput",
    isolated: false,
    params: {
      family: "appends",
      concurrency,
      operations,
      eventsPerOperation: 1,
      warmupOperations: appendWarmup(scale, concurrency, operations, 1)
    },
    seeds: []
  }
}

/**
 * Every workload, in the order they run and are reported.
 *
 * @since 0.1.0
 * @category workloads
 */
export const workloads = (scale: Scale): ReadonlyArray<Workload> => {
  const read = readStream(scale)
  const warmup = warmupStream(scale)
  const [small, large, longest] = memoryStreams(scale)
  const [persistent, persistentWarmup] = persistentStreams(scale)
  const batches = scale === "full" ? 1_000 : 20
  const warmupPasses = readWarmupPasses(scale, warmup.events, pageSize)
  return [
    appends(scale, 1, 4_000),
    appends(scale, 10, 20_000),
    appends(scale, 100, 50_000),
    appends(scale, 1_000, 50_000),
    {
      id: "appends-batch100",
      title: "appends, batches of 100, concurrency 10",
      kind: "throughput",
      isolated: false,
      params: {
        family: "appends",
        concurrency: 10,
        operations: batches,
        eventsPerOperation: 100,
        warmupOperations: appendWarmup(scale, 10, batches, 100)
      },
      seeds: []
    },
    {
      id: "read-iter",
      title: `stream read, iter (pages of ${pageSize})`,
      kind: "throughput",
      isolated: false,
      params: {
        family: "streamRead",
        via: "iter",
        stream: read.stream,
        events: read.events,
        warmup,
        warmupPasses,
        pageSize
      },
      seeds: [read, warmup]
    },
    {
      id: "read-get",
      title: `stream read, get pages of ${pageSize}`,
      kind: "throughput",
      isolated: false,
      params: {
        family: "streamRead",
        via: "pages",
        stream: read.stream,
        events: read.events,
        warmup,
        warmupPasses,
        pageSize
      },
      seeds: [read, warmup]
    },
    {
      id: "read-all",
      title: `$all read, iterAll (pages of ${pageSize})`,
      kind: "throughput",
      isolated: false,
      params: {
        family: "allRead",
        events: read.events,
        warmupEvents: read.events,
        warmupPasses: readWarmupPasses(scale, read.events, pageSize),
        pageSize
      },
      seeds: [read, warmup]
    },
    {
      id: "catchup",
      title: `catch-up subscription, from the start (pages of ${catchUpBatchSize})`,
      kind: "throughput",
      isolated: false,
      params: { family: "catchUp", stream: read.stream, events: read.events, warmup, readBatchSize: catchUpBatchSize },
      seeds: [read, warmup]
    },
    {
      id: "live-latency",
      title: "live delivery latency, volatile subscription, one event in flight",
      kind: "latency",
      isolated: false,
      params: {
        family: "liveLatency",
        events: scale === "full" ? 2_000 : 50,
        warmupEvents: scale === "full" ? serverWarmupRequests : 10
      },
      seeds: []
    },
    {
      id: "persistent-ack",
      title: `persistent subscription, consume and ack (buffer ${persistentBufferSize})`,
      kind: "throughput",
      isolated: false,
      params: {
        family: "persistent",
        stream: persistent.stream,
        events: persistent.events,
        warmup: persistentWarmup,
        group: "bench-group",
        bufferSize: persistentBufferSize
      },
      seeds: [persistent, persistentWarmup]
    },
    ...[small, large, longest].map((seed): Workload => ({
      id: `memory-${seed.events >= 1_000_000 ? `${seed.events / 1_000_000}m` : `${seed.events / 1_000}k`}`,
      title: `memory, iter over ${seed.events.toLocaleString("en-US")} events`,
      kind: "memory",
      isolated: true,
      params: { family: "memoryRead", stream: seed.stream, events: seed.events, warmup: small, pageSize },
      seeds: seed === small ? [small] : [small, seed]
    })),
    {
      id: "memory-slow-subscriber",
      title: `memory, slow subscriber behind a fast writer of ${
        slowWriterEvents(scale).toLocaleString("en-US")
      } events`,
      kind: "memory",
      isolated: true,
      params: { family: "slowSubscriber", events: slowWriterEvents(scale), pauseEvery: 100, pauseMillis: 5 },
      seeds: []
    }
  ]
}
