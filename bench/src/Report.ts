/**
 * The tables of a run, as aligned text for the terminal and as Markdown for `BENCHMARKS.md`: the same
 * tables, built once.
 *
 * @since 0.1.0
 */
import * as Contender from "./Contender.ts"
import type { Machine } from "./Machine.ts"
import type { Summary, Target } from "./Summary.ts"
import type { Workload } from "./Workload.ts"

/**
 * A table: a title, a header row and rows of cells; the first column is left-aligned, the others right.
 *
 * @since 0.1.0
 * @category models
 */
export interface Table {
  readonly title: string
  readonly headers: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly note?: string | undefined
}

const integer = (value: number) => Math.round(value).toLocaleString("en-US")
const fixed = (value: number, digits: number) => value.toFixed(digits)
const toMegabytes = (bytes: number) => bytes / 1024 / 1024
const megabytes = (bytes: number) => `${toMegabytes(bytes).toFixed(1)} MB`
const percent = (value: number) => `${Math.round(value * 100)}%`
const ratio = (value: number) => `${value.toFixed(2)}×`

/** Half the range over the median: what "±" means in the tables. */
const plusMinus = (summary: Summary) =>
  summary.rounds < 2
    ? ""
    : ` ±${Math.round(((summary.eventsPerSecond.max - summary.eventsPerSecond.min) / 2 / summary.eventsPerSecond.median) * 100)}%`

/**
 * Every table of a run.
 *
 * @since 0.1.0
 * @category reports
 */
