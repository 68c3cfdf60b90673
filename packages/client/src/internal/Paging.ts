/**
 * Streams that page themselves, with the client and the server working at the same time: when a
 * page's reply arrives, the cursor of the page after it is read from the reply's top-level fields
 * (without decoding its events) and that page is asked for at once, so that the server prepares it
 * while the client decodes and the consumer handles the current one.
 *
 * A source that can guess where the page after next starts (stream reads: a page further) has that
 * page asked for too, before the next page's reply confirms the guess, so that the server finds the
 * next request waiting when it has sent a reply; a page asked for on a wrong guess is dropped unseen.
 *
 * Once a reply has shown that the read goes on past its first page, requests go out `batch` at a
 * time, in one socket write: a request per page would cost the client a socket write and the server a
 * wake-up and a read for every page, which on a virtual machine cost more than decoding the page
 * (bench/NOTES.md, phase 7). A read that ends with its first page asks for two pages at most.
 *
 * The read-ahead is bounded: at most `readAhead` pages are asked for or waiting undecoded, and, with
 * `readAheadBytes`, no more than that many bytes of replies hold by the size of the latest (two pages
 * at least). When they are all waiting, the next request is held back until the consumer takes one,
 * so a slow consumer holds at most that many pages (plus the one it works on) and memory stays flat
 * however long the stream is.
 *
 * A request made while the consumer takes a page is written before the page is decoded: the consumer
 * gives way for one microtask, after the connection's writer (`Connection.yieldToWriter`).
 *
 * Requests are callbacks through the connection (`Connection.requestCallback`), with no fiber per
 * page. A consumer that stops (its scope closes: `Stream.take` has what it wants, an error, an
 * interruption) cancels the request in flight and drops the replies waiting: nothing is left behind.
 * Errors keep their place: a failed request or an error reply fails the stream after every event of
 * the pages before it.
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Connection from "./Connection.ts"

/**
 * A request in flight, as the source's `request` returns it.
 *
 * @internal
 */
export interface InFlight {
  /** Forgets the request: `settle` is not called for it after this. */
  readonly cancel: () => void
}

/**
 * Where pages come from: how to ask for one, where the next one starts, and how to read one.
 *
 * @internal
 */
export interface Source<R, S, A, E> {
  /**
   * Asks for the page at `cursor`; its reply (or why there is none) goes to `settle`, later, from a
   * callback that must not block (never from within `request` itself). Fails when the request cannot
   * be sent.
   */
  readonly request: (cursor: S, settle: (exit: Exit.Exit<R, E>) => void) => Result.Result<InFlight, E>
  /**
   * Where the page after this reply starts, read cheaply (before `decode`); `undefined` when there is
   * none: the last page, or a reply that is not a page (`decode` reports it).
   */
  readonly next: (reply: R, cursor: S) => S | undefined
  /** The reply's items, or the error it stands for. */
  readonly decode: (reply: R, cursor: S) => Exit.Exit<ReadonlyArray<A>, E>
  /**
   * Where the page after the page at `cursor` probably starts, before its reply says (for a stream
   * read forwards: `cursor` plus the page size, unless events are missing). With it, the pages after
   * the next one are asked for ahead, so that the server always has the next request waiting; a page
   * asked for on a wrong guess is dropped unseen, and the right one asked for. Cursors are compared
   * with `===`: primitives only. `limit` is what `limit` read from the last reply received in order
   * (`undefined` before it, or without `limit`): no page past it should be guessed.
   */
  readonly guess?: ((cursor: S, limit: S | undefined) => S | undefined) | undefined
  /**
   * Where a reply says the pages end (for a stream read forwards: the stream's last event number), read
   * once per reply, in order, for `guess`.
   */
  readonly limit?: ((reply: R) => S | undefined) | undefined
  /** How many bytes a reply holds, for `Options.readAheadBytes`. */
  readonly size?: ((reply: R) => number) | undefined
}

/**
 * Options of `pages`.
 *
 * @internal
 */
export interface Options<A, E> {
  /** The most pages asked for or waiting undecoded (default 4). */
  readonly readAhead?: number | undefined
  /**
   * How many requests go out together once the read has gone on past its first page (default 2; at
   * most `readAhead`). A source without `guess` has one request in flight at most, and batches none.
   */
  readonly batch?: number | undefined
  /**
   * With the source's `size`: the read-ahead holds no more pages than this many bytes of replies,
   * judged by the latest reply received in order (but at least 2 pages, and never more than
   * `readAhead`), and its batches are at most half of it. Pages of large events are then read fewer
   * at a time, and pages of small ones more (default: no limit but `readAhead`).
   */
  readonly readAheadBytes?: number | undefined
  /** Wraps every pull (a tracing span, for instance). */
  readonly wrap?: ((pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E>) => Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E>) | undefined
}

