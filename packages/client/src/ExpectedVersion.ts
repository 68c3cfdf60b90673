/**
 * Optimistic concurrency for writes: what the caller believes the stream's version to be. A stream's
 * version is the number of its last event, or -1 when it has none (docs/protocol.md 4.2).
 *
 * @since 0.1.0
 */
import { isTagged } from "effect/Predicate"

/**
 * The expected version of a stream: any version at all, no stream, an existing stream, or an exact
 * version. Plain numbers and bigints are accepted wherever an `ExpectedVersion` is, and mean an exact
 * version.
 *
 * @since 0.1.0
 * @category models
 */
export type ExpectedVersion = Any | NoStream | StreamExists | Exact

/**
 * No check: the write succeeds whatever the stream's version.
 *
 * @since 0.1.0
 * @category models
 */
export interface Any {
  readonly _tag: "Any"
}

/**
 * The stream must not exist yet (or must have been soft-deleted).
 *
 * @since 0.1.0
 * @category models
 */
export interface NoStream {
  readonly _tag: "NoStream"
}

/**
 * The stream must exist. A stream that has only metadata counts as existing.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamExists {
  readonly _tag: "StreamExists"
}

/**
 * The stream's last event number must be exactly `version`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exact {
  readonly _tag: "Exact"
  readonly version: bigint
}

/**
 * What callers may pass: an `ExpectedVersion`, or a number meaning an exact version.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = ExpectedVersion | bigint | number

/**
 * @since 0.1.0
 * @category constructors
 */
export const Any: Any = { _tag: "Any" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const NoStream: NoStream = { _tag: "NoStream" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const StreamExists: StreamExists = { _tag: "StreamExists" }

/**
 * An exact version: the number of the stream's last event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exact = (version: bigint | number): Exact => ({ _tag: "Exact", version: BigInt(version) })

/** The largest event number: an int64's. */
const maxVersion = 2n ** 63n - 1n

/**
 * Normalises an input. Plain numbers below zero take the wire meanings the official clients give them
 * (-1 no stream, -2 any, -4 stream exists), so that values copied from other clients keep their sense.
 * Returns `undefined` for numbers that mean nothing (-3, below -4, or not an integer) and for exact
 * versions that are negative or do not fit in 64 bits (on the wire they would wrap around to another
 * version, or take a wire meaning such as -2, any).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromInput = (input: Input): ExpectedVersion | undefined => {
  if (typeof input === "object") {
    return isTagged(input, "Exact") && (input.version < 0n || input.version > maxVersion) ? undefined : input
  }
  if (typeof input === "number" && !Number.isSafeInteger(input)) return undefined
  const version = BigInt(input)
  if (version > maxVersion) return undefined
  if (version >= 0n) return { _tag: "Exact", version }
  if (version === -1n) return NoStream
  if (version === -2n) return Any
  if (version === -4n) return StreamExists
  return undefined
}

/**
 * The number the protocol uses for an expected version.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toWire = (expected: ExpectedVersion): bigint =>
  isTagged(expected, "Exact") ? expected.version : isTagged(expected, "NoStream") ? -1n : isTagged(expected, "StreamExists") ? -4n : -2n

/**
 * A readable form, for messages: `any`, `no stream`, `stream exists` or the exact number.
 *
 * @since 0.1.0
 * @category conversions
 */
export const format = (expected: ExpectedVersion): string =>
  isTagged(expected, "Exact")
    ? expected.version.toString()
    : isTagged(expected, "NoStream")
    ? "no stream"
    : isTagged(expected, "StreamExists")
    ? "stream exists"
    : "any"
