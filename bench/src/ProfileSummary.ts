/**
 * Summarises V8 CPU profiles (`.cpuprofile`, from `npm run bench -- --cpu-prof <dir>`): where the
 * time went, by function (self time, and total time including callees) and by code base (photonpump's
 * packages, effect, node-eventstore-client, Node's own, the garbage collector).
 *
 * `node bench/dist/ProfileSummary.js <file or directory>... [--top n] [--focus name]`
 *
 * All the profiles given are added up into one summary (a directory holds one profile per process,
 * and the server's are one per measurement). `--focus name` keeps only the samples with a function
 * called `name` on their stack (e.g. `#receive` for the server's request path, leaving out its
 * start-up and seeding); the garbage collector's samples have no stack, so they are left out too.
 *
 * @since 0.1.0
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const codeBase = (url: string, name: string): string => {
  if (url === "") return name.startsWith("(") ? name : "(native)"
  if (url.includes("/packages/client/")) return "@photonpump/client"
  if (url.includes("/packages/server/")) return "@photonpump/server"
  if (url.includes("/packages/protocol/")) return "@photonpump/protocol"
  if (url.includes("/bench/")) return "bench"
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (module !== null) return module[1]!
  if (url.startsWith("node:")) return "node"
  return url
}

const shortUrl = (url: string): string => {
  const module = /(?:node_modules|packages)\/(.*)$/.exec(url)
  return module === null ? url : module[1]!
}

const files = (paths: ReadonlyArray<string>): Array<string> =>
  paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path).flatMap((entry) => files([join(path, entry)]))
      : path.endsWith(".cpuprofile")
      ? [path]
      : []
  )

interface Totals {
  total: number
  readonly self: Map<string, number>
  readonly inclusive: Map<string, number>
  readonly bases: Map<string, number>
}

const key = (frame: CallFrame) =>
  `${frame.functionName || "(anonymous)"}  ${shortUrl(frame.url)}${frame.url === "" ? "" : `:${frame.lineNumber + 1}`}`

const add = (map: Map<string, number>, k: string, micros: number) => map.set(k, (map.get(k) ?? 0) + micros)

const accumulate = (totals: Totals, file: string, focus: string | undefined): void => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const selfMicros = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  for (const [id, micros] of selfMicros) {
    const stack: Array<CallFrame> = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame)
    if (focus !== undefined && !stack.some((frame) => frame.functionName === focus)) continue
    const leaf = stack[0]!
    totals.total += micros
    add(totals.self, key(leaf), micros)
    add(totals.bases, codeBase(leaf.url, leaf.functionName), micros)
    // Each function on the stack once, however deep its recursion.
    for (const k of new Set(stack.map(key))) add(totals.inclusive, k, micros)
  }
}

/** The `n` largest entries, leaving out the profiler's own pseudo-frames. */
const ranked = (map: Map<string, number>, n: number): Array<[string, number]> => {
  const entries = [...map].filter(([k]) => !["(idle)  ", "(root)  ", "(idle)"].includes(k))
  entries.sort((a, b) => b[1] - a[1])
  return entries.slice(0, n)
}

const summarise = (paths: ReadonlyArray<string>, top: number, focus: string | undefined): string => {
  const totals: Totals = { total: 0, self: new Map(), inclusive: new Map(), bases: new Map() }
  const all = files(paths)
  for (const file of all) accumulate(totals, file, focus)
  const idle = totals.self.get("(idle)  ") ?? 0
  const busy = totals.total - idle
  const share = (micros: number) => `${((micros / busy) * 100).toFixed(1).padStart(5)}%`
  return [
    `== ${all.length} profile(s): ${paths.join(" ")}${focus === undefined ? "" : ` (samples under ${focus})`}`,
    `${(totals.total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy (not idle); shares are of busy time`,
    "",
    "by code base (self time)",
    ...ranked(totals.bases, 20).map(([k, v]) => `  ${share(v)}  ${k}`),
    "",
    `top ${top} functions by self time`,
    ...ranked(totals.self, top).map(([k, v]) => `  ${share(v)}  ${k}`),
    "",
    `top ${top} functions by total time (self + callees)`,
    ...ranked(totals.inclusive, top).map(([k, v]) => `  ${share(v)}  ${k}`)
  ].join("\n")
}

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}
const top = Number(option("--top") ?? 30)
const focus = option("--focus")
const paths = args.filter((arg, i) => !arg.startsWith("--") && !args[i - 1]?.startsWith("--"))
if (paths.length === 0) {
  console.error("usage: node bench/dist/ProfileSummary.js <.cpuprofile file or directory>... [--top n] [--focus name]")
  process.exitCode = 2
} else {
  console.log(summarise(paths, top, focus))
}
