/**
 * What one run of one workload by one contender yields, and the instruments that take it: a latency
 * recorder, a memory sampler, the timed section whose edges also read the server's CPU clock and count
 * the process's page faults and garbage collections, and a profiler of the timed section.
 *
 * @since 0.1.0
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Inspector from "node:inspector/promises"
import { dirname } from "node:path"
import { constants, performance, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks"

/**
 * Latency percentiles of one run, in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Latency {
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/**
 * Memory of one run, in bytes: before reading (after a full GC) and the peaks while reading.
 *
 * @since 0.1.0
 * @category models
 */
export interface Memory {
  readonly baselineHeapUsed: number
  readonly peakHeapUsed: number
  readonly baselineRss: number
  readonly peakRss: number
  /** Heap in use after a full GC once the read is over: what the read left behind. */
  readonly finalHeapUsed: number
  /**
   * The sampled peak RSS in each tenth of the work's time, in order: memory that grows with the work
   * rises from tenth to tenth, memory that is flat holds.
   */
  readonly rssByTenth?: ReadonlyArray<number> | undefined
}

/**
 * Garbage collection in a contender's process during a timed section.
 *
 * @since 0.1.0
 * @category models
 */
export interface Collections {
  /** Full collections (mark-compacts) that started in the section. */
  readonly markCompacts: number
  /** Time the process's main thread stood still for collections of any kind, in milliseconds. */
  readonly pauseMillis: number
}

/**
 * One run of one workload by one contender.
 *
 * @since 0.1.0
 * @category models
 */
export interface Measurement {
  /** Events written or read in the timed section. */
  readonly events: number
  /** Requests sent in the timed section. */
  readonly requests: number
  readonly seconds: number
  readonly eventsPerSecond: number
  readonly latency?: Latency | undefined
  /** CPU time of the contender's process in the timed section (user + system), in milliseconds. */
  readonly clientCpuMillis: number
  /** CPU time of the server's process in the timed section, in milliseconds. */
  readonly serverCpuMillis: number
  /**
   * Minor page faults of the contender's process in the timed section: fresh memory touched. On the
   * bench's VM each one is dear (bench/NOTES.md, phase 6).
   */
  readonly clientPageFaults?: number | undefined
  /**
   * Involuntary context switches of the contender's process in the timed section: times the kernel
   * took its CPU from it while it had work, for instance for the server's process, woken by the
   * contender's write and run on the contender's core (bench/NOTES.md, phase 12).
   */
  readonly clientInvoluntarySwitches?: number | undefined
  /**
   * How long the contender's main thread waited in the timed section, ready to run, for a CPU, in
   * milliseconds; where the kernel says (Linux).
   */
  readonly clientCpuWaitMillis?: number | undefined
  /**
   * Garbage collection in the contender's process in the timed section. V8 starts a mark-compact when
   * the old generation, with the `ArrayBuffer` memory allocated since the last one counted in, nears its
   * limit: reads whose events are views of their socket buffers start them (bench/NOTES.md, phase 9).
   */
  readonly clientCollections?: Collections | undefined
  readonly memory?: Memory | undefined
  /** Times a subscriber had to start over (dropped and resubscribed, or fell behind and re-read). */
  readonly restarts?: number | undefined
  /** The subscriber stopped receiving before the end and the run was cut short (`events` processed). */
  readonly stalled?: boolean | undefined
}

/**
 * Records latencies into a preallocated array: recording costs a store, not an allocation.
 *
 * @since 0.1.0
 * @category instruments
 */
export class LatencyRecorder {
  private readonly samples: Float64Array
  private count = 0
  constructor(capacity: number) {
    this.samples = new Float64Array(capacity)
  }
  record(millis: number): void {
    if (this.count < this.samples.length) this.samples[this.count++] = millis
  }
  reset(): void {
    this.count = 0
  }
  summary(): Latency | undefined {
    if (this.count === 0) return undefined
    const sorted = this.samples.slice(0, this.count)
    sorted.sort()
    return {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted[sorted.length - 1]!
    }
  }
}

/**
 * The `q`-quantile of sorted values (nearest rank).
 *
 * @since 0.1.0
 * @category statistics
 */
