/**
 * The options every operation takes.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type { Credentials } from "./Credentials.ts"

/**
 * Options of a single call, overriding the connection's settings for that call only.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Credentials for this request only; by default the connection's default user (or anonymous). */
  readonly credentials?: Credentials | undefined
  /** Refuse to be served by a node that is not the leader; by default the connection's setting. */
  readonly requireLeader?: boolean | undefined
  /** How long to wait for the reply; by default the connection's operation timeout. */
  readonly timeout?: Duration.Input | undefined
}