export const tables = (
  summaries: ReadonlyArray<Summary>,
  workloads: ReadonlyArray<Workload>,
  contenders: ReadonlyArray<Contender.Name>,
  checks: ReadonlyArray<Target>
): Array<Table> => {
  const find = (workload: string, contender: Contender.Name) =>
    summaries.find((s) => s.workload === workload && s.contender === contender)
  const throughput = workloads.filter((w) => w.kind === "throughput" && contenders.some((c) => find(w.id, c)))
  const latencyOnly = workloads.filter((w) => w.kind === "latency" && contenders.some((c) => find(w.id, c)))
  const memory = workloads.filter((w) => w.kind === "memory" && contenders.some((c) => find(w.id, c)))
  const has = (name: Contender.Name) => contenders.includes(name)
  const result: Array<Table> = []

  const rounds = Math.max(0, ...summaries.map((s) => s.rounds))
  if (throughput.length > 0) {
    result.push({
      title: "Throughput, events per second",
      note: `Median of ${rounds} round(s); ± is half the range over the median.`,
      headers: [
        "workload",
        ...contenders.map((c) => Contender.labels[c]),
        ...(has("photonpump") && has("node-eventstore-client") ? ["photonpump ÷ nes"] : []),
        ...(has("photonpump") && has("raw-socket") ? ["photonpump ÷ raw"] : []),
        ...(has("photonpump") && has("raw-socket-one-page") ? ["photonpump ÷ raw, one page"] : [])
      ],
      rows: throughput.map((w) => {
        const cells = contenders.map((c) => {
          const s = find(w.id, c)
          return s === undefined ? "–" : `${integer(s.eventsPerSecond.median)}${plusMinus(s)}`
        })
        const photonpump = find(w.id, "photonpump")
        const nes = find(w.id, "node-eventstore-client")
        const ratios: Array<string> = []
        if (has("photonpump") && has("node-eventstore-client")) {
          ratios.push(
            photonpump && nes ? ratio(photonpump.eventsPerSecond.median / nes.eventsPerSecond.median) : "–"
          )
        }
        for (const ceiling of ["raw-socket", "raw-socket-one-page"] as const) {
          if (!has("photonpump") || !has(ceiling)) continue
          const raw = find(w.id, ceiling)
          ratios.push(
            photonpump && raw ? percent(photonpump.eventsPerSecond.median / raw.eventsPerSecond.median) : "–"
          )
        }
        return [w.title, ...cells, ...ratios]
      })
    })
  }

  const timed = [...throughput, ...latencyOnly]
  /** The timed workloads for which some contender has `figure`. */
  const withFigure = (figure: (summary: Summary) => number | undefined) =>
    timed.filter((w) =>
      contenders.some((c) => {
        const s = find(w.id, c)
        return s !== undefined && figure(s) !== undefined
      })
    )
  const latencyWorkloads = withFigure((s) => s.latencyP50Millis)
  // Only the contenders that report latency somewhere get a column (the one-page reference does not).
  const latencyContenders = contenders.filter((c) =>
    latencyWorkloads.some((w) => find(w.id, c)?.latencyP50Millis !== undefined)
  )
  /** A table of one cell per workload and contender; a cell without a figure shows a dash. */
  const perContender = (
    title: string,
    note: string,
    rowsFor: ReadonlyArray<Workload>,
    columns: ReadonlyArray<Contender.Name>,
    cell: (summary: Summary) => string | undefined
  ): Table => ({
    title,
    note,
    headers: ["workload", ...columns.map((c) => Contender.labels[c])],
    rows: rowsFor.map((w) => [
      w.title,
      ...columns.map((c) => {
        const s = find(w.id, c)
        return (s === undefined ? undefined : cell(s)) ?? "–"
      })
    ])
  })

  if (latencyWorkloads.length > 0) {
    result.push(perContender(
      "Latency per request, milliseconds (p50 / p99)",
      "Median over the rounds of each round's percentiles. Live delivery latency: append sent → event " +
        "received by the subscriber, one event in flight.",
      latencyWorkloads,
      latencyContenders,
      (s) =>
        s.latencyP50Millis === undefined
          ? undefined
          : `${fixed(s.latencyP50Millis, 2)} / ${fixed(s.latencyP99Millis!, 2)}`
    ))
  }

  if (timed.length > 0) {
    result.push(perContender(
      "CPU per event, microseconds: client process / server process (server busy)",
      "Server busy = the server process's CPU time over wall time; near 100% the server is the limit (it can " +
        "pass 100%: V8's garbage collector has helper threads).",
      timed,
      contenders,
      (s) =>
        `${fixed(s.clientCpuMicrosPerEvent, 1)} / ${fixed(s.serverCpuMicrosPerEvent, 1)} (${percent(s.serverBusy)})`
    ))
  }

  /**
   * A table of one figure of the client process per timed workload, when some contender has it: each
   * cell is `show` of the figure, empty where the contender has none.
   */
  const clientFigure = (
    title: string,
    note: string,
    figure: (summary: Summary) => number | undefined,
    show: (value: number, summary: Summary) => string
  ) => {
    const rowsFor = withFigure(figure)
    if (rowsFor.length === 0) return
    result.push(perContender(title, note, rowsFor, contenders, (s) => {
      const value = figure(s)
      return value === undefined ? undefined : show(value, s)
    }))
  }

  clientFigure(
    "Page faults of the client process, per 1,000 events",
    "Minor page faults in the timed section: memory the process had not touched lately. On a VM where " +
      "they are dear, they cost the client CPU (BENCHMARKS.md, What to keep in mind).",
    (s) => s.clientPageFaultsPerThousandEvents,
    (faults) => fixed(faults, 1)
  )

  clientFigure(
    "The client process kept off its CPU: involuntary context switches per 100,000 events / time waiting for a CPU",
    "Times in the timed section that the kernel took the CPU from the client's process while it had work, " +
      "and the time its main thread waited, ready to run, for a CPU, as a share of the section (where the " +
      "kernel says: Linux). On the bench's VM the server's process, woken by the client's write, can be run " +
      "on the client's core rather than the idle one, and the two then take turns instead of working side " +
      "by side (BENCHMARKS.md, What to keep in mind).",
    (s) => s.clientInvoluntarySwitchesPer100kEvents,
    (switches, s) => fixed(switches, 0) + (s.clientCpuWaitShare === undefined ? "" : ` / ${percent(s.clientCpuWaitShare)}`)
  )

  clientFigure(
    "Garbage collection in the client process: mark-compacts per 100,000 events / pauses",
    "Full collections that started in the timed section, and the time the process's main thread stood " +
      "still for collections of any kind, as a share of the section (medians of the rounds). V8 counts the " +
      "buffer memory allocated since the last mark-compact against the old generation's limit, so a read " +
      "whose events keep their socket buffers can start one before the heap is full (BENCHMARKS.md, What " +
      "to keep in mind).",
    (s) => s.clientMarkCompactsPer100kEvents,
    (markCompacts, s) => `${fixed(markCompacts, 1)} / ${percent(s.clientCollectionPauseShare!)}`
  )

  if (memory.length > 0) {
    /** Whether some memory row has `figure`: its column is shown only then. */
    const someRowHas = (figure: (summary: Summary) => unknown) =>
      memory.some((w) => contenders.some((c) => {
        const s = find(w.id, c)
        return s !== undefined && figure(s) !== undefined
      }))
    const restarts = someRowHas((s) => s.restarts)
    const collections = someRowHas((s) => s.clientMarkCompacts)
    const tenths = someRowHas((s) => s.memory?.rssByTenth)
    result.push({
      title: "Memory of the reading or subscribing process",
      note: "Median of the rounds, each in a fresh process; heap after a full GC before the work, peaks sampled every 5 ms during it " +
        "(peak RSS also from the kernel's maxRSS)." +
        (collections
          ? " Mark-compacts: V8's full collections during the work; socket buffers that one meets wait for the " +
            "next (bench/NOTES.md, phase 10), so a long read's peak RSS goes with them."
          : "") +
        (tenths
          ? " Peak RSS by tenth: the sampled peak in each tenth of the work's time (each tenth's median over " +
            "the rounds): memory that grows with the work rises from tenth to tenth, flat memory holds " +
            "(a read's RSS climbs over its first few hundred thousand events: bench/NOTES.md, phase 11)."
          : "") +
        (restarts
          ? " Restarts: times the slow subscriber started over (node-eventstore-client: dropped on queue " +
            "overflow and resubscribed from its last event; photonpump: fell behind and re-read history); " +
            "stalled: the run was cut short (connection closed under the flood, or nothing received for 10 s)."
          : ""),
      headers: [
        "workload",
        "contender",
        "events/s",
        "heap before",
        "peak heap",
        "heap after (GC)",
        "RSS before",
        "peak RSS",
        ...(collections ? ["mark-compacts"] : []),
        ...(tenths ? ["peak RSS by tenth of the work (MB)"] : []),
        ...(restarts ? ["restarts"] : [])
      ],
      rows: memory.flatMap((w) =>
        contenders.flatMap((c) => {
          const s = find(w.id, c)
          if (s?.memory === undefined) return []
          return [[
            w.title,
            Contender.labels[c],
            integer(s.eventsPerSecond.median),
            megabytes(s.memory.baselineHeapUsed),
            megabytes(s.memory.peakHeapUsed),
            megabytes(s.memory.finalHeapUsed),
            megabytes(s.memory.baselineRss),
            megabytes(s.memory.peakRss),
            ...(collections ? [s.clientMarkCompacts === undefined ? "–" : integer(s.clientMarkCompacts)] : []),
            ...(tenths
              ? [
                s.memory.rssByTenth === undefined
                  ? "–"
                  : s.memory.rssByTenth.map((rss) => toMegabytes(rss).toFixed(0)).join(" ")
              ]
              : []),
            ...(restarts
              ? [
                s.restarts === undefined
                  ? "–"
                  : `${integer(s.restarts)}${
                    s.stalledRounds === undefined ? "" : `, stalled in ${s.stalledRounds} of ${s.rounds}`
                  }`
              ]
              : [])
          ]]
        })
      )
    })
  }

  if (checks.length > 0) {
    result.push({
      title: "Targets (issue 5)",
      note: "Measured: the ratio of the medians. Rounds: the same ratio round by round (the two measurements " +
        "of a round ran one after the other), its range and the rounds that met the goal.",
      headers: ["target", "measured", "goal", "met", "rounds"],
      rows: checks.map((t) => [
        t.description,
        ratio(t.value),
        t.atMost ? `≤ ${ratio(t.goal)}` : `≥ ${ratio(t.goal)}`,
        t.met ? "yes" : "no",
        t.rounds === undefined
          ? "–"
          : `${t.rounds.min.toFixed(2)}–${ratio(t.rounds.max)}, met in ${t.rounds.met} of ${t.rounds.of}`
      ])
    })
  }
  return result
}

