import { afterEach, assert, describe, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import {
  type CpuProfile,
  LatencyRecorder,
  MemorySampler,
  peaksByTenth,
  percentile,
  type RunContext,
  sectionProfileName,
  TimedSection,
  trimProfile
} from "../src/Measurement.ts"

const oneTo = (n: number) => Float64Array.from({ length: n }, (_, i) => i + 1)

describe("percentile", () => {
  it("takes the nearest rank: the smallest value with at least q of the values at or below it", () => {
    const values = oneTo(100)
    assert.strictEqual(percentile(values, 0.5), 50)
    assert.strictEqual(percentile(values, 0.99), 99)
    assert.strictEqual(percentile(values, 1), 100)
    assert.strictEqual(percentile(oneTo(10), 0.99), 10)
    assert.strictEqual(percentile(oneTo(3), 0.5), 2)
  })

  it("stays within the values at the edges", () => {
    assert.strictEqual(percentile(oneTo(5), 0), 1)
    assert.strictEqual(percentile([42], 0.5), 42)
    assert.strictEqual(percentile([42], 0.99), 42)
  })
})

describe("LatencyRecorder", () => {
  it("summarises nothing when nothing was recorded", () => {
    assert.isUndefined(new LatencyRecorder(10).summary())
  })

  it("sorts its samples as numbers before taking percentiles", () => {
    const recorder = new LatencyRecorder(10)
    // As text, "10" < "9": a text sort would make 10 the median.
    for (const millis of [100, 9, 10, 2, 1]) recorder.record(millis)
    assert.deepStrictEqual(recorder.summary(), { p50: 9, p99: 100, max: 100 })
  })

  it("keeps the first `capacity` samples and drops the rest, and starts over on reset", () => {
    const recorder = new LatencyRecorder(3)
    for (const millis of [5, 6, 7, 1000]) recorder.record(millis)
    assert.deepStrictEqual(recorder.summary(), { p50: 6, p99: 7, max: 7 })
    recorder.reset()
    recorder.record(0.25)
    assert.deepStrictEqual(recorder.summary(), { p50: 0.25, p99: 0.25, max: 0.25 })
  })
})

describe("collections around measurements", () => {
  const global = globalThis as { gc?: (...args: Array<unknown>) => void }
  const original = global.gc
  afterEach(() => {
    if (original === undefined) delete global.gc
    else global.gc = original
  })

  /** Replaces `gc` with a recorder of the arguments of every call. */
  const recordCollections = (): Array<Array<unknown>> => {
    const calls: Array<Array<unknown>> = []
    global.gc = (...args: Array<unknown>) => {
      calls.push(args)
    }
    return calls
  }

  it("empties the young generation before a timed section, not after it, and reads the server's clock at both ends", async () => {
    const calls = recordCollections()
    let serverClock = 1_000
    const context: RunContext = {
      host: "127.0.0.1",
      port: 1,
      serverCpu: () => Promise.resolve(serverClock),
      lastEventNumber: () => Promise.resolve(-1),
      appendInServer: () => Promise.resolve()
    }
    const section = new TimedSection(context)
    await section.begin()
    serverClock += 5_000
    // Memory the process has not touched before: its pages fault in as they are written.
    Buffer.allocUnsafe(8 * 1024 * 1024).fill(1)
    const measurement = await section.end({ events: 10, requests: 1 })
    const minor = { type: "minor", execution: "sync" }
    assert.deepStrictEqual(calls, [[minor], [minor]])
    assert.strictEqual(measurement.serverCpuMillis, 5)
    assert.isAbove(measurement.clientPageFaults!, 0)
    // Whether the kernel preempted the process in between is the machine's; that they are counted is not.
    assert.isTrue(Number.isInteger(measurement.clientInvoluntarySwitches) && measurement.clientInvoluntarySwitches! >= 0)
    if (process.platform === "linux") assert.isAtLeast(measurement.clientCpuWaitMillis!, 0)
    else assert.isUndefined(measurement.clientCpuWaitMillis)
    assert.strictEqual(measurement.events, 10)
    assert.isAbove(measurement.eventsPerSecond, 0)
  })

  it("counts the mark-compacts that start in a timed section and their pauses, not those before it", async () => {
    recordCollections()
    // A real full collection, whatever the test's own `gc` stands for: V8 hands one to a new context.
    setFlagsFromString("--expose-gc")
    const fullCollection = runInNewContext("gc") as () => void
    const context: RunContext = {
      host: "127.0.0.1",
      port: 1,
      serverCpu: () => Promise.resolve(0),
      lastEventNumber: () => Promise.resolve(-1),
      appendInServer: () => Promise.resolve()
    }
    const section = new TimedSection(context)
    fullCollection()
    await section.begin()
    fullCollection()
    fullCollection()
    const measurement = await section.end({ events: 10, requests: 1 })
    assert.strictEqual(measurement.clientCollections!.markCompacts, 2)
    assert.isAbove(measurement.clientCollections!.pauseMillis, 0)

    fullCollection()
    const quiet = new TimedSection(context)
    await quiet.begin()
    const none = await quiet.end({ events: 10, requests: 1 })
    assert.strictEqual(none.clientCollections!.markCompacts, 0)
  })

  it("takes the memory figures after full collections: plain gc() calls, which V8 does not make scavenges", () => {
    const calls = recordCollections()
    const sampler = new MemorySampler()
    sampler.start(1_000)
    assert.deepStrictEqual(calls, [[], []])
    const memory = sampler.stop()
    assert.deepStrictEqual(calls, [[], [], [], []])
    assert.isAtLeast(memory.peakHeapUsed, memory.baselineHeapUsed)
    assert.isAtLeast(memory.peakRss, memory.baselineRss)
  })
})

describe("peaks by tenth", () => {
  it("takes the peak of the samples in each tenth of the time, a tenth without one the tenth's before", () => {
    // From 0 to 100 ms: samples at 0 and 5 (the first tenth), 15 (the second), 35 and 39 (the fourth), 99
    // and 100 (the last).
    const samples = [0, 7, 5, 9, 15, 4, 35, 12, 39, 11, 99, 3, 100, 6]
    assert.deepStrictEqual(peaksByTenth(samples, 0, 100), [9, 4, 4, 12, 12, 12, 12, 12, 12, 6])
    // Leading tenths without a sample take the first tenth that has one.
    assert.deepStrictEqual(peaksByTenth([55, 8, 95, 2], 0, 100), [8, 8, 8, 8, 8, 8, 8, 8, 8, 2])
    assert.deepStrictEqual(peaksByTenth([], 0, 100), [])
  })

  it("gives a sampler's memory ten of them", async () => {
    const sampler = new MemorySampler()
    sampler.start(1)
    const until = performance.now() + 30
    while (performance.now() < until) await new Promise((resume) => setTimeout(resume, 1))
    const memory = sampler.stop()
    assert.strictEqual(memory.rssByTenth?.length, 10)
    for (const rss of memory.rssByTenth!) assert.isAtMost(rss, memory.peakRss)
  })
})

describe("profiles of timed sections", () => {
  it("names a section's profile after its workload and the run's label", () => {
    assert.strictEqual(sectionProfileName("read-iter", "round 2/5"), "read-iter-round-2-of-5.cpuprofile")
    assert.strictEqual(sectionProfileName("appends-c100", "warm-up 1/1"), "appends-c100-warm-up-1-of-1.cpuprofile")
  })

  it("keeps only the samples taken within the section, their deltas counted from its start", () => {
    // Samples at 1,010, 1,020, 1,030, 1,040 and 1,050 µs.
    const profile = { nodes: [], startTime: 1_000, endTime: 1_060, samples: [1, 2, 3, 4, 5], timeDeltas: [10, 10, 10, 10, 10] }
    assert.deepStrictEqual(trimProfile(profile, 1_015, 1_040), {
      nodes: [],
      startTime: 1_015,
      endTime: 1_040,
      samples: [2, 3, 4],
      timeDeltas: [5, 10, 10]
    })
    assert.deepStrictEqual(trimProfile(profile, 2_000, 3_000).samples, [])
  })

  it("writes a V8 CPU profile of the section where the context says", async () => {
    const directory = mkdtempSync(join(tmpdir(), "bench-section-"))
    try {
      const path = join(directory, "photonpump", "read-iter-round-1-of-1.cpuprofile")
      const context: RunContext = {
        host: "127.0.0.1",
        port: 1,
        serverCpu: () => Promise.resolve(0),
        lastEventNumber: () => Promise.resolve(-1),
        appendInServer: () => Promise.resolve(),
        sectionProfile: path
      }
      const section = new TimedSection(context)
      await section.begin()
      // Work enough for the sampler (every 200 µs) to see: 20 ms of wall time, and 20 ms of CPU time
      // however busy the machine is.
      const startedAt = performance.now()
      const cpuAtStart = process.cpuUsage()
      let spins = 0
      while (performance.now() - startedAt < 20 || process.cpuUsage(cpuAtStart).user < 20_000) spins++
      const measurement = await section.end({ events: spins, requests: 1 })
      const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile
      assert.isAbove(profile.nodes.length, 0)
      assert.isAbove(profile.samples.length, 10)
      assert.strictEqual(profile.timeDeltas.length, profile.samples.length)
      // The section only: the profiler's own start (tens of milliseconds) is trimmed off.
      const sampled = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0)
      assert.isBelow(sampled, measurement.seconds * 1_000_000 + 10_000)
      assert.isAtLeast(sampled, 15_000)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