export const percentile = (sorted: ArrayLike<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

type Gc = (options?: { readonly type: "minor"; readonly execution: "sync" }) => void

const exposedGc = (): Gc | undefined => (globalThis as { gc?: Gc }).gc

/**
 * Empties the young generation, twice (what survives the first is promoted by the second), so that a
 * timed section does not start by collecting the young garbage of the work before it; older garbage is
 * collected when V8 decides, as in a running application. Not a full collection: a full `gc()` is
 * memory-reducing and deoptimises much of the hot code it finds, and each contender would spend its
 * timed section compiling itself again (bench/NOTES.md, phase 3). With V8 11.3 (Node 20) any call with
 * an options object is such a scavenge, `{ type: "major" }` included (`--trace-gc` says so), which the
 * bench asked for until phase 4 believing it a full collection.
 */
const youngCollection = (): void => {
  const gc = exposedGc()
  if (gc !== undefined) {
    gc({ type: "minor", execution: "sync" })
    gc({ type: "minor", execution: "sync" })
  }
}

/**
 * A full collection, twice (the first may leave finalised objects for the second), for the memory
 * figures, which are taken after one: a plain `gc()`. It deoptimises code, which costs the read after it
 * some speed; the memory rows do not report on speed.
 */
const fullCollection = (): void => {
  const gc = exposedGc()
  if (gc !== undefined) {
    gc()
    gc()
  }
}

/**
 * Samples the process's heap and RSS every few milliseconds (the event loop turns on every socket read,
 * so the timer keeps up), and takes the kernel's own record of peak RSS as well.
 *
 * @since 0.1.0
 * @category instruments
 */
export class MemorySampler {
  private baselineHeapUsed = 0
  private baselineRss = 0
  private peakHeapUsed = 0
  private peakRss = 0
  private startedAt = 0
  /** Every sample's time and RSS, one after the other. */
  private readonly rssSamples: Array<number> = []
  private timer: ReturnType<typeof setInterval> | undefined

  start(intervalMillis = 5): void {
    fullCollection()
    const usage = process.memoryUsage()
    this.baselineHeapUsed = usage.heapUsed
    this.baselineRss = usage.rss
    this.peakHeapUsed = usage.heapUsed
    this.peakRss = usage.rss
    this.rssSamples.length = 0
    this.startedAt = performance.now()
    this.timer = setInterval(() => this.sample(), intervalMillis)
  }

  sample(): void {
    const heapUsed = process.memoryUsage().heapUsed
    const rss = process.memoryUsage.rss()
    this.rssSamples.push(performance.now(), rss)
    if (heapUsed > this.peakHeapUsed) this.peakHeapUsed = heapUsed
    if (rss > this.peakRss) this.peakRss = rss
  }

  stop(): Memory {
    clearInterval(this.timer)
    this.sample()
    const rssByTenth = peaksByTenth(this.rssSamples, this.startedAt, performance.now())
    // maxRSS is in kilobytes, and covers the whole life of this (fresh) process.
    const kernelPeak = process.resourceUsage().maxRSS * 1024
    fullCollection()
    return {
      baselineHeapUsed: this.baselineHeapUsed,
      peakHeapUsed: this.peakHeapUsed,
      baselineRss: this.baselineRss,
      peakRss: Math.max(this.peakRss, kernelPeak),
      finalHeapUsed: process.memoryUsage().heapUsed,
      rssByTenth
    }
  }
}

/**
 * The peak of samples (a time, then a value, one after the other) in each tenth of the time from
 * `start` to `end`. A tenth without a sample (a pause of the event loop longer than a tenth) takes the
 * peak of the tenth before it, or of the first tenth with one. Empty without samples.
 *
 * @since 0.1.0
 * @category instruments
 */
export const peaksByTenth = (samples: ReadonlyArray<number>, start: number, end: number): Array<number> => {
  if (samples.length < 2) return []
  const peaks = Array.from({ length: 10 }, () => -1)
  const span = end - start
  for (let i = 0; i + 1 < samples.length; i += 2) {
    const tenth = span > 0 ? Math.min(9, Math.max(0, Math.floor(((samples[i]! - start) / span) * 10))) : 9
    peaks[tenth] = Math.max(peaks[tenth]!, samples[i + 1]!)
  }
  const firstFilled = peaks.find((peak) => peak >= 0)!
  for (let i = 0; i < 10; i++) if (peaks[i]! < 0) peaks[i] = i === 0 ? firstFilled : peaks[i - 1]!
  return peaks
}

/**
 * What a contender's run can ask of its surroundings.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunContext {
  readonly host: string
  readonly port: number
  /** Reads the server process's CPU clock (user + system, microseconds). */
  readonly serverCpu: () => Promise<number>
  /** The last event number of a stream, read from the server's store (-1 when it has none). */
  readonly lastEventNumber: (stream: string) => Promise<number>
  /**
   * Has the server's own process append `events` events to `stream` straight into its store (no
   * client, no wire), as fast as it can; resolves once they are all written.
   */
  readonly appendInServer: (stream: string, events: number) => Promise<void>
  /**
   * Where to write a V8 CPU profile of the timed section (`--cpu-prof-sections`); none when
   * undefined.
   */
  readonly sectionProfile?: string | undefined
}

