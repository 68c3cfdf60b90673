/**
 * The paging behind `iter` and `iterAll`, with a fetch function that counts its calls: the next page
 * is fetched while the consumer works on the current one, and never more than one page ahead.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as Paging from "../src/internal/Paging.ts"
import { eventually } from "./Assertions.ts"

/** Pages of `size` numbers up to `total`, counting the fetches started and finished. */
const counted = (total: number, size: number) => {
  const counts = { started: 0, finished: 0 }
  const stream = Paging.pages(0, (from: number) =>
    Effect.sync(() => {
      counts.started++
      const items = Array.from({ length: Math.min(size, total - from) }, (_, i) => from + i)
      counts.finished++
      return [items, from + size >= total ? undefined : from + size] as const
    }))
  return { counts, stream }
}

describe("Paging", () => {
  it.effect("delivers every item of every page, in order", () =>
    Effect.gen(function*() {
      const { counts, stream } = counted(95, 10)
      const items = yield* Stream.runCollect(stream)
      assert.deepStrictEqual(items, Array.from({ length: 95 }, (_, i) => i))
      assert.strictEqual(counts.started, 10)
    }))

  it.effect("skips empty pages without ending early", () =>
    Effect.gen(function*() {
      const pages: Record<number, readonly [ReadonlyArray<string>, number | undefined]> = {
        0: [["a"], 1],
        1: [[], 2],
        2: [[], 3],
        3: [["b"], undefined]
      }
      const items = yield* Stream.runCollect(Paging.pages(0, (n: number) => Effect.succeed(pages[n]!)))
      assert.deepStrictEqual(items, ["a", "b"])
    }))

  it.live("fetches the next page while the consumer works, and no further", () =>
    Effect.gen(function*() {
      const { counts, stream } = counted(1000, 10)
      const consuming = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const fiber = yield* stream.pipe(
        Stream.runForEach((n) =>
          n === 0
            ? Effect.andThen(Deferred.succeed(consuming, undefined), Deferred.await(release))
            : Effect.void
        ),
        Effect.forkChild
      )
      yield* Deferred.await(consuming)
      // While the consumer holds the first item, the second page is fetched...
      yield* eventually(() => counts.finished === 2, "the second page")
      // ...and nothing beyond it, however long the consumer takes.
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.strictEqual(counts.started, 2)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(fiber)
      assert.strictEqual(counts.started, 100)
    }))

  it.effect("stops fetching when the consumer stops", () =>
    Effect.gen(function*() {
      const { counts, stream } = counted(1000, 10)
      const items = yield* Stream.runCollect(Stream.take(stream, 15))
      assert.strictEqual(items.length, 15)
      assert.isAtMost(counts.started, 3)
    }))

  it.effect("fails the stream with the fetch's error", () =>
    Effect.gen(function*() {
      const stream = Paging.pages(0, (n: number) =>
        n === 0 ? Effect.succeed([[1, 2], 1] as const) : Effect.fail("page two is gone" as const))
      const error = yield* Effect.flip(Stream.runCollect(stream))
      assert.strictEqual(error, "page two is gone")
    }))
})
