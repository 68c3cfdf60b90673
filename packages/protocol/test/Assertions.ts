/**
 * Assertions shared by the protocol's tests.
 */
import { assert } from "@effect/vitest"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type { Package } from "@photonpump/protocol"

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

/**
 * Asserts that a package carried a login and password, and gives them back in clear.
 */
export const basicAuth = (auth: Package.Auth | undefined): { readonly login: string; readonly password: string } => {
  if (auth === undefined || !Predicate.isTagged(auth, "Basic")) return assert.fail(`expected a login and password`)
  return { login: auth.login, password: Redacted.value(auth.password) }
}

/**
 * Asserts that a package carried a bearer token, and gives it back in clear.
 */
export const bearerToken = (auth: Package.Auth | undefined): string => {
  if (auth === undefined || !Predicate.isTagged(auth, "Bearer")) return assert.fail(`expected a bearer token`)
  return Redacted.value(auth.token)
}
