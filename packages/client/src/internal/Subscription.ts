/**
 * Volatile and catch-up subscriptions.
 *
 * A live subscription is a long conversation (`Conversation.ts`): the dispatcher hands it every
 * package sent under its correlation id, and it files events into a buffer of its own, bounded by the
 * live buffer size. `receive` never blocks: when the buffer is full, the conversation unsubscribes and
 * marks itself overflowed, and the consumer's side decides what that means (a volatile subscription
 * fails with `SubscriptionOverflow`; a catch-up subscription reads the history again).
 *
 * The consumer's side is a `Pull` run by the consumer's own fiber: it takes whatever the buffer holds
 * (up to a batch) as one chunk, or waits for the conversation to wake it. There is no fiber per
 * subscription or per event; a catch-up subscription forks one fiber per page it reads ahead, started
 * at once and given a microtask to be written before the page it follows is handed over.
 *
 * Catch-up (docs/protocol.md 5.3): read pages from the checkpoint (exclusive) to the end; subscribe
 * while live events queue in the buffer; read again up to the confirmation's last event; then drain
 * the buffer, skipping what was already delivered by the rule "greater than the last event
 * delivered", and go on live. Every event is delivered once, in order, however fast writers append
 * during the switch.
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import { Command as CommandModule, Messages, type Package } from "@photonpump/protocol"
import * as Result from "effect/Result"
import {
  AccessDenied,
  type ConnectionError,
  MaxSubscribersReached,
  PersistentSubscriptionDeleted,
  PersistentSubscriptionNotFound,
  ProtocolError,
  type RequestError,
  SubscriptionDropped,
  Timeout
} from "../EventStoreError.ts"
import * as Position from "../Position.ts"
import type { ResolvedEvent } from "../ResolvedEvent.ts"
import * as Subscription from "../Subscription.ts"
import * as Connection from "./Connection.ts"
import type { Conversation, Request } from "./Conversation.ts"
import * as Decode from "./Decode.ts"
import * as Replies from "./Replies.ts"

const Command = CommandModule.Command
const emptyPayload = new Uint8Array(0)

// -----------------------------------------------------------------------------
// probe
// -----------------------------------------------------------------------------

/**
 * What the tests observe of the subscriptions run under it: buffer high-water marks and state changes
 * that no element of the stream shows.
 *
 * @internal
 */
export class Probe {
  /** Confirmations received (live and persistent subscriptions). */
  confirmations = 0
  /** The most events (and checkpoints) a live or persistent buffer held at once. */
  bufferHighWater = 0
  /** The most events one chunk handed to the consumer held. */
  chunkHighWater = 0
  /** Live buffers that overflowed. */
  overflows = 0
  /** Subscriptions started (each resubscription of a catch-up subscription counts). */
  subscriptions = 0
  /** Unsubscribes sent. */
  unsubscribes = 0
}

/**
 * The probe of the current fiber, if a test set one.
 *
 * @internal
 */
export const CurrentProbe = Context.Reference<Probe | undefined>("@photonpump/client/internal/Subscription/Probe", {
  defaultValue: () => undefined
})

// -----------------------------------------------------------------------------
// buffer
// -----------------------------------------------------------------------------

/**
 * A first-in first-out buffer: an array read from a moving head, compacted when the head has moved
 * far enough that the dead slots matter.
 *
 * @internal
 */
export class Fifo<A> {
  private items: Array<A> = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(item: A): void {
    this.items.push(item)
  }

  /** Takes up to `max` items (at least one must be there). */
  take(max: number): Array<A> {
    const items = this.items
    const end = Math.min(items.length, this.head + max)
    const out = this.head === 0 && end === items.length ? items : items.slice(this.head, end)
    if (end === items.length) {
      this.items = []
      this.head = 0
    } else {
      this.head = end
      if (this.head > 4096 && this.head * 2 > items.length) {
        this.items = items.slice(this.head)
        this.head = 0
      }
    }
    return out
  }

