/**
 * The paging behind `iter` and `iterAll`, over a source whose replies the test hands over itself (or
 * lets a fake server send in a later microtask): the next page is asked for as soon as a reply arrives,
 * before it is decoded; once the read goes on, guessed pages are asked for in batches, never past the
 * end the replies report; never more than the read-ahead waits; a consumer that stops or is
 * interrupted leaves no request in flight; errors come after the pages before them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as Paging from "../src/internal/Paging.ts"
import { eventually } from "./Assertions.ts"

/** A page as the fake server sends it: its items, where the next one starts, and the last item there is. */
interface Reply {
  readonly items: ReadonlyArray<number>
  readonly next: number | undefined
  readonly last: number
}

/** A guess of a page further, short of the last item the latest reply reports (as `iter` guesses). */
const guessShortOfTheEnd = (size: number) => (cursor: number, last: number | undefined): number | undefined =>
  last === undefined || cursor + size <= last ? cursor + size : undefined

/** The runs of requests made one right after the other in `log`: the requests each write carries. */
const requestRuns = (log: ReadonlyArray<string>): Array<Array<string>> => {
  const runs: Array<Array<string>> = []
  let run: Array<string> = []
  for (const line of log) {
    if (line.startsWith("request ")) {
      run.push(line.slice("request ".length))
    } else if (run.length > 0) {
      runs.push(run)
      run = []
    }
  }
  if (run.length > 0) runs.push(run)
  return runs
}

interface Sent {
  readonly cursor: number
  readonly settle: (exit: Exit.Exit<Reply, string>) => void
  cancelled: boolean
  answered: boolean
}

/**
 * A source of pages of `size` numbers up to `total` (the page at cursor `n` holds n, n+1, ...). With
 * `auto`, each request is answered in a later microtask; otherwise the test answers with `answer`.
 * `failAt` makes the request of that cursor fail; `unsendable` makes it fail to be sent at all.
 */
const fakeSource = (options: {
  readonly total: number
  readonly size: number
  readonly auto: boolean
  readonly failAt?: number
  readonly unsendable?: number
  readonly errorReplyAt?: number
  readonly guess?: (cursor: number, last: number | undefined) => number | undefined
  /** Logs `written <cursor>` from a microtask queued by each request, as the connection's writer runs. */
  readonly writer?: boolean
  /** Gives the source a `size`: this many bytes per item of a reply. */
  readonly bytesPerItem?: number
}) => {
  const sent: Array<Sent> = []
  const log: Array<string> = []
  const page = (cursor: number): Reply => {
    const end = Math.min(cursor + options.size, options.total)
    return {
      items: Array.from({ length: end - cursor }, (_, i) => cursor + i),
      next: end >= options.total ? undefined : end,
      last: options.total - 1
    }
  }
  const answer = (entry: Sent): void => {
    if (entry.cancelled || entry.answered) return
    entry.answered = true
    log.push(`reply ${entry.cursor}`)
    entry.settle(entry.cursor === options.failAt ? Exit.fail(`request ${entry.cursor} failed`) : Exit.succeed(page(entry.cursor)))
  }
  const source: Paging.Source<Reply, number, number, string> = {
    request: (cursor, settle) => {
      if (cursor === options.unsendable) return Result.fail(`request ${cursor} could not be sent`)
      log.push(`request ${cursor}`)
      const entry: Sent = { cursor, settle, cancelled: false, answered: false }
      sent.push(entry)
      if (options.writer) queueMicrotask(() => log.push(`written ${cursor}`))
      if (options.auto) queueMicrotask(() => answer(entry))
      return Result.succeed({
        cancel: () => {
          if (!entry.answered) entry.cancelled = true
        }
      })
    },
    next: (reply) => reply.next,
    decode: (reply, cursor) => {
      log.push(`decode ${cursor}`)
      return cursor === options.errorReplyAt ? Exit.fail(`page ${cursor} is an error`) : Exit.succeed(reply.items)
    },
    guess: options.guess,
    limit: (reply) => reply.last,
    size: options.bytesPerItem === undefined ? undefined : (reply) => reply.items.length * options.bytesPerItem!
  }
  const inFlight = () => sent.filter((entry) => !entry.answered && !entry.cancelled).length
  return { source, sent, log, inFlight, answer: (index: number) => answer(sent[index]!) }
}

/**
 * Consumes `stream` in a fiber of its own, holding on to its first item until `release`, which then
 * lets it go on to the end and waits for it.
 */
