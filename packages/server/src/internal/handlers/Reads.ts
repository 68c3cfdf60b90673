/**
 * ReadEvent and ReadStreamEventsForward/Backward (docs/protocol.md 4.4).
 *
 * @since 0.1.0
 */
import { Command, Messages } from "@photonpump/protocol"
import * as Node from "../Node.ts"
import * as Replies from "../Replies.ts"
import * as Requests from "../Requests.ts"
import * as Wire from "../Wire.ts"

/**
 * The largest page a read may ask for.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxPageSize = 4096

/**
 * The error text of a page size the server refuses, or `undefined` for a valid one.
 *
 * @since 0.1.0
 * @category validation
 */
export const pageSizeError = (maxCount: number): string | undefined =>
  maxCount > maxPageSize
    ? `Read size too big, should be less than ${maxPageSize} items`
    : maxCount <= 0
    ? `maxCount should be positive, got ${maxCount}`
    : undefined

const ReadEventResult = Messages.ReadEventCompleted_ReadEventResult

/**
 * Handles ReadEvent.
 *
 * @since 0.1.0
 * @category handlers
 */
export const readEvent: Node.Handler = (node, connection, request) => {
  const message = Node.read(connection, request, Requests.readEvent)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  if (message.eventNumber < -1) {
    return Node.cannotUnwrap(connection, request, `eventNumber ${message.eventNumber} is below -1`)
  }
  const reply = (result: Messages.ReadEventCompleted_ReadEventResult, resolved?: Wire.Resolved, error?: string) => {
    const out = connection.output()
    if (out === undefined) return
    Replies.readEventCompleted(
      out,
      Command.Command.ReadEventCompleted,
      request.correlationIdBytes,
      result,
      resolved,
      error,
      node.settings.omitDefaultValues
    )
  }
  if (!node.isAllowed(request.user, message.eventStreamId, "read")) {
    return reply(ReadEventResult.AccessDenied, undefined, "Access Denied")
  }
  const result = node.store.readEvent(message.eventStreamId, message.eventNumber)
  switch (result.status) {
    case "Success":
      return reply(
        ReadEventResult.Success,
        result.event === undefined ? undefined : Wire.resolve(node.store, result.event, message.resolveLinkTos)
      )
    case "NotFound":
      return reply(ReadEventResult.NotFound)
    case "NoStream":
      return reply(ReadEventResult.NoStream)
    case "StreamDeleted":
      return reply(ReadEventResult.StreamDeleted)
  }
}

const ReadStreamResult = Messages.ReadStreamEventsCompleted_ReadStreamResult

const readStream = (direction: "forward" | "backward"): Node.Handler => (node, connection, request) => {
  const message = Node.read(connection, request, Requests.readStreamEvents)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  if (message.fromEventNumber < -1) {
    return Node.cannotUnwrap(connection, request, `fromEventNumber ${message.fromEventNumber} is below -1`)
  }
  const reply = (fields: Omit<Replies.ReadStreamEventsCompleted, "lastCommitPosition">) => {
    const out = connection.output()
    if (out === undefined) return
    Replies.readStreamEventsCompleted(
      out,
      direction === "forward"
        ? Command.Command.ReadStreamEventsForwardCompleted
        : Command.Command.ReadStreamEventsBackwardCompleted,
      request.correlationIdBytes,
      { ...fields, lastCommitPosition: node.store.lastCommitPosition },
      node.settings.omitDefaultValues
    )
  }
  const failed = (result: Messages.ReadStreamEventsCompleted_ReadStreamResult, lastEventNumber: number, error?: string) =>
    reply({ result, events: [], nextEventNumber: -1, lastEventNumber, isEndOfStream: true, error })

  if (!node.isAllowed(request.user, message.eventStreamId, "read")) {
    return failed(ReadStreamResult.AccessDenied, -1, "Access Denied")
  }
  const sizeError = pageSizeError(message.maxCount)
  if (sizeError !== undefined) return failed(ReadStreamResult.Error, -1, sizeError)
  const from = message.fromEventNumber
  if (direction === "forward" && from < 0) {
    return failed(ReadStreamResult.Error, -1, `fromEventNumber should be non-negative, got ${from}`)
  }
  const slice = direction === "forward"
    ? node.store.readStreamForward(message.eventStreamId, from, message.maxCount)
    : node.store.readStreamBackward(message.eventStreamId, from, message.maxCount)
  switch (slice.status) {
    case "Success":
      return reply({
        result: ReadStreamResult.Success,
        events: slice.events,
        resolveLink: message.resolveLinkTos ? node.resolveLink : undefined,
        nextEventNumber: slice.nextEventNumber,
        lastEventNumber: slice.lastEventNumber,
        isEndOfStream: slice.isEndOfStream
      })
    case "NoStream":
      return failed(ReadStreamResult.NoStream, slice.lastEventNumber)
    case "StreamDeleted":
      // A V1 client gets 2^63-1 as 2^31-1 (4.1).
      return failed(ReadStreamResult.StreamDeleted, connection.isV1Client() ? Wire.deletedStreamForV1 : Number.POSITIVE_INFINITY)
  }
}

/**
 * Handles ReadStreamEventsForward.
 *
 * @since 0.1.0
 * @category handlers
 */
export const readStreamEventsForward: Node.Handler = readStream("forward")

/**
 * Handles ReadStreamEventsBackward.
 *
 * @since 0.1.0
 * @category handlers
 */
export const readStreamEventsBackward: Node.Handler = readStream("backward")
