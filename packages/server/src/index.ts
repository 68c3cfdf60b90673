/**
 * `@photonpump/server`: an in-memory EventStore node that speaks the real TCP protocol, for tests,
 * demos and development.
 *
 * @since 0.1.0
 */

/**
 * Who may do what to a stream.
 *
 * @since 0.1.0
 */
export * as Acl from "./Acl.ts"

/**
 * The node: layer, scoped constructor and promise-based start.
 *
 * @since 0.1.0
 */
export * as EventStoreServer from "./EventStoreServer.ts"

/**
 * The error of a node that cannot start.
 *
 * @since 0.1.0
 */
export * as ServerError from "./ServerError.ts"

/**
 * The store: log, streams, and the server's rules for writes and reads.
 *
 * @since 0.1.0
 */
export * as Store from "./Store.ts"

/**
 * Stream metadata as the server reads it.
 *
 * @since 0.1.0
 */
export * as StreamMetadata from "./StreamMetadata.ts"

/**
 * Users and their credentials.
 *
 * @since 0.1.0
 */
export * as Users from "./Users.ts"
