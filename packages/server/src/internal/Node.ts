/**
 * What every connection of a node shares: the store, the users, the settings, how replies are encoded
 * and who may do what. Also the shape of a command handler, so that each handler is a plain function
 * from a request to replies.
 *
 * @since 0.1.0
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Result from "effect/Result"
import * as Acl from "../Acl.ts"
import * as Protobuf from "./Protobuf.ts"
import type * as Store from "../Store.ts"
import type * as Users from "../Users.ts"
import { PersistentSubscriptions, type Client } from "./PersistentSubscriptions.ts"
import { VolatileSubscriptions } from "./VolatileSubscriptions.ts"

/**
 * The settings of a node, with every default applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly allowAnonymousStreamAccess: boolean
  readonly omitDefaultValues: boolean
  /** Milliseconds of silence after which a connection is probed. */
  readonly heartbeatInterval: number
  /** Milliseconds a probed connection has to show a sign of life. */
  readonly heartbeatTimeout: number
  /** The largest frame body accepted. */
  readonly maxFrameLength: number
  /** The unsent bytes a connection may hold before the node drops it as a slow reader. */
  readonly maxSendQueueBytes: number
  /** Milliseconds after which a write to an unknown transaction fails with PrepareTimeout. */
  readonly prepareTimeout: number
  /**
   * Milliseconds between two ticks of the persistent subscriptions' clock, which retries messages whose
   * timeout passed and writes checkpoints that are due (the real server ticks every second).
   */
  readonly persistentSubscriptionTick: number
}

/**
 * The shared state of a node.
 *
 * @since 0.1.0
 * @category models
 */
export interface Node {
  readonly store: Store.Store
  readonly users: Users.Users
  readonly settings: Settings
  /** Encodes a reply in the node's style: every required field, or defaults omitted (22.6+). */
  readonly encode: <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>) => Uint8Array
  readonly isAllowed: (user: Users.User | undefined, streamId: string, operation: Acl.Operation) => boolean
  /** The target of a link event, or `undefined` when it cannot be resolved (`Store.resolveLink`). */
  readonly resolveLink: (link: Store.RecordedEvent) => Store.RecordedEvent | undefined
  readonly logDebug: (message: string) => void
  /** The volatile subscriptions of every connection. */
  readonly volatile: VolatileSubscriptions
  /** The persistent subscription groups and their consumers. */
  readonly persistent: PersistentSubscriptions
  /** Drops every subscription, as a node that shuts down does. */
  readonly shutdown: () => void
  /** The number of live subscriptions: volatile ones and persistent-subscription consumers. */
  readonly subscriptionCount: () => number
}

/**
 * Creates the shared state of a node.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly store: Store.Store
  readonly users: Users.Users
  readonly settings: Settings
  readonly logDebug: (message: string) => void
}): Node => {
  const { settings, store } = options
  const encoder = settings.omitDefaultValues ? Messages.encodeOmittingDefaults : Messages.encode
  const aclOf = (streamId: string) => store.metadataOf(streamId).acl
  const node: { -readonly [K in keyof Node]: Node[K] } = {
    ...options,
    volatile: undefined as unknown as VolatileSubscriptions,
    persistent: new PersistentSubscriptions(store),
    shutdown: () => {
      node.volatile.shutdown()
      node.persistent.shutdown()
    },
    subscriptionCount: () => node.volatile.size + node.persistent.consumerCount,
    resolveLink: (link) => store.resolveLink(link),
    encode: (schema, message) => {
      const encoded = encoder(schema, message)
      // Replies are built here with every required field set; failing to encode one is a bug.
      if (Result.isFailure(encoded)) throw encoded.failure
      return encoded.success
    },
    isAllowed: (user, streamId, operation) =>
      Acl.isAllowed({
        user,
        streamId,
        operation,
        aclOf,
        settings: store.settings(),
        allowAnonymousStreamAccess: settings.allowAnonymousStreamAccess
      })
  }
  node.volatile = new VolatileSubscriptions(node)
  return node
}

/**
 * A request, once its credentials have been checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly command: number
  /**
   * The correlation id's 16 wire bytes: a view into the frame, valid only while the request is being
   * handled. A reply sent later must use `correlationId`.
   */
  readonly correlationIdBytes: Uint8Array
  /** The correlation id as a UUID (computed on first use). */
  readonly correlationId: string
  /** A view into the frame, valid only while the request is being handled. */
  readonly payload: Uint8Array
  /** The caller; `undefined` for an anonymous one. */
  readonly user: Users.User | undefined
}

