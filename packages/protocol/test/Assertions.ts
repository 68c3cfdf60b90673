/**
 * Assertions shared by the protocol's tests.
 */
import { assert } from "@effect/vitest"
import * as Result from "effect/Result"

/**
 * Asserts that a result failed with an error of the given class, and gives that error back, typed.
 */
export const failsWith = <A, E, C extends new(...args: any) => E>(
  result: Result.Result<A, E>,
  errorClass: C,
  message?: string
): InstanceType<C> => {
  if (Result.isSuccess(result)) {
    return assert.fail(`${message ?? ""} expected a ${errorClass.name}, got a success`.trimStart())
  }
  assert.instanceOf(result.failure, errorClass, message)
  return result.failure as InstanceType<C>
}

/**
 * Asserts that a result succeeded, and gives its value back.
 */
export const succeeds = <A, E>(result: Result.Result<A, E>, message?: string): A => {
  if (Result.isFailure(result)) {
    return assert.fail(`${message ?? ""} expected a success, got ${String(result.failure)}`.trimStart())
  }
  return result.success
}
