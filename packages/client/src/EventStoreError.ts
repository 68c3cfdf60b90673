/**
 * Everything that can go wrong, one tagged error per kind, so that a caller can `Effect.catchTag` the
 * ones it cares about. Each operation of the `EventStore` service lists in its error channel exactly
 * the errors it can fail with; the groups at the end of this module name the usual combinations.
 *
 * No error carries a password: credentials are `Redacted` everywhere, and connection strings are
 * echoed with their password masked.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as SchemaError from "effect/Schema"
import * as ExpectedVersion from "./ExpectedVersion.ts"

/**
 * A write (or a delete, or a transaction commit) was refused because the stream's version was not the
 * expected one. `actualVersion` is the stream's last event number as the server reported it (-1 when
 * the stream has no events), or `undefined` when the reply does not say: transaction commits, servers
 * older than 4.0, and deletes on servers older than 21.10.5. (A delete's reply from a 22.6+ server leaves
 * the field out when the version is 0, which reads as `undefined` too: the two cannot be told apart.)
 *
 * @since 0.1.0
 * @category errors
 */
export class WrongExpectedVersion extends Data.TaggedError("WrongExpectedVersion")<{
  readonly stream: string
  readonly expectedVersion: ExpectedVersion.ExpectedVersion
  readonly actualVersion: bigint | undefined
}> {
  override get message(): string {
    const actual = this.actualVersion === undefined ? "not reported" : this.actualVersion.toString()
    return `Wrong expected version for stream "${this.stream}": expected ${
      ExpectedVersion.format(this.expectedVersion)
    }, actual ${actual}`
  }
}

/**
 * The stream has been deleted for good (hard delete): it can never be read or written again. A
 * soft-deleted stream reads as `StreamNotFound` instead.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamDeleted extends Data.TaggedError("StreamDeleted")<{
  readonly stream: string
}> {
  override get message(): string {
    return `Stream "${this.stream}" has been deleted`
  }
}

/**
 * The stream does not exist (it was never written, or it was soft-deleted).
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamNotFound extends Data.TaggedError("StreamNotFound")<{
  readonly stream: string
}> {
  override get message(): string {
    return `Stream "${this.stream}" does not exist`
  }
}

/**
 * The stream exists but holds no readable event with that number (beyond its end, truncated, or
 * older than its `$maxAge`).
 *
 * @since 0.1.0
 * @category errors
 */
export class EventNotFound extends Data.TaggedError("EventNotFound")<{
  readonly stream: string
  readonly eventNumber: bigint
}> {
  override get message(): string {
    const which = this.eventNumber === -1n ? "last event" : `event ${this.eventNumber}`
    return `No ${which} in stream "${this.stream}"`
  }
}

/**
 * The user (or the anonymous user) is known but is not allowed to do this. `stream` is the stream the
 * operation was about, or `$all`.
 *
 * @since 0.1.0
 * @category errors
 */
export class AccessDenied extends Data.TaggedError("AccessDenied")<{
  readonly operation: string
  readonly stream: string
}> {
  override get message(): string {
    return `Access denied: ${this.operation} on "${this.stream}"`
  }
}

/**
 * The server did not accept the credentials (wrong user name or password). `reason` is the server's
 * own text. The credentials themselves are never part of the error.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotAuthenticated extends Data.TaggedError("NotAuthenticated")<{
  readonly operation: string
  readonly reason: string
}> {
  override get message(): string {
    return `Not authenticated (${this.operation})${this.reason === "" ? "" : `: ${this.reason}`}`
  }
}

/**
 * The request was refused as invalid, by the server (`reason` is its text) or by the client before
 * anything was sent (an invalid event id, credentials too long for the protocol, data that is not
 * serialisable as JSON, a page size out of range...).
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Data.TaggedError("BadRequest")<{
  readonly operation: string
  readonly reason: string
}> {
  override get message(): string {
    return `Bad request (${this.operation}): ${this.reason}`
  }
}

/**
 * Where the leader of a cluster can be reached, as a node that is not the leader reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaderInfo {
  readonly tcpHost: string
  readonly tcpPort: number
  readonly secureTcpHost: string | undefined
  readonly secureTcpPort: number | undefined
  readonly httpHost: string
  readonly httpPort: number
}

/**
 * The node did not handle the request: it is not ready yet, too busy, not the leader (while the
 * request required the leader; `leader` says where the leader is) or a read-only replica.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotHandled extends Data.TaggedError("NotHandled")<{
  readonly operation: string
  readonly reason: "NotReady" | "TooBusy" | "NotLeader" | "IsReadOnly"
  readonly leader: LeaderInfo | undefined
}> {
  override get message(): string {
    const where = this.leader === undefined ? "" : ` (leader at ${this.leader.tcpHost}:${this.leader.tcpPort})`
    return `Not handled (${this.operation}): ${this.reason}${where}`
  }
}

/**
 * No answer in time. `source` says who gave up: the client, after `timeout` without a reply (the
 * connection stays open and keeps serving other requests), or the server, whose write phase timed out
 * (`PrepareTimeout`, `CommitTimeout`, `ForwardTimeout`). A server-side timeout leaves the outcome
 * unknown; re-sending the same events with the same ids is safe.
 *
 * @since 0.1.0
 * @category errors
 */