  /** Drops the oldest item (there must be one). */
  dropOldest(): void {
    const items = this.items
    items[this.head] = undefined as A
    this.head++
    if (this.head === items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 4096 && this.head * 2 > items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
  }

  clear(): void {
    this.items = []
    this.head = 0
  }
}

// -----------------------------------------------------------------------------
// the conversation
// -----------------------------------------------------------------------------

/**
 * What a subscription knows about itself, for its errors.
 *
 * @internal
 */
export interface Target {
  /** The stream's name as the user knows it (`$all` for all). */
  readonly stream: string
  /** The persistent subscription group, if any. */
  readonly group: string | undefined
  /** The operation, for the errors' `operation`. */
  readonly operation: string
}

/**
 * The error a drop reason stands for, or `undefined` for a drop the client asked for.
 *
 * @internal
 */
export const dropError = (
  target: Target,
  reason: number,
  unsubscribing: boolean
):
  | SubscriptionDropped
  | AccessDenied
  | PersistentSubscriptionNotFound
  | PersistentSubscriptionDeleted
  | MaxSubscribersReached
  | undefined =>
{
  const Reasons = Messages.SubscriptionDropped_SubscriptionDropReason
  const { group, stream } = target
  switch (reason) {
    case Reasons.Unsubscribed:
      return unsubscribing ? undefined : new SubscriptionDropped({ stream, group, reason: "Unsubscribed", code: reason })
    case Reasons.AccessDenied:
      return new AccessDenied({ operation: target.operation, stream })
    case Reasons.NotFound:
      return group === undefined
        ? new SubscriptionDropped({ stream, group, reason: "NotFound", code: reason })
        : new PersistentSubscriptionNotFound({ stream, group })
    case Reasons.PersistentSubscriptionDeleted:
      return group === undefined
        ? new SubscriptionDropped({ stream, group, reason: "PersistentSubscriptionDeleted", code: reason })
        : new PersistentSubscriptionDeleted({ stream, group })
    case Reasons.SubscriberMaxCountReached:
      return group === undefined
        ? new SubscriptionDropped({ stream, group, reason: "SubscriberMaxCountReached", code: reason })
        : new MaxSubscribersReached({ stream, group })
    default:
      return new SubscriptionDropped({ stream, group, reason: "Unknown", code: reason })
  }
}

/**
 * The errors a subscription's conversation can end with.
 *
 * @internal
 */
export type ConversationError =
  | SubscriptionDropped
  | AccessDenied
  | PersistentSubscriptionNotFound
  | PersistentSubscriptionDeleted
  | MaxSubscribersReached
  | RequestError

/**
 * The errors a volatile subscription's conversation can end with.
 *
 * @internal
 */
export type LiveError = SubscriptionDropped | AccessDenied | RequestError

const wakeUp = Effect.void

/**
 * The part every subscription's conversation shares: the buffer, the single waiting consumer, the
 * confirmation timer, the end (by a drop, an error, an overflow, or the client's own unsubscribe),
 * and the unsubscribe itself.
 *
 * @internal
 */
export abstract class SubscriptionConversation<A> implements Conversation {
  readonly request: Request
  readonly connection: Connection.Connection
  readonly target: Target
  readonly capacity: number
  readonly probe: Probe | undefined
  readonly items = new Fifo<A>()
  correlationId = ""
  confirmed = false
  /** No more packages will come: dropped, failed, overflowed, or unsubscribed. */
  ended = false
  /** The buffer filled; the conversation unsubscribed and dropped what it held. */
  overflowed = false
  /** The client asked to unsubscribe: a drop with reason Unsubscribed is the expected answer. */
  unsubscribing = false
  error: ConversationError | undefined = undefined
  private waiter: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(connection: Connection.Connection, request: Request, target: Target, capacity: number, probe: Probe | undefined) {
    this.connection = connection
    this.request = request
    this.target = target
    this.capacity = capacity
    this.probe = probe
  }

