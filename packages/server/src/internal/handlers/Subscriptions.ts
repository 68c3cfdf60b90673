/**
 * SubscribeToStream, FilteredSubscribeToStream and UnsubscribeFromStream (docs/protocol.md 3.6, 5.1
 * and 5.2). UnsubscribeFromStream also ends persistent subscriptions, which live on the connection
 * under their correlation id too.
 *
 * @since 0.1.0
 */
import { create } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Acl from "../../Acl.ts"
import type * as Store from "../../Store.ts"
import * as Node from "../Node.ts"
import { eventFilter } from "./AllReads.ts"

const subscribe = (
  node: Node.Node,
  connection: Node.Connection,
  request: Node.Request,
  streamId: string,
  resolveLinkTos: boolean,
  filter?: (event: Store.RecordedEvent) => boolean,
  checkpointInterval?: number
): void => {
  if (!node.isAllowed(request.user, streamId.length === 0 ? Acl.allStream : streamId, "read")) {
    return connection.reply(
      Command.Command.SubscriptionDropped,
      request.correlationIdBytes,
      node.encode(
        Messages.SubscriptionDroppedSchema,
        create(Messages.SubscriptionDroppedSchema, {
          reason: Messages.SubscriptionDropped_SubscriptionDropReason.AccessDenied
        })
      )
    )
  }
  node.volatile.subscribe({
    connection,
    correlationId: request.correlationId,
    correlationIdBytes: request.correlationIdBytes,
    streamId,
    resolveLinkTos,
    filter,
    checkpointInterval
  })
}

/**
 * Handles SubscribeToStream: an empty stream id subscribes to `$all`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const subscribeToStream: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.SubscribeToStreamSchema)
  if (message === undefined) return
  subscribe(node, connection, request, message.eventStreamId, message.resolveLinkTos)
}

/**
 * Handles FilteredSubscribeToStream: only events that match the filter are pushed, and every
 * `checkpoint_interval` events considered (matching or not) a CheckpointReached tells the position.
 *
 * @since 0.1.0
 * @category handlers
 */
export const filteredSubscribeToStream: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.FilteredSubscribeToStreamSchema)
  if (message === undefined) return
  const matches = eventFilter(message.filter)
  if (typeof matches === "string") return Node.cannotUnwrap(connection, request, matches)
  subscribe(node, connection, request, message.eventStreamId, message.resolveLinkTos, matches, message.checkpointInterval)
}

/**
 * Handles UnsubscribeFromStream: the subscription made with the same correlation id on this
 * connection is dropped with Unsubscribed. An unknown id gets no answer, as on the real server. The
 * message has no fields, but a payload that does not deserialize as one is refused with BadRequest,
 * and the subscription stays.
 *
 * @since 0.1.0
 * @category handlers
 */
export const unsubscribeFromStream: Node.Handler = (_node, connection, request) => {
  if (Node.unwrap(connection, request, Messages.UnsubscribeFromStreamSchema) === undefined) return
  connection.subscriptions.get(request.correlationId)?.unsubscribe()
}
