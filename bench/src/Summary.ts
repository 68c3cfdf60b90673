/**
 * From measurements to what is reported: the median of every figure over the rounds, with the spread
 * of the throughput, and the targets of issue 5 checked against them.
 *
 * @since 0.1.0
 */
import type * as Contender from "./Contender.ts"
import type { Measurement } from "./Measurement.ts"
import type { Workload } from "./Workload.ts"

/**
 * One measurement, with what it measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sample extends Measurement {
  readonly workload: string
  readonly contender: Contender.Name
  readonly round: number
}

/**
 * A figure over the rounds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

/**
 * What the reports show for one workload and one contender: medians over the rounds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly workload: string
  readonly contender: Contender.Name
  readonly rounds: number
  readonly eventsPerSecond: Spread
  readonly latencyP50Millis?: number | undefined
  readonly latencyP99Millis?: number | undefined
  /** Client process CPU per event, in microseconds. */
  readonly clientCpuMicrosPerEvent: number
  /** Server process CPU per event, in microseconds. */
  readonly serverCpuMicrosPerEvent: number
  /** Server process CPU per request, in microseconds. */
  readonly serverCpuMicrosPerRequest: number
  /** Server CPU time over wall time: near 1, the server is what limits the run. */
  readonly serverBusy: number
  /** Minor page faults of the client process per 1,000 events, when counted. */
  readonly clientPageFaultsPerThousandEvents?: number | undefined
  /** Involuntary context switches of the client process per 100,000 events, when counted. */
  readonly clientInvoluntarySwitchesPer100kEvents?: number | undefined
  /** The time the client's main thread waited for a CPU over the timed section's wall time, when counted. */
  readonly clientCpuWaitShare?: number | undefined
  /** Mark-compacts of the client process per 100,000 events, when counted. */
  readonly clientMarkCompactsPer100kEvents?: number | undefined
  /** The client process's collection pauses over the timed section's wall time, when counted. */
  readonly clientCollectionPauseShare?: number | undefined
  /** Mark-compacts of the client process per run, when counted. */
  readonly clientMarkCompacts?: number | undefined
  readonly memory?: {
    readonly baselineHeapUsed: number
    readonly peakHeapUsed: number
    readonly baselineRss: number
    readonly peakRss: number
    readonly finalHeapUsed: number
    /** The median over the rounds of each tenth's peak RSS, when every round sampled them. */
    readonly rssByTenth?: ReadonlyArray<number> | undefined
  } | undefined
  /** Median restarts of a subscriber per run (slow-subscriber workload). */
  readonly restarts?: number | undefined
  /** Rounds in which the subscriber stalled before the end (cut short). */
  readonly stalledRounds?: number | undefined
}

/** Each tenth's median over the rounds, when every round has ten. */
const mediansByTenth = (records: ReadonlyArray<Sample>): Array<number> | undefined => {
  const rounds = records.map((r) => r.memory?.rssByTenth)
  if (rounds.some((tenths) => tenths === undefined || tenths.length !== 10)) return undefined
  return Array.from({ length: 10 }, (_, i) => median(rounds.map((tenths) => tenths![i]!)))
}

const eventsOf = (workload: Workload): number => workload.params.family === "memoryRead" ? workload.params.events : 0

/**
 * The median of some numbers (the mean of the middle two for an even count).
 *
 * @since 0.1.0
 * @category statistics
 */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values]
  sorted.sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const spread = (values: ReadonlyArray<number>): Spread => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values)
})

const medianOf = (records: ReadonlyArray<Sample>, get: (record: Sample) => number | undefined) => {
  const values = records.map(get).filter((value): value is number => value !== undefined)
  return values.length === 0 ? undefined : median(values)
}

/**
 * Summarises the records of every workload and contender that has some.
 *
 * @since 0.1.0
 * @category statistics
 */