export class Timeout extends Data.TaggedError("Timeout")<{
  readonly operation: string
  readonly source: "Client" | "PrepareTimeout" | "CommitTimeout" | "ForwardTimeout"
  readonly timeout: Duration.Duration | undefined
}> {
  override get message(): string {
    return this.source === "Client"
      ? `${this.operation} timed out: no reply within ${Duration.format(this.timeout ?? Duration.zero)}`
      : `${this.operation} timed out on the server (${this.source})`
  }
}

/**
 * The connection could not be made, or it is gone. Every request pending on a connection that dies
 * fails with this error at once, and every later request fails with it straight away. `reason`
 * classifies what happened; `detail` says it in words. The host and port are always named.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly host: string
  readonly port: number
  readonly reason:
    /** The TCP (or TLS) connection could not be opened. */
    | "ConnectFailed"
    /** The TCP (or TLS) connection was not open within the connect timeout. */
    | "ConnectTimeout"
    /** The server did not finish the handshake (authentication, identification) in time. */
    | "HandshakeTimeout"
    /** The server refused the default credentials during the handshake. */
    | "AuthenticationFailed"
    /** The server closed the connection, or the socket failed. */
    | "Closed"
    /** The server did not answer a heartbeat in time. */
    | "HeartbeatTimeout"
    /** The server sent bytes that are not the protocol, or a connection-wide BadRequest. */
    | "ProtocolViolation"
    /** The connection was closed by this client (its scope ended). */
    | "ClientClosed"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Connection to ${this.host}:${this.port} ${describeReason(this.reason)}: ${this.detail}`
  }
}

const describeReason = (reason: ConnectionError["reason"]): string => {
  switch (reason) {
    case "ConnectFailed":
      return "failed"
    case "ConnectTimeout":
      return "timed out"
    case "HandshakeTimeout":
      return "timed out during the handshake"
    case "AuthenticationFailed":
      return "was refused authentication"
    case "Closed":
      return "closed"
    case "HeartbeatTimeout":
      return "lost (heartbeat timeout)"
    case "ProtocolViolation":
      return "broken (protocol violation)"
    case "ClientClosed":
      return "closed by the client"
  }
}

/**
 * The server's reply could not be understood: its payload did not decode, it was a command this
 * operation does not expect, or it carried a result (or a NotHandled reason) this client does not know.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly operation: string
  readonly reason: string
}> {
  override get message(): string {
    return `Unexpected reply to ${this.operation}: ${this.reason}`
  }
}

/**
 * The transaction is not known to the server (never started, already committed, or lost).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTransaction extends Data.TaggedError("InvalidTransaction")<{
  readonly stream: string
  readonly transactionId: bigint
}> {
  override get message(): string {
    return `Invalid transaction ${this.transactionId} on stream "${this.stream}"`
  }
}

/**
 * An event's data is not what the caller expected: not JSON, or not of the shape of the given
 * `Schema` (`issue` holds the schema's own report).
 *
 * @since 0.1.0
 * @category errors
 */
export class EventDecodeError extends Data.TaggedError("EventDecodeError")<{
  readonly stream: string
  readonly eventNumber: bigint
  readonly eventType: string
  readonly reason: string
  readonly issue: SchemaError.SchemaError | undefined
}> {
  override get message(): string {
    return `Cannot decode event ${this.eventNumber} of "${this.stream}" (${this.eventType}): ${this.reason}`
  }
}

/**
 * The settings are not valid. For a connection string, `input` is the string with its password masked,
 * and `position` / `length` point at the bad part (the message underlines it).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSettings extends Data.TaggedError("InvalidSettings")<{
  readonly reason: string
  readonly input: string | undefined
  readonly position: number | undefined
  readonly length: number | undefined
}> {
  override get message(): string {
    if (this.input === undefined || this.position === undefined) return `Invalid settings: ${this.reason}`
    const underline = " ".repeat(this.position) + "^".repeat(Math.max(1, this.length ?? 1))
    return `Invalid connection string: ${this.reason}\n  ${this.input}\n  ${underline}`
  }
}

/**
 * The server ended a subscription that the client had not asked to end. `reason` is the server's drop
 * reason: usually `Unsubscribed` (a persistent subscription group was updated or deleted, or the
 * server is shutting down); a reason that does not fit the kind of subscription (`NotFound` for a
 * volatile one...) is reported as it is, and one this client does not know as `Unknown`. `code` is
 * the reason's number on the wire. `group` is the persistent subscription group, if any.
 *
 * @since 0.1.0
 * @category errors
 */
export class SubscriptionDropped extends Data.TaggedError("SubscriptionDropped")<{
  readonly stream: string
  readonly group: string | undefined
  readonly reason:
    | "Unsubscribed"
    | "NotFound"
    | "PersistentSubscriptionDeleted"
    | "SubscriberMaxCountReached"
    | "Unknown"
  readonly code: number
}> {
  override get message(): string {
    const what = this.group === undefined ? `"${this.stream}"` : `group "${this.group}" of "${this.stream}"`
    return `The server dropped the subscription to ${what}: ${
      this.reason === "Unknown" ? `unknown reason ${this.code}` : this.reason
    }`
  }
}

/**
 * A volatile subscription's consumer fell so far behind that the events waiting for it filled the
 * buffer (`bufferSize` events): the client unsubscribed rather than let memory grow. (A catch-up
 * subscription does not fail this way: it goes back to reading, see `Subscription.FellBehind`.) For a
 * persistent subscription, the server kept sending beyond the buffer the client asked for.
 *
 * @since 0.1.0
 * @category errors
 */
export class SubscriptionOverflow extends Data.TaggedError("SubscriptionOverflow")<{
  readonly stream: string
  readonly bufferSize: number
}> {
  override get message(): string {
    return `The subscription to "${this.stream}" overflowed its buffer of ${this.bufferSize} events`
  }
}

/**
 * The persistent subscription group does not exist (on that stream).
 *
 * @since 0.1.0
 * @category errors
 */
export class PersistentSubscriptionNotFound extends Data.TaggedError("PersistentSubscriptionNotFound")<{
  readonly stream: string
  readonly group: string
}> {
  override get message(): string {
    return `No persistent subscription group "${this.group}" on stream "${this.stream}"`
  }
}

/**
 * A persistent subscription group of that name already exists on the stream.
 *
 * @since 0.1.0
 * @category errors
 */
export class PersistentSubscriptionAlreadyExists extends Data.TaggedError("PersistentSubscriptionAlreadyExists")<{
  readonly stream: string
  readonly group: string
}> {
  override get message(): string {
    return `The persistent subscription group "${this.group}" on stream "${this.stream}" already exists`
  }
}

/**
 * The persistent subscription group was deleted while the consumer was connected to it.
 *
 * @since 0.1.0
 * @category errors
 */
export class PersistentSubscriptionDeleted extends Data.TaggedError("PersistentSubscriptionDeleted")<{
  readonly stream: string
  readonly group: string
}> {
  override get message(): string {
    return `The persistent subscription group "${this.group}" on stream "${this.stream}" was deleted`
  }
}

/**
 * The persistent subscription group already has as many consumers as its `maxSubscriberCount` allows.
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxSubscribersReached extends Data.TaggedError("MaxSubscribersReached")<{
  readonly stream: string
  readonly group: string
}> {
  override get message(): string {
    return `The persistent subscription group "${this.group}" on stream "${this.stream}" has its maximum of consumers`
  }
}

/**
 * The server refused to create, update or delete a persistent subscription group and said why
 * (`reason`, its text): for example "Bad stream name." for `$all` or an empty stream, or an unknown
 * consumer strategy.
 *
 * @since 0.1.0
 * @category errors
 */
export class PersistentSubscriptionFailed extends Data.TaggedError("PersistentSubscriptionFailed")<{
  readonly operation: string
  readonly stream: string
  readonly group: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.operation} of group "${this.group}" on stream "${this.stream}" failed${
      this.reason === "" ? "" : `: ${this.reason}`
    }`
  }
}