  /** Sends the opening request; fails at once when the connection is gone. */
  start(timeout: Duration.Duration): Result.Result<void, ConnectionError | RequestError> {
    const started = this.connection.startConversation(this)
    if (Result.isFailure(started)) return Result.fail(started.failure)
    this.correlationId = started.success
    if (this.probe !== undefined) this.probe.subscriptions++
    const deadline = performance.now() + Duration.toMillis(timeout)
    // A timer fires at most `timerDelay`'s limit from now: a later deadline is waited for in steps.
    const expire = (): void => {
      if (this.confirmed || this.ended) return
      const left = deadline - performance.now()
      if (left > 0) {
        this.timer = setTimeout(expire, Connection.timerDelay(left))
        return
      }
      this.finish(new Timeout({ operation: this.target.operation, source: "Client", timeout }))
      this.sendUnsubscribe()
      this.connection.endConversation(this.correlationId)
    }
    // An infinite timeout has no timer: the subscription waits for its confirmation as long as it takes.
    if (deadline !== Infinity) this.timer = setTimeout(expire, Connection.timerDelay(deadline - performance.now()))
    return Result.void
  }

  /**
   * Waits until the conversation has news for its consumer: at once if news came since the consumer
   * last waited. A consumer looks at the conversation, finds nothing, and only then waits; its fiber
   * may yield to the scheduler in between (every so many steps it does), and what the dispatcher
   * files meanwhile finds no one to wake. Without `news`, that wake-up would be lost, and a consumer
   * waiting for a confirmation, a drop or the connection's end would wait forever.
   */
  readonly changed: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.news) {
      this.news = false
      return resume(wakeUp)
    }
    this.waiter = resume
    return Effect.sync(() => {
      if (this.waiter === resume) this.waiter = undefined
    })
  })

  /** Something happened while no consumer was waiting (see `changed`). */
  private news = false

  /**
   * Wakes the waiting consumer, in a microtask rather than at once: resuming a fiber runs it on the
   * spot, and the consumer's code must not run inside the dispatcher (which would wait for it, and
   * hand it one event at a time). By the microtask, the dispatcher has filed the whole batch of
   * packages it was working on, and the consumer takes them as one chunk.
   */
  protected wake(): void {
    if (this.waiter === undefined) {
      this.news = true
    } else if (!this.wakeScheduled) {
      this.wakeScheduled = true
      queueMicrotask(this.wakeNow)
    }
  }

  private wakeScheduled = false

  private readonly wakeNow = (): void => {
    this.wakeScheduled = false
    const waiter = this.waiter
    if (waiter === undefined) {
      // The consumer stopped waiting before the microtask: the news is there for its next wait.
      this.news = true
    } else {
      this.waiter = undefined
      waiter(wakeUp)
    }
  }

  protected confirm(): void {
    this.confirmed = true
    clearTimeout(this.timer)
    if (this.probe !== undefined) this.probe.confirmations++
    this.wake()
  }

  /** Files an item; on overflow unsubscribes and drops the buffer. Returns true when the conversation ended. */
  protected file(item: A): boolean {
    const items = this.items
    if (items.length >= this.capacity) {
      this.overflowed = true
      items.clear()
      if (this.probe !== undefined) this.probe.overflows++
      this.sendUnsubscribe()
      this.finish(undefined)
      return true
    }
    items.push(item)
    if (this.probe !== undefined && items.length > this.probe.bufferHighWater) {
      this.probe.bufferHighWater = items.length
    }
    this.wake()
    return false
  }

  protected finish(error: ConversationError | undefined): void {
    if (this.ended) return
    this.ended = true
    this.error = error
    clearTimeout(this.timer)
    this.wake()
  }

  protected sendUnsubscribe(): void {
    if (this.probe !== undefined) this.probe.unsubscribes++
    this.connection.send(this.correlationId, {
      command: Command.UnsubscribeFromStream,
      payload: emptyPayload,
      credentials: this.request.credentials
    })
  }

  /** Handles the packages every subscription can get; returns undefined for the others. */
  protected receiveCommon(pkg: Package.InboundPackage): boolean | undefined {
    switch (pkg.command) {
      case Command.SubscriptionDropped: {
        const reason = Decode.subscriptionDropReason(pkg.payload)
        if (Decode.isMalformed(reason)) return this.malformed(reason.reason)
        this.finish(dropError(this.target, reason, this.unsubscribing))
        return true
      }
      case Command.BadRequest:
      case Command.NotAuthenticated:
      case Command.NotHandled:
        this.finish(Replies.genericError(pkg, this.target.operation))
        return true
      default:
        return undefined
    }
  }

  /** Ends with a protocol error, leaving the server's side of the subscription too. */
  protected malformed(reason: string): boolean {
    this.sendUnsubscribe()
    this.finish(new ProtocolError({ operation: this.target.operation, reason }))
    return true
  }

  abstract receive(pkg: Package.InboundPackage): boolean

  fail(error: ConnectionError): void {
    this.finish(error)
  }

  /**
   * Leaves the subscription (the consumer's scope is closing): sends UnsubscribeFromStream and waits
   * for the server's drop, at most `timeout`, so that the server has let go when the scope is closed.
   */
  close(timeout: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.ended) return Effect.void
      if (this.connection.failure() !== undefined) {
        this.finish(undefined)
        return Effect.void
      }
      this.unsubscribing = true
      this.sendUnsubscribe()
      const untilEnded: Effect.Effect<void> = Effect.suspend(() =>
        this.ended ? Effect.void : Effect.flatMap(this.changed, () => untilEnded)
      )
      return Effect.ensuring(
        Effect.ignore(Effect.timeout(untilEnded, timeout)),
        Effect.sync(() => {
          if (!this.ended) {
            this.finish(undefined)
            this.connection.endConversation(this.correlationId)
          }
        })
      )
    })
  }
}

