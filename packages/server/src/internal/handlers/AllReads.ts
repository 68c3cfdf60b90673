/**
 * ReadAllEventsForward/Backward and their filtered forms (docs/protocol.md 4.5). Reading `$all` needs
 * read permission on `$all`, a system stream: administrators only unless its metadata or `$settings`
 * say otherwise.
 *
 * @since 0.1.0
 */
import { create } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Acl from "../../Acl.ts"
import type * as Store from "../../Store.ts"
import * as Node from "../Node.ts"
import * as Wire from "../Wire.ts"
import { pageSizeError } from "./Reads.ts"

type Direction = "forward" | "backward"

const ReadAllResult = Messages.ReadAllEventsCompleted_ReadAllResult
const FilteredReadAllResult = Messages.FilteredReadAllEventsCompleted_FilteredReadAllResult

/** What both kinds of `$all` read reply, before it is put into the one or the other message. */
interface Outcome {
  readonly result: number
  readonly commitPosition: bigint
  readonly preparePosition: bigint
  readonly events: Array<Messages.ResolvedEvent>
  readonly nextCommitPosition: bigint
  readonly nextPreparePosition: bigint
  readonly isEndOfStream: boolean
  readonly error: string | undefined
}

const read = (
  node: Node.Node,
  request: Node.Request,
  direction: Direction,
  commit: bigint,
  prepare: bigint,
  maxCount: number,
  resolveLinkTos: boolean,
  filter: Store.AllFilter | undefined
): Outcome => {
  const failed = (result: number, error: string | undefined): Outcome => ({
    result,
    commitPosition: commit,
    preparePosition: prepare,
    events: [],
    nextCommitPosition: -1n,
    nextPreparePosition: -1n,
    isEndOfStream: true,
    error
  })
  // The result codes of both messages agree: 0 Success, 1 NotModified, 2 Error, 3 AccessDenied.
  if (!node.isAllowed(request.user, Acl.allStream, "read")) return failed(ReadAllResult.AccessDenied, "Access Denied")
  const sizeError = pageSizeError(maxCount)
  if (sizeError !== undefined) return failed(ReadAllResult.Error, sizeError)
  const c = Wire.toNumber(commit)
  const p = Wire.toNumber(prepare)
  const slice = direction === "forward"
    ? node.store.readAllForward(c, p, maxCount, filter)
    : node.store.readAllBackward(c, p, maxCount, filter)
  if (slice.status === "InvalidPosition") return failed(ReadAllResult.Error, "Invalid position.")
  return {
    result: ReadAllResult.Success,
    commitPosition: BigInt(slice.position.commit),
    preparePosition: BigInt(slice.position.prepare),
    events: slice.events.map((event) => Wire.resolvedEvent(Wire.resolve(node.store, event, resolveLinkTos))),
    nextCommitPosition: BigInt(slice.next.commit),
    nextPreparePosition: BigInt(slice.next.prepare),
    isEndOfStream: slice.isEndOfStream,
    error: undefined
  }
}

const readAll = (direction: Direction): Node.Handler => (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.ReadAllEventsSchema)
  if (message === undefined) return
  const outcome = read(
    node,
    request,
    direction,
    message.commitPosition,
    message.preparePosition,
    message.maxCount,
    message.resolveLinkTos,
    undefined
  )
  connection.reply(
    direction === "forward" ? Command.Command.ReadAllEventsForwardCompleted : Command.Command.ReadAllEventsBackwardCompleted,
    request.correlationId,
    node.encode(
      Messages.ReadAllEventsCompletedSchema,
      create(Messages.ReadAllEventsCompletedSchema, {
        commitPosition: outcome.commitPosition,
        preparePosition: outcome.preparePosition,
        events: outcome.events,
        nextCommitPosition: outcome.nextCommitPosition,
        nextPreparePosition: outcome.nextPreparePosition,
        // `result` defaults to Success, and servers before 22.6 leave it out when it is.
        ...(outcome.result === ReadAllResult.Success ? {} : { result: outcome.result as Messages.ReadAllEventsCompleted_ReadAllResult }),
        ...(outcome.error === undefined ? {} : { error: outcome.error })
      })
    )
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
  const outcome = read(
    node,
    request,
    direction,
    message.commitPosition,
    message.preparePosition,
    message.maxCount,
    message.resolveLinkTos,
    { matches, maxSearchWindow }
  )
  connection.reply(
    direction === "forward"
      ? Command.Command.FilteredReadAllEventsForwardCompleted
      : Command.Command.FilteredReadAllEventsBackwardCompleted,
    request.correlationId,
    node.encode(
      Messages.FilteredReadAllEventsCompletedSchema,
      create(Messages.FilteredReadAllEventsCompletedSchema, {
        commitPosition: outcome.commitPosition,
        preparePosition: outcome.preparePosition,
        events: outcome.events,
        nextCommitPosition: outcome.nextCommitPosition,
        nextPreparePosition: outcome.nextPreparePosition,
        isEndOfStream: outcome.isEndOfStream,
        ...(outcome.result === FilteredReadAllResult.Success
          ? {}
          : { result: outcome.result as Messages.FilteredReadAllEventsCompleted_FilteredReadAllResult }),
        ...(outcome.error === undefined ? {} : { error: outcome.error })
      })
    )
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
