/**
 * From the protocol's event messages to the client's models.
 *
 * @internal
 */
import type { Messages } from "@photonpump/protocol"
import type * as Position from "../Position.ts"
import { RecordedEvent } from "../RecordedEvent.ts"
import { ResolvedEvent } from "../ResolvedEvent.ts"

/**
 * Real servers leave `event` out of unresolvable links, and some send it as an empty message; both
 * mean "no record" (docs/protocol.md 3.3).
 */
const isMissing = (record: Messages.EventRecord | undefined): record is undefined =>
  record === undefined || (record.eventStreamId === "" && record.eventId.length === 0 && record.eventType === "")

/**
 * @internal
 */
export const toRecordedEvent = (record: Messages.EventRecord): RecordedEvent =>
  new RecordedEvent({
    stream: record.eventStreamId,
    eventNumber: record.eventNumber,
    idBytes: record.eventId,
    type: record.eventType,
    data: record.data,
    metadata: record.metadata,
    isJson: record.dataContentType === 1,
    createdEpochMillis: record.createdEpoch === 0n ? undefined : record.createdEpoch,
    createdTicks: record.created
  })

/**
 * Builds the client's `ResolvedEvent` from an event and its link. Returns `undefined` when the server
 * sent neither.
 *
 * @internal
 */
export const toResolvedEvent = (
  event: Messages.EventRecord | undefined,
  link: Messages.EventRecord | undefined,
  position: Position.Position | undefined
): ResolvedEvent | undefined => {
  const hasEvent = !isMissing(event)
  const hasLink = !isMissing(link)
  if (hasEvent) {
    return new ResolvedEvent(toRecordedEvent(event), hasLink ? toRecordedEvent(link) : undefined, position, true)
  }
  if (hasLink) {
    const linkEvent = toRecordedEvent(link)
    return new ResolvedEvent(linkEvent, linkEvent, position, false)
  }
  return undefined
}

/**
 * The events of a stream read (`ResolvedIndexedEvent`s, which carry no position).
 *
 * @internal
 */
export const fromIndexed = (events: ReadonlyArray<Messages.ResolvedIndexedEvent>): Array<ResolvedEvent> => {
  const out: Array<ResolvedEvent> = []
  for (let i = 0; i < events.length; i++) {
    const resolved = toResolvedEvent(events[i]!.event, events[i]!.link, undefined)
    if (resolved !== undefined) out.push(resolved)
  }
  return out
}

/**
 * The events of a `$all` read, with their positions.
 *
 * @internal
 */
export const fromAll = (events: ReadonlyArray<Messages.ResolvedEvent>): Array<ResolvedEvent> => {
  const out: Array<ResolvedEvent> = []
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const resolved = toResolvedEvent(e.event, e.link, { commit: e.commitPosition, prepare: e.preparePosition })
    if (resolved !== undefined) out.push(resolved)
  }
  return out
}
