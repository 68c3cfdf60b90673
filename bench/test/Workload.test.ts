import { assert, describe, it } from "@effect/vitest"
import { usage } from "../src/Options.ts"
import { type Scale, serverWarmupRequests, type Workload, workloads } from "../src/Workload.ts"

const scales: ReadonlyArray<Scale> = ["full", "smoke"]

/** The streams a workload's measurement reads, which the server must hold first, and how many events of each. */
const eventsNeeded = (workload: Workload): ReadonlyArray<readonly [string, number]> => {
  const params = workload.params
  switch (params.family) {
    case "streamRead":
    case "catchUp":
    case "persistent":
    case "memoryRead":
      return [[params.stream, params.events], [params.warmup.stream, params.warmup.events]]
    default:
      return []
  }
}

/** What a workload does, whatever its size. */
const shape = (w: Workload) => `${w.kind} ${w.params.family}`

/** A workload's events, the figure that the smoke run shrinks. */
const size = (workload: Workload): number => {
  const params = workload.params
  switch (params.family) {
    case "appends":
      return params.operations * params.eventsPerOperation
    default:
      return params.events
  }
}

describe("workloads", () => {
  for (const scale of scales) {
    describe(`at ${scale} scale`, () => {
      const all = workloads(scale)

      it("have unique ids, each listed in --help", () => {
        const ids = all.map((w) => w.id)
        assert.strictEqual(new Set(ids).size, ids.length)
        const listed = usage.slice(usage.indexOf("--only"), usage.indexOf("--contenders"))
        for (const id of ids) assert.match(listed, new RegExp(`[\\s:]${id}[,)\\s]`), id)
      })

      it("seed every stream they read, with at least the events they read from it", () => {
        for (const workload of all) {
          for (const [stream, events] of eventsNeeded(workload)) {
            const seed = workload.seeds.find((s) => s.stream === stream)
            assert.isDefined(seed, `${workload.id} reads ${stream}`)
            assert.isAtLeast(seed!.events, events, `${workload.id}: ${stream}`)
          }
        }
      })

      it("never append more than 150,000 events in one measurement, warm-up included", () => {
        // Past that many the server's idempotency cache starts evicting (bench/NOTES.md, server finding 1).
        for (const workload of all) {
          const params = workload.params
          if (params.family !== "appends") continue
          const events = (params.warmupOperations + params.operations) * params.eventsPerOperation
          assert.isAtMost(events, 150_000, workload.id)
        }
      })

      it("send a fresh server as many requests untimed as it takes to pass its start-up, at full scale", () => {
        let checked = 0
        for (const workload of all) {
          const params = workload.params
          const warmupRequests = params.family === "appends"
            ? params.eventsPerOperation === 1 ? params.warmupOperations : undefined
            : params.family === "liveLatency"
            ? params.warmupEvents
            : params.family === "streamRead"
            ? params.warmupPasses * Math.ceil(params.warmup.events / params.pageSize)
            : params.family === "allRead"
            ? params.warmupPasses * Math.ceil(params.warmupEvents / params.pageSize)
            : undefined
          if (warmupRequests === undefined) continue
          checked++
          if (scale === "full") assert.isAtLeast(warmupRequests, serverWarmupRequests, workload.id)
          else assert.isAtMost(warmupRequests, size(workload), `${workload.id}: a smoke run stays short`)
        }
        // appends at concurrency 1, 10, 100 and 1,000, live delivery, iter, get and iterAll
        assert.strictEqual(checked, 8)
      })

      it("warm every append measurement up at its own concurrency, with at least a tenth of what it times", () => {
        for (const workload of all) {
          const params = workload.params
          if (params.family !== "appends") continue
          assert.isAtLeast(params.warmupOperations, params.concurrency, workload.id)
          assert.isAtLeast(params.warmupOperations, Math.ceil(params.operations / 10), workload.id)
        }
      })

      it("warm the server up over every $all page the read-all measurement times, as the raw socket must", () => {
        const readAll = all.find((w) => w.id === "read-all")
        assert.strictEqual(readAll?.params.family, "allRead")
        if (readAll?.params.family !== "allRead") return
        assert.strictEqual(readAll.params.warmupEvents, readAll.params.events)
        // Every measurement gets a fresh server seeded in order: the first stream seeded opens $all.
        assert.isAtLeast(readAll.seeds[0]?.events ?? 0, readAll.params.events)
      })

      it("warm up every memory read on the same, shortest stream, so the reads differ only in length", () => {
        const reads = all.filter((w) => w.params.family === "memoryRead")
        assert.strictEqual(reads.length, 3)
        const [small, large, longest] = reads.map((w) => w.params) as Array<
          Extract<Workload["params"], { family: "memoryRead" }>
        >
        for (const read of [large!, longest!]) assert.deepStrictEqual(read.warmup, small!.warmup)
        assert.strictEqual(small!.warmup.stream, small!.stream)
        assert.strictEqual(large!.events, small!.events * 10)
        assert.strictEqual(longest!.events, large!.events * 3)
      })

      it("run in a fresh process only where memory is measured", () => {
        for (const workload of all) assert.strictEqual(workload.isolated, workload.kind === "memory", workload.id)
      })
    })
  }

  it("are smaller in the smoke run, workload by workload", () => {
    const full = workloads("full")
    const smoke = workloads("smoke")
    assert.deepStrictEqual(smoke.map(shape), full.map(shape))
    full.forEach((workload, i) => assert.isBelow(size(smoke[i]!), size(workload), workload.id))
  })
})
