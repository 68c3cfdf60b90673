/**
 * The benchmark suite (issue 5): `npm run bench` (or `npm run bench -- --smoke` in CI).
 *
 * This process only orchestrates; it connects to nothing. The embedded server runs in a process of
 * its own, and each contender (photonpump, node-eventstore-client, the raw socket and its one-page
 * variant) in another, so that no two of them share an event loop, a heap or a JIT, and the server's
 * CPU time can be read on its own. Each round runs every workload for every contender, one after the
 * other, the contenders' order rotating from round to round so that machine noise hits them all alike;
 * every measurement gets a fresh server process, seeded as its workload needs, so that every
 * contender meets the same server state. Warm-up rounds run first and are not reported. The memory
 * workloads run last, each in a fresh runner process, against one server seeded once.
 *
 * It prints the tables, writes the results as JSON and the chart as SVG, and, for a full run of
 * everything, updates BENCHMARKS.md.
 *
 * @since 0.1.0
 */
import * as ChildProcess from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as Chart from "./Chart.ts"
import * as Contender from "./Contender.ts"
import * as Ipc from "./Ipc.ts"
import * as Machine from "./Machine.ts"
import { type Measurement, sectionProfileName } from "./Measurement.ts"
import * as Options from "./Options.ts"
import * as Report from "./Report.ts"
import * as Summary from "./Summary.ts"
import { type Family, type Seed, type Workload, workloads as allWorkloads } from "./Workload.ts"

const here = dirname(fileURLToPath(import.meta.url))
const benchDirectory = resolve(here, "..")
const repository = resolve(benchDirectory, "..")

const log = (message: string) => console.error(message)

/** A forked process of the bench, and the way to talk to it. */
interface Child {
  readonly peer: Ipc.Peer
  readonly process: ChildProcess.ChildProcess
  readonly exited: Promise<void>
}

const children = new Set<Child>()

