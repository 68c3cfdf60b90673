/**
 * Streams that page themselves, with the client and the server working at the same time: when a
 * page's reply arrives, the cursor of the page after it is read from the reply's top-level fields
 * (without decoding its events) and that page is asked for at once, so that the server prepares it
 * while the client decodes and the consumer handles the current one.
 *
 * The read-ahead is bounded: at most `readAhead` replies wait undecoded. When they are all waiting,
 * the next request is held back until the consumer takes one, so a slow consumer holds at most that
 * many pages (plus the one it works on) and memory stays flat however long the stream is.
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
}

/**
 * Options of `pages`.
 *
 * @internal
 */
export interface Options<A, E> {
  /** The most replies waiting undecoded (default 2). */
  readonly readAhead?: number | undefined
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
        const pager = new Pager(source, options?.readAhead ?? 2)
        const wrap = options?.wrap
        return Effect.map(Scope.addFinalizer(scope, pager.close), () => {
          pager.ask(first)
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

class Pager<R, S, A, E> {
  readonly source: Source<R, S, A, E>
  readonly readAhead: number
  /** Replies received, in order, not handed to the consumer yet. */
  readonly received: Array<Received<R, S, E>> = []
  inFlight: InFlight | undefined = undefined
  /** The next page's cursor, held back while `readAhead` replies wait. */
  heldBack: S | undefined = undefined
  closed = false
  /** The consumer, when it waits for a reply. */
  waiter: ((pull: PagePull<A, E>) => void) | undefined = undefined

  constructor(source: Source<R, S, A, E>, readAhead: number) {
    this.source = source
    this.readAhead = Math.max(1, readAhead)
  }

  readonly pull: PagePull<A, E> = Effect.suspend(() => this.take())

  readonly #stopWaiting = Effect.sync(() => {
    this.waiter = undefined
  })

  readonly #wait: PagePull<A, E> = Effect.callback<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done>((resume) => {
    this.waiter = resume
    return this.#stopWaiting
  })

  readonly close: Effect.Effect<void> = Effect.sync(() => {
    this.closed = true
    this.inFlight?.cancel()
    this.inFlight = undefined
    this.heldBack = undefined
    this.received.length = 0
    this.waiter = undefined
  })

  ask(cursor: S): void {
    let settled = false
    const sent = this.source.request(cursor, (exit) => {
      settled = true
      this.settle(exit, cursor)
    })
    if (Result.isFailure(sent)) {
      this.received.push(new Received(Exit.fail(sent.failure), cursor))
      this.wake()
    } else if (!settled) {
      this.inFlight = sent.success
    }
  }

  settle(exit: Exit.Exit<R, E>, cursor: S): void {
    this.inFlight = undefined
    if (this.closed) return
    this.received.push(new Received(exit, cursor))
    if (Exit.isSuccess(exit)) {
      const next = this.source.next(exit.value, cursor)
      if (next !== undefined) {
        if (this.received.length < this.readAhead) this.ask(next)
        else this.heldBack = next
      }
    }
    this.wake()
  }

  /**
   * Resumes a waiting consumer, in a microtask rather than at once: resumed here, it would decode the
   * page before the connection's writer (woken by `ask`) has sent the next request.
   */
  wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    queueMicrotask(() => waiter(this.pull))
  }

  take(): PagePull<A, E> {
    while (true) {
      const entry = this.received.shift()
      if (entry === undefined) return this.inFlight === undefined ? Cause.done() : this.#wait
      // A place in the read-ahead is free: ask for the page held back before decoding this one.
      const heldBack = this.heldBack
      if (heldBack !== undefined) {
        this.heldBack = undefined
        this.ask(heldBack)
      }
      const exit = entry.exit
      if (Exit.isFailure(exit)) return Exit.failCause(exit.cause)
      const items = this.source.decode(exit.value, entry.cursor)
      if (Exit.isFailure(items)) return Exit.failCause(items.cause)
      if (items.value.length > 0) return items as Exit.Exit<Arr.NonEmptyReadonlyArray<A>, E>
    }
  }
}
