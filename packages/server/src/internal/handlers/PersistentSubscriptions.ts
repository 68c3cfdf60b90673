/**
 * The persistent-subscription commands (docs/protocol.md 3.7 and 5.4): Create, Update and Delete
 * (for `$admins` and `$ops`), ConnectToPersistentSubscription (for callers that may read the stream),
 * and the acks and naks of a connected consumer, which come with the connect's correlation id.
 * UnsubscribeFromStream is served by the Subscriptions handlers.
 *
 * @since 0.1.0
 */
import { create } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Users from "../../Users.ts"
import * as Node from "../Node.ts"
import type * as PersistentSubscriptions from "../PersistentSubscriptions.ts"
import * as Replies from "../Replies.ts"
import * as Wire from "../Wire.ts"

const C = Command.Command
const Dropped = Messages.SubscriptionDropped_SubscriptionDropReason

const mayManage = (user: Users.User | undefined): boolean =>
  user !== undefined && (Users.hasRole(user, Users.admins) || Users.hasRole(user, Users.ops))

const settingsOf = (
  message: Messages.CreatePersistentSubscription | Messages.UpdatePersistentSubscription
): PersistentSubscriptions.Settings => ({
  resolveLinkTos: message.resolveLinkTos,
  startFrom: Wire.toNumber(message.startFrom),
  messageTimeout: message.messageTimeoutMilliseconds,
  extraStatistics: message.recordStatistics,
  liveBufferSize: message.liveBufferSize,
  readBatchSize: message.readBatchSize,
  historyBufferSize: message.bufferSize,
  maxRetryCount: message.maxRetryCount,
  preferRoundRobin: message.preferRoundRobin,
  checkPointAfter: message.checkpointAfterTime,
  minCheckPointCount: message.checkpointMinCount,
  maxCheckPointCount: message.checkpointMaxCount,
  maxSubscriberCount: message.subscriberMaxCount,
  namedConsumerStrategy: message.namedConsumerStrategy
})

const updatedBy = (request: Node.Request): string => request.user?.login ?? "$anonymous"

const CreateResult = Messages.CreatePersistentSubscriptionCompleted_CreatePersistentSubscriptionResult

/**
 * Handles CreatePersistentSubscription.
 *
 * @since 0.1.0
 * @category handlers
 */
export const createPersistentSubscription: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.CreatePersistentSubscriptionSchema)
  if (message === undefined) return
  const reply = (result: Messages.CreatePersistentSubscriptionCompleted_CreatePersistentSubscriptionResult, reason: string) =>
    connection.reply(
      C.CreatePersistentSubscriptionCompleted,
      request.correlationIdBytes,
      node.encode(
        Messages.CreatePersistentSubscriptionCompletedSchema,
        create(Messages.CreatePersistentSubscriptionCompletedSchema, { result, reason })
      )
    )
  if (!mayManage(request.user)) return reply(CreateResult.AccessDenied, "Access Denied")
  const result = node.persistent.create(
    message.eventStreamId,
    message.subscriptionGroupName,
    settingsOf(message),
    updatedBy(request)
  )
  switch (result.status) {
    case "Success":
      return reply(CreateResult.Success, "")
    case "AlreadyExists":
      return reply(CreateResult.AlreadyExists, result.reason)
    case "Fail":
      return reply(CreateResult.Fail, result.reason)
  }
}

const UpdateResult = Messages.UpdatePersistentSubscriptionCompleted_UpdatePersistentSubscriptionResult

/**
 * Handles UpdatePersistentSubscription: connected consumers are dropped with Unsubscribed.
 *
 * @since 0.1.0
 * @category handlers
 */
export const updatePersistentSubscription: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.UpdatePersistentSubscriptionSchema)
  if (message === undefined) return
  const reply = (result: Messages.UpdatePersistentSubscriptionCompleted_UpdatePersistentSubscriptionResult, reason: string) =>
    connection.reply(
      C.UpdatePersistentSubscriptionCompleted,
      request.correlationIdBytes,
      node.encode(
        Messages.UpdatePersistentSubscriptionCompletedSchema,
        create(Messages.UpdatePersistentSubscriptionCompletedSchema, { result, reason })
      )
    )
  if (!mayManage(request.user)) return reply(UpdateResult.AccessDenied, "Access Denied")
  const result = node.persistent.update(
    message.eventStreamId,
    message.subscriptionGroupName,
    settingsOf(message),
    updatedBy(request)
  )
  switch (result.status) {
    case "Success":
      return reply(UpdateResult.Success, "")
    case "DoesNotExist":
      return reply(UpdateResult.DoesNotExist, result.reason)
    case "Fail":
      return reply(UpdateResult.Fail, result.reason)
  }
}

const DeleteResult = Messages.DeletePersistentSubscriptionCompleted_DeletePersistentSubscriptionResult

/**
 * Handles DeletePersistentSubscription: connected consumers are dropped with Unsubscribed, and the
 * group's checkpoint and parked streams are deleted.
 *
 * @since 0.1.0
 * @category handlers
 */