const fork = (script: string, args: ReadonlyArray<string>, role: string, cpuProf: string | undefined): Child => {
  const execArgv = [
    // The runners empty the young generation before each timed section and measure memory after a full GC.
    "--expose-gc",
    ...(cpuProf === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${resolve(cpuProf, role)}`])
  ]
  const process = ChildProcess.fork(join(here, script), args, {
    execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const exited = new Promise<void>((resolve) => process.once("exit", () => resolve()))
  const child: Child = { peer: Ipc.peer(process, role), process, exited }
  children.add(child)
  void exited.then(() => children.delete(child))
  return child
}

/** Asks a child to end (it exits once its IPC channel is gone) and waits until it has. */
const stop = async (child: Child): Promise<void> => {
  if (child.process.connected) child.process.disconnect()
  await child.exited
}

interface Server {
  readonly child: Child
  readonly host: string
  readonly port: number
}

const startServer = async (seeds: ReadonlyArray<Seed>, cpuProf: string | undefined): Promise<Server> => {
  const child = fork("ServerProcess.js", [], "server", cpuProf)
  const { host, port } = await child.peer.call<{ host: string; port: number }>("start")
  for (const seed of seeds) await child.peer.call("seed", seed)
  return { child, host, port }
}

/** The seeds of some workloads, each stream once, in the order the workloads name them. */
const seedsOf = (workloads: ReadonlyArray<Workload>): Array<Seed> => {
  const seen = new Map<string, Seed>()
  for (const workload of workloads) for (const seed of workload.seeds) seen.set(seed.stream, seed)
  return [...seen.values()]
}

const rotate = <A>(items: ReadonlyArray<A>, by: number): Array<A> =>
  items.map((_, i) => items[(i + by) % items.length]!)

const main = async (options: Options.Options) => {
  const all = allWorkloads(options.scale)
  for (const id of options.only ?? []) {
    if (!all.some((w) => w.id === id)) throw new Error(`unknown workload ${id}`)
  }
  const selected = options.only === undefined ? all : all.filter((w) => options.only!.includes(w.id))
  const shared = selected.filter((w) => !w.isolated)
  const isolated = selected.filter((w) => w.isolated)
  const contenders = options.contenders
  const filtered = options.only !== undefined || contenders.length !== Contender.names.length
  const official = options.scale === "full" && !filtered && options.out === undefined
  const machine = Machine.describe()

  let server: Server | undefined
  const currentServer = () => {
    if (server === undefined) throw new Error("no server is running")
    return server
  }
  const startRunner = (name: Contender.Name) => {
    const child = fork("Runner.js", [name], name, options.cpuProf)
    child.peer.handle("serverCpu", () => currentServer().child.peer.call("cpu"))
    child.peer.handle("lastEventNumber", (stream: string) => currentServer().child.peer.call("lastEventNumber", stream))
    child.peer.handle("append", (seed: Seed) => currentServer().child.peer.call("append", seed))
    return child
  }

  const samples: Array<Summary.Sample> = []
  const measure = async (
    runner: Child,
    workload: Workload,
    contender: Contender.Name,
    round: number,
    label: string
  ) => {
    const { host, port } = currentServer()
    const profile = options.cpuProfSections === undefined
      ? undefined
      : join(resolve(options.cpuProfSections), contender, sectionProfileName(workload.id, label))
    const measurement = await runner.peer.call<Measurement>("run", { params: workload.params, host, port, profile })
    log(
      `${label.padEnd(14)} ${workload.id.padEnd(17)} ${contender.padEnd(23)} ` +
        `${Math.round(measurement.eventsPerSecond).toLocaleString("en-US").padStart(11)} events/s`
    )
    if (round >= 0) samples.push({ ...measurement, workload: workload.id, contender, round })
  }

  const runners = new Map(contenders.map((name) => [name, startRunner(name)] as const))
  const families = new Map<Contender.Name, ReadonlyArray<Family>>()
  for (const [name, runner] of runners) families.set(name, await runner.peer.call<Array<Family>>("families"))
  const runs = (contender: Contender.Name, workload: Workload) =>
    families.get(contender)!.includes(workload.params.family)

  log(`photonpump bench: ${options.scale} run, ${options.warmup} warm-up + ${options.rounds} round(s), ` +
    `${machine.cpuModel} × ${machine.cores}, Node ${machine.node}`)
  for (let round = -options.warmup; round < options.rounds && shared.length > 0; round++) {
    const label = round < 0 ? `warm-up ${round + options.warmup + 1}/${options.warmup}` : `round ${round + 1}/${options.rounds}`
    const order = rotate(contenders, round + options.warmup)
    for (const workload of shared) {
      for (const contender of order) {
        if (!runs(contender, workload)) continue
        // A fresh server for every measurement: every contender meets the same server state.
        server = await startServer(workload.seeds, options.cpuProf)
        await measure(runners.get(contender)!, workload, contender, round, label)
        await stop(server.child)
        server = undefined
      }
    }
  }
  await Promise.all([...runners.values()].map(stop))

  if (isolated.length > 0) {
    // These only read: one server, seeded once, serves them all.
    server = await startServer(seedsOf(isolated), options.cpuProf)
    for (let round = 0; round < options.memoryRounds; round++) {
      const label = `memory ${round + 1}/${options.memoryRounds}`
      const order = rotate(contenders, round)
      for (const workload of isolated) {
        for (const contender of order) {
          if (!runs(contender, workload)) continue
          const runner = startRunner(contender)
          await measure(runner, workload, contender, round, label)
          await stop(runner)
        }
      }
    }
    await stop(server.child)
    server = undefined
  }

  const summaries = Summary.summarise(samples, selected, contenders)
  const checks = Summary.targets(summaries, selected, samples)
  const tables = Report.tables(summaries, selected, contenders, checks)
  const smokeNote = options.scale === "smoke" ? "Smoke run: the sizes are tiny, the figures mean nothing.\n\n" : ""
  console.log(`\n${smokeNote}${tables.map(Report.toText).join("\n\n")}\n`)

  const out = options.out ?? (official
    ? join(benchDirectory, "results")
    : mkdtempSync(join(Os.tmpdir(), "photonpump-bench-")))
  mkdirSync(out, { recursive: true })
  const jsonFile = join(out, official ? "latest.json" : "results.json")
  const chartFile = join(out, "throughput.svg")
  writeFileSync(
    jsonFile,
    `${
      JSON.stringify(
        {
          machine,
          options: {
            scale: options.scale,
            rounds: options.rounds,
            warmup: options.warmup,
            memoryRounds: options.memoryRounds
          },
          workloads: selected,
          summaries,
          targets: checks,
          samples
        },
        null,
        2
      )
    }\n`
  )
  const subtitle = `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; ` +
    `median of ${options.rounds} round(s); ${machine.date.slice(0, 10)}`
  writeFileSync(chartFile, Chart.throughputSvg(summaries, selected, contenders, subtitle))
  log(`results: ${relative(process.cwd(), jsonFile)}, chart: ${relative(process.cwd(), chartFile)}`)

  if (official && options.docs) updateDocs(machine, tables, relative(repository, chartFile))
}

const startMarker = "<!-- bench:results:start -->"
const endMarker = "<!-- bench:results:end -->"

/** Replaces the generated part of BENCHMARKS.md (between its markers) with this run's results. */
const updateDocs = (machine: Machine.Machine, tables: ReadonlyArray<Report.Table>, chart: string) => {
  const file = join(repository, "BENCHMARKS.md")
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch {
    log("BENCHMARKS.md not found: not updated")
    return
  }
  const start = text.indexOf(startMarker)
  const end = text.indexOf(endMarker)
  if (start < 0 || end < start) {
    log(`BENCHMARKS.md has no ${startMarker} … ${endMarker} section: not updated`)
    return
  }
  const generated = [
    startMarker,
    "<!-- Written by `npm run bench`; edit the text around this section, not this section. -->",
    "",
    Report.machineMarkdown(machine),
    "",
    `![Throughput per workload](${chart})`,
    "",
    tables.map(Report.toMarkdown).join("\n\n"),
    "",
    endMarker
  ].join("\n")
  writeFileSync(file, text.slice(0, start) + generated + text.slice(end + endMarker.length))
  log("BENCHMARKS.md updated")
}

let options: Options.Options | undefined
try {
  options = Options.parse(process.argv.slice(2))
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${Options.usage}`)
  process.exit(2)
}
if (options === undefined) {
  console.log(Options.usage)
} else {
  try {
    await main(options)
  } catch (error) {
    console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    for (const child of children) child.process.kill()
    process.exitCode = 1
  }
}
