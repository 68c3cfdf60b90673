/**
 * WriteEvents: appends with the expected-version decision table (docs/protocol.md 4.2), and the
 * validation of proposed events that transactions share.
 *
 * @since 0.1.0
 */
import { create } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import type * as Store from "../../Store.ts"
import * as Node from "../Node.ts"
import * as Wire from "../Wire.ts"

/**
 * Checks an expected version from the wire: -4 to -1 are sentinels, -3 and anything below -4 are
 * invalid. Returns the version as a JS number, or `undefined` when it is invalid.
 *
 * @since 0.1.0
 * @category validation
 */
export const expectedVersion = (value: bigint): number | undefined =>
  value < -4n || value === -3n ? undefined : Wire.toNumber(value)

const isEmptyId = (id: Uint8Array): boolean => {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false
  return true
}

/**
 * Turns the events of a request into events for the store, copying their bytes out of the frame they
 * arrived in (so the store does not keep whole socket chunks alive). Returns the reason when an event
 * is invalid: an event id that is not 16 bytes or is all zeros, an empty event type, or an event over
 * the size limit.
 *
 * @since 0.1.0
 * @category validation
 */
export const proposedEvents = (
  events: ReadonlyArray<Messages.NewEvent>
): ReadonlyArray<Store.ProposedEvent> | string => {
  const proposed: Array<Store.ProposedEvent> = []
  for (const event of events) {
    if (event.eventId.length !== 16) return `eventId must be 16 bytes, got ${event.eventId.length}`
    if (isEmptyId(event.eventId)) return "eventId must not be empty (all zeros)"
    if (event.eventType.length === 0) return "eventType must not be empty"
    if (event.data.length + event.metadata.length + event.eventType.length * 2 > Node.maxEventSize) {
      return "Record is too big."
    }
    proposed.push({
      eventId: event.eventId.slice(),
      eventType: event.eventType,
      isJson: event.dataContentType === 1,
      data: event.data.slice(),
      metadata: event.metadata.slice()
    })
  }
  return proposed
}

/**
 * The fields of a failed write's reply, with the messages the real server sends.
 *
 * @since 0.1.0
 * @category replies
 */
export const failure = (
  result: Messages.OperationResult
): { readonly result: Messages.OperationResult; readonly message: string } => {
  switch (result) {
    case Messages.OperationResult.WrongExpectedVersion:
      return { result, message: "Wrong expected version." }
    case Messages.OperationResult.StreamDeleted:
      return { result, message: "Stream is deleted." }
    case Messages.OperationResult.AccessDenied:
      return { result, message: "Access Denied" }
    case Messages.OperationResult.InvalidTransaction:
      return { result, message: "Invalid transaction." }
    case Messages.OperationResult.PrepareTimeout:
      return { result, message: "Prepare phase timeout." }
    case Messages.OperationResult.CommitTimeout:
      return { result, message: "Commit phase timeout." }
    default:
      return { result, message: "" }
  }
}

const completed = (node: Node.Node, connection: Node.Connection, request: Node.Request, reply: Messages.WriteEventsCompleted) =>
  connection.reply(
    Command.Command.WriteEventsCompleted,
    request.correlationId,
    node.encode(Messages.WriteEventsCompletedSchema, reply)
  )

const rejected = (result: Messages.OperationResult, currentVersion: bigint): Messages.WriteEventsCompleted =>
  create(Messages.WriteEventsCompletedSchema, {
    ...failure(result),
    firstEventNumber: Wire.invalidEventNumber,
    lastEventNumber: Wire.invalidEventNumber,
    preparePosition: Wire.invalidEventNumber,
    commitPosition: 0n,
    currentVersion
  })

/**
 * Handles WriteEvents.
 *
 * @since 0.1.0
 * @category handlers
 */
export const writeEvents: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.WriteEventsSchema)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  const expected = expectedVersion(message.expectedVersion)
  if (expected === undefined) {
    return Node.cannotUnwrap(connection, request, `expectedVersion ${message.expectedVersion} is invalid`)
  }
  const events = proposedEvents(message.events)
  if (typeof events === "string") return Node.cannotUnwrap(connection, request, events)

  if (!node.isAllowed(request.user, message.eventStreamId, "write")) {
    return completed(node, connection, request, rejected(Messages.OperationResult.AccessDenied, -1n))
  }
  const result = node.store.append(message.eventStreamId, expected, events)
  switch (result.status) {
    case "Success":
      return completed(
        node,
        connection,
        request,
        create(Messages.WriteEventsCompletedSchema, {
          result: Messages.OperationResult.Success,
          firstEventNumber: BigInt(result.firstEventNumber),
          lastEventNumber: BigInt(result.lastEventNumber),
          preparePosition: BigInt(result.position),
          commitPosition: BigInt(result.position)
        })
      )
    case "WrongExpectedVersion":
      return completed(
        node,
        connection,
        request,
        rejected(Messages.OperationResult.WrongExpectedVersion, BigInt(result.currentVersion))
      )
    case "StreamDeleted":
      return completed(node, connection, request, rejected(Messages.OperationResult.StreamDeleted, -1n))
  }
}