export const summarise = (
  records: ReadonlyArray<Sample>,
  workloads: ReadonlyArray<Workload>,
  contenders: ReadonlyArray<Contender.Name>
): Array<Summary> => {
  const summaries: Array<Summary> = []
  for (const workload of workloads) {
    for (const contender of contenders) {
      const mine = records.filter((record) => record.workload === workload.id && record.contender === contender)
      if (mine.length === 0) continue
      const memory = mine[0]!.memory === undefined ? undefined : {
        baselineHeapUsed: medianOf(mine, (r) => r.memory?.baselineHeapUsed)!,
        peakHeapUsed: medianOf(mine, (r) => r.memory?.peakHeapUsed)!,
        baselineRss: medianOf(mine, (r) => r.memory?.baselineRss)!,
        peakRss: medianOf(mine, (r) => r.memory?.peakRss)!,
        finalHeapUsed: medianOf(mine, (r) => r.memory?.finalHeapUsed)!,
        rssByTenth: mediansByTenth(mine)
      }
      summaries.push({
        workload: workload.id,
        contender,
        rounds: mine.length,
        eventsPerSecond: spread(mine.map((r) => r.eventsPerSecond)),
        latencyP50Millis: medianOf(mine, (r) => r.latency?.p50),
        latencyP99Millis: medianOf(mine, (r) => r.latency?.p99),
        clientCpuMicrosPerEvent: medianOf(mine, (r) => (r.clientCpuMillis * 1000) / r.events)!,
        serverCpuMicrosPerEvent: medianOf(mine, (r) => (r.serverCpuMillis * 1000) / r.events)!,
        serverCpuMicrosPerRequest: medianOf(mine, (r) => (r.serverCpuMillis * 1000) / r.requests)!,
        serverBusy: medianOf(mine, (r) => r.serverCpuMillis / 1000 / r.seconds)!,
        clientPageFaultsPerThousandEvents: medianOf(
          mine,
          (r) => r.clientPageFaults === undefined ? undefined : (r.clientPageFaults * 1000) / r.events
        ),
        clientInvoluntarySwitchesPer100kEvents: medianOf(
          mine,
          (r) =>
            r.clientInvoluntarySwitches === undefined ? undefined : (r.clientInvoluntarySwitches * 100_000) / r.events
        ),
        clientCpuWaitShare: medianOf(
          mine,
          (r) => r.clientCpuWaitMillis === undefined ? undefined : r.clientCpuWaitMillis / 1000 / r.seconds
        ),
        clientMarkCompactsPer100kEvents: medianOf(
          mine,
          (r) =>
            r.clientCollections === undefined ? undefined : (r.clientCollections.markCompacts * 100_000) / r.events
        ),
        clientCollectionPauseShare: medianOf(
          mine,
          (r) => r.clientCollections === undefined ? undefined : r.clientCollections.pauseMillis / 1000 / r.seconds
        ),
        clientMarkCompacts: medianOf(mine, (r) => r.clientCollections?.markCompacts),
        memory,
        restarts: medianOf(mine, (r) => r.restarts),
        stalledRounds: mine.some((r) => r.stalled === true) ? mine.filter((r) => r.stalled === true).length : undefined
      })
    }
  }
  return summaries
}

/**
 * One of issue 5's targets, checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly description: string
  /** The figure compared with the goal (a ratio). */
  readonly value: number
  readonly goal: number
  /** Whether the figure must stay at most the goal (memory growth, latency) rather than reach it. */
  readonly atMost: boolean
  readonly met: boolean
  /**
   * The same ratio round by round (each round's two measurements ran one after the other), where the
   * target compares two contenders' timed rounds: how far the rounds spread, and in how many of them
   * the goal was met. A median can sit on either side of a goal that half the rounds miss.
   */
  readonly rounds?: RoundRatios | undefined
}

/**
 * A target's ratio over the rounds.
 *
 * @since 0.1.0
 * @category models
 */
export interface RoundRatios {
  readonly min: number
  readonly max: number
  /** Rounds that met the goal. */
  readonly met: number
  /** Rounds with both measurements. */
  readonly of: number
}

/**
 * The ratio `figure(a) / figure(b)` in every round where both contenders ran `workload`, against
 * `goal`; `undefined` when no round has both.
 */
const roundRatios = (
  samples: ReadonlyArray<Sample>,
  workload: string,
  a: Contender.Name,
  b: Contender.Name,
  figure: (sample: Sample) => number | undefined,
  goal: number,
  atMost: boolean
): RoundRatios | undefined => {
  const ratios: Array<number> = []
  for (const sample of samples) {
    if (sample.workload !== workload || sample.contender !== a) continue
    const other = samples.find((s) => s.workload === workload && s.contender === b && s.round === sample.round)
    const mine = figure(sample)
    const theirs = other === undefined ? undefined : figure(other)
    if (mine !== undefined && theirs !== undefined && theirs > 0) ratios.push(mine / theirs)
  }
  if (ratios.length === 0) return undefined
  return {
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    met: ratios.filter((value) => meets(value, goal, atMost)).length,
    of: ratios.length
  }
}

/** Whether a ratio meets its goal: at most it, or at least it. */
const meets = (value: number, goal: number, atMost: boolean): boolean => atMost ? value <= goal : value >= goal

const throughputOf = (sample: Sample): number => sample.eventsPerSecond
const latencyP50Of = (sample: Sample): number | undefined => sample.latency?.p50

/**
 * Checks issue 5's targets against the summaries that are there: photonpump at least 1.5 times
 * node-eventstore-client's throughput on appends at concurrency 100 and on stream reads, at least 60%
 * of the raw socket's there too, no worse than node-eventstore-client anywhere (throughput at least
 * its on every throughput workload, p50 latency at most its on every workload that reports latency),
 * and its memory flat (peak heap and RSS reading the large stream within 25% of reading the small
 * one). With the `samples` the summaries came from, each ratio of two contenders' rounds is also given
 * round by round.
 *
 * @since 0.1.0
 * @category targets
 */
