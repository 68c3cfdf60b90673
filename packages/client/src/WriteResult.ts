/**
 * What a successful write or delete reports.
 *
 * @since 0.1.0
 */
import type * as Position from "./Position.ts"

/**
 * The outcome of a write (or a transaction commit).
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteResult {
  /** The number of the first event written. */
  readonly firstEventNumber: bigint
  /**
   * The number of the last event written: the stream's version after the write, to pass as the
   * expected version of the next one.
   */
  readonly lastEventNumber: bigint
  /** The position in `$all` of the write. */
  readonly position: Position.Position
}

/**
 * The outcome of a stream deletion.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeleteResult {
  /** The position in `$all` of the deletion record. */
  readonly position: Position.Position
}