/**
 * A volatile subscription's conversation (SubscribeToStream or FilteredSubscribeToStream): events and
 * checkpoints into the buffer.
 *
 * @internal
 */
export class LiveConversation extends SubscriptionConversation<ResolvedEvent | Subscription.Checkpoint> {
  /** The confirmation's last event number (streams) and last commit position. */
  lastEventNumber = -1n
  lastCommitPosition = -1n

  receive(pkg: Package.InboundPackage): boolean {
    if (this.ended) return true
    switch (pkg.command) {
      case Command.StreamEventAppeared: {
        const event = Decode.streamEventAppeared(pkg.payload)
        if (event === undefined) return false
        if (Decode.isMalformed(event)) return this.malformed(event.reason)
        return this.file(event)
      }
      case Command.CheckpointReached: {
        const decoded = Messages.decode(Messages.CheckpointReachedSchema, pkg.payload)
        if (Result.isFailure(decoded)) return this.malformed(decoded.failure.message)
        return this.file(
          Subscription.checkpoint({ commit: decoded.success.commitPosition, prepare: decoded.success.preparePosition })
        )
      }
      case Command.SubscriptionConfirmation: {
        const decoded = Messages.decode(Messages.SubscriptionConfirmationSchema, pkg.payload)
        if (Result.isFailure(decoded)) return this.malformed(decoded.failure.message)
        this.lastEventNumber = decoded.success.lastEventNumber
        this.lastCommitPosition = decoded.success.lastCommitPosition
        this.confirm()
        return false
      }
      default: {
        const ended = this.receiveCommon(pkg)
        if (ended !== undefined) return ended
        return this.malformed(`unexpected ${CommandModule.name(pkg.command)} in a subscription`)
      }
    }
  }
}

