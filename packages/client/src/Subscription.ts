/**
 * What the stream of a volatile or catch-up subscription (`subscribeTo`, `subscribeToAll`) carries:
 * the events, in order, and a few signals between them that say where the subscription stands.
 *
 * - `ResolvedEvent`: an event, exactly once and in order.
 * - `CaughtUp`: everything written before this point has been delivered; the events that follow are
 *   live. A catch-up subscription sends it when it has read the history and switched to live events;
 *   a volatile subscription sends it first, once the server has confirmed it (an event written after
 *   `CaughtUp` arrives is sure to be delivered).
 * - `FellBehind`: a catch-up subscription's consumer was too slow for the live events, so their buffer
 *   filled. The subscription let go of the live events and reads the history again from the last
 *   event delivered; `CaughtUp` follows when it is live again. Nothing is lost or repeated.
 * - `Checkpoint`: for a filtered `$all` subscription, everything up to `position` has been looked at,
 *   matching or not. Store it to resume from there (`from: position`) without rescanning what the
 *   filter skipped.
 *
 * A read model usually matches on `_tag`:
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { EventStore } from "@photonpump/client"
 *
 * const follow = (es: EventStore.Service, checkpoint: bigint | undefined) =>
 *   es.subscribeTo("orders", { from: checkpoint ?? "start" }).pipe(
 *     Stream.runForEach((item) => {
 *       switch (item._tag) {
 *         case "ResolvedEvent":
 *           return project(item) // and store item.originalEventNumber as the checkpoint
 *         case "CaughtUp":
 *           return markReady
 *         default:
 *           return Effect.void
 *       }
 *     })
 *   )
 * ```
 *
 * and `Subscription.events` keeps the events alone.
 *
 * @since 0.1.0
 */
import { isTagged } from "effect/Predicate"
import * as Stream from "effect/Stream"
import type * as Position from "./Position.ts"
import type { ResolvedEvent } from "./ResolvedEvent.ts"

/**
 * Everything written before this point has been delivered; what follows is live.
 *
 * @since 0.1.0
 * @category models
 */
export interface CaughtUp {
  readonly _tag: "CaughtUp"
}

/**
 * A catch-up subscription's live buffer filled: it went back to reading the history from the last
 * event delivered, and sends `CaughtUp` again when it is live.
 *
 * @since 0.1.0
 * @category models
 */
export interface FellBehind {
  readonly _tag: "FellBehind"
}

/**
 * A filtered `$all` subscription has looked at everything up to `position` (exclusive starting point
 * for a later subscription: `from: position`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Checkpoint {
  readonly _tag: "Checkpoint"
  readonly position: Position.Position
}

/**
 * One element of a subscription's stream.
 *
 * @since 0.1.0
 * @category models
 */
export type Item = ResolvedEvent | CaughtUp | FellBehind | Checkpoint

/**
 * The `CaughtUp` signal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const caughtUp: CaughtUp = { _tag: "CaughtUp" }

/**
 * The `FellBehind` signal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fellBehind: FellBehind = { _tag: "FellBehind" }

/**
 * A `Checkpoint` at `position`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const checkpoint = (position: Position.Position): Checkpoint => ({ _tag: "Checkpoint", position })

/**
 * @since 0.1.0
 * @category guards
 */
export const isEvent = (item: Item): item is ResolvedEvent => isTagged(item, "ResolvedEvent")

/**
 * @since 0.1.0
 * @category guards
 */
export const isCaughtUp = (item: Item): item is CaughtUp => isTagged(item, "CaughtUp")

/**
 * @since 0.1.0
 * @category guards
 */
export const isFellBehind = (item: Item): item is FellBehind => isTagged(item, "FellBehind")

/**
 * @since 0.1.0
 * @category guards
 */
export const isCheckpoint = (item: Item): item is Checkpoint => isTagged(item, "Checkpoint")

/**
 * The events of a subscription's stream, without the signals.
 *
 * @since 0.1.0
 * @category combinators
 */
export const events = <E, R>(self: Stream.Stream<Item, E, R>): Stream.Stream<ResolvedEvent, E, R> =>
  Stream.filter(self, isEvent)

/**
 * The subscription's stream up to its first `CaughtUp` (excluded): the history as it stood when the
 * subscription went live, and no more. The subscription ends (and unsubscribes) there.
 *
 * @since 0.1.0
 * @category combinators
 */
export const untilCaughtUp = <E, R>(self: Stream.Stream<Item, E, R>): Stream.Stream<ResolvedEvent, E, R> =>
  Stream.filter(Stream.takeWhile(self, (item) => !isCaughtUp(item)), isEvent)
