/**
 * The busiest replies, written straight into a connection's output buffer: WriteEventsCompleted,
 * ReadEventCompleted, ReadStreamEventsCompleted, ReadAllEventsCompleted and
 * FilteredReadAllEventsCompleted, with the records they carry. Each message has a size function and a
 * write function that agree on which fields are present, in one of two styles:
 *
 * - `omitDefaults` false (servers up to 21.10): every proto2-required field, and the optional fields the
 *   server sets;
 * - `omitDefaults` true (servers from 22.6): fields holding their default value are left out; set
 *   sub-messages are always written.
 *
 * The events themselves are copies of their pre-encoded `EventRecord` bytes (`StoredEvent`), in
 * either style. Tests check both styles byte for byte against the generated encoder of
 * `@photonpump/protocol`.
 *
 * @since 0.1.0
 */
import type * as Store from "../Store.ts"
import * as Protobuf from "./Protobuf.ts"
import * as StoredEvent from "./StoredEvent.ts"
import type { Resolved } from "./Wire.ts"

const { delimitedSize, int64Size, utf8Length, varintSize } = Protobuf

/** An `EventRecord` field: a copy of the event's pre-encoded record (see `StoredEvent`). */
const writeRecord = (out: Protobuf.Writer, field: number, event: StoredEvent.StoredEvent, omit: boolean) => {
  out.messageField(field, StoredEvent.wireSize(event, omit))
  out.position = StoredEvent.write(out.buffer, out.position, event, omit)
}

/** The size of a ResolvedIndexedEvent (or of the records of a ResolvedEvent): the event and the link. */
const recordsSize = (
  event: StoredEvent.StoredEvent | undefined,
  link: StoredEvent.StoredEvent | undefined,
  omit: boolean
): number =>
  (event === undefined ? 0 : delimitedSize(StoredEvent.wireSize(event, omit))) +
  (link === undefined ? 0 : delimitedSize(StoredEvent.wireSize(link, omit)))

const writeRecords = (
  out: Protobuf.Writer,
  event: StoredEvent.StoredEvent | undefined,
  link: StoredEvent.StoredEvent | undefined,
  omit: boolean
) => {
  if (event !== undefined) writeRecord(out, 1, event, omit)
  if (link !== undefined) writeRecord(out, 2, link, omit)
}

const storedOrUndefined = (event: Store.RecordedEvent | undefined): StoredEvent.StoredEvent | undefined =>
  event === undefined ? undefined : StoredEvent.of(event)

/** The size of a ResolvedEvent: the records, then the original event's commit and prepare positions. */
const resolvedEventSize = (recordsSize: number, original: Store.RecordedEvent, omit: boolean): number => {
  const { commitPosition, preparePosition } = original
  return recordsSize + (!omit || commitPosition !== 0 ? 1 + varintSize(commitPosition) : 0) +
    (!omit || preparePosition !== 0 ? 1 + varintSize(preparePosition) : 0)
}

const writePositions = (out: Protobuf.Writer, original: Store.RecordedEvent, omit: boolean) => {
  const { commitPosition, preparePosition } = original
  if (!omit || commitPosition !== 0) out.varintField(3, commitPosition)
  if (!omit || preparePosition !== 0) out.varintField(4, preparePosition)
}

/**
 * Resolves the links of a page (`$>` events) for a reply: what `Wire.resolve` gives, without an
 * object per event. `resolveLink` is `undefined` when the request did not ask for links to be resolved.
 *
 * @since 0.1.0
 * @category models
 */
export type LinkResolver = ((link: Store.RecordedEvent) => Store.RecordedEvent | undefined) | undefined

const isResolvedLink = (event: Store.RecordedEvent, resolveLink: LinkResolver): boolean =>
  resolveLink !== undefined && event.eventType === "$>"

/** The targets of the links of the page being written, by index (reused from reply to reply). */
const targets: Array<StoredEvent.StoredEvent | undefined> = []

/**
 * Resolves the links of a page into `targets` and returns the size of the records of each event,
 * added up as `each` says.
 */