/**
 * A stream of the items of successive pages, starting at `first`. The first page is asked for when the
 * stream starts.
 *
 * @internal
 */
export const pages = <R, S, A, E>(first: S, source: Source<R, S, A, E>, options?: Options<A, E>): Stream.Stream<A, E> =>
  Stream.fromChannel(
    Channel.fromTransform((_upstream, scope) =>
      Effect.suspend(() => {
        const pager = new Pager(source, options?.readAhead ?? 4, options?.batch ?? 2, options?.readAheadBytes)
        const wrap = options?.wrap
        return Effect.map(Scope.addFinalizer(scope, pager.close), () => {
          pager.start(first)
          return wrap === undefined ? pager.pull : wrap(pager.pull)
        })
      })
    )
  )

/** A reply received and not decoded yet, or the failure of a request. */
class Received<R, S, E> {
  readonly exit: Exit.Exit<R, E>
  readonly cursor: S
  constructor(exit: Exit.Exit<R, E>, cursor: S) {
    this.exit = exit
    this.cursor = cursor
  }
}

type PagePull<A, E> = Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E>

/** A page asked for: its request, and its reply when it came before the replies of the pages before it. */
class Asked<R, S, E> {
  readonly cursor: S
  request: InFlight | undefined = undefined
  exit: Exit.Exit<R, E> | undefined = undefined
  constructor(cursor: S) {
    this.cursor = cursor
  }
}

class Pager<R, S, A, E> {
  readonly source: Source<R, S, A, E>
  readonly maxReadAhead: number
  readonly maxBatch: number
  readonly readAheadBytes: number | undefined
  /** The read-ahead and batch in pages: the most, or fewer for large replies (`readAheadBytes`). */
  readAhead: number
  batch: number
  /** Whether a reply has shown that the read goes on past its first page; until then the window is 2. */
  continues = false
  /** What `source.limit` read from the last reply received in order, for `guess`. */
  limit: S | undefined = undefined
  /** Replies received, in order, not handed to the consumer yet. */
  readonly received: Array<Received<R, S, E>> = []
  /**
   * Pages asked for and not handed over to `received` yet, in order: the first is the page after the
   * last one received; the others (with `guess`) are guesses, confirmed or dropped as replies come.
   */
  readonly asked: Array<Asked<R, S, E>> = []
  /** The next page's cursor, known and not asked for yet (the read-ahead was full). */
  heldBack: S | undefined = undefined
  /** No page after the last one received (its end, or a failure). */
  ended = false
  closed = false
  /** The consumer, when it waits for a reply. */
  waiter: ((pull: PagePull<A, E>) => void) | undefined = undefined
  /** A reply taken by the consumer, to decode once the request it made room for has been written. */
  taken: Received<R, S, E> | undefined = undefined

  constructor(source: Source<R, S, A, E>, readAhead: number, batch: number, readAheadBytes: number | undefined) {
    this.source = source
    this.maxReadAhead = Math.max(1, readAhead)
    this.maxBatch = Math.min(this.maxReadAhead, Math.max(1, batch))
    this.readAheadBytes = readAheadBytes
    this.readAhead = this.maxReadAhead
    this.batch = this.maxBatch
  }

  /** Fits the read-ahead to `readAheadBytes` by the size of `reply`, the latest received in order. */
  fitTo(reply: R): void {
    const budget = this.readAheadBytes
    const size = this.source.size
    if (budget === undefined || size === undefined) return
    const pages = Math.floor(budget / Math.max(1, size(reply)))
    this.readAhead = Math.min(this.maxReadAhead, Math.max(2, pages))
    this.batch = Math.min(this.maxBatch, Math.max(1, Math.floor(this.readAhead / 2)))
  }

  readonly pull: PagePull<A, E> = Effect.suspend(() => this.take())

