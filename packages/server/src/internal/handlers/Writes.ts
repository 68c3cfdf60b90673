/**
 * WriteEvents: appends with the expected-version decision table (docs/protocol.md 4.2), and the
 * validation of proposed events that transactions share.
 *
 * @since 0.1.0
 */
import { Command, Messages } from "@photonpump/protocol"
import type * as Store from "../../Store.ts"
import * as Node from "../Node.ts"
import * as Replies from "../Replies.ts"
import * as Requests from "../Requests.ts"

/**
 * Checks an expected version from the wire: -4 to -1 are sentinels, -3 and anything below -4 are
 * invalid. Returns `undefined` when it is invalid.
 *
 * @since 0.1.0
 * @category validation
 */
export const expectedVersion = (value: number): number | undefined =>
  value < -4 || value === -3 ? undefined : value

const isEmptyId = (id: Uint8Array): boolean => {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false
  return true
}

/**
 * The fields of a proposed event, as both the hand-written and the generated decoders give them.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewEventFields {
  readonly eventId: Uint8Array
  readonly eventType: string
  readonly dataContentType: number
  readonly data: Uint8Array
  readonly metadata: Uint8Array
}

/**
 * Turns the events of a request into events for the store. Their bytes stay views into the request,
 * valid while it is handled: the store copies them when it commits them (and a transaction when it
 * takes them). Returns the reason when an event is invalid: an event id that is not 16 bytes or is
 * all zeros, an empty event type, or an event over the size limit.
 *
 * @since 0.1.0
 * @category validation
 */
export const proposedEvents = (events: ReadonlyArray<NewEventFields>): ReadonlyArray<Store.ProposedEvent> | string => {
  const proposed: Array<Store.ProposedEvent> = []
  for (const event of events) {
    const invalid = invalidEvent(event)
    if (invalid !== undefined) return invalid
    proposed.push({
      eventId: event.eventId,
      eventType: event.eventType,
      isJson: event.dataContentType === 1,
      data: event.data,
      metadata: event.metadata
    })
  }
  return proposed
}

/** Why an event cannot be written, or `undefined` when it can. */
const invalidEvent = (event: NewEventFields): string | undefined => {
  if (event.eventId.length !== 16) return `eventId must be 16 bytes, got ${event.eventId.length}`
  if (isEmptyId(event.eventId)) return "eventId must not be empty (all zeros)"
  if (event.eventType.length === 0) return "eventType must not be empty"
  if (event.data.length + event.metadata.length + event.eventType.length * 2 > Node.maxEventSize) {
    return "Record is too big."
  }
  return undefined
}

/**
 * `proposedEvents` for the hand-written decoder's events, which already are the store's proposed
 * events: checks them and hands them over as they are, without an object per event.
 */
const checkedEvents = (events: ReadonlyArray<Requests.NewEvent>): ReadonlyArray<Store.ProposedEvent> | string => {
  for (let i = 0; i < events.length; i++) {
    const invalid = invalidEvent(events[i]!)
    if (invalid !== undefined) return invalid
  }
  return events
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

/** `EventNumber.Invalid`, the sentinel of failed write replies. */
const invalid = -2_147_483_648

const rejected = (result: Messages.OperationResult, currentVersion: number): Replies.WriteEventsCompleted => ({
  ...failure(result),
  firstEventNumber: invalid,
  lastEventNumber: invalid,
  preparePosition: invalid,
  commitPosition: 0,
  currentVersion
})

/**
 * Handles WriteEvents.
 *
 * @since 0.1.0
 * @category handlers
 */
export const writeEvents: Node.Handler = (node, connection, request) => {
  const message = Node.read(connection, request, Requests.writeEvents)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  const expected = expectedVersion(message.expectedVersion)
  if (expected === undefined) {
    return Node.cannotUnwrap(connection, request, `expectedVersion ${message.expectedVersion} is invalid`)
  }
  const events = checkedEvents(message.events)
  if (typeof events === "string") return Node.cannotUnwrap(connection, request, events)

  let reply: Replies.WriteEventsCompleted
  if (!node.isAllowed(request.user, message.eventStreamId, "write")) {
    reply = rejected(Messages.OperationResult.AccessDenied, -1)
  } else {
    const result = node.store.append(message.eventStreamId, expected, events)
    switch (result.status) {
      case "Success":
        reply = {
          result: Messages.OperationResult.Success,
          firstEventNumber: result.firstEventNumber,
          lastEventNumber: result.lastEventNumber,
          preparePosition: result.position,
          commitPosition: result.position
        }
        break
      case "WrongExpectedVersion":
        reply = rejected(Messages.OperationResult.WrongExpectedVersion, result.currentVersion)
        break
      case "StreamDeleted":
        reply = rejected(Messages.OperationResult.StreamDeleted, -1)
        break
    }
  }
  const out = connection.output()
  if (out === undefined) return
  Replies.writeEventsCompleted(
    out,
    Command.Command.WriteEventsCompleted,
    request.correlationIdBytes,
    reply,
    node.settings.omitDefaultValues
  )
}
