/**
 * What travels under one correlation id. A request is kept as a description that can be sent again
 * (command, payload, credentials), never as bytes already written, so that a later reconnection can
 * re-send everything in flight on a new connection with a new correlation id.
 *
 * A conversation is the dispatcher's view of a correlation id in flight. A one-shot request is a
 * conversation that ends with its first reply; a subscription is a long conversation that receives
 * many packages and owns a bounded queue of its own. The dispatcher only ever calls `receive` and
 * `fail`, which must never block: a conversation whose consumer is slow deals with it itself
 * (overflow handling), it never stalls the connection.
 *
 * @internal
 */
import type { Package } from "@photonpump/protocol"
import type { Credentials } from "../Credentials.ts"
import type { ConnectionError } from "../EventStoreError.ts"

/**
 * A request as it can be (re-)sent.
 *
 * @internal
 */
export interface Request {
  readonly command: number
  readonly payload: Uint8Array
  /** Per-request credentials; `undefined` uses the connection's default user. */
  readonly credentials: Credentials | undefined
  /**
   * The whole frame, when the request was encoded as one: `payload` sits at its end, and the header's
   * bytes before it are free. A request without credentials is then sent by filling the header in,
   * with no copy of the payload.
   */
  readonly frame?: Uint8Array | undefined
}

/**
 * A correlation id in flight, as the dispatcher sees it.
 *
 * @internal
 */
export interface Conversation {
  /** The request that opened the conversation. */
  readonly request: Request
  /**
   * Handles one package sent under this conversation's correlation id. Must not block. Returns true when
   * the conversation is over, so that the dispatcher forgets its correlation id.
   */
  readonly receive: (pkg: Package.InboundPackage) => boolean
  /** The connection is gone: end at once with this error. Must not block. */
  readonly fail: (error: ConnectionError) => void
}
