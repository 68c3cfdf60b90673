import { assert, describe, it } from "@effect/vitest"
import { throughputSvg } from "../src/Chart.ts"
import * as Contender from "../src/Contender.ts"
import * as Report from "../src/Report.ts"
import * as Summary from "../src/Summary.ts"
import { workloads } from "../src/Workload.ts"
import { sample } from "./Samples.ts"

const all = workloads("full")
const contenders = Contender.names

/** A sample with a latency of 0.5 ms p50 where the workload reports latency. */
const timedSample = (workload: string, contender: Contender.Name, round: number, eventsPerSecond: number) =>
  sample(
    workload,
    contender,
    round,
    eventsPerSecond,
    workload.startsWith("appends") || workload === "live-latency" ? { latency: { p50: 0.5, p99: 2, max: 4 } } : {}
  )

/**
 * Two rounds of read-iter (photonpump and the raw socket), one of read-get (photonpump and both raw
 * sockets), appends-c1 (all but the one-page raw socket) and live-latency (the two clients).
 */
const records = [
  timedSample("read-iter", "photonpump", 0, 400_000),
  timedSample("read-iter", "photonpump", 1, 600_000),
  timedSample("read-iter", "raw-socket", 0, 1_000_000),
  timedSample("read-iter", "raw-socket", 1, 1_000_000),
  timedSample("read-get", "photonpump", 0, 450_000),
  timedSample("read-get", "raw-socket", 0, 1_000_000),
  timedSample("read-get", "raw-socket-one-page", 0, 600_000),
  timedSample("appends-c1", "photonpump", 0, 8_000),
  timedSample("appends-c1", "node-eventstore-client", 0, 4_000),
  timedSample("appends-c1", "raw-socket", 0, 10_000),
  timedSample("live-latency", "photonpump", 0, 5_000),
  timedSample("live-latency", "node-eventstore-client", 0, 5_000)
]
const summaries = Summary.summarise(records, all, contenders)

const tableTitled = (tables: ReadonlyArray<Report.Table>, title: string) => {
  const table = tables.find((t) => t.title.startsWith(title))
  if (table === undefined) throw new Error(`no table "${title}"`)
  return table
}

/** Figures of a memory read that the memory table shows, all but the column a test looks at. */
const memory = { baselineHeapUsed: 1, peakHeapUsed: 2, baselineRss: 3, peakRss: 4, finalHeapUsed: 1 }

/** The table titled `title` of a run with these records. */
const tableOf = (records: ReadonlyArray<Summary.Sample>, title: string) =>
  tableTitled(Report.tables(Summary.summarise(records, all, contenders), all, contenders, []), title)

/** The memory table of a run with these records. */
const memoryTable = (records: ReadonlyArray<Summary.Sample>) => tableOf(records, "Memory of the reading")

