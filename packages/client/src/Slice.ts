/**
 * Pages of a read: a slice of a stream, or of `$all`, with what is needed to read the next page.
 *
 * @since 0.1.0
 */
import type * as Position from "./Position.ts"
import type { ResolvedEvent } from "./ResolvedEvent.ts"
import type { StreamDirection } from "./StreamDirection.ts"

/**
 * A page of a stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamSlice {
  readonly stream: string
  readonly direction: StreamDirection
  /** The event number the read started from (-1 means "the end", backwards). */
  readonly fromEventNumber: bigint
  /** The events, in the order of the read. */
  readonly events: ReadonlyArray<ResolvedEvent>
  /** Where the next page starts: `fromEventNumber` for the following read. -1 at the start of a backward read. */
  readonly nextEventNumber: bigint
  /** The number of the stream's last event at the time of the read. */
  readonly lastEventNumber: bigint
  /** Whether this page reaches the end of the stream in the read's direction. */
  readonly isEndOfStream: boolean
  /** The server's last committed position in `$all` at the time of the read. */
  readonly lastCommitPosition: bigint
}

/**
 * A page of `$all`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AllSlice {
  readonly direction: StreamDirection
  /** The position the read started from. */
  readonly fromPosition: Position.Position
  /** The events, in the order of the read. */
  readonly events: ReadonlyArray<ResolvedEvent>
  /** Where the next page starts. */
  readonly nextPosition: Position.Position
  /**
   * Whether the read reached the end of `$all` in its direction. For unfiltered reads this is an empty
   * page (as in the official clients); filtered reads carry the server's own flag.
   */
  readonly isEndOfStream: boolean
}