// -----------------------------------------------------------------------------
// streams
// -----------------------------------------------------------------------------

/**
 * What the subscriptions need to start a live conversation.
 *
 * @internal
 */
export interface LiveOptions {
  readonly connection: Connection.Connection
  readonly target: Target
  readonly request: Request
  /** The most events (and checkpoints) waiting for the consumer. */
  readonly bufferSize: number
  /** The most events handed to the consumer in one chunk. */
  readonly batchSize: number
  /** How long the server may take to confirm; also bounds the wait for its drop when leaving. */
  readonly timeout: Duration.Duration
  readonly probe: Probe | undefined
}

type Chunk = Arr.NonEmptyReadonlyArray<Subscription.Item>

const noteChunk = (probe: Probe | undefined, chunk: ReadonlyArray<unknown>): void => {
  if (probe !== undefined && chunk.length > probe.chunkHighWater) probe.chunkHighWater = chunk.length
}

const startLive = (options: LiveOptions): Result.Result<LiveConversation, RequestError> => {
  const live = new LiveConversation(
    options.connection,
    options.request,
    options.target,
    options.bufferSize,
    options.probe
  )
  const started = live.start(options.timeout)
  return Result.isSuccess(started) ? Result.succeed(live) : Result.fail(started.failure)
}

const caughtUpChunk: Chunk = [Subscription.caughtUp]
const fellBehindChunk: Chunk = [Subscription.fellBehind]

/**
 * The pull of a volatile subscription: `CaughtUp` once confirmed, then the live events; its buffer's
 * overflow fails it with `overflow()`.
 *
 * @internal
 */
export const volatile = <E>(
  options: LiveOptions,
  scope: Scope.Scope,
  overflow: () => E
): Effect.Effect<Pull.Pull<Chunk, LiveError | E>, RequestError> =>
  // Subscribing and adding the finalizer that unsubscribes go together: interrupted in between, the
  // subscription would stay open on the server, unknown to anyone.
  Effect.uninterruptible(Effect.suspend(() => {
    const started = startLive(options)
    if (Result.isFailure(started)) return Effect.fail(started.failure)
    const live = started.success
    let announced = false
    const step = (): Pull.Pull<Chunk, LiveError | E> => {
      if (!announced) {
        if (live.confirmed) {
          announced = true
          return Effect.succeed(caughtUpChunk)
        }
      } else if (live.items.length > 0) {
        const chunk = live.items.take(options.batchSize) as unknown as Chunk
        noteChunk(options.probe, chunk)
        return Effect.succeed(chunk)
      }
      if (live.overflowed) return Effect.fail(overflow())
      if (live.error !== undefined) return Effect.fail(live.error as LiveError)
      if (live.ended) return Cause.done()
      return Effect.flatMap(live.changed, step)
    }
    return Effect.as(Scope.addFinalizer(scope, live.close(options.timeout)), Effect.suspend(step))
  }))

/**
 * A page of history as a catch-up subscription reads it.
 *
 * @internal
 */
export interface Page<Cursor> {
  readonly events: ReadonlyArray<ResolvedEvent>
  /** Where the next page starts. */
  readonly next: Cursor
  /** Nothing more to read for now (end of stream, or an empty `$all` page). */
  readonly isEnd: boolean
}

/**
 * Where a catch-up subscription stands: what it delivered last, where to read next, and when reading
 * has caught up with a live subscription's confirmation. Streams go by event number (of the original
 * event: the link when links are resolved), `$all` by position.
 *
 * @internal
 */
export interface Tracker<Cursor> {
  /** Whether the event comes after the last one delivered; if so it becomes the last one delivered. */
  readonly accept: (event: ResolvedEvent) => boolean
  /** Whether a checkpoint comes after the last event delivered; if so it becomes the last point. */
  readonly acceptCheckpoint: (position: Position.Position) => boolean
  /** Where to read from to go on after the last event delivered. */
  readonly resume: () => Cursor
  /** Whether a page read after the confirmation reaches the point the confirmation names. */
  readonly reached: (page: Page<Cursor>, live: LiveConversation) => boolean
}

