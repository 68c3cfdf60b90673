/**
 * ReadEvent and ReadStreamEventsForward/Backward (docs/protocol.md 4.4).
 *
 * @since 0.1.0
 */
import { create } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Node from "../Node.ts"
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
  const message = Node.unwrap(connection, request, Messages.ReadEventSchema)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  if (message.eventNumber < -1n) {
    return Node.cannotUnwrap(connection, request, `eventNumber ${message.eventNumber} is below -1`)
  }
  const reply = (result: Messages.ReadEventCompleted_ReadEventResult, event?: Messages.ResolvedIndexedEvent, error?: string) =>
    connection.reply(
      Command.Command.ReadEventCompleted,
      request.correlationId,
      node.encode(
        Messages.ReadEventCompletedSchema,
        create(Messages.ReadEventCompletedSchema, {
          result,
          // Failures carry an empty ResolvedIndexedEvent, as real servers send.
          event: event ?? create(Messages.ResolvedIndexedEventSchema),
          ...(error === undefined ? {} : { error })
        })
      )
    )
  if (!node.isAllowed(request.user, message.eventStreamId, "read")) {
    return reply(ReadEventResult.AccessDenied, undefined, "Access Denied")
  }
  const result = node.store.readEvent(message.eventStreamId, Wire.toNumber(message.eventNumber))
  switch (result.status) {
    case "Success":
      return reply(
        ReadEventResult.Success,
        result.event === undefined
          ? undefined
          : Wire.resolvedIndexedEvent(Wire.resolve(node.store, result.event, message.resolveLinkTos))
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
  const message = Node.unwrap(connection, request, Messages.ReadStreamEventsSchema)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  if (message.fromEventNumber < -1n) {
    return Node.cannotUnwrap(connection, request, `fromEventNumber ${message.fromEventNumber} is below -1`)
  }
  const replyCommand = direction === "forward"
    ? Command.Command.ReadStreamEventsForwardCompleted
    : Command.Command.ReadStreamEventsBackwardCompleted
  const lastCommitPosition = BigInt(node.store.lastCommitPosition)
  const reply = (fields: {
    readonly result: Messages.ReadStreamEventsCompleted_ReadStreamResult
    readonly events?: Array<Messages.ResolvedIndexedEvent>
    readonly nextEventNumber: bigint
    readonly lastEventNumber: bigint
    readonly isEndOfStream: boolean
    readonly error?: string
  }) =>
    connection.reply(
      replyCommand,
      request.correlationId,
      node.encode(
        Messages.ReadStreamEventsCompletedSchema,
        create(Messages.ReadStreamEventsCompletedSchema, { ...fields, lastCommitPosition })
      )
    )
  const failed = (result: Messages.ReadStreamEventsCompleted_ReadStreamResult, lastEventNumber: bigint, error?: string) =>
    reply({ result, nextEventNumber: -1n, lastEventNumber, isEndOfStream: true, ...(error === undefined ? {} : { error }) })

  if (!node.isAllowed(request.user, message.eventStreamId, "read")) {
    return failed(ReadStreamResult.AccessDenied, -1n, "Access Denied")
  }
  const sizeError = pageSizeError(message.maxCount)
  if (sizeError !== undefined) return failed(ReadStreamResult.Error, -1n, sizeError)
  const from = Wire.toNumber(message.fromEventNumber)
  if (direction === "forward" && from < 0) {
    return failed(ReadStreamResult.Error, -1n, `fromEventNumber should be non-negative, got ${from}`)
  }
  const slice = direction === "forward"
    ? node.store.readStreamForward(message.eventStreamId, from, message.maxCount)
    : node.store.readStreamBackward(message.eventStreamId, from, message.maxCount)
  switch (slice.status) {
    case "Success":
      return reply({
        result: ReadStreamResult.Success,
        events: slice.events.map((event) =>
          Wire.resolvedIndexedEvent(Wire.resolve(node.store, event, message.resolveLinkTos))
        ),
        nextEventNumber: BigInt(slice.nextEventNumber),
        lastEventNumber: BigInt(slice.lastEventNumber),
        isEndOfStream: slice.isEndOfStream
      })
    case "NoStream":
      return failed(ReadStreamResult.NoStream, BigInt(slice.lastEventNumber))
    case "StreamDeleted":
      return failed(ReadStreamResult.StreamDeleted, Wire.deletedStreamOnWire)
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
