/**
 * The chart of a run, drawn as SVG by hand: one group of bars per throughput workload, one bar per
 * contender that ran it (each contender keeps its colour), on a logarithmic axis (appends at
 * concurrency 1 and stream reads differ by two orders of magnitude; a linear axis would flatten the
 * appends). Each bar is labelled with its figure.
 *
 * @since 0.1.0
 */
import * as Contender from "./Contender.ts"
import type { Summary } from "./Summary.ts"
import type { Workload } from "./Workload.ts"

const colours: Record<Contender.Name, string> = {
  "photonpump": "#2563eb",
  "node-eventstore-client": "#f59e0b",
  "raw-socket": "#9ca3af",
  "raw-socket-one-page": "#64748b"
}

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;")

const compact = (value: number): string => {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 0 : 2)}M`
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : value >= 1e4 ? 1 : 2)}k`
  return value.toFixed(0)
}

/** An axis label: 1k, 10k, 100k, 1M, 2M, ... */
const axisLabel = (value: number): string =>
  value >= 1e6 ? `${value / 1e6}M` : value >= 1e3 ? `${value / 1e3}k` : `${value}`

/**
 * The throughput chart as an SVG document.
 *
 * @since 0.1.0
 * @category rendering
 */
export const throughputSvg = (
  summaries: ReadonlyArray<Summary>,
  workloads: ReadonlyArray<Workload>,
  contenders: ReadonlyArray<Contender.Name>,
  subtitle: string
): string => {
  const find = (workload: string, contender: Contender.Name) =>
    summaries.find((s) => s.workload === workload && s.contender === contender)
  const shown = workloads.filter((w) => w.kind === "throughput" && contenders.some((c) => find(w.id, c)))
  /** The bars of each workload shown: the contenders with a figure, in the contenders' order. */
  const bars = shown.map((w) =>
    contenders.flatMap((c) => {
      const value = find(w.id, c)?.eventsPerSecond.median ?? 0
      return value > 0 ? [{ contender: c, value }] : []
    })
  )
  const values = bars.flatMap((group) => group.map((b) => b.value))
  const low = 10 ** Math.floor(Math.log10(Math.min(...values, 1e6)))
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)))

  const bar = 28
  const gap = 4
  const groupGap = 32
  const groupWidths = bars.map((group) => Math.max(0, group.length * bar + (group.length - 1) * gap))
  const groupLefts: Array<number> = []
  const left = 72
  const top = 78
  const plotHeight = 300
  const bottom = top + plotHeight
  let next = left + groupGap
  for (const groupWidth of groupWidths) {
    groupLefts.push(next)
    next += groupWidth + groupGap
  }
  const width = Math.max(next, left + contenders.length * 210)
  const height = bottom + 80
  const y = (value: number) =>
    bottom - ((Math.log10(value) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * plotHeight

  const parts: Array<string> = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="16" font-weight="600">Throughput per workload, events per second (log scale)</text>`,
    `<text x="${left}" y="40" fill="#4b5563">${escape(subtitle)}</text>`
  )
  contenders.forEach((c, i) => {
    const x = left + i * 210
    parts.push(
      `<rect x="${x}" y="52" width="12" height="12" fill="${colours[c]}"/>`,
      `<text x="${x + 18}" y="62">${escape(Contender.labels[c])}</text>`
    )
  })
  for (let decade = low; decade <= high; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const value = decade * step
      if (value > high) break
      const at = y(value)
      const major = step === 1
      parts.push(
        `<line x1="${left}" x2="${width - groupGap / 2}" y1="${at}" y2="${at}" stroke="${major ? "#d1d5db" : "#f3f4f6"}"/>`
      )
      if (major || high / low <= 100) {
        parts.push(`<text x="${left - 8}" y="${at + 4}" text-anchor="end" fill="#4b5563">${axisLabel(value)}</text>`)
      }
    }
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#6b7280"/>`)
  shown.forEach((w, g) => {
    const groupLeft = groupLefts[g]!
    const groupWidth = groupWidths[g]!
    bars[g]!.forEach(({ contender: c, value }, i) => {
      const x = groupLeft + i * (bar + gap)
      const at = y(value)
      parts.push(
        `<rect x="${x}" y="${at.toFixed(1)}" width="${bar}" height="${(bottom - at).toFixed(1)}" fill="${colours[c]}">` +
          `<title>${escape(`${Contender.labels[c]}, ${w.title}: ${Math.round(value).toLocaleString("en-US")} events/s`)}</title></rect>`,
        `<text transform="translate(${x + bar / 2 + 4} ${(at - 4).toFixed(1)}) rotate(-90)" font-size="10" fill="#111827">` +
          `${compact(value)}</text>`
      )
    })
    const lines = w.title.split(", ")
    lines.forEach((line, l) => {
      parts.push(
        `<text x="${groupLeft + groupWidth / 2}" y="${bottom + 18 + l * 14}" text-anchor="middle" font-size="11" ` +
          `fill="#111827">` +
          `${escape(line)}</text>`
      )
    })
  })
  parts.push(`</svg>`, "")
  return parts.join("\n")
}
