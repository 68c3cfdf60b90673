/**
 * Positions in `$all`, the log of every event in the database: a commit and a prepare offset, compared
 * commit first (docs/protocol.md 4.3).
 *
 * @since 0.1.0
 */

/**
 * A position in `$all`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Position {
  readonly commit: bigint
  readonly prepare: bigint
}

/**
 * The position before the first event.
 *
 * @since 0.1.0
 * @category constants
 */
export const start: Position = { commit: 0n, prepare: 0n }

/**
 * The position after the last event; the server reads it as "the end of the log, now".
 *
 * @since 0.1.0
 * @category constants
 */
export const end: Position = { commit: -1n, prepare: -1n }

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (commit: bigint | number, prepare: bigint | number = commit): Position => ({
  commit: BigInt(commit),
  prepare: BigInt(prepare)
})

/**
 * Orders two positions: negative when `a` comes first, zero when they are equal.
 *
 * @since 0.1.0
 * @category ordering
 */
export const compare = (a: Position, b: Position): -1 | 0 | 1 =>
  a.commit < b.commit ? -1 : a.commit > b.commit ? 1 : a.prepare < b.prepare ? -1 : a.prepare > b.prepare ? 1 : 0

/**
 * @since 0.1.0
 * @category ordering
 */
export const equals = (a: Position, b: Position): boolean => a.commit === b.commit && a.prepare === b.prepare

/**
 * `commit/prepare`, for messages and logs.
 *
 * @since 0.1.0
 * @category conversions
 */
export const format = (position: Position): string => `${position.commit}/${position.prepare}`