/**
 * The tracker of a stream: exclusive starting point `after` (-1 for the start).
 *
 * @internal
 */
export const streamTracker = (after: bigint): Tracker<bigint> => {
  let last = after
  return {
    accept: (event) => {
      const number = event.originalEventNumber
      if (number <= last) return false
      last = number
      return true
    },
    acceptCheckpoint: () => false,
    resume: () => last + 1n,
    reached: (page, live) => page.isEnd || page.next > live.lastEventNumber
  }
}

const beforeStart: Position.Position = { commit: -1n, prepare: -1n }

/**
 * The tracker of `$all`: exclusive starting point `after` (`undefined` for the start).
 *
 * @internal
 */
export const allTracker = (after: Position.Position | undefined): Tracker<Position.Position> => {
  let last = after ?? beforeStart
  return {
    accept: (event) => {
      const position = event.position
      if (position === undefined || Position.compare(position, last) <= 0) return false
      last = position
      return true
    },
    acceptCheckpoint: (position) => {
      if (Position.compare(position, last) <= 0) return false
      last = position
      return true
    },
    resume: () => last.commit < 0n ? Position.start : last,
    reached: (page, live) =>
      page.isEnd ||
      Position.compare(page.next, { commit: live.lastCommitPosition, prepare: live.lastCommitPosition }) >= 0
  }
}

/**
 * What a catch-up subscription needs besides its live subscription.
 *
 * @internal
 */
export interface CatchUpOptions<Cursor, E> extends LiveOptions {
  /** The first page to read. */
  readonly from: Cursor
  readonly read: (cursor: Cursor) => Effect.Effect<Page<Cursor>, E>
  readonly tracker: Tracker<Cursor>
  /** For filtered `$all`: a `Checkpoint` after every so many pages read (0: never). */
  readonly checkpointEveryPages: number
}

/** Reading history, with or without a live subscription queueing behind. */
const Reading = 0
/** Delivering live events. */
const Live = 1

/**
 * The pull of a catch-up subscription.
 *
 * @internal
 */