describe("Report.tables", () => {
  const tables = Report.tables(summaries, all, contenders, Summary.targets(summaries, all, records))

  it("shows each throughput workload's median, its spread, and photonpump's ratios to the others", () => {
    const throughput = tableTitled(tables, "Throughput")
    assert.deepStrictEqual(throughput.headers, [
      "workload",
      "photonpump",
      "node-eventstore-client",
      "raw socket (ceiling)",
      "raw socket, one page in flight",
      "photonpump ÷ nes",
      "photonpump ÷ raw",
      "photonpump ÷ raw, one page"
    ])
    const row = (title: string) => throughput.rows.find((row) => row[0] === title)
    assert.deepStrictEqual(row("stream read, iter (pages of 100)"), [
      "stream read, iter (pages of 100)",
      "500,000 ±20%",
      "–",
      "1,000,000 ±0%",
      "–",
      "–",
      "50%",
      "–"
    ])
    assert.deepStrictEqual(row("stream read, get pages of 100"), [
      "stream read, get pages of 100",
      "450,000",
      "–",
      "1,000,000",
      "600,000",
      "–",
      "45%",
      "75%"
    ])
    assert.deepStrictEqual(row("appends, concurrency 1"), [
      "appends, concurrency 1",
      "8,000",
      "4,000",
      "10,000",
      "–",
      "2.00×",
      "80%",
      "–"
    ])
    assert.isFalse(throughput.rows.some((row) => row[0]!.startsWith("live delivery")), "a latency row has no throughput")
  })

  it("keeps the targets on the ceiling: the one-page reference is a column, not a target", () => {
    const targets = tableTitled(tables, "Targets")
    const get = targets.rows.filter((row) => row[0]!.startsWith("stream read, get pages of 100"))
    assert.deepStrictEqual(get, [[
      "stream read, get pages of 100: photonpump ÷ raw socket",
      "0.45×",
      "≥ 0.60×",
      "no",
      "0.45–0.45×, met in 0 of 1"
    ]])
  })

  it("shows latency where it was measured, and the targets with whether each is met", () => {
    const latency = tableTitled(tables, "Latency")
    assert.deepStrictEqual(latency.rows.map((row) => row[0]), [
      "appends, concurrency 1",
      "live delivery latency, volatile subscription, one event in flight"
    ])
    // The one-page raw socket reports no latency anywhere: no column of dashes for it.
    assert.deepStrictEqual(latency.headers.slice(1), ["photonpump", "node-eventstore-client", "raw socket (ceiling)"])
    assert.deepStrictEqual(latency.rows[0]!.slice(1), ["0.50 / 2.00", "0.50 / 2.00", "0.50 / 2.00"])
    const targets = tableTitled(tables, "Targets")
    const iter = targets.rows.find((row) => row[0] === "stream read, iter (pages of 100): photonpump ÷ raw socket")
    // Rounds of 0.40 and 0.60: the median misses the goal, one round of two meets it.
    assert.deepStrictEqual(iter, [
      "stream read, iter (pages of 100): photonpump ÷ raw socket",
      "0.50×",
      "≥ 0.60×",
      "no",
      "0.40–0.60×, met in 1 of 2"
    ])
    const slowest = targets.rows.find((row) => row[0]!.startsWith("no worse anywhere: lowest"))
    assert.deepStrictEqual(slowest?.slice(3), ["yes", "2.00–2.00×, met in 1 of 1"])
  })

  it("shows the client's page faults per 1,000 events where they were counted, and no table where none were", () => {
    const counted = [
      sample("read-iter", "photonpump", 0, 500_000, { clientPageFaults: 100 }),
      sample("read-iter", "photonpump", 1, 500_000, { clientPageFaults: 300 }),
      sample("read-iter", "raw-socket", 0, 1_000_000, { clientPageFaults: 40 }),
      sample("read-get", "photonpump", 0, 450_000)
    ]
    const faults = tableOf(counted, "Page faults")
    // read-get counted none: no row for it. The median of 1 and 3 per 1,000 events is 2.
    assert.deepStrictEqual(faults.rows, [["stream read, iter (pages of 100)", "2.0", "–", "0.4", "–"]])
    assert.isUndefined(tables.find((t) => t.title.startsWith("Page faults")))
  })
  it("shows how the client was kept off its CPU where that was counted, and no table where it was not", () => {
    // Samples of 100,000 events (a second each at these rates for photonpump, half one for the raw socket).
    const counted = [
      sample("read-iter", "photonpump", 0, 100_000, { clientInvoluntarySwitches: 40, clientCpuWaitMillis: 100 }),
      sample("read-iter", "photonpump", 1, 100_000, { clientInvoluntarySwitches: 120, clientCpuWaitMillis: 300 }),
      sample("read-iter", "raw-socket", 0, 200_000, { clientInvoluntarySwitches: 2 }),
      sample("read-get", "photonpump", 0, 450_000)
    ]
    const keptOff = tableOf(counted, "The client process kept off its CPU")
    // read-get counted nothing: no row for it. The medians of 40 and 120 switches and of 10% and 30% of
    // the time; the raw socket's wait was not counted, so its cell has the switches only.
    assert.deepStrictEqual(keptOff.rows, [["stream read, iter (pages of 100)", "80 / 20%", "–", "2", "–"]])
    assert.isUndefined(tables.find((t) => t.title.startsWith("The client process kept off its CPU")))
  })
  it("shows the client's mark-compacts per 100,000 events and its pause share where they were counted", () => {
    const counted = [
      sample("read-iter", "photonpump", 0, 500_000, { clientCollections: { markCompacts: 2, pauseMillis: 10 } }),
      sample("read-iter", "photonpump", 1, 500_000, { clientCollections: { markCompacts: 6, pauseMillis: 30 } }),
      sample("read-iter", "raw-socket", 0, 1_000_000, { clientCollections: { markCompacts: 0, pauseMillis: 1 } }),
      sample("read-get", "photonpump", 0, 450_000)
    ]
    const collections = tableOf(counted, "Garbage collection")
    // Rounds of 0.2 s: pauses of 10 and 30 ms are 5% and 15%, their median 10%; the raw socket's 1%.
    assert.deepStrictEqual(collections.rows, [["stream read, iter (pages of 100)", "4.0 / 10%", "–", "0.0 / 1%", "–"]])
    assert.isUndefined(tables.find((t) => t.title.startsWith("Garbage collection")))
  })
  it("gives the memory rows a column of mark-compacts where they were counted, and none where not", () => {
    const counted = [
      sample("memory-1m", "photonpump", 0, 800_000, { memory, clientCollections: { markCompacts: 10, pauseMillis: 5 } }),
      sample("memory-1m", "photonpump", 1, 800_000, { memory, clientCollections: { markCompacts: 14, pauseMillis: 5 } }),
      sample("memory-1m", "node-eventstore-client", 0, 200_000, { memory })
    ]
    const table = memoryTable(counted)
    assert.strictEqual(table.headers.at(-1), "mark-compacts")
    assert.deepStrictEqual(table.rows.map((row) => [row[1], row.at(-1)]), [
      ["photonpump", "12"],
      ["node-eventstore-client", "–"]
    ])
    const uncounted = memoryTable([sample("memory-1m", "photonpump", 0, 800_000, { memory })])
    assert.notInclude(uncounted.headers, "mark-compacts")
  })

  it("gives the memory rows their peak RSS by tenth, in MB, where it was sampled", () => {
    const mb = 1024 * 1024
    const records = [
      sample("memory-1m", "photonpump", 0, 800_000, {
        memory: { ...memory, rssByTenth: Array.from({ length: 10 }, (_, i) => (110 + i) * mb) }
      }),
      sample("memory-1m", "node-eventstore-client", 0, 200_000, { memory })
    ]
    const table = memoryTable(records)
    assert.strictEqual(table.headers.at(-1), "peak RSS by tenth of the work (MB)")
    assert.deepStrictEqual(table.rows.map((row) => [row[1], row.at(-1)]), [
      ["photonpump", "110 111 112 113 114 115 116 117 118 119"],
      ["node-eventstore-client", "–"]
    ])
    assert.include(table.note, "Peak RSS by tenth")
  })
})