/**
 * What the timed section itself counted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counted {
  readonly events: number
  readonly requests: number
  readonly latency?: Latency | undefined
  readonly memory?: Memory | undefined
  readonly restarts?: number | undefined
  readonly stalled?: boolean | undefined
}

/**
 * The file name of a timed section's profile: the workload and the run's label for the measurement
 * (`read-iter-round-2-of-5.cpuprofile`).
 *
 * @since 0.1.0
 * @category instruments
 */
export const sectionProfileName = (workload: string, label: string): string =>
  `${workload}-${label.replaceAll("/", " of ").replaceAll(" ", "-")}.cpuprofile`

/**
 * A V8 CPU profile as the inspector returns it (the fields the bench reads or rewrites).
 *
 * @since 0.1.0
 * @category instruments
 */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<unknown>
  /** Microseconds, on the clock of `process.hrtime` (both are the system's monotonic clock). */
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  /** Microseconds from the previous sample (the first: from `startTime`). */
  readonly timeDeltas: ReadonlyArray<number>
}

/**
 * `profile` with only the samples taken from `from` to `to` (microseconds, `startTime`'s clock): the
 * profiler's own start, which takes tens of milliseconds, and the section's edges stay out.
 *
 * @since 0.1.0
 * @category instruments
 */
export const trimProfile = (profile: CpuProfile, from: number, to: number): CpuProfile => {
  const samples: Array<number> = []
  const timeDeltas: Array<number> = []
  let time = profile.startTime
  let previous = from
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]!
    if (time < from || time > to) continue
    samples.push(profile.samples[i]!)
    timeDeltas.push(time - previous)
    previous = time
  }
  return { ...profile, startTime: from, endTime: to, samples, timeDeltas }
}

/** Now, in microseconds on the clock of V8's profiles. */
const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n)

/**
 * V8's sampling profiler over one timed section, through the inspector of the process itself: where
 * one round's time went, to set beside another's (a whole-process `--cpu-prof` mixes every round and
 * the work between them). Sampled every 200 µs, which costs the profiled process some speed: its
 * sections are for comparing with each other, not for the tables. Only the samples between
 * `markStart` and `markEnd` are kept.
 *
 * @since 0.1.0
 * @category instruments
 */
export class SectionProfiler {
  private readonly session: Inspector.Session
  private readonly path: string
  private from = 0
  private to = 0
  private constructor(session: Inspector.Session, path: string) {
    this.session = session
    this.path = path
  }

  /** Starts sampling, for a profile to be written to `path` (its directory made if need be). */
  static async start(path: string): Promise<SectionProfiler> {
    const session = new Inspector.Session()
    session.connect()
    await session.post("Profiler.enable")
    await session.post("Profiler.setSamplingInterval", { interval: 200 })
    await session.post("Profiler.start")
    return new SectionProfiler(session, path)
  }

  /** Where the section starts: samples before this are dropped. */
  markStart(): void {
    this.from = monotonicMicros()
  }

  /** Where the section ends: samples after this are dropped. */
  markEnd(): void {
    this.to = monotonicMicros()
  }

  /** Stops sampling and writes the section's profile. */
  async stop(): Promise<void> {
    const { profile } = await this.session.post("Profiler.stop")
    this.session.disconnect()
    mkdirSync(dirname(this.path), { recursive: true })
    const sampled = { ...profile, samples: profile.samples ?? [], timeDeltas: profile.timeDeltas ?? [] }
    writeFileSync(this.path, JSON.stringify(trimProfile(sampled, this.from, this.to)))
  }
}

/**
 * The garbage collections of this process, as Node reports them (`gc` performance entries), kept from
 * the start of a timed section until its end is read.
 */