export const catchUp = <Cursor, E>(
  options: CatchUpOptions<Cursor, E>,
  scope: Scope.Scope
): Effect.Effect<Pull.Pull<Chunk, LiveError | E>> =>
  Effect.sync(() => {
    const { tracker, probe } = options
    let phase: typeof Reading | typeof Live = Reading
    let cursor = options.from
    let live: LiveConversation | undefined
    let ahead: Fiber.Fiber<Page<Cursor>, E> | undefined
    let pagesSinceCheckpoint = 0

    const leave = Effect.suspend(() => live === undefined ? Effect.void : live.close(options.timeout))

    // The next page is asked for before this one is handed over, by a fiber started at once (its
    // request goes into the connection's queue now); the consumer then gives way for a microtask, so
    // that the connection's writer sends the request before the consumer goes through the page and the
    // server waits for it.
    const prefetch = (): Effect.Effect<void> =>
      Effect.flatMap(Effect.forkIn(options.read(cursor), scope, { startImmediately: true }), (fiber) => {
        ahead = fiber
        return Connection.yieldToWriter
      })

    const nextPage = (): Effect.Effect<Page<Cursor>, E> => {
      const fiber = ahead
      ahead = undefined
      return fiber === undefined ? options.read(cursor) : Fiber.join(fiber)
    }

    /** The events of a page not delivered yet, in order. */
    const fresh = (events: ReadonlyArray<ResolvedEvent>): Array<Subscription.Item> => {
      const count = events.length
      if (count === 0) return []
      // Pages are in order: when the first event is new, so is every other.
      if (tracker.accept(events[0]!)) {
        tracker.accept(events[count - 1]!)
        return events as Array<ResolvedEvent>
      }
      const out: Array<Subscription.Item> = []
      for (let i = 1; i < count; i++) {
        if (tracker.accept(events[i]!)) out.push(events[i]!)
      }
      return out
    }

    const liveItems = (items: Array<ResolvedEvent | Subscription.Checkpoint>): Array<Subscription.Item> => {
      let kept = 0
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!
        const keep = Subscription.isCheckpoint(item) ? tracker.acceptCheckpoint(item.position) : tracker.accept(item)
        if (keep) items[kept++] = item
      }
      items.length = kept
      return items
    }

    const subscribe = (): Effect.Effect<void, RequestError> => {
      const started = startLive(options)
      if (Result.isFailure(started)) return Effect.fail(started.failure)
      live = started.success
      return Effect.void
    }

    const readStep = (): Pull.Pull<Chunk, LiveError | E> => {
      if (live !== undefined) {
        // Fell behind while reading: keep reading, and subscribe again at the end.
        if (live.overflowed) live = undefined
        else if (live.error !== undefined) return Effect.fail(live.error as LiveError)
        // Read on only once the confirmation says how far to read.
        else if (!live.confirmed) return Effect.flatMap(live.changed, step)
      }
      return Effect.flatMap(nextPage(), (page): Pull.Pull<Chunk, LiveError | E> => {
        cursor = page.next
        let out = fresh(page.events)
        if (options.checkpointEveryPages > 0 && ++pagesSinceCheckpoint >= options.checkpointEveryPages) {
          pagesSinceCheckpoint = 0
          // A page's next position is where the next read starts, inclusive; a checkpoint is exclusive.
          // Inside a transaction (commit > prepare > 0) the next event may sit at exactly that position
          // (docs/protocol.md 4.3, 4.5): a checkpoint there would skip it, so none is sent for that page.
          const next = page.next as Position.Position
          const insideTransaction = next.prepare > 0n && next.prepare < next.commit
          if (!insideTransaction && tracker.acceptCheckpoint(next)) {
            out = out.concat([Subscription.checkpoint(next)])
          }
        }
        if (live !== undefined && live.overflowed) live = undefined
        let then: Effect.Effect<void, RequestError>
        if (live === undefined) {
          then = page.isEnd ? subscribe() : prefetch()
        } else if (tracker.reached(page, live)) {
          phase = Live
          out = out.concat(caughtUpChunk)
          then = Effect.void
        } else {
          then = prefetch()
        }
        return Effect.flatMap(then, () => {
          if (out.length === 0) return step()
          noteChunk(probe, out)
          return Effect.succeed(out as unknown as Chunk)
        })
      })
    }

    const liveStep = (): Pull.Pull<Chunk, LiveError | E> => {
      const current = live!
      while (current.items.length > 0) {
        const out = liveItems(current.items.take(options.batchSize))
        if (out.length > 0) {
          noteChunk(probe, out)
          return Effect.succeed(out as unknown as Chunk)
        }
      }
      if (current.overflowed) {
        live = undefined
        phase = Reading
        cursor = tracker.resume()
        return Effect.succeed(fellBehindChunk)
      }
      if (current.error !== undefined) return Effect.fail(current.error as LiveError)
      if (current.ended) {
        return Effect.fail(
          new SubscriptionDropped({
            stream: options.target.stream,
            group: undefined,
            reason: "Unsubscribed",
            code: Messages.SubscriptionDropped_SubscriptionDropReason.Unsubscribed
          })
        )
      }
      return Effect.flatMap(current.changed, step)
    }

    const step = (): Pull.Pull<Chunk, LiveError | E> => phase === Live ? liveStep() : readStep()

    return Effect.as(Scope.addFinalizer(scope, leave), Effect.suspend(step))
  }).pipe(Effect.flatten)
