/**
 * Streams that page themselves: while the consumer works on one page, the next one is already being
 * fetched, and never more than that one. A consumer that stops pulling stops the fetching after at most
 * one page; a consumer that stops altogether (its scope closes) interrupts the page in flight.
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"

/**
 * One page and where the next one starts (`undefined` after the last page).
 *
 * @internal
 */
export type Page<A, S> = readonly [items: ReadonlyArray<A>, next: S | undefined]

/**
 * A stream of the items of successive pages, starting at `first`.
 *
 * @internal
 */
export const pages = <A, S, E>(first: S, fetch: (cursor: S) => Effect.Effect<Page<A, S>, E>): Stream.Stream<A, E> =>
  Stream.fromChannel(
    Channel.fromTransform((_upstream, scope) =>
      Effect.map(Effect.forkIn(fetch(first), scope), (firstFetch) => {
        let ahead: Fiber.Fiber<Page<A, S>, E> | undefined = firstFetch
        const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E> = Effect.suspend(function next(): Pull.Pull<
          Arr.NonEmptyReadonlyArray<A>,
          E
        > {
          const current = ahead
          if (current === undefined) return Cause.done()
          return Effect.flatMap(Fiber.join(current), ([items, cursor]) => {
            const prefetch = cursor === undefined
              ? Effect.sync(() => {
                ahead = undefined
              })
              : Effect.map(Effect.forkIn(fetch(cursor), scope), (fiber) => {
                ahead = fiber
              })
            return Effect.flatMap(
              prefetch,
              () => items.length > 0 ? Effect.succeed(items as Arr.NonEmptyReadonlyArray<A>) : next()
            )
          })
        })
        return pull
      })
    )
  )