const pageRecordsSize = (
  events: ReadonlyArray<Store.RecordedEvent>,
  resolveLink: LinkResolver,
  omit: boolean,
  each: (recordsSize: number, original: Store.RecordedEvent) => number
): number => {
  let size = 0
  targets.length = 0
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!
    const original = StoredEvent.of(event)
    if (isResolvedLink(event, resolveLink)) {
      const target = storedOrUndefined(resolveLink!(event))
      targets[i] = target
      size += each(recordsSize(target, original, omit), original)
    } else {
      size += each(recordsSize(original, undefined, omit), original)
    }
  }
  return size
}

/** Writes the records of the `i`-th event of a page whose links `pageRecordsSize` resolved. */
const writePageRecords = (
  out: Protobuf.Writer,
  original: StoredEvent.StoredEvent,
  i: number,
  resolveLink: LinkResolver,
  omit: boolean
) => {
  if (isResolvedLink(original, resolveLink)) writeRecords(out, targets[i], original, omit)
  else writeRecords(out, original, undefined, omit)
}

const optionalString = (text: string | undefined, omit: boolean): number => {
  if (text === undefined || (omit && text.length === 0)) return -1
  return utf8Length(text)
}

const int64FieldSize = (value: number, omit: boolean): number => (!omit || value !== 0 ? 1 + int64Size(value) : 0)

const varintFieldSize = (value: number, omit: boolean): number => (!omit || value !== 0 ? 1 + varintSize(value) : 0)

const boolFieldSize = (value: boolean, omit: boolean): number => (!omit || value ? 2 : 0)

/**
 * The fields of a WriteEventsCompleted. `message` and `currentVersion` are written only when given.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteEventsCompleted {
  readonly result: number
  readonly message?: string | undefined
  readonly firstEventNumber: number
  readonly lastEventNumber: number
  readonly preparePosition: number
  readonly commitPosition: number
  readonly currentVersion?: number | undefined
}

/**
 * Writes a WriteEventsCompleted frame.
 *
 * @since 0.1.0
 * @category replies
 */
export const writeEventsCompleted = (
  out: Protobuf.Writer,
  command: number,
  correlationId: string | Uint8Array,
  reply: WriteEventsCompleted,
  omit: boolean
): void => {
  const messageLength = optionalString(reply.message, omit)
  const withVersion = reply.currentVersion !== undefined && (!omit || reply.currentVersion !== 0)
  const size = varintFieldSize(reply.result, omit) + (messageLength < 0 ? 0 : delimitedSize(messageLength)) +
    int64FieldSize(reply.firstEventNumber, omit) + int64FieldSize(reply.lastEventNumber, omit) +
    int64FieldSize(reply.preparePosition, omit) + int64FieldSize(reply.commitPosition, omit) +
    (withVersion ? 1 + int64Size(reply.currentVersion!) : 0)
  out.frame(command, correlationId, size)
  if (!omit || reply.result !== 0) out.varintField(1, reply.result)
  if (messageLength >= 0) out.stringField(2, reply.message!, messageLength)
  if (!omit || reply.firstEventNumber !== 0) out.int64Field(3, reply.firstEventNumber)
  if (!omit || reply.lastEventNumber !== 0) out.int64Field(4, reply.lastEventNumber)
  if (!omit || reply.preparePosition !== 0) out.int64Field(5, reply.preparePosition)
  if (!omit || reply.commitPosition !== 0) out.int64Field(6, reply.commitPosition)
  if (withVersion) out.int64Field(7, reply.currentVersion!)
}

/**
 * Writes a ReadEventCompleted frame. A failed read carries an empty `event` sub-message, as real
 * servers send.
 *
 * @since 0.1.0
 * @category replies
 */
export const readEventCompleted = (
  out: Protobuf.Writer,
  command: number,
  correlationId: string | Uint8Array,
  result: number,
  resolved: Resolved | undefined,
  error: string | undefined,
  omit: boolean
): void => {
  const event = storedOrUndefined(resolved?.event)
  const link = storedOrUndefined(resolved?.link)
  const eventSize = recordsSize(event, link, omit)
  const errorLength = optionalString(error, omit)
  const size = varintFieldSize(result, omit) + delimitedSize(eventSize) +
    (errorLength < 0 ? 0 : delimitedSize(errorLength))
  out.frame(command, correlationId, size)
  if (!omit || result !== 0) out.varintField(1, result)
  out.messageField(2, eventSize)
  writeRecords(out, event, link, omit)
  if (errorLength >= 0) out.stringField(3, error!, errorLength)
}

