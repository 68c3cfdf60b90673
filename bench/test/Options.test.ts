import { assert, describe, it } from "@effect/vitest"
import { parse } from "../src/Options.ts"

describe("Options.parse", () => {
  it("runs everything at full size by default: 5 rounds after 1 warm-up round, 3 of the memory workloads, every contender", () => {
    const options = parse([])
    assert.deepStrictEqual(options, {
      scale: "full",
      rounds: 5,
      warmup: 1,
      memoryRounds: 3,
      only: undefined,
      contenders: ["photonpump", "node-eventstore-client", "raw-socket", "raw-socket-one-page"],
      out: undefined,
      cpuProf: undefined,
      cpuProfSections: undefined,
      docs: true
    })
  })

  it("makes --smoke one round without a warm-up, unless told otherwise", () => {
    const smoke = parse(["--smoke"])
    assert.strictEqual(smoke?.scale, "smoke")
    assert.strictEqual(smoke?.rounds, 1)
    assert.strictEqual(smoke?.warmup, 0)
    assert.strictEqual(smoke?.memoryRounds, 1)
    const told = parse(["--smoke", "--rounds", "3", "--warmup", "2"])
    assert.strictEqual(told?.rounds, 3)
    assert.strictEqual(told?.warmup, 2)
  })

  it("reads every option", () => {
    const options = parse([
      "--only",
      "read-iter,appends-c100",
      "--memory-rounds",
      "2",
      "--out",
      "/tmp/results",
      "--cpu-prof",
      "/tmp/prof",
      "--cpu-prof-sections",
      "/tmp/sections",
      "--no-docs"
    ])
    assert.deepStrictEqual(options?.only, ["read-iter", "appends-c100"])
    assert.strictEqual(options?.memoryRounds, 2)
    assert.strictEqual(options?.out, "/tmp/results")
    assert.strictEqual(options?.cpuProf, "/tmp/prof")
    assert.strictEqual(options?.cpuProfSections, "/tmp/sections")
    assert.isFalse(options?.docs)
  })

  it("keeps the contenders in the reports' order, whatever the order asked for", () => {
    assert.deepStrictEqual(parse(["--contenders", "raw-socket,photonpump"])?.contenders, ["photonpump", "raw-socket"])
  })

  it("answers --help with no options", () => {
    assert.isUndefined(parse(["--rounds", "3", "--help"]))
  })

  it("rejects what it does not know, a missing value and a count out of range", () => {
    assert.throws(() => parse(["--fast"]), "unknown option --fast")
    assert.throws(() => parse(["--contenders", "photonpump,eventstore-db"]), "unknown contender eventstore-db")
    assert.throws(() => parse(["--rounds"]), "--rounds needs a value")
    assert.throws(() => parse(["--rounds", "0"]), "--rounds needs a whole number ≥ 1")
    assert.throws(() => parse(["--rounds", "2.5"]), "--rounds needs a whole number ≥ 1")
    assert.throws(() => parse(["--warmup", "-1"]), "--warmup needs a whole number ≥ 0")
    assert.throws(() => parse(["--memory-rounds", "many"]), "--memory-rounds needs a whole number ≥ 1")
  })
})