/**
 * A subscription living on a connection, found by the correlation id it was made with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscription {
  /** UnsubscribeFromStream: answer SubscriptionDropped(Unsubscribed) and end the subscription. */
  readonly unsubscribe: () => void
  /** The connection closed: end the subscription without a word. */
  readonly connectionClosed: () => void
  /**
   * The consumer, for a persistent subscription: acks and naks name it by the correlation id. When the
   * connection closes, the session takes all of its consumers out of their groups at once, before it
   * ends each subscription.
   */
  readonly consumer?: Client | undefined
}

/**
 * What a handler may do to the connection a request came on.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /**
   * The output of the connection, to write a reply frame into (see `Replies`), or `undefined` when the
   * connection takes no more replies (it is closing, or was just dropped as a slow reader).
   */
  readonly output: () => Protobuf.Writer | undefined
  /** Replies with an encoded payload. */
  readonly reply: (command: number, correlationId: string | Uint8Array, payload: Uint8Array) => void
  /** Replies BadRequest with the given text; the connection stays open. */
  readonly badRequest: (correlationId: string | Uint8Array, reason: string) => void
  /**
   * Whether the client has not identified itself with IdentifyClient version 1 (a V1 client): its read
   * replies and subscription messages carry the event number 2^63-1 as 2^31-1 (docs/protocol.md 4.1).
   */
  readonly isV1Client: () => boolean
  /** Runs `f` after `delay` milliseconds unless the connection closes first. */
  readonly later: (delay: number, f: () => void) => void
  /**
   * The subscriptions made on this connection, by correlation id. The session ends each of them with
   * `connectionClosed` when the connection closes.
   */
  readonly subscriptions: Map<string, Subscription>
}

/**
 * A command handler.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (node: Node, connection: Connection, request: Request) => void

/**
 * Replies BadRequest the way the server answers a package it cannot unwrap into a valid message.
 *
 * @since 0.1.0
 * @category replies
 */
export const cannotUnwrap = (connection: Connection, request: Request, reason: string): void =>
  connection.badRequest(
    request.correlationIdBytes,
    `Could not unwrap network package for command ${Command.name(request.command)}.\n${reason}`
  )

/**
 * Reads a request's payload with one of the hand-written readers of `Requests`, replying BadRequest and
 * returning `undefined` when it is not the message the command calls for.
 *
 * @since 0.1.0
 * @category decoding
 */
export const read = <A>(connection: Connection, request: Request, reader: (payload: Uint8Array) => A): A | undefined => {
  try {
    return reader(request.payload)
  } catch (error) {
    if (!(error instanceof Protobuf.Malformed)) throw error
    cannotUnwrap(connection, request, error.message)
    return undefined
  }
}

/**
 * Decodes a request's payload, replying BadRequest and returning `undefined` when it is not the
 * message the command calls for.
 *
 * @since 0.1.0
 * @category decoding
 */
export const unwrap = <Desc extends DescMessage>(
  connection: Connection,
  request: Request,
  schema: Desc
): MessageShape<Desc> | undefined => {
  const decoded = Messages.decode(schema, request.payload)
  if (Result.isSuccess(decoded)) return decoded.success
  cannotUnwrap(connection, request, decoded.failure.message)
  return undefined
}

/**
 * The largest event the server accepts: data, metadata and twice the event type's length must stay
 * below the log's maximum record size of 16 MiB, less the record's own header.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxEventSize = 16 * 1024 * 1024 - 8 * 1024