const width = (text: string) => [...text].length

/**
 * A table as aligned text.
 *
 * @since 0.1.0
 * @category rendering
 */
export const toText = (table: Table): string => {
  const all = [table.headers, ...table.rows]
  const widths = table.headers.map((_, i) => Math.max(...all.map((row) => width(row[i] ?? ""))))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => {
      const pad = " ".repeat(widths[i]! - width(cell))
      return i === 0 ? cell + pad : pad + cell
    }).join("  ")
  const rule = widths.map((w) => "-".repeat(w)).join("  ")
  return [table.title, ...(table.note === undefined ? [] : [table.note]), line(table.headers), rule, ...table.rows.map(line)]
    .join("\n")
}

const markdownRow = (row: ReadonlyArray<string>) => `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`

/**
 * A table as Markdown.
 *
 * @since 0.1.0
 * @category rendering
 */
export const toMarkdown = (table: Table): string => {
  const align = `|${table.headers.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`
  return [
    `### ${table.title}`,
    "",
    ...(table.note === undefined ? [] : [table.note, ""]),
    markdownRow(table.headers),
    align,
    ...table.rows.map(markdownRow)
  ].join("\n")
}

/**
 * The machine a run ran on, as Markdown.
 *
 * @since 0.1.0
 * @category rendering
 */
export const machineMarkdown = (machine: Machine): string =>
  [
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores available`,
    `- Memory: ${Math.round(machine.totalMemoryBytes / 1024 / 1024 / 1024)} GiB`,
    `- OS: ${machine.os}`,
    `- Node.js ${machine.node}, node-eventstore-client ${machine.nodeEventStoreClient}`,
    `- Commit: ${machine.commit}`,
    `- Run: ${machine.date}`
  ].join("\n")