/**
 * The fields of a ReadStreamEventsCompleted. `events` are the events read, in order; with
 * `resolveLink`, each `$>` event among them goes out as its target (if any) and itself as the link.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamEventsCompleted {
  readonly events: ReadonlyArray<Store.RecordedEvent>
  readonly resolveLink?: LinkResolver
  readonly result: number
  readonly nextEventNumber: number
  readonly lastEventNumber: number
  readonly isEndOfStream: boolean
  readonly lastCommitPosition: number
  readonly error?: string | undefined
}

const indexedEventSize = (recordsSize: number): number => delimitedSize(recordsSize)

/**
 * Writes a ReadStreamEventsCompleted frame (forward or backward, by `command`).
 *
 * @since 0.1.0
 * @category replies
 */
export const readStreamEventsCompleted = (
  out: Protobuf.Writer,
  command: number,
  correlationId: string | Uint8Array,
  reply: ReadStreamEventsCompleted,
  omit: boolean
): void => {
  const { events, resolveLink } = reply
  let size = pageRecordsSize(events, resolveLink, omit, indexedEventSize)
  const errorLength = optionalString(reply.error, omit)
  size += varintFieldSize(reply.result, omit) + int64FieldSize(reply.nextEventNumber, omit) +
    int64FieldSize(reply.lastEventNumber, omit) + boolFieldSize(reply.isEndOfStream, omit) +
    int64FieldSize(reply.lastCommitPosition, omit) + (errorLength < 0 ? 0 : delimitedSize(errorLength))
  out.frame(command, correlationId, size)
  for (let i = 0; i < events.length; i++) {
    const original = StoredEvent.of(events[i]!)
    const records = isResolvedLink(original, resolveLink)
      ? recordsSize(targets[i], original, omit)
      : recordsSize(original, undefined, omit)
    out.messageField(1, records)
    writePageRecords(out, original, i, resolveLink, omit)
  }
  targets.length = 0
  if (!omit || reply.result !== 0) out.varintField(2, reply.result)
  if (!omit || reply.nextEventNumber !== 0) out.int64Field(3, reply.nextEventNumber)
  if (!omit || reply.lastEventNumber !== 0) out.int64Field(4, reply.lastEventNumber)
  if (!omit || reply.isEndOfStream) out.boolField(5, reply.isEndOfStream)
  if (!omit || reply.lastCommitPosition !== 0) out.int64Field(6, reply.lastCommitPosition)
  if (errorLength >= 0) out.stringField(7, reply.error!, errorLength)
}

/**
 * The fields of a ReadAllEventsCompleted or FilteredReadAllEventsCompleted. `result` is written only
 * when it is not Success (servers before 22.6 leave the default out); `isEndOfStream` only exists in
 * the filtered message. Links among `events` are resolved as in `ReadStreamEventsCompleted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadAllEventsCompleted {
  readonly commitPosition: number
  readonly preparePosition: number
  readonly events: ReadonlyArray<Store.RecordedEvent>
  readonly resolveLink?: LinkResolver
  readonly nextCommitPosition: number
  readonly nextPreparePosition: number
  readonly isEndOfStream: boolean
  readonly result: number
  readonly error?: string | undefined
}

const resolvedEventSizer = (omit: boolean) => (recordsSize: number, original: Store.RecordedEvent): number =>
  delimitedSize(resolvedEventSize(recordsSize, original, omit))

const resolvedEventSizers = [resolvedEventSizer(false), resolvedEventSizer(true)] as const

/**
 * Writes a ReadAllEventsCompleted frame, or a FilteredReadAllEventsCompleted one when `filtered`.
 *
 * @since 0.1.0
 * @category replies
 */
