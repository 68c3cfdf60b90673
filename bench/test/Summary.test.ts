import { assert, describe, it } from "@effect/vitest"
import * as Contender from "../src/Contender.ts"
import * as Summary from "../src/Summary.ts"
import { type Workload, workloads } from "../src/Workload.ts"
import { sample } from "./Samples.ts"

const all = workloads("full")

const workload = (id: string): Workload => {
  const found = all.find((w) => w.id === id)
  if (found === undefined) throw new Error(`no workload ${id}`)
  return found
}

const summaryOf = (summaries: ReadonlyArray<Summary.Summary>, id: string, contender: Contender.Name) => {
  const found = summaries.find((s) => s.workload === id && s.contender === contender)
  if (found === undefined) throw new Error(`no summary for ${id}, ${contender}`)
  return found
}

type PerContender = Partial<Record<Contender.Name, number>>

/** One round of every throughput workload of issue 5's targets, at the given rates per contender. */
const roundAt = (rates: PerContender, latencyP50: PerContender = {}): Array<Summary.Sample> =>
  ["appends-c100", "read-iter", "read-get", "read-all"].flatMap((id) =>
    (Object.keys(rates) as Array<Contender.Name>).map((contender) => {
      const p50 = latencyP50[contender] ?? 1
      return sample(id, contender, 0, rates[contender]!, { latency: { p50, p99: p50 * 10, max: p50 * 20 } })
    })
  )

/** The targets of `records`, summarised over `contenders`. */
const targetsOf = (
  records: ReadonlyArray<Summary.Sample>,
  contenders: ReadonlyArray<Contender.Name> = ["photonpump", "node-eventstore-client", "raw-socket"]
) => Summary.targets(Summary.summarise(records, all, contenders), all)

/** A live-latency round of `contender` with the given p50. */
const live = (contender: Contender.Name, round: number, p50: number) =>
  sample("live-latency", contender, round, 5_000, { latency: { p50, p99: 2, max: 3 } })

const check = (checks: ReadonlyArray<Summary.Target>, starting: string) => {
  const found = checks.find((c) => c.description.startsWith(starting))
  if (found === undefined) throw new Error(`no check starting with "${starting}"`)
  return found
}

/** A memory measurement with the given peaks and round figures for the rest. */
const memory = (peakHeapUsed: number, peakRss: number) => ({
  baselineHeapUsed: 10,
  peakHeapUsed,
  baselineRss: 50,
  peakRss,
  finalHeapUsed: 11
})

/** Ten peaks by tenth, rising by one from `base`. */
const tenths = (base: number) => Array.from({ length: 10 }, (_, i) => base + i)

/** The memory targets when reading 100,000 events peaks at 100 bytes of heap and 200 of RSS. */
const memoryChecks = (largeHeap: number, largeRss: number) =>
  Summary.targets(
    Summary.summarise([
      sample("memory-100k", "photonpump", 0, 200_000, { memory: memory(100, 200) }),
      sample("memory-1m", "photonpump", 0, 600_000, { memory: memory(largeHeap, largeRss) })
    ], all, ["photonpump"]),
    all
  )

describe("median", () => {
  it("takes the middle value of an odd count and the mean of the middle two of an even one", () => {
    assert.strictEqual(Summary.median([3, 1, 2]), 2)
    assert.strictEqual(Summary.median([4, 1, 3, 2]), 2.5)
    assert.strictEqual(Summary.median([7]), 7)
  })

  it("sorts numerically, not as text, and leaves its input alone", () => {
    const values = [100, 9, 20]
    assert.strictEqual(Summary.median(values), 20)
    assert.deepStrictEqual(values, [100, 9, 20])
  })
})