  readonly #stopWaiting = Effect.sync(() => {
    this.waiter = undefined
  })

  /**
   * Waits for a reply. `take` found none, but the consumer's fiber may have yielded to its scheduler
   * since (every so many steps it does), and a reply that came meanwhile found no one to wake: it is
   * looked for again here, or the consumer would wait for a wake-up that already went by, forever.
   */
  readonly #wait: PagePull<A, E> = Effect.callback<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done>((resume) => {
    if (this.received.length > 0 || this.taken !== undefined || (this.asked.length === 0 && this.heldBack === undefined)) {
      return resume(this.pull)
    }
    this.waiter = resume
    return this.#stopWaiting
  })

  /**
   * Lets the connection's writer send the request just made before the consumer decodes: once it has a
   * page, the consumer goes on through the page and every event of it without giving way, and the
   * server would wait for the request all that time.
   */
  readonly #letWriterGo: PagePull<A, E> = Effect.andThen(Connection.yieldToWriter, this.pull)

  readonly close: Effect.Effect<void> = Effect.sync(() => {
    this.closed = true
    this.cancelAsked()
    this.heldBack = undefined
    this.received.length = 0
    this.taken = undefined
    this.waiter = undefined
  })

  start(first: S): void {
    this.heldBack = first
    this.fill()
  }

  cancelAsked(): void {
    const asked = this.asked
    for (let i = 0; i < asked.length; i++) asked[i]!.request?.cancel()
    asked.length = 0
  }

  /**
   * Asks for pages while the read-ahead has room: the next page when it is known, then, with `guess`,
   * the pages after it, waiting until `batch` of them can go out together. A guess that cannot be sent
   * is given up quietly; the next page's failure to be sent takes its place in the stream.
   */
  fill(): void {
    const guess = this.source.guess
    // Until a reply shows the read goes on: the first page and one guess. Without a guess there is one
    // request to make at a time, and no batch to wait for; with one, waiting cannot stall the read:
    // with nothing in flight or waiting, the whole window is free.
    const window = this.continues ? this.readAhead : Math.min(2, this.readAhead)
    const batch = this.continues && guess !== undefined ? this.batch : 1
    if (window - this.received.length - this.asked.length < batch) return
    while (!this.ended && !this.closed && this.received.length + this.asked.length < window) {
      const heldBack = this.heldBack
      let cursor: S | undefined
      if (heldBack !== undefined) {
        cursor = heldBack
        this.heldBack = undefined
      } else if (guess !== undefined && this.asked.length > 0) {
        cursor = guess(this.asked[this.asked.length - 1]!.cursor, this.limit)
        if (cursor === undefined) return
      } else {
        return
      }
      const entry = new Asked<R, S, E>(cursor)
      this.asked.push(entry)
      const sent = this.source.request(cursor, (exit) => this.settle(entry, exit))
      if (Result.isFailure(sent)) {
        this.asked.pop()
        if (heldBack === undefined) return
        this.received.push(new Received(Exit.fail(sent.failure), cursor))
        this.ended = true
        this.wake()
        return
      }
      entry.request = sent.success
    }
  }

  settle(entry: Asked<R, S, E>, exit: Exit.Exit<R, E>): void {
    if (this.closed) return
    const asked = this.asked
    const index = asked.indexOf(entry)
    if (index < 0) return
    entry.exit = exit
    // A reply that came before the replies of the pages before it waits for them.
    if (index > 0) return
    while (asked.length > 0 && asked[0]!.exit !== undefined) {
      const first = asked.shift()!
      const firstExit = first.exit!
      this.received.push(new Received(firstExit, first.cursor))
      let next: S | undefined
      if (Exit.isSuccess(firstExit)) {
        next = this.source.next(firstExit.value, first.cursor)
        if (next !== undefined) {
          this.limit = this.source.limit?.(firstExit.value)
          this.fitTo(firstExit.value)
          this.continues = true
        }
      }
      if (next === undefined) {
        this.ended = true
        this.cancelAsked()
        break
      }
      // The guess was right: its page is the next one.
      if (asked.length > 0 && asked[0]!.cursor === next) continue
      this.cancelAsked()
      this.heldBack = next
    }
    this.fill()
    this.wake()
  }

  /**
   * Resumes a waiting consumer, in a microtask rather than at once: resumed here, it would decode the
   * page before the connection's writer (woken by `fill`) has sent the next request.
   */
  wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    queueMicrotask(() => waiter(this.pull))
  }

  take(): PagePull<A, E> {
    while (true) {
      let entry = this.taken
      if (entry !== undefined) {
        this.taken = undefined
      } else {
        entry = this.received.shift()
        if (entry === undefined) {
          return this.asked.length === 0 && this.heldBack === undefined ? Cause.done() : this.#wait
        }
        // A place in the read-ahead is free: ask for the next page before decoding this one.
        const asked = this.asked.length
        this.fill()
        if (this.asked.length > asked) {
          this.taken = entry
          return this.#letWriterGo
        }
      }
      const exit = entry.exit
      if (Exit.isFailure(exit)) return Exit.failCause(exit.cause)
      const items = this.source.decode(exit.value, entry.cursor)
      if (Exit.isFailure(items)) return Exit.failCause(items.cause)
      if (items.value.length > 0) return items as Exit.Exit<Arr.NonEmptyReadonlyArray<A>, E>
    }
  }
}