class CollectionLog {
  private entries: Array<PerformanceEntry> = []
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.entries.push(entry)
  })
  constructor() {
    this.observer.observe({ entryTypes: ["gc"] })
  }

  /** Forgets the collections reported so far. */
  forget(): void {
    this.entries = []
    this.observer.takeRecords()
  }

  /** The collections that started between `from` and `to` (`performance.now()` times), then forgets all. */
  async between(from: number, to: number): Promise<Collections> {
    // Node makes a collection's entry in an immediate after the collection, and only then queues it for
    // its observers: one turn of the loop brings in a collection that ended just before `to`.
    await new Promise((resolve) => setImmediate(resolve))
    const entries = this.entries.concat(this.observer.takeRecords())
    this.entries = []
    let markCompacts = 0
    let pauseMillis = 0
    for (const entry of entries) {
      if (entry.startTime < from || entry.startTime > to) continue
      pauseMillis += entry.duration
      const detail = (entry as { readonly detail?: { readonly kind?: number } }).detail
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        markCompacts++
      }
    }
    return { markCompacts, pauseMillis }
  }
}

let collectionLog: CollectionLog | undefined

/**
 * How long this process's main thread has waited, ready to run, for a CPU, in nanoseconds (the kernel's
 * `run_delay`, the second figure of `/proc/self/schedstat`), or `undefined` where the kernel does not
 * say.
 */
const cpuWaitNanos = (): number | undefined => {
  try {
    const wait = Number(readFileSync("/proc/self/schedstat", "latin1").split(" ")[1])
    return Number.isFinite(wait) ? wait : undefined
  } catch {
    return undefined
  }
}

/**
 * The edges of a timed section: `begin` reads the server's CPU clock and then starts the clocks (and the
 * counts of the process's minor page faults and garbage collections), `end` stops them and then reads
 * the server's CPU clock, so that the IPC round trips stay outside.
 * Works from promise code and (through `Effect.promise`) from Effect code alike.
 *
 * `begin` empties the young generation first (`youngCollection`). Whether that helps or hurts the
 * section after it depends on the work before it (bench/NOTES.md, phase 4); it is the same for every
 * contender, and the bench's figures have always been taken that way.
 *
 * @since 0.1.0
 * @category instruments
 */
export class TimedSection {
  private startedAt = 0
  private clientCpuAtStart: NodeJS.CpuUsage = { user: 0, system: 0 }
  private pageFaultsAtStart = 0
  private involuntarySwitchesAtStart = 0
  private cpuWaitAtStart: number | undefined
  private serverCpuAtStart = 0
  private profiler: SectionProfiler | undefined
  private readonly context: RunContext
  constructor(context: RunContext) {
    this.context = context
  }

  async begin(): Promise<void> {
    const profile = this.context.sectionProfile
    if (profile !== undefined) this.profiler = await SectionProfiler.start(profile)
    youngCollection()
    this.serverCpuAtStart = await this.context.serverCpu()
    collectionLog ??= new CollectionLog()
    collectionLog.forget()
    const usage = process.resourceUsage()
    this.pageFaultsAtStart = usage.minorPageFault
    this.involuntarySwitchesAtStart = usage.involuntaryContextSwitches
    this.cpuWaitAtStart = cpuWaitNanos()
    this.clientCpuAtStart = process.cpuUsage()
    this.profiler?.markStart()
    this.startedAt = performance.now()
  }

  async end(counted: Counted): Promise<Measurement> {
    this.profiler?.markEnd()
    const endedAt = performance.now()
    const seconds = (endedAt - this.startedAt) / 1000
    const client = process.cpuUsage(this.clientCpuAtStart)
    const usage = process.resourceUsage()
    const cpuWait = cpuWaitNanos()
    const profiler = this.profiler
    this.profiler = undefined
    const serverCpu = await this.context.serverCpu()
    const collections = await collectionLog!.between(this.startedAt, endedAt)
    if (profiler !== undefined) await profiler.stop()
    return {
      events: counted.events,
      requests: counted.requests,
      seconds,
      eventsPerSecond: counted.events / seconds,
      latency: counted.latency,
      clientCpuMillis: (client.user + client.system) / 1000,
      serverCpuMillis: (serverCpu - this.serverCpuAtStart) / 1000,
      clientPageFaults: usage.minorPageFault - this.pageFaultsAtStart,
      clientInvoluntarySwitches: usage.involuntaryContextSwitches - this.involuntarySwitchesAtStart,
      clientCpuWaitMillis: cpuWait === undefined || this.cpuWaitAtStart === undefined
        ? undefined
        : (cpuWait - this.cpuWaitAtStart) / 1e6,
      clientCollections: collections,
      memory: counted.memory,
      restarts: counted.restarts,
      stalled: counted.stalled
    }
  }
}
