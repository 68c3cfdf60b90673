/**
 * Persistent subscriptions ("competing consumers"): a group kept by the server on a stream, whose
 * events the server hands out to the consumers connected to it, each event to one consumer at a
 * time, until a consumer acknowledges it.
 *
 * - `Settings`: how the group behaves, with the official .NET client's defaults (`defaults`). Create,
 *   update and delete groups with `createSubscription`, `updateSubscription` and `deleteSubscription`
 *   of the `EventStore` service.
 * - `PersistentEvent`: what `connectSubscription` delivers: the event, how many times it was retried,
 *   and `ack()` / `nak(action, reason)`. Acks and naks issued close together travel in one frame.
 * - `autoAck`: runs a handler for each event, acks it when the handler succeeds and naks it with
 *   `Retry` when it fails.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { EventStore, PersistentSubscription } from "@photonpump/client"
 *
 * const worker = Effect.gen(function*() {
 *   const es = yield* EventStore.EventStore
 *   yield* es.createSubscription("orders", "billing", { startFrom: 0 }).pipe(
 *     Effect.catchTag("PersistentSubscriptionAlreadyExists", () => Effect.void)
 *   )
 *   yield* es.connectSubscription("orders", "billing", { bufferSize: 50 }).pipe(
 *     PersistentSubscription.autoAck((event) => bill(event.json())),
 *     Stream.runDrain
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { RecordedEvent } from "./RecordedEvent.ts"
import { ResolvedEvent } from "./ResolvedEvent.ts"

/**
 * How the server hands events out to the consumers of a group: the next consumer with room in turn
 * (`RoundRobin`), the first consumer until it is full (`DispatchToSingle`), one consumer per source
 * stream (`Pinned`), or per `$correlationId` (`PinnedByCorrelation`, servers 20.x and later).
 *
 * @since 0.1.0
 * @category models
 */
export type ConsumerStrategy = "RoundRobin" | "DispatchToSingle" | "Pinned" | "PinnedByCorrelation"

/**
 * The settings of a group (docs/protocol.md 5.4).
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Deliver the events links point at rather than the links. */
  readonly resolveLinks: boolean
  /**
   * The event number the group starts from: -1 for only the events written after the group is
   * created, 0 for the whole stream. Ignored once the group has a checkpoint.
   */
  readonly startFrom: bigint
  /** How long a consumer may hold an event without acking it before the server retries it. */
  readonly messageTimeout: Duration.Duration
  /** Whether the server keeps extra statistics (latencies) for the group. */
  readonly extraStatistics: boolean
  /** How many live events the server buffers for the group. */
  readonly liveBufferSize: number
  /** How many events the server reads at once when it reads the stream for the group. */
  readonly readBatchSize: number
  /** How many read events the server buffers for the group. */
  readonly historyBufferSize: number
  /** How many times an event is retried before it is parked. */
  readonly maxRetryCount: number
  /** How often the server may write the group's checkpoint; zero for never by time. */
  readonly checkpointAfter: Duration.Duration
  /** The fewest processed events before the server writes a checkpoint by time. */
  readonly minCheckpointCount: number
  /** The most processed events before the server writes a checkpoint. */
  readonly maxCheckpointCount: number
  /** The most consumers the group accepts at once; 0 for no limit. */
  readonly maxSubscriberCount: number
  /** How events are handed out to the consumers. */
  readonly consumerStrategy: ConsumerStrategy
}

/**
 * Settings as given: every field optional (the `defaults` fill in the rest), numbers or bigints for
 * `startFrom`, any `Duration.Input` for durations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default false. */
  readonly resolveLinks?: boolean | undefined
  /** Default -1: only the events written after the group is created. 0 for the whole stream. */
  readonly startFrom?: bigint | number | undefined
  /** Default 30 seconds. */
  readonly messageTimeout?: Duration.Input | undefined
  /** Default false. */
  readonly extraStatistics?: boolean | undefined
  /** Default 500. */
  readonly liveBufferSize?: number | undefined
  /** Default 20. */
  readonly readBatchSize?: number | undefined
  /** Default 500. */
  readonly historyBufferSize?: number | undefined
  /** Default 10. */
  readonly maxRetryCount?: number | undefined
  /** Default 2 seconds. */
  readonly checkpointAfter?: Duration.Input | undefined
  /** Default 10. */
  readonly minCheckpointCount?: number | undefined
  /** Default 1,000. */
  readonly maxCheckpointCount?: number | undefined
  /** Default 0 (no limit). */
  readonly maxSubscriberCount?: number | undefined
  /** Default `RoundRobin`. */
  readonly consumerStrategy?: ConsumerStrategy | undefined
}