describe("summarise", () => {
  it("gives each workload and contender the median of its rounds, and the range of its throughput", () => {
    const records = [
      sample("read-iter", "photonpump", 0, 300_000),
      sample("read-iter", "photonpump", 1, 500_000),
      sample("read-iter", "photonpump", 2, 400_000),
      sample("read-iter", "raw-socket", 0, 900_000)
    ]
    const summaries = Summary.summarise(records, all, ["photonpump", "node-eventstore-client", "raw-socket"])
    assert.strictEqual(summaries.length, 2, "no summary for a contender without records")
    const photonpump = summaryOf(summaries, "read-iter", "photonpump")
    assert.strictEqual(photonpump.rounds, 3)
    assert.deepStrictEqual(photonpump.eventsPerSecond, { median: 400_000, min: 300_000, max: 500_000 })
    assert.strictEqual(summaryOf(summaries, "read-iter", "raw-socket").rounds, 1)
  })

  it("works out CPU per event and per request in microseconds, and the server's busy share of the wall time", () => {
    const records = [
      sample("read-get", "photonpump", 0, 200_000, {
        events: 100_000,
        requests: 1_000,
        seconds: 0.5,
        clientCpuMillis: 150,
        serverCpuMillis: 250,
        clientPageFaults: 70,
        clientInvoluntarySwitches: 45,
        clientCpuWaitMillis: 50,
        clientCollections: { markCompacts: 3, pauseMillis: 25 }
      })
    ]
    const summary = summaryOf(Summary.summarise(records, all, ["photonpump"]), "read-get", "photonpump")
    assert.strictEqual(summary.clientCpuMicrosPerEvent, 1.5)
    assert.strictEqual(summary.serverCpuMicrosPerEvent, 2.5)
    assert.strictEqual(summary.serverCpuMicrosPerRequest, 250)
    assert.strictEqual(summary.serverBusy, 0.5)
    assert.strictEqual(summary.clientPageFaultsPerThousandEvents, 0.7)
    assert.strictEqual(summary.clientInvoluntarySwitchesPer100kEvents, 45)
    assert.strictEqual(summary.clientCpuWaitShare, 0.1)
    assert.strictEqual(summary.clientMarkCompactsPer100kEvents, 3)
    assert.strictEqual(summary.clientCollectionPauseShare, 0.05)
    const uncounted = summaryOf(
      Summary.summarise([sample("read-get", "photonpump", 0, 200_000)], all, ["photonpump"]),
      "read-get",
      "photonpump"
    )
    assert.isUndefined(uncounted.clientPageFaultsPerThousandEvents)
    assert.isUndefined(uncounted.clientInvoluntarySwitchesPer100kEvents)
    assert.isUndefined(uncounted.clientCpuWaitShare)
    assert.isUndefined(uncounted.clientMarkCompactsPer100kEvents)
    assert.isUndefined(uncounted.clientCollectionPauseShare)
  })

  it("keeps latency, memory and restarts only where they were measured, and counts stalled rounds", () => {
    const records = [
      sample("appends-c1", "photonpump", 0, 8_000, { latency: { p50: 0.1, p99: 0.9, max: 2 } }),
      sample("appends-c1", "photonpump", 1, 8_000, { latency: { p50: 0.3, p99: 1.1, max: 2 } }),
      sample("memory-slow-subscriber", "node-eventstore-client", 0, 7_000, {
        memory: memory(200, 80),
        restarts: 1,
        stalled: true
      }),
      sample("memory-slow-subscriber", "node-eventstore-client", 1, 7_000, { memory: memory(300, 80), restarts: 3 }),
      sample("read-iter", "photonpump", 0, 400_000)
    ]
    const summaries = Summary.summarise(records, all, ["photonpump", "node-eventstore-client"])
    const appends = summaryOf(summaries, "appends-c1", "photonpump")
    assert.strictEqual(appends.latencyP50Millis, 0.2)
    assert.strictEqual(appends.latencyP99Millis, 1)
    assert.isUndefined(appends.memory)
    const slow = summaryOf(summaries, "memory-slow-subscriber", "node-eventstore-client")
    assert.strictEqual(slow.memory?.peakHeapUsed, 250)
    assert.strictEqual(slow.restarts, 2)
    assert.strictEqual(slow.stalledRounds, 1)
    assert.isUndefined(slow.memory?.rssByTenth)
    const read = summaryOf(summaries, "read-iter", "photonpump")
    assert.isUndefined(read.latencyP50Millis)
    assert.isUndefined(read.restarts)
    assert.isUndefined(read.stalledRounds)
  })
})

