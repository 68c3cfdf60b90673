/**
 * Explicit transactions: events written in several steps that become visible together when the
 * transaction commits (docs/protocol.md 4.10). The expected version given at the start is checked at
 * commit time. Start one with `EventStore.startTransaction`.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { TransactionError } from "./EventStoreError.ts"
import type { NewEvent } from "./NewEvent.ts"
import type { WriteResult } from "./WriteResult.ts"
import type { CallOptions } from "./CallOptions.ts"

/**
 * A transaction in progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transaction {
  /** The server's id for the transaction. */
  readonly transactionId: bigint
  /** The stream the transaction writes to. */
  readonly stream: string
  /** Adds events to the transaction. They stay invisible until `commit`. */
  readonly write: (events: Iterable<NewEvent>, options?: CallOptions) => Effect.Effect<void, TransactionError>
  /** Commits the transaction: checks the expected version and makes every event written visible. */
  readonly commit: (options?: CallOptions) => Effect.Effect<WriteResult, TransactionError>
}
