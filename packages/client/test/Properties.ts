/**
 * What the client's property tests share: how many cases to check and from which seed, small
 * generators, and the byte-level damage done to valid replies.
 */
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"

/**
 * A property's check options: `runs` cases from `seed` (20261130 unless given), so that CI checks the
 * same cases every time. `PROPERTY_SEED` names another seed for every property and `PROPERTY_RUNS`
 * multiplies the runs: `PROPERTY_SEED=7 PROPERTY_RUNS=10 npx vitest run <file>`.
 */
export const checks = (
  runs: number,
  options?: { readonly seed?: number; readonly maxShrinks?: number }
) => ({
  arbitrary: {
    runs: Math.max(1, Math.round(runs * Number(process.env["PROPERTY_RUNS"] ?? "1"))),
    seed: process.env["PROPERTY_SEED"] ?? options?.seed ?? 20261130,
    ...(options?.maxShrinks === undefined ? {} : { maxShrinks: options.maxShrinks })
  }
})

/** Integers from `minimum` to `maximum`, both included. */
export const intBetween = (minimum: number, maximum: number): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))

/** Flips, inserts, deletes or cuts off bytes: `[kind, where, byte]`, `where` taken modulo the length. */
export type Mutation = readonly [kind: number, at: number, byte: number]

/** One to four mutations. */
export const mutations: Arbitrary.Arbitrary<Array<Mutation>> = Arbitrary.array(
  Arbitrary.all([intBetween(0, 3), intBetween(0, 1 << 20), intBetween(0, 255)]),
  { minLength: 1, maxLength: 4 }
)

/** `bytes` with `changes` made to them, in order. */
export const mutate = (bytes: Uint8Array, changes: ReadonlyArray<Mutation>): Uint8Array => {
  let out = Array.from(bytes)
  for (const [kind, where, byte] of changes) {
    const at = where % (out.length + 1)
    switch (kind) {
      case 0:
        if (at < out.length) out[at] = out[at]! ^ (byte === 0 ? 0x80 : byte)
        break
      case 1:
        out.splice(at, 0, byte)
        break
      case 2:
        out.splice(at, 1)
        break
      default:
        out = out.slice(0, at)
    }
  }
  return Uint8Array.from(out)
}