describe("Report rendering", () => {
  const table: Report.Table = {
    title: "Title",
    note: "A note.",
    headers: ["name", "value"],
    rows: [["a | b", "1"], ["longer name", "1,000"]]
  }

  it("aligns text: the first column to the left, the others to the right", () => {
    assert.strictEqual(
      Report.toText(table),
      [
        "Title",
        "A note.",
        "name         value",
        "-----------  -----",
        "a | b            1",
        "longer name  1,000"
      ].join("\n")
    )
  })

  it("writes Markdown with the numbers right-aligned and pipes in cells escaped", () => {
    assert.strictEqual(
      Report.toMarkdown(table),
      [
        "### Title",
        "",
        "A note.",
        "",
        "| name | value |",
        "| --- | ---: |",
        "| a \\| b | 1 |",
        "| longer name | 1,000 |"
      ].join("\n")
    )
  })
})

describe("throughputSvg", () => {
  const svg = throughputSvg(summaries, all, contenders, "subtitle <with> \"marks\" & more")

  it("draws one bar per contender and throughput workload measured, and none for latency or memory rows", () => {
    const bars = [...svg.matchAll(/<title>([^<]*)<\/title>/g)].map((match) => match[1])
    assert.deepStrictEqual(bars, [
      "photonpump, appends, concurrency 1: 8,000 events/s",
      "node-eventstore-client, appends, concurrency 1: 4,000 events/s",
      "raw socket (ceiling), appends, concurrency 1: 10,000 events/s",
      "photonpump, stream read, iter (pages of 100): 500,000 events/s",
      "raw socket (ceiling), stream read, iter (pages of 100): 1,000,000 events/s",
      "photonpump, stream read, get pages of 100: 450,000 events/s",
      "raw socket (ceiling), stream read, get pages of 100: 1,000,000 events/s",
      "raw socket, one page in flight, stream read, get pages of 100: 600,000 events/s"
    ])
  })

  it("makes a taller bar of a higher throughput, and escapes its text", () => {
    const heights = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="28" height="([\d.]+)"/g)].map((match) =>
      Number(match[1])
    )
    assert.strictEqual(heights.length, 8)
    const [pp, nes, raw, ppIter, rawIter] = heights as [number, number, number, number, number]
    assert.isAbove(pp, nes)
    assert.isAbove(raw, pp)
    assert.isAbove(ppIter, raw)
    assert.isAbove(rawIter, ppIter)
    assert.include(svg, "subtitle &lt;with&gt; &quot;marks&quot; &amp; more")
    assert.isTrue(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    assert.isTrue(svg.trimEnd().endsWith("</svg>"))
  })

  it("puts a workload's bars side by side, leaving no gap for a contender that did not run it", () => {
    const xs = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="28"/g)].map((match) => Number(match[1]))
    const [, , , iterPhotonpump, iterRaw] = xs as [number, number, number, number, number]
    assert.strictEqual(iterRaw - iterPhotonpump, 32, "the raw socket's bar follows photonpump's, with no empty slot")
    for (const [name, colour] of [["raw socket (ceiling)", "#9ca3af"], ["raw socket, one page in flight", "#64748b"]]) {
      assert.include(svg, `fill="${colour}"/>\n<text x="`, `${name} has its legend swatch`)
    }
  })
})
