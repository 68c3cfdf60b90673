/**
 * Assertions shared by the client's tests.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"

/**
 * Runs an effect that must fail with an error of the given class, and gives that error back, typed.
 */
export const failsWith = <A, E, R, C extends new(...args: any) => E>(
  effect: Effect.Effect<A, E, R>,
  errorClass: C
): Effect.Effect<InstanceType<C>, never, R> =>
  Effect.matchEffect(effect, {
    onSuccess: (value) => Effect.die(new Error(`expected a ${errorClass.name}, got success: ${String(value)}`)),
    onFailure: (error) => {
      assert.instanceOf(error, errorClass)
      return Effect.succeed(error as InstanceType<C>)
    }
  })

/**
 * Polls a condition until it holds; fails the test after a deadline. For conditions no event signals.
 */
export const eventually = (condition: () => boolean, what: string, timeoutMillis = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("5 millis")
    }
  })