const holdingTheFirstItem = Effect.fnUntraced(function*(stream: Stream.Stream<number, string>) {
  let holding = false
  const released = yield* Deferred.make<void>()
  const fiber = yield* stream.pipe(
    Stream.runForEach((n) =>
      n === 0
        ? Effect.andThen(
          Effect.sync(() => {
            holding = true
          }),
          Deferred.await(released)
        )
        : Effect.void
    ),
    Effect.forkChild
  )
  return {
    holding: () => holding,
    release: Effect.andThen(Deferred.succeed(released, undefined), Fiber.join(fiber))
  }
})

describe("Paging", () => {
  it.effect("delivers every item of every page, in order", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 95, size: 10, auto: true })
      const items = yield* Stream.runCollect(Paging.pages(0, fake.source))
      assert.deepStrictEqual(items, Array.from({ length: 95 }, (_, i) => i))
      assert.strictEqual(fake.sent.length, 10)
    }))

  it.effect("skips empty pages without ending early", () =>
    Effect.gen(function*() {
      const replies: Record<number, Reply> = {
        0: { items: [100], next: 1, last: 3 },
        1: { items: [], next: 2, last: 3 },
        2: { items: [], next: 3, last: 3 },
        3: { items: [200], next: undefined, last: 3 }
      }
      const source: Paging.Source<Reply, number, number, never> = {
        request: (cursor, settle) => {
          queueMicrotask(() => settle(Exit.succeed(replies[cursor]!)))
          return Result.succeed({ cancel: () => {} })
        },
        next: (reply) => reply.next,
        decode: (reply) => Exit.succeed(reply.items)
      }
      assert.deepStrictEqual(yield* Stream.runCollect(Paging.pages(0, source)), [100, 200])
    }))

  it.live("asks for the next page when a reply arrives, before decoding it", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 30, size: 10, auto: false })
      const fiber = yield* Effect.forkChild(Stream.runCollect(Paging.pages(0, fake.source)))
      yield* eventually(() => fake.sent.length === 1, "the first request")
      fake.answer(0)
      // Asked for from the reply's callback itself: the first page is not decoded yet.
      assert.deepStrictEqual(fake.log, ["request 0", "reply 0", "request 10"])
      yield* eventually(() => fake.log.includes("decode 0"), "the first page decoded")
      fake.answer(1)
      assert.deepStrictEqual(fake.log.slice(4), ["reply 10", "request 20"])
      fake.answer(2)
      assert.deepStrictEqual(yield* Fiber.join(fiber), Array.from({ length: 30 }, (_, i) => i))
      assert.strictEqual(fake.sent.length, 3)
    }))

  it.live("reads ahead at most `readAhead` pages (4 by default) while the consumer holds one", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: true })
      const consumer = yield* holdingTheFirstItem(Paging.pages(0, fake.source))
      yield* eventually(() => consumer.holding() && fake.sent.length === 5 && fake.inFlight() === 0, "four pages read ahead")
      // However long the consumer takes, nothing more is asked for, and nothing more decoded.
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.strictEqual(fake.sent.length, 5)
      assert.deepStrictEqual(fake.log.filter((line) => line.startsWith("decode")), ["decode 0"])
      yield* consumer.release
      assert.strictEqual(fake.sent.length, 100)
    }))

  it.live("a page taken from the read-ahead is decoded only once the request it made room for is written", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: false, writer: true })
      const consumer = yield* holdingTheFirstItem(Stream.take(Paging.pages(0, fake.source), 30))
      yield* eventually(() => fake.sent.length === 1, "the first request")
      fake.answer(0)
      yield* eventually(consumer.holding, "the consumer holding the first page")
      // The next four pages arrive while the consumer holds the first: the read-ahead is full.
      for (let i = 1; i <= 4; i++) fake.answer(i)
      assert.strictEqual(fake.sent.length, 5)
      yield* consumer.release
      // Taking the second page made room for the sixth: its request is written before the second
      // page is decoded, not once the consumer has gone through it.
      const requested = fake.log.indexOf("request 50")
      const written = fake.log.indexOf("written 50")
      const decoded = fake.log.indexOf("decode 10")
      assert.isTrue(requested >= 0 && requested < written && written < decoded, fake.log.join(", "))
    }))

  it.live("a consumer that stops after one page leaves no request in flight", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: false })
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(Paging.pages(0, fake.source), 10)))
      yield* eventually(() => fake.sent.length === 1, "the first request")
      fake.answer(0)
      const items = yield* Fiber.join(fiber)
      assert.deepStrictEqual(items, Array.from({ length: 10 }, (_, i) => i))
      // The second page was asked for when the first arrived; the consumer's end cancelled it.
      assert.strictEqual(fake.sent.length, 2)
      assert.isTrue(fake.sent[1]!.cancelled)
      assert.strictEqual(fake.inFlight(), 0)
    }))

  it.live("interrupting the consumer while it waits cancels the request in flight", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: false })
      const seen: Array<number> = []
      const fiber = yield* Paging.pages(0, fake.source).pipe(
        Stream.runForEach((n) =>
          Effect.sync(() => {
            seen.push(n)
          })
        ),
        Effect.forkChild
      )
      yield* eventually(() => fake.sent.length === 1, "the first request")
      fake.answer(0)
      yield* eventually(() => seen.length === 10 && fake.sent.length === 2, "the first page, and the second asked for")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(fake.sent[1]!.cancelled)
      assert.strictEqual(fake.inFlight(), 0)
      // A reply that would still come is ignored.
      fake.answer(1)
      assert.strictEqual(fake.sent.length, 2)
    }))

  it.effect("a failed request fails the stream after every item of the pages before it", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: true, failAt: 20 })
      const seen: Array<number> = []
      const error = yield* Effect.flip(
        Stream.runForEach(Paging.pages(0, fake.source), (n) =>
          Effect.sync(() => {
            seen.push(n)
          }))
      )
      assert.strictEqual(error, "request 20 failed")
      assert.deepStrictEqual(seen, Array.from({ length: 20 }, (_, i) => i))
      // Nothing is asked for after a failure.
      assert.strictEqual(fake.sent.length, 3)
    }))

  it.effect("a request that cannot be sent fails the stream in its place", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: true, unsendable: 10 })
      const seen: Array<number> = []
      const error = yield* Effect.flip(
        Stream.runForEach(Paging.pages(0, fake.source), (n) =>
          Effect.sync(() => {
            seen.push(n)
          }))
      )
      assert.strictEqual(error, "request 10 could not be sent")
      assert.deepStrictEqual(seen, Array.from({ length: 10 }, (_, i) => i))
    }))

  it.effect("a reply that decodes to an error fails the stream after the pages before it", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: true, errorReplyAt: 10 })
      const seen: Array<number> = []
      const error = yield* Effect.flip(
        Stream.runForEach(Paging.pages(0, fake.source), (n) =>
          Effect.sync(() => {
            seen.push(n)
          }))
      )
      assert.strictEqual(error, "page 10 is an error")
      assert.deepStrictEqual(seen, Array.from({ length: 10 }, (_, i) => i))
      assert.strictEqual(fake.inFlight(), 0)
    }))

  it.live("with a guess, asks for the page after next before the next one arrives", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 40, size: 10, auto: false, guess: guessShortOfTheEnd(10) })
      const fiber = yield* Effect.forkChild(Stream.runCollect(Paging.pages(0, fake.source)))
      yield* eventually(() => fake.sent.length === 2, "the first page and the guess after it")
      assert.deepStrictEqual(fake.sent.map((entry) => entry.cursor), [0, 10])
      // Replies out of order: the guessed page waits for the page before it.
      fake.answer(1)
      assert.deepStrictEqual(fake.sent.map((entry) => entry.cursor), [0, 10])
      fake.answer(0)
      yield* eventually(() => fake.sent.length === 4, "the next guesses")
      fake.answer(2)
      fake.answer(3)
      assert.deepStrictEqual(yield* Fiber.join(fiber), Array.from({ length: 40 }, (_, i) => i))
      // Nothing asked for twice, nothing past the end.
      assert.deepStrictEqual(fake.sent.map((entry) => entry.cursor), [0, 10, 20, 30])
    }))

  it.effect("drops the pages of wrong guesses unseen, and asks for the right ones", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 95, size: 10, auto: true, guess: (cursor) => cursor + 7 })
      const items = yield* Stream.runCollect(Paging.pages(0, fake.source))
      assert.deepStrictEqual(items, Array.from({ length: 95 }, (_, i) => i))
      const right = fake.sent.filter((entry) => entry.cursor % 10 === 0).map((entry) => entry.cursor)
      assert.deepStrictEqual(right, Array.from({ length: 10 }, (_, i) => i * 10))
      assert.strictEqual(fake.inFlight(), 0)
    }))

  it.live("with a guess, a consumer that stops leaves no request in flight", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: false, guess: (cursor) => cursor + 10 })
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(Paging.pages(0, fake.source), 10)))
      yield* eventually(() => fake.sent.length === 2, "the first page and the guess after it")
      fake.answer(0)
      assert.deepStrictEqual(yield* Fiber.join(fiber), Array.from({ length: 10 }, (_, i) => i))
      assert.isAtLeast(fake.sent.length, 2)
      assert.strictEqual(fake.inFlight(), 0)
    }))

  it.effect("a failed guessed page fails the stream only when the guess was right, in its place", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 1000, size: 10, auto: true, failAt: 30, guess: (cursor) => cursor + 10 })
      const seen: Array<number> = []
      const error = yield* Effect.flip(
        Stream.runForEach(Paging.pages(0, fake.source), (n) =>
          Effect.sync(() => {
            seen.push(n)
          }))
      )
      assert.strictEqual(error, "request 30 failed")
      assert.deepStrictEqual(seen, Array.from({ length: 30 }, (_, i) => i))
      assert.strictEqual(fake.inFlight(), 0)
    }))

  it.live("with a guess, once the read goes on past its first page, asks for pages two at a time, in one write", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 100, size: 10, auto: false, writer: true, guess: guessShortOfTheEnd(10) })
      const fiber = yield* Effect.forkChild(Stream.runCollect(Paging.pages(0, fake.source)))
      for (let i = 0; i < 10; i++) {
        yield* eventually(() => fake.sent.length > i, `request ${i}`)
        fake.answer(i)
      }
      assert.deepStrictEqual(yield* Fiber.join(fiber), Array.from({ length: 100 }, (_, i) => i))
      // Each pair is asked for in one turn, before the writer runs: one write per pair.
      assert.deepStrictEqual(requestRuns(fake.log), [["0", "10"], ["20", "30"], ["40", "50"], ["60", "70"], ["80", "90"]])
    }))

  it.effect("a read that ends with its first page asks for two pages at most, however large the batch", () =>
    Effect.gen(function*() {
      for (const options of [undefined, { readAhead: 8, batch: 4 }]) {
        const fake = fakeSource({ total: 5, size: 10, auto: true, guess: (cursor) => cursor + 10 })
        assert.deepStrictEqual(yield* Stream.runCollect(Paging.pages(0, fake.source, options)), [0, 1, 2, 3, 4])
        assert.deepStrictEqual(fake.sent.map((entry) => entry.cursor), [0, 10])
        assert.strictEqual(fake.inFlight(), 0)
      }
    }))

  it.effect("guesses no page past the end the latest reply reports", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 95, size: 10, auto: true, guess: guessShortOfTheEnd(10) })
      assert.deepStrictEqual(yield* Stream.runCollect(Paging.pages(0, fake.source)), Array.from({ length: 95 }, (_, i) => i))
      assert.deepStrictEqual(fake.sent.map((entry) => entry.cursor), Array.from({ length: 10 }, (_, i) => i * 10))
    }))

  it.live("with a byte budget, reads ahead only the pages it holds by the latest reply's size, two at least", () =>
    Effect.gen(function*() {
      // Pages of 100 bytes: 400 bytes hold four, asked for two at a time (with three waiting behind the
      // page the consumer holds, a batch no longer fits); of 1,000 bytes: none fit, and two are read
      // ahead, one at a time; without a budget, the sixteen of `readAhead`, eight at a time.
      const cases = [[10, 400, 4, 2], [100, 400, 3, 1], [10, undefined, 16, 8]] as const
      for (const [bytesPerItem, readAheadBytes, asked, batch] of cases) {
        const fake = fakeSource({ total: 1000, size: 10, auto: true, guess: guessShortOfTheEnd(10), writer: true, bytesPerItem })
        const consumer = yield* holdingTheFirstItem(
          Paging.pages(0, fake.source, { readAhead: 16, batch: 8, readAheadBytes })
        )
        yield* eventually(() => consumer.holding() && fake.inFlight() === 0, "the read-ahead full")
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        // The page the consumer holds, and the pages waiting behind it.
        assert.strictEqual(fake.sent.length, asked, `${bytesPerItem * 10} bytes a page, budget ${readAheadBytes}`)
        yield* consumer.release
        assert.strictEqual(fake.sent.length, 100)
        const runs = requestRuns(fake.log.filter((line) => !line.startsWith("reply") && !line.startsWith("decode")))
        // After the first page and its guess, and the requests the first reply let through at once.
        assert.strictEqual(Math.max(...runs.slice(2).map((run) => run.length)), batch)
      }
    }))

  it.live("without a guess, one request is in flight at a time however large the batch", () =>
    Effect.gen(function*() {
      const fake = fakeSource({ total: 50, size: 10, auto: false })
      const fiber = yield* Effect.forkChild(Stream.runCollect(Paging.pages(0, fake.source, { readAhead: 4, batch: 4 })))
      for (let i = 0; i < 5; i++) {
        yield* eventually(() => fake.sent.length > i, `request ${i}`)
        assert.strictEqual(fake.inFlight(), 1)
        fake.answer(i)
      }
      assert.deepStrictEqual(yield* Fiber.join(fiber), Array.from({ length: 50 }, (_, i) => i))
      assert.strictEqual(fake.sent.length, 5)
    }))
})