/**
 * The errors any request can fail with, whatever it asks: the server may refuse the credentials, call
 * the request invalid or decline to handle it; the reply may not come in time or not be understood;
 * the connection may be gone.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestError = NotAuthenticated | BadRequest | NotHandled | Timeout | ConnectionError | ProtocolError

/**
 * The errors of a write to a stream (`publish`, `publishEvent`, `setStreamMetadata`).
 *
 * @since 0.1.0
 * @category errors
 */
export type WriteError = WrongExpectedVersion | StreamDeleted | AccessDenied | RequestError

/**
 * The errors of reading one event.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadEventError = EventNotFound | StreamNotFound | StreamDeleted | AccessDenied | RequestError

/**
 * The errors of reading a stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadStreamError = StreamNotFound | StreamDeleted | AccessDenied | RequestError

/**
 * The errors of reading `$all`.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadAllError = AccessDenied | RequestError

/**
 * The errors of deleting a stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type DeleteError = WrongExpectedVersion | StreamDeleted | AccessDenied | RequestError

/**
 * The errors of reading a stream's metadata. A deleted stream is not an error here: the result says so.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadMetadataError = AccessDenied | RequestError

/**
 * The errors of the steps of a transaction.
 *
 * @since 0.1.0
 * @category errors
 */
export type TransactionError = WrongExpectedVersion | StreamDeleted | AccessDenied | InvalidTransaction | RequestError

