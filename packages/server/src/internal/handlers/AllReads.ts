/**
 * ReadAllEventsForward/Backward and their filtered forms (docs/protocol.md 4.5). Reading `$all` needs
 * read permission on `$all`, a system stream: administrators only unless its metadata or `$settings`
 * say otherwise.
 *
 * @since 0.1.0
 */
import { Command, Messages } from "@photonpump/protocol"
import * as Acl from "../../Acl.ts"
import type * as Store from "../../Store.ts"
import * as Node from "../Node.ts"
import * as Replies from "../Replies.ts"
import * as Requests from "../Requests.ts"
import * as Wire from "../Wire.ts"
import { pageSizeError } from "./Reads.ts"

type Direction = "forward" | "backward"

// The result codes of both messages agree: 0 Success, 1 NotModified, 2 Error, 3 AccessDenied.
const ReadAllResult = Messages.ReadAllEventsCompleted_ReadAllResult

const read = (
  node: Node.Node,
  request: Node.Request,
  direction: Direction,
  commit: number,
  prepare: number,
  maxCount: number,
  resolveLinkTos: boolean,
  filter: Store.AllFilter | undefined
): Replies.ReadAllEventsCompleted => {
  const failed = (result: number, error: string): Replies.ReadAllEventsCompleted => ({
    commitPosition: commit,
    preparePosition: prepare,
    events: [],
    nextCommitPosition: -1,
    nextPreparePosition: -1,
    isEndOfStream: true,
    result,
    error
  })
  if (!node.isAllowed(request.user, Acl.allStream, "read")) return failed(ReadAllResult.AccessDenied, "Access Denied")
  const sizeError = pageSizeError(maxCount)
  if (sizeError !== undefined) return failed(ReadAllResult.Error, sizeError)
  const slice = direction === "forward"
    ? node.store.readAllForward(commit, prepare, maxCount, filter)
    : node.store.readAllBackward(commit, prepare, maxCount, filter)
  if (slice.status === "InvalidPosition") return failed(ReadAllResult.Error, "Invalid position.")
  return {
    commitPosition: slice.position.commit,
    preparePosition: slice.position.prepare,
    events: slice.events,
    resolveLink: resolveLinkTos ? node.resolveLink : undefined,
    nextCommitPosition: slice.next.commit,
    nextPreparePosition: slice.next.prepare,
    isEndOfStream: slice.isEndOfStream,
    result: ReadAllResult.Success
  }
}

/**
 * A page as a V1 client gets it: tombstones carry 2^31-1 for 2^63-1 (4.1). Links need nothing: none
 * resolves to a tombstone (a hard-deleted stream's events do not read). Filtered reads came after V1
 * clients, and the real server sends them no other form.
 */
const forV1 = (reply: Replies.ReadAllEventsCompleted): Replies.ReadAllEventsCompleted => ({
  ...reply,
  events: reply.events.map(Wire.eventForV1)
})

const readAll = (direction: Direction): Node.Handler => (node, connection, request) => {
  const message = Node.read(connection, request, Requests.readAllEvents)
  if (message === undefined) return
  const reply = read(
    node,
    request,
    direction,
    message.commitPosition,
    message.preparePosition,
    message.maxCount,
    message.resolveLinkTos,
    undefined
  )
  const out = connection.output()
  if (out === undefined) return
  Replies.readAllEventsCompleted(
    out,
    direction === "forward" ? Command.Command.ReadAllEventsForwardCompleted : Command.Command.ReadAllEventsBackwardCompleted,
    request.correlationIdBytes,
    connection.isV1Client() ? forV1(reply) : reply,
    false,
    node.settings.omitDefaultValues
  )
}

/**
 * Handles ReadAllEventsForward.
 *
 * @since 0.1.0
 * @category handlers
 */
export const readAllEventsForward: Node.Handler = readAll("forward")

/**
 * Handles ReadAllEventsBackward.
 *
 * @since 0.1.0
 * @category handlers
 */
export const readAllEventsBackward: Node.Handler = readAll("backward")

/**
 * The predicate of a filter message, or the reason it is invalid. An empty data list matches every
 * event; a prefix filter matches any of its prefixes; a regex filter uses only its first entry and
 * matches anywhere in the value.
 *
 * @since 0.1.0
 * @category filters
 */
export const eventFilter = (filter: Messages.Filter | undefined): ((event: Store.RecordedEvent) => boolean) | string => {
  if (filter === undefined || filter.data.length === 0) return () => true
  const field = filter.context === Messages.Filter_FilterContext.EventType
    ? (event: Store.RecordedEvent) => event.eventType
    : (event: Store.RecordedEvent) => event.streamId
  if (filter.type === Messages.Filter_FilterType.Prefix) {
    const prefixes = filter.data
    return (event) => {
      const value = field(event)
      for (const prefix of prefixes) if (value.startsWith(prefix)) return true
      return false
    }
  }
  let regex: RegExp
  try {
    regex = new RegExp(filter.data[0]!)
  } catch (error) {
    return `Invalid filter regex: ${error instanceof Error ? error.message : String(error)}`
  }
  return (event) => regex.test(field(event))
}

const filteredReadAll = (direction: Direction): Node.Handler => (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.FilteredReadAllEventsSchema)
  if (message === undefined) return
  const matches = eventFilter(message.filter)
  if (typeof matches === "string") return Node.cannotUnwrap(connection, request, matches)
  // An absent or non-positive search window means "as many as max_count".
  const maxSearchWindow = message.maxSearchWindow > 0 ? message.maxSearchWindow : message.maxCount
  const reply = read(
    node,
    request,
    direction,
    Wire.toNumber(message.commitPosition),
    Wire.toNumber(message.preparePosition),
    message.maxCount,
    message.resolveLinkTos,
    { matches, maxSearchWindow }
  )
  const out = connection.output()
  if (out === undefined) return
  Replies.readAllEventsCompleted(
    out,
    direction === "forward"
      ? Command.Command.FilteredReadAllEventsForwardCompleted
      : Command.Command.FilteredReadAllEventsBackwardCompleted,
    request.correlationIdBytes,
    reply,
    true,
    node.settings.omitDefaultValues
  )
}

/**
 * Handles FilteredReadAllEventsForward.
 *
 * @since 0.1.0
 * @category handlers
 */
export const filteredReadAllEventsForward: Node.Handler = filteredReadAll("forward")

/**
 * Handles FilteredReadAllEventsBackward.
 *
 * @since 0.1.0
 * @category handlers
 */
export const filteredReadAllEventsBackward: Node.Handler = filteredReadAll("backward")