/**
 * The official .NET client's defaults (`PersistentSubscriptionSettings.Create()`).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Settings = {
  resolveLinks: false,
  startFrom: -1n,
  messageTimeout: Duration.seconds(30),
  extraStatistics: false,
  liveBufferSize: 500,
  readBatchSize: 20,
  historyBufferSize: 500,
  maxRetryCount: 10,
  checkpointAfter: Duration.seconds(2),
  minCheckpointCount: 10,
  maxCheckpointCount: 1000,
  maxSubscriberCount: 0,
  consumerStrategy: "RoundRobin"
}

/**
 * Settings from options, the `defaults` filling in what is not given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Settings => ({
  resolveLinks: options?.resolveLinks ?? defaults.resolveLinks,
  startFrom: options?.startFrom === undefined ? defaults.startFrom : BigInt(options.startFrom),
  messageTimeout: options?.messageTimeout === undefined
    ? defaults.messageTimeout
    : Duration.fromInputUnsafe(options.messageTimeout),
  extraStatistics: options?.extraStatistics ?? defaults.extraStatistics,
  liveBufferSize: options?.liveBufferSize ?? defaults.liveBufferSize,
  readBatchSize: options?.readBatchSize ?? defaults.readBatchSize,
  historyBufferSize: options?.historyBufferSize ?? defaults.historyBufferSize,
  maxRetryCount: options?.maxRetryCount ?? defaults.maxRetryCount,
  checkpointAfter: options?.checkpointAfter === undefined
    ? defaults.checkpointAfter
    : Duration.fromInputUnsafe(options.checkpointAfter),
  minCheckpointCount: options?.minCheckpointCount ?? defaults.minCheckpointCount,
  maxCheckpointCount: options?.maxCheckpointCount ?? defaults.maxCheckpointCount,
  maxSubscriberCount: options?.maxSubscriberCount ?? defaults.maxSubscriberCount,
  consumerStrategy: options?.consumerStrategy ?? defaults.consumerStrategy
})

/**
 * What to do with an event a consumer could not process:
 *
 * - `Retry`: give it again later (to any consumer), its `retryCount` one higher; once it has been
 *   retried `maxRetryCount` times, park it instead.
 * - `Park`: put it aside at once in the group's parked stream
 *   (`$persistentsubscription-<stream>::<group>-parked`).
 * - `Skip`: forget it, as if it had been processed.
 * - `Stop`: meant to stop the subscription; the servers this client was checked against (20.10, and
 *   the embedded server, which follows it) forget the event as for `Skip`, and the subscription goes on.
 *
 * @since 0.1.0
 * @category models
 */
export type NakAction = "Park" | "Retry" | "Skip" | "Stop"

/**
 * Where a `PersistentEvent`'s acks and naks go: its subscription, which batches them into frames. The
 * client provides it; it is not meant to be implemented.
 *
 * @since 0.1.0
 * @category models
 */
export interface Acknowledger {
  readonly ack: (id: Uint8Array) => void
  readonly nak: (id: Uint8Array, action: NakAction, reason: string) => void
}

/**
 * An event delivered by a persistent subscription. It is a `ResolvedEvent` (with `event`, `link`,
 * `json()`, `decode()`...) that also knows how many times it was delivered before, and how to settle
 * it: `ack()` when it is processed, `nak(action, reason)` when it is not. An event settled neither way
 * is retried by the server after the group's `messageTimeout`, or when its consumer leaves.
 *
 * Acks and naks do not wait for the server (it does not answer them): they are batched, and sent in
 * one frame per batch, at the latest when the consumer asks for more events, when the event loop next
 * turns, or when the subscription's scope closes, before the client unsubscribes.
 *
 * @since 0.1.0
 * @category models
 */
export class PersistentEvent extends ResolvedEvent {
  /** How many times this event was delivered before: 0 the first time. */
  readonly retryCount: number
  readonly #ackId: Uint8Array
  readonly #acknowledger: Acknowledger

  constructor(
    event: RecordedEvent,
    link: RecordedEvent | undefined,
    isResolved: boolean,
    retryCount: number,
    ackId: Uint8Array,
    acknowledger: Acknowledger
  ) {
    super(event, link, undefined, isResolved)
    this.retryCount = retryCount
    this.#ackId = ackId
    this.#acknowledger = acknowledger
  }

  /** Tells the server the event is processed. */
  ack(): Effect.Effect<void> {
    return Effect.sync(() => this.#acknowledger.ack(this.#ackId))
  }

  /** Tells the server the event could not be processed, and what to do with it. */
  nak(action: NakAction, reason: string = ""): Effect.Effect<void> {
    return Effect.sync(() => this.#acknowledger.nak(this.#ackId, action, reason))
  }
}

const skipped: unique symbol = Symbol.for("@photonpump/client/PersistentSubscription/skipped")

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = error instanceof Error ? error.message : String(error)
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text
}

/**
 * Handles each event of a persistent subscription with `handler`, acking the event when the handler
 * succeeds and nak-ing it with `Retry` (and the failure's message as the reason) when it fails or
 * dies. A failed event is logged at warning level and does not stop the stream: the server retries
 * it, and parks it after the group's `maxRetryCount`. An interrupted handler settles nothing: the
 * server gives the event to another consumer once this one has left. The stream carries the
 * handler's results.
 *
 * `concurrency` handlers may run at once (default 1); results keep the order of the events.
 *
 * @since 0.1.0
 * @category combinators
 */
export const autoAck = <A, E2, R2>(
  handler: (event: PersistentEvent) => Effect.Effect<A, E2, R2>,
  options?: { readonly concurrency?: number | undefined }
) =>
<E, R>(self: Stream.Stream<PersistentEvent, E, R>): Stream.Stream<A, E, R | R2> =>
  Stream.filter(
    Stream.mapEffect(
      self,
      (event) =>
        Effect.matchCauseEffect(handler(event), {
          onSuccess: (value) => Effect.as(event.ack(), value),
          onFailure: (cause): Effect.Effect<typeof skipped> => {
            if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause) as Effect.Effect<never>
            const reason = describeCause(cause)
            return Effect.as(
              Effect.andThen(
                event.nak("Retry", reason),
                Effect.logWarning(
                  `handling event ${event.originalEventNumber}@${event.originalStream} failed; it will be retried`,
                  cause
                )
              ),
              skipped
            )
          }
        }),
      { concurrency: options?.concurrency ?? 1 }
    ),
    (value): value is A => value !== skipped
  )
