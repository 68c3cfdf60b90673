/**
 * .NET ticks, the clock EventStore uses for an event's `created` field: 100-nanosecond units since
 * 0001-01-01 UTC, in the `DateTime.ToBinary()` form whose top two bits carry the date's kind
 * (docs/protocol.md 3.3 and 4.12).
 *
 * @since 0.1.0
 */

/**
 * Ticks at the Unix epoch, 1970-01-01T00:00:00Z.
 *
 * @since 0.1.0
 * @category constants
 */
export const unixEpoch = 621_355_968_000_000_000n

const ticksPerMillisecond = 10_000n
const kindMask = 0x3fff_ffff_ffff_ffffn

/**
 * The ticks of a moment given as milliseconds since the Unix epoch. A fractional number of milliseconds
 * is truncated; a number that is not finite throws a `RangeError`, as `BigInt` does.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromEpochMillis = (millis: number | bigint): bigint =>
  BigInt(typeof millis === "bigint" ? millis : Math.trunc(millis)) * ticksPerMillisecond + unixEpoch

/**
 * The ticks of a `Date`. An invalid `Date` throws a `RangeError`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromDate = (date: Date): bigint => fromEpochMillis(date.getTime())

/**
 * Milliseconds since the Unix epoch for a `DateTime.ToBinary()` value, ignoring its kind bits (so a
 * value whose top bit is set, which an int64 field reads as negative, works too). Precision below a
 * millisecond is dropped, rounding down.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toEpochMillis = (ticks: bigint): number => {
  const sinceEpoch = (ticks & kindMask) - unixEpoch
  const millis = sinceEpoch / ticksPerMillisecond
  // bigint division truncates towards zero; moments before 1970 must round down like the others.
  return Number(sinceEpoch < 0n && millis * ticksPerMillisecond !== sinceEpoch ? millis - 1n : millis)
}

/**
 * The `Date` of a `DateTime.ToBinary()` value.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toDate = (ticks: bigint): Date => new Date(toEpochMillis(ticks))