export const targets = (
  summaries: ReadonlyArray<Summary>,
  workloads: ReadonlyArray<Workload>,
  samples: ReadonlyArray<Sample> = []
): Array<Target> => {
  const find = (workload: string, contender: Contender.Name) =>
    summaries.find((s) => s.workload === workload && s.contender === contender)
  const checks: Array<Target> = []
  /**
   * A target on `value` against `goal`; with `rounds` (the workload, the contender photonpump is
   * compared with, and the figure compared), the same ratio round by round against the same goal.
   */
  const check = (
    description: string,
    value: number,
    goal: number,
    atMost: boolean,
    rounds?: readonly [workload: string, other: Contender.Name, figure: (sample: Sample) => number | undefined]
  ): void => {
    checks.push({
      description,
      value,
      goal,
      atMost,
      met: meets(value, goal, atMost),
      rounds: rounds === undefined
        ? undefined
        : roundRatios(samples, rounds[0], "photonpump", rounds[1], rounds[2], goal, atMost)
    })
  }
  for (const id of ["appends-c100", "read-iter", "read-get", "read-all"]) {
    const workload = workloads.find((w) => w.id === id)
    const photonpump = find(id, "photonpump")
    if (workload === undefined || photonpump === undefined) continue
    const nes = find(id, "node-eventstore-client")
    if (nes !== undefined) {
      check(
        `${workload.title}: photonpump ÷ node-eventstore-client`,
        photonpump.eventsPerSecond.median / nes.eventsPerSecond.median,
        1.5,
        false,
        [id, "node-eventstore-client", throughputOf]
      )
    }
    const raw = find(id, "raw-socket")
    if (raw !== undefined) {
      check(
        `${workload.title}: photonpump ÷ raw socket`,
        photonpump.eventsPerSecond.median / raw.eventsPerSecond.median,
        0.6,
        false,
        [id, "raw-socket", throughputOf]
      )
    }
  }
  // No worse than node-eventstore-client anywhere: the lowest throughput ratio over every throughput
  // workload, and the highest latency ratio (p50) over every workload that reports latency (appends as
  // well as live delivery), each with its workload.
  const worst = (
    among: (workload: Workload) => boolean,
    highest: boolean,
    ratio: (photonpump: Summary, nes: Summary) => number | undefined
  ) => {
    let found: { readonly workload: Workload; readonly value: number } | undefined
    for (const workload of workloads) {
      if (!among(workload)) continue
      const photonpump = find(workload.id, "photonpump")
      const nes = find(workload.id, "node-eventstore-client")
      if (photonpump === undefined || nes === undefined) continue
      const value = ratio(photonpump, nes)
      if (value === undefined || !Number.isFinite(value)) continue
      if (found === undefined || (highest ? value > found.value : value < found.value)) {
        found = { workload, value }
      }
    }
    return found
  }
  const slowest = worst(
    (workload) => workload.kind === "throughput",
    false,
    (photonpump, nes) => photonpump.eventsPerSecond.median / nes.eventsPerSecond.median
  )
  if (slowest !== undefined) {
    check(
      `no worse anywhere: lowest photonpump ÷ node-eventstore-client throughput (${slowest.workload.title})`,
      slowest.value,
      1,
      false,
      [slowest.workload.id, "node-eventstore-client", throughputOf]
    )
  }
  const laggiest = worst(() => true, true, (photonpump, nes) =>
    photonpump.latencyP50Millis === undefined || nes.latencyP50Millis === undefined
      ? undefined
      : photonpump.latencyP50Millis / nes.latencyP50Millis)
  if (laggiest !== undefined) {
    check(
      `no worse anywhere: highest photonpump ÷ node-eventstore-client p50 latency (${laggiest.workload.title})`,
      laggiest.value,
      1,
      true,
      [laggiest.workload.id, "node-eventstore-client", latencyP50Of]
    )
  }
  // Flat memory compares each stream read with the next shorter one (100,000 and 1,000,000 events, then
  // 1,000,000 and 3,000,000), whatever other memory workloads run beside them.
  const memory = workloads.filter((w) => w.params.family === "memoryRead")
  memory.sort((a, b) => eventsOf(a) - eventsOf(b))
  for (let i = 1; i < memory.length; i++) {
    const shorter = find(memory[i - 1]!.id, "photonpump")?.memory
    const longer = find(memory[i]!.id, "photonpump")?.memory
    if (shorter === undefined || longer === undefined) continue
    const ratio = `${memory[i]!.title} ÷ ${memory[i - 1]!.title}`
    check(`memory: peak heap, ${ratio}`, longer.peakHeapUsed / shorter.peakHeapUsed, 1.25, true)
    check(`memory: peak RSS, ${ratio}`, longer.peakRss / shorter.peakRss, 1.25, true)
  }
  return checks
}