export const readAllEventsCompleted = (
  out: Protobuf.Writer,
  command: number,
  correlationId: string | Uint8Array,
  reply: ReadAllEventsCompleted,
  filtered: boolean,
  omit: boolean
): void => {
  const { events, resolveLink } = reply
  let size = pageRecordsSize(events, resolveLink, omit, resolvedEventSizers[omit ? 1 : 0])
  const errorLength = optionalString(reply.error, omit)
  size += int64FieldSize(reply.commitPosition, omit) + int64FieldSize(reply.preparePosition, omit) +
    int64FieldSize(reply.nextCommitPosition, omit) + int64FieldSize(reply.nextPreparePosition, omit) +
    (filtered ? boolFieldSize(reply.isEndOfStream, omit) : 0) + (reply.result !== 0 ? 1 + varintSize(reply.result) : 0) +
    (errorLength < 0 ? 0 : delimitedSize(errorLength))
  out.frame(command, correlationId, size)
  if (!omit || reply.commitPosition !== 0) out.int64Field(1, reply.commitPosition)
  if (!omit || reply.preparePosition !== 0) out.int64Field(2, reply.preparePosition)
  for (let i = 0; i < events.length; i++) {
    const original = StoredEvent.of(events[i]!)
    const records = isResolvedLink(original, resolveLink)
      ? recordsSize(targets[i], original, omit)
      : recordsSize(original, undefined, omit)
    out.messageField(3, resolvedEventSize(records, original, omit))
    writePageRecords(out, original, i, resolveLink, omit)
    writePositions(out, original, omit)
  }
  targets.length = 0
  if (!omit || reply.nextCommitPosition !== 0) out.int64Field(4, reply.nextCommitPosition)
  if (!omit || reply.nextPreparePosition !== 0) out.int64Field(5, reply.nextPreparePosition)
  const resultField = filtered ? 7 : 6
  if (filtered && (!omit || reply.isEndOfStream)) out.boolField(6, reply.isEndOfStream)
  if (reply.result !== 0) out.varintField(resultField, reply.result)
  if (errorLength >= 0) out.stringField(filtered ? 8 : 7, reply.error!, errorLength)
}

/**
 * Writes a StreamEventAppeared frame: the push of a volatile subscription, a ResolvedEvent with the
 * original event's position.
 *
 * @since 0.1.0
 * @category replies
 */
export const streamEventAppeared = (
  out: Protobuf.Writer,
  command: number,
  correlationId: string | Uint8Array,
  resolved: Resolved,
  omit: boolean
): void => {
  const event = storedOrUndefined(resolved.event)
  const link = storedOrUndefined(resolved.link)
  const eventSize = resolvedEventSize(recordsSize(event, link, omit), resolved.original, omit)
  out.frame(command, correlationId, delimitedSize(eventSize))
  out.messageField(1, eventSize)
  writeRecords(out, event, link, omit)
  writePositions(out, resolved.original, omit)
}

/**
 * Writes a PersistentSubscriptionStreamEventAppeared frame: a ResolvedIndexedEvent and the number of
 * times it was delivered before.
 *
 * @since 0.1.0
 * @category replies
 */
export const persistentSubscriptionStreamEventAppeared = (
  out: Protobuf.Writer,
  command: number,
  correlationId: string | Uint8Array,
  resolved: Resolved,
  retryCount: number,
  omit: boolean
): void => {
  const event = storedOrUndefined(resolved.event)
  const link = storedOrUndefined(resolved.link)
  const indexedSize = recordsSize(event, link, omit)
  out.frame(command, correlationId, delimitedSize(indexedSize) + varintFieldSize(retryCount, omit))
  out.messageField(1, indexedSize)
  writeRecords(out, event, link, omit)
  if (!omit || retryCount !== 0) out.varintField(2, retryCount)
}

/**
 * Copies a whole frame written earlier (see `streamEventAppeared`) into an output, with another
 * correlation id: one push encoded once goes to many subscribers.
 *
 * @since 0.1.0
 * @category replies
 */
export const copyFrame = (out: Protobuf.Writer, frame: Uint8Array, correlationIdBytes: Uint8Array): void => {
  out.ensure(frame.length)
  const at = out.position
  out.buffer.set(frame, at)
  out.buffer.set(correlationIdBytes, at + 6)
  out.position = at + frame.length
}
