/**
 * What a run ran on: the figures mean little without it.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"

/**
 * The machine, the runtime and the code of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Machine {
  readonly cpuModel: string
  readonly cores: number
  readonly totalMemoryBytes: number
  readonly os: string
  readonly node: string
  readonly nodeEventStoreClient: string
  /** The git commit, with `+changes` when the working tree differs from it. */
  readonly commit: string
  readonly date: string
}

const cpuModel = (): string => {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"))
    if (line !== undefined) return line.slice(line.indexOf(":") + 1).trim()
  } catch {
    // not Linux: fall through
  }
  return Os.cpus()[0]?.model ?? "unknown"
}

const git = (...args: Array<string>): string | undefined => {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return undefined
  }
}

/**
 * Describes this machine.
 *
 * @since 0.1.0
 * @category constructors
 */
export const describe = (): Machine => {
  const require = createRequire(import.meta.url)
  const nes = require("node-eventstore-client/package.json") as { version: string }
  // A snapshot of a commit outside the repository (built to measure while the tree is being edited)
  // names its commit in PHOTONPUMP_BENCH_COMMIT.
  const pinned = process.env["PHOTONPUMP_BENCH_COMMIT"]
  const commit = pinned ?? git("rev-parse", "--short", "HEAD") ?? "unknown"
  const changed = pinned === undefined && (git("status", "--porcelain", "--untracked-files=no") ?? "") !== ""
  return {
    cpuModel: cpuModel(),
    cores: Os.availableParallelism(),
    totalMemoryBytes: Os.totalmem(),
    os: `${Os.type()} ${Os.release()} (${Os.arch()})`,
    node: process.version,
    nodeEventStoreClient: nes.version,
    commit: changed ? `${commit}+changes` : commit,
    date: new Date().toISOString()
  }
}
