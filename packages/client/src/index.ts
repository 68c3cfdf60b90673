/**
 * `@photonpump/client`: an Effect client for EventStore over its TCP protocol.
 *
 * @since 0.1.0
 */

/**
 * User names and passwords.
 *
 * @since 0.1.0
 */
export * as Credentials from "./Credentials.ts"

/**
 * Expected versions for optimistic concurrency.
 *
 * @since 0.1.0
 */
export * as ExpectedVersion from "./ExpectedVersion.ts"

/**
 * The errors.
 *
 * @since 0.1.0
 */
export * as EventStoreError from "./EventStoreError.ts"

/**
 * Server-side filters for `$all` reads.
 *
 * @since 0.1.0
 */
export * as Filter from "./Filter.ts"

/**
 * Events to write.
 *
 * @since 0.1.0
 */
export * as NewEvent from "./NewEvent.ts"

/**
 * Persistent subscriptions: group settings, events to ack or nak, auto-ack.
 *
 * @since 0.1.0
 */
export * as PersistentSubscription from "./PersistentSubscription.ts"

/**
 * Positions in `$all`.
 *
 * @since 0.1.0
 */
export * as Position from "./Position.ts"

/**
 * Events as stored.
 *
 * @since 0.1.0
 */
export * as RecordedEvent from "./RecordedEvent.ts"

/**
 * Events as a read found them, with the link they came through.
 *
 * @since 0.1.0
 */
export * as ResolvedEvent from "./ResolvedEvent.ts"

/**
 * Options, defaults, connection strings and config.
 *
 * @since 0.1.0
 */
export * as Settings from "./Settings.ts"

/**
 * Pages of reads.
 *
 * @since 0.1.0
 */
export * as Slice from "./Slice.ts"

/**
 * Read directions.
 *
 * @since 0.1.0
 */
export * as StreamDirection from "./StreamDirection.ts"

/**
 * What the streams of volatile and catch-up subscriptions carry: events, `CaughtUp`, `FellBehind`,
 * `Checkpoint`.
 *
 * @since 0.1.0
 */
export * as Subscription from "./Subscription.ts"

/**
 * Stream metadata.
 *
 * @since 0.1.0
 */
export * as StreamMetadata from "./StreamMetadata.ts"

/**
 * What writes and deletes report.
 *
 * @since 0.1.0
 */
export * as WriteResult from "./WriteResult.ts"

/**
 * The options every operation takes.
 *
 * @since 0.1.0
 */
export * as CallOptions from "./CallOptions.ts"

/**
 * The `EventStore` service, its layers and its operations.
 *
 * @since 0.1.0
 */
export * as EventStore from "./EventStore.ts"

/**
 * Explicit transactions.
 *
 * @since 0.1.0
 */
export * as Transaction from "./Transaction.ts"