/**
 * The errors of opening a connection.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectError = ConnectionError | InvalidSettings

/**
 * The errors of a volatile or catch-up subscription (`subscribeTo`, `subscribeToAll`): refused or
 * dropped by the server, a volatile subscription's overflow, and, for catch-up subscriptions, what
 * reading the history can meet.
 *
 * @since 0.1.0
 * @category errors
 */
export type SubscribeError = AccessDenied | StreamDeleted | SubscriptionDropped | SubscriptionOverflow | RequestError

/**
 * The errors of a consumer of a persistent subscription group (`connectSubscription`).
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectSubscriptionError =
  | PersistentSubscriptionNotFound
  | PersistentSubscriptionDeleted
  | MaxSubscribersReached
  | AccessDenied
  | SubscriptionDropped
  | SubscriptionOverflow
  | RequestError

/**
 * The errors of creating a persistent subscription group.
 *
 * @since 0.1.0
 * @category errors
 */
export type CreateSubscriptionError =
  | PersistentSubscriptionAlreadyExists
  | PersistentSubscriptionFailed
  | AccessDenied
  | RequestError

/**
 * The errors of updating or deleting a persistent subscription group.
 *
 * @since 0.1.0
 * @category errors
 */
export type UpdateSubscriptionError =
  | PersistentSubscriptionNotFound
  | PersistentSubscriptionFailed
  | AccessDenied
  | RequestError

/**
 * Any error of this package.
 *
 * @since 0.1.0
 * @category errors
 */
export type EventStoreError =
  | WrongExpectedVersion
  | StreamDeleted
  | StreamNotFound
  | EventNotFound
  | AccessDenied
  | NotAuthenticated
  | BadRequest
  | NotHandled
  | Timeout
  | ConnectionError
  | ProtocolError
  | InvalidTransaction
  | EventDecodeError
  | InvalidSettings
  | SubscriptionDropped
  | SubscriptionOverflow
  | PersistentSubscriptionNotFound
  | PersistentSubscriptionAlreadyExists
  | PersistentSubscriptionDeleted
  | MaxSubscribersReached
  | PersistentSubscriptionFailed
