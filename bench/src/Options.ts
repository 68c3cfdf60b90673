/**
 * The bench's command line.
 *
 * @since 0.1.0
 */
import * as Contender from "./Contender.ts"
import { type Scale, workloads } from "./Workload.ts"

/**
 * A run's options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly scale: Scale
  /** Rounds reported (each: every workload, every contender, in rotated order, on a fresh server). */
  readonly rounds: number
  /** Rounds run first and not reported: the JIT and the caches warm up. */
  readonly warmup: number
  /** Rounds of the memory workloads, each run in a fresh process. */
  readonly memoryRounds: number
  /** Workload ids to run; all when undefined. */
  readonly only: ReadonlyArray<string> | undefined
  readonly contenders: ReadonlyArray<Contender.Name>
  /** Where results go; undefined for the default (see `Main.ts`). */
  readonly out: string | undefined
  /** Write a V8 CPU profile of every process into this directory. */
  readonly cpuProf: string | undefined
  /** Write a V8 CPU profile of every timed section of the runners into this directory. */
  readonly cpuProfSections: string | undefined
  /** Update BENCHMARKS.md with this run's tables. */
  readonly docs: boolean
}

/** `words` joined by ", ", in lines of at most `width` characters, each line after the first indented. */
const wrap = (words: ReadonlyArray<string>, indent: number, width: number): string => {
  const lines: Array<string> = []
  let line = ""
  for (const word of words) {
    const next = line === "" ? word : `${line}, ${word}`
    if (indent + next.length + 1 > width && line !== "") {
      lines.push(`${line},`)
      line = word
    } else {
      line = next
    }
  }
  lines.push(line)
  return lines.join(`\n${" ".repeat(indent)}`)
}

/** The workload ids of a full run. */
const fullIds = workloads("full").map((w) => w.id)

/** Workload ids of the smoke run that the full run names otherwise (the memory reads, by their size). */
const smokeOnlyIds = workloads("smoke").map((w) => w.id).filter((id) => !fullIds.includes(id))

/**
 * What `--help` prints.
 *
 * @since 0.1.0
 * @category usage
 */
export const usage = `Usage: npm run bench -- [options]

  --smoke                 tiny sizes, one round, no warm-up: checks that every workload runs (CI)
  --rounds <n>            rounds reported (default 5)
  --warmup <n>            rounds run first and discarded (default 1)
  --memory-rounds <n>     rounds of the memory workloads, each in a fresh process (default 3; 1 with --smoke)
  --only <id,...>         only these workloads, of:
                          ${wrap(fullIds, 26, 106)}
                          (with --smoke: ${smokeOnlyIds.join(", ")})
  --contenders <name,...> only these contenders (${Contender.names.join(", ")})
  --out <dir>             where to write results.json and throughput.svg
                          (default: bench/results/latest.json and bench/results/throughput.svg for a full,
                          unfiltered run; a temporary directory otherwise)
  --cpu-prof <dir>        write a CPU profile of every process (server, runners) under <dir>
  --cpu-prof-sections <dir>
                          write a CPU profile of every timed section, one file per measurement, under
                          <dir>/<contender>/ (sampled every 200 µs: it slows the client it profiles)
  --no-docs               do not update BENCHMARKS.md (a full, unfiltered run updates it)
  --help                  this text
`

const count = (flag: string, text: string | undefined, minimum: number): number => {
  const value = Number(text)
  if (!Number.isInteger(value) || value < minimum) throw new Error(`${flag} needs a whole number ≥ ${minimum}`)
  return value
}

/**
 * Parses the command line; `undefined` for `--help`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (args: ReadonlyArray<string>): Options | undefined => {
  let scale: Scale = "full"
  let rounds: number | undefined
  let warmup: number | undefined
  let memoryRounds: number | undefined
  let only: Array<string> | undefined
  let contenders: Array<Contender.Name> = [...Contender.names]
  let out: string | undefined
  let cpuProf: string | undefined
  let cpuProfSections: string | undefined
  let docs = true
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!
    const value = () => {
      const next = args[++i]
      if (next === undefined) throw new Error(`${flag} needs a value`)
      return next
    }
    switch (flag) {
      case "--help":
        return undefined
      case "--smoke":
        scale = "smoke"
        break
      case "--rounds":
        rounds = count(flag, value(), 1)
        break
      case "--warmup":
        warmup = count(flag, value(), 0)
        break
      case "--memory-rounds":
        memoryRounds = count(flag, value(), 1)
        break
      case "--only":
        only = value().split(",")
        break
      case "--contenders": {
        const names = value().split(",")
        for (const name of names) {
          if (!(Contender.names as ReadonlyArray<string>).includes(name)) throw new Error(`unknown contender ${name}`)
        }
        contenders = Contender.names.filter((name) => names.includes(name))
        break
      }
      case "--out":
        out = value()
        break
      case "--cpu-prof":
        cpuProf = value()
        break
      case "--cpu-prof-sections":
        cpuProfSections = value()
        break
      case "--no-docs":
        docs = false
        break
      default:
        throw new Error(`unknown option ${flag}`)
    }
  }
  return {
    scale,
    rounds: rounds ?? (scale === "smoke" ? 1 : 5),
    warmup: warmup ?? (scale === "smoke" ? 0 : 1),
    memoryRounds: memoryRounds ?? (scale === "smoke" ? 1 : 3),
    only,
    contenders,
    out,
    cpuProf,
    cpuProfSections,
    docs
  }
}