describe("targets", () => {
  it("compares photonpump with node-eventstore-client (≥ 1.5×) and the raw socket (≥ 60%) on each target workload", () => {
    const records = roundAt({ "photonpump": 600, "node-eventstore-client": 400, "raw-socket": 1_000 })
    const checks = targetsOf(records)
    for (const id of ["appends-c100", "read-iter", "read-get", "read-all"]) {
      const title = workload(id).title
      const nes = check(checks, `${title}: photonpump ÷ node-eventstore-client`)
      assert.strictEqual(nes.value, 1.5)
      assert.isTrue(nes.met, "exactly 1.5× meets the goal")
      const raw = check(checks, `${title}: photonpump ÷ raw socket`)
      assert.strictEqual(raw.value, 0.6)
      assert.isTrue(raw.met, "exactly 60% meets the goal")
    }
  })

  it("fails a target just short of its goal", () => {
    const records = roundAt({ "photonpump": 599, "node-eventstore-client": 400, "raw-socket": 1_000 })
    const checks = targetsOf(records)
    const title = workload("read-iter").title
    assert.isFalse(check(checks, `${title}: photonpump ÷ node-eventstore-client`).met)
    assert.isFalse(check(checks, `${title}: photonpump ÷ raw socket`).met)
  })

  it("measures the raw-socket targets against the ceiling, not against the one-page reference", () => {
    const records = roundAt({
      "photonpump": 500,
      "node-eventstore-client": 300,
      "raw-socket": 1_000,
      "raw-socket-one-page": 600
    })
    const checks = targetsOf(records, Contender.names)
    const raw = checks.filter((c) => c.description.includes("raw socket"))
    assert.strictEqual(raw.length, 4)
    for (const target of raw) {
      assert.strictEqual(target.value, 0.5)
      assert.isFalse(target.met)
    }
  })

  it("gives each ratio round by round too, pairing the rounds, with how many met the goal", () => {
    // photonpump ÷ raw socket: 0.5, 0.7 and 0.6 over three rounds (median 0.6, met); no raw-socket
    // measurement in a fourth round, which is left out.
    const records = [
      ...[500, 700, 600].flatMap((rate, round) => [
        sample("read-iter", "photonpump", round, rate),
        sample("read-iter", "raw-socket", round, 1_000)
      ]),
      sample("read-iter", "photonpump", 3, 900)
    ]
    const summaries = Summary.summarise(records, all, ["photonpump", "raw-socket"])
    const raw = check(Summary.targets(summaries, all, records), `${workload("read-iter").title}: photonpump ÷ raw socket`)
    assert.isTrue(raw.met)
    assert.deepStrictEqual(raw.rounds, { min: 0.5, max: 0.7, met: 2, of: 3 })
    assert.isUndefined(check(Summary.targets(summaries, all), `${workload("read-iter").title}: photonpump ÷ raw socket`).rounds)
  })

  it("counts a latency round as met when photonpump's p50 is at most node-eventstore-client's", () => {
    const records = [
      live("photonpump", 0, 0.2),
      live("node-eventstore-client", 0, 0.25),
      live("photonpump", 1, 0.3),
      live("node-eventstore-client", 1, 0.25)
    ]
    const checks = Summary.targets(Summary.summarise(records, all, ["photonpump", "node-eventstore-client"]), all, records)
    const laggiest = check(checks, "no worse anywhere: highest photonpump ÷ node-eventstore-client p50 latency")
    assert.deepStrictEqual(laggiest.rounds, { min: 0.8, max: 1.2, met: 1, of: 2 })
  })

  it("checks only what was run: no raw-socket ratio without raw-socket summaries", () => {
    const records = roundAt({ "photonpump": 600, "node-eventstore-client": 400, "raw-socket": 1_000 })
      .filter((record) => record.contender !== "raw-socket")
    const checks = targetsOf(records, ["photonpump", "node-eventstore-client"])
    assert.isFalse(checks.some((c) => c.description.includes("raw socket")))
    assert.isTrue(checks.some((c) => c.description.includes("node-eventstore-client")))
  })

  it("names the workload where photonpump is furthest behind node-eventstore-client, in throughput", () => {
    const records = [
      ...roundAt({ "photonpump": 600, "node-eventstore-client": 400, "raw-socket": 1_000 }),
      sample("appends-c1", "photonpump", 0, 900),
      sample("appends-c1", "node-eventstore-client", 0, 1_000),
      sample("catchup", "photonpump", 0, 1_200),
      sample("catchup", "node-eventstore-client", 0, 1_000)
    ]
    const checks = targetsOf(records)
    const slowest = check(checks, "no worse anywhere: lowest photonpump ÷ node-eventstore-client throughput")
    assert.include(slowest.description, workload("appends-c1").title)
    assert.strictEqual(slowest.value, 0.9)
    assert.isFalse(slowest.met)
  })

  it("looks for the worst p50 latency on every workload that reports one, appends as well as live delivery", () => {
    const records = [
      ...roundAt({ "photonpump": 600, "node-eventstore-client": 400, "raw-socket": 1_000 }, {
        "photonpump": 1,
        "node-eventstore-client": 2,
        "raw-socket": 1
      }),
      sample("live-latency", "photonpump", 0, 5_000, { latency: { p50: 0.18, p99: 2, max: 3 } }),
      sample("live-latency", "node-eventstore-client", 0, 5_000, { latency: { p50: 0.2, p99: 2, max: 3 } }),
      // Slower than node-eventstore-client here, on an append workload (not a "latency" row).
      sample("appends-c10", "photonpump", 0, 30_000, { latency: { p50: 0.5, p99: 2, max: 3 } }),
      sample("appends-c10", "node-eventstore-client", 0, 20_000, { latency: { p50: 0.4, p99: 2, max: 3 } })
    ]
    const checks = targetsOf(records)
    const laggiest = check(checks, "no worse anywhere: highest photonpump ÷ node-eventstore-client p50 latency")
    assert.include(laggiest.description, workload("appends-c10").title)
    assert.strictEqual(laggiest.value, 1.25)
    assert.isTrue(laggiest.atMost)
    assert.isFalse(laggiest.met)
  })

  it("calls memory flat when reading ten times the events peaks within 25% of the heap and RSS", () => {
    const flat = memoryChecks(125, 250)
    assert.isTrue(check(flat, "memory: peak heap").met)
    assert.isTrue(check(flat, "memory: peak RSS").met)
    assert.strictEqual(check(flat, "memory: peak heap").value, 1.25)
    const growing = memoryChecks(130, 260)
    assert.isFalse(check(growing, "memory: peak heap").met)
    assert.isFalse(check(growing, "memory: peak RSS").met)
  })

  it("takes each tenth's median RSS over the rounds, when every round has ten", () => {
    const summaries = Summary.summarise([
      sample("memory-1m", "photonpump", 0, 600_000, { memory: { ...memory(100, 200), rssByTenth: tenths(100) } }),
      sample("memory-1m", "photonpump", 1, 600_000, { memory: { ...memory(100, 200), rssByTenth: tenths(300) } }),
      sample("memory-1m", "photonpump", 2, 600_000, { memory: { ...memory(100, 200), rssByTenth: tenths(200) } }),
      sample("memory-3m", "photonpump", 0, 600_000, { memory: { ...memory(100, 200), rssByTenth: tenths(100) } }),
      sample("memory-3m", "photonpump", 1, 600_000, { memory: memory(100, 200) })
    ], all, ["photonpump"])
    assert.deepStrictEqual(summaryOf(summaries, "memory-1m", "photonpump").memory?.rssByTenth, tenths(200))
    assert.isUndefined(summaryOf(summaries, "memory-3m", "photonpump").memory?.rssByTenth)
  })

  it("compares each memory read with the next shorter one, whatever order the records come in", () => {
    const checks = Summary.targets(
      Summary.summarise([
        sample("memory-3m", "photonpump", 0, 900_000, { memory: memory(130, 300) }),
        sample("memory-100k", "photonpump", 0, 200_000, { memory: memory(100, 200) }),
        sample("memory-1m", "photonpump", 0, 600_000, { memory: memory(120, 280) })
      ], all, ["photonpump"]),
      all
    ).filter((c) => c.description.startsWith("memory: "))
    assert.deepStrictEqual(checks.map((c) => [c.description, c.value, c.met]), [
      [`memory: peak heap, ${workload("memory-1m").title} ÷ ${workload("memory-100k").title}`, 1.2, true],
      [`memory: peak RSS, ${workload("memory-1m").title} ÷ ${workload("memory-100k").title}`, 1.4, false],
      [`memory: peak heap, ${workload("memory-3m").title} ÷ ${workload("memory-1m").title}`, 130 / 120, true],
      [`memory: peak RSS, ${workload("memory-3m").title} ÷ ${workload("memory-1m").title}`, 300 / 280, true]
    ])
    // A read left out leaves out the comparisons it is part of.
    const withoutTheMiddle = Summary.targets(
      Summary.summarise([
        sample("memory-100k", "photonpump", 0, 200_000, { memory: memory(100, 200) }),
        sample("memory-3m", "photonpump", 0, 900_000, { memory: memory(130, 300) })
      ], all, ["photonpump"]),
      all
    ).filter((c) => c.description.startsWith("memory: "))
    assert.deepStrictEqual(withoutTheMiddle, [])
  })
})