export const deletePersistentSubscription: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.DeletePersistentSubscriptionSchema)
  if (message === undefined) return
  const reply = (result: Messages.DeletePersistentSubscriptionCompleted_DeletePersistentSubscriptionResult, reason: string) =>
    connection.reply(
      C.DeletePersistentSubscriptionCompleted,
      request.correlationIdBytes,
      node.encode(
        Messages.DeletePersistentSubscriptionCompletedSchema,
        create(Messages.DeletePersistentSubscriptionCompletedSchema, { result, reason })
      )
    )
  if (!mayManage(request.user)) return reply(DeleteResult.AccessDenied, "Access Denied")
  const result = node.persistent.delete(message.eventStreamId, message.subscriptionGroupName, updatedBy(request))
  switch (result.status) {
    case "Success":
      return reply(DeleteResult.Success, "")
    case "DoesNotExist":
      return reply(DeleteResult.DoesNotExist, result.reason)
    case "Fail":
      return reply(DeleteResult.Fail, result.reason)
  }
}

const dropped = (
  node: Node.Node,
  connection: Node.Connection,
  correlationId: Uint8Array,
  reason: Messages.SubscriptionDropped_SubscriptionDropReason
) =>
  connection.reply(
    C.SubscriptionDropped,
    correlationId,
    node.encode(Messages.SubscriptionDroppedSchema, create(Messages.SubscriptionDroppedSchema, { reason }))
  )

/**
 * Handles ConnectToPersistentSubscription (`subscription_id` holds the group name).
 *
 * @since 0.1.0
 * @category handlers
 */
export const connectToPersistentSubscription: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.ConnectToPersistentSubscriptionSchema)
  if (message === undefined) return
  const correlationId = request.correlationId
  const correlationIdBytes = request.correlationIdBytes.slice()
  if (!node.isAllowed(request.user, message.eventStreamId, "read")) {
    return dropped(node, connection, correlationIdBytes, Dropped.AccessDenied)
  }
  const omit = node.settings.omitDefaultValues
  const result = node.persistent.connect(message.eventStreamId, message.subscriptionId, {
    push: (event, retryCount) => {
      const out = connection.output()
      if (out === undefined) return
      Replies.persistentSubscriptionStreamEventAppeared(
        out,
        C.PersistentSubscriptionStreamEventAppeared,
        correlationIdBytes,
        connection.isV1Client() ? Wire.resolvedForV1(event) : event,
        retryCount,
        omit
      )
    },
    dropped: () => {
      connection.subscriptions.delete(correlationId)
      dropped(node, connection, correlationIdBytes, Dropped.Unsubscribed)
    }
  }, message.allowedInFlightMessages)
  switch (result.status) {
    case "NotFound":
      return dropped(node, connection, correlationIdBytes, Dropped.NotFound)
    case "SubscriberMaxCountReached":
      return dropped(node, connection, correlationIdBytes, Dropped.SubscriberMaxCountReached)
    case "Confirmed": {
      const { client } = result
      connection.subscriptions.get(correlationId)?.connectionClosed()
      connection.subscriptions.set(correlationId, {
        consumer: client,
        unsubscribe: () => {
          connection.subscriptions.delete(correlationId)
          dropped(node, connection, correlationIdBytes, Dropped.Unsubscribed)
          node.persistent.disconnect(client)
        },
        // When the connection closes, the session has already taken every consumer of it out of its group
        // at once (see `Session`); this is for a consumer ended by another subscription taking its
        // correlation id.
        connectionClosed: () => {
          connection.subscriptions.delete(correlationId)
          node.persistent.disconnect(client)
        }
      })
      connection.reply(
        C.PersistentSubscriptionConfirmation,
        correlationIdBytes,
        node.encode(
          Messages.PersistentSubscriptionConfirmationSchema,
          create(Messages.PersistentSubscriptionConfirmationSchema, {
            lastCommitPosition: BigInt(result.lastCommitPosition),
            subscriptionId: result.subscriptionId,
            lastEventNumber: Wire.eventNumber(
              connection.isV1Client() ? Wire.eventNumberForV1(result.lastEventNumber) : result.lastEventNumber
            )
          })
        )
      )
      node.persistent.start(client)
    }
  }
}

/** The consumer that a connection's ack or nak names, if its subscription id is the group's. */
const consumerOf = (connection: Node.Connection, request: Node.Request, subscriptionId: string) => {
  const consumer = connection.subscriptions.get(request.correlationId)?.consumer
  return consumer !== undefined && consumer.group?.id === subscriptionId ? consumer : undefined
}

/**
 * Handles PersistentSubscriptionAckEvents. There is no reply; acks for unknown subscriptions or
 * messages are ignored.
 *
 * @since 0.1.0
 * @category handlers
 */
export const persistentSubscriptionAckEvents: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.PersistentSubscriptionAckEventsSchema)
  if (message === undefined) return
  const consumer = consumerOf(connection, request, message.subscriptionId)
  if (consumer !== undefined) node.persistent.ack(consumer, message.processedEventIds)
}

const nakActions: ReadonlyArray<PersistentSubscriptions.NakAction> = ["Unknown", "Park", "Retry", "Skip", "Stop"]

/**
 * Handles PersistentSubscriptionNakEvents. There is no reply.
 *
 * @since 0.1.0
 * @category handlers
 */
export const persistentSubscriptionNakEvents: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.PersistentSubscriptionNakEventsSchema)
  if (message === undefined) return
  const consumer = consumerOf(connection, request, message.subscriptionId)
  if (consumer === undefined) return
  node.persistent.nak(consumer, message.processedEventIds, nakActions[message.action] ?? "Unknown", message.message)
}
