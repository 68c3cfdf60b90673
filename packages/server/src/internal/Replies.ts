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
 * Tests check both styles byte for byte against the generated encoder of `@photonpump/protocol`.
 *
 * @since 0.1.0
 */
import type * as Store from "../Store.ts"
import * as Protobuf from "./Protobuf.ts"
import type { Resolved } from "./Wire.ts"

const { delimitedSize, int64Size, utf8Length, varintSize } = Protobuf

/** The parts of a record's size that need work to find: its strings' lengths and its ticks. */
interface RecordLayout {
  readonly streamLength: number
  readonly typeLength: number
  readonly ticksHigh: number
  readonly ticksLow: number
  readonly size: number
}

const layoutOf = (event: Store.RecordedEvent, omit: boolean): RecordLayout => {
  const streamLength = utf8Length(event.streamId)
  const typeLength = utf8Length(event.eventType)
  const ticks = Protobuf.ticksOf(event.created)
  const contentType = event.isJson ? 1 : 0
  let size = 0
  if (!omit || streamLength > 0) size += delimitedSize(streamLength)
  if (!omit || event.eventNumber !== 0) size += 1 + int64Size(event.eventNumber)
  if (!omit || event.eventId.length > 0) size += delimitedSize(event.eventId.length)
  if (!omit || typeLength > 0) size += delimitedSize(typeLength)
  if (!omit || contentType !== 0) size += 2 * (1 + varintSize(contentType))
  if (!omit || event.data.length > 0) size += delimitedSize(event.data.length)
  if (!omit || event.metadata.length > 0) size += delimitedSize(event.metadata.length)
  size += 1 + Protobuf.varint64Size(ticks.high, ticks.low)
  if (!omit || event.created !== 0) size += 1 + varintSize(event.created)
  return { streamLength, typeLength, ticksHigh: ticks.high, ticksLow: ticks.low, size }
}

const writeRecord = (out: Protobuf.Writer, event: Store.RecordedEvent, layout: RecordLayout, omit: boolean) => {
  const contentType = event.isJson ? 1 : 0
  if (!omit || layout.streamLength > 0) out.stringField(1, event.streamId, layout.streamLength)
  if (!omit || event.eventNumber !== 0) out.int64Field(2, event.eventNumber)
  if (!omit || event.eventId.length > 0) out.bytesField(3, event.eventId)
  if (!omit || layout.typeLength > 0) out.stringField(4, event.eventType, layout.typeLength)
  if (!omit || contentType !== 0) {
    out.varintField(5, contentType)
    out.varintField(6, contentType)
  }
  if (!omit || event.data.length > 0) out.bytesField(7, event.data)
  if (!omit || event.metadata.length > 0) out.bytesField(8, event.metadata)
  out.key(9, 0)
  out.varint64(layout.ticksHigh, layout.ticksLow)
  if (!omit || event.created !== 0) out.varintField(10, event.created)
}

/** The layouts of a resolved event's records, and the size of the message holding them. */
interface ResolvedLayout {
  readonly event: RecordLayout | undefined
  readonly link: RecordLayout | undefined
  /** The size of a ResolvedIndexedEvent (event and link). */
  readonly indexedSize: number
}

const resolvedLayout = (resolved: Resolved, omit: boolean): ResolvedLayout => {
  const event = resolved.event === undefined ? undefined : layoutOf(resolved.event, omit)
  const link = resolved.link === undefined ? undefined : layoutOf(resolved.link, omit)
  const indexedSize = (event === undefined ? 0 : delimitedSize(event.size)) +
    (link === undefined ? 0 : delimitedSize(link.size))
  return { event, link, indexedSize }
}

const writeResolvedRecords = (out: Protobuf.Writer, resolved: Resolved, layout: ResolvedLayout, omit: boolean) => {
  if (layout.event !== undefined) {
    out.messageField(1, layout.event.size)
    writeRecord(out, resolved.event!, layout.event, omit)
  }
  if (layout.link !== undefined) {
    out.messageField(2, layout.link.size)
    writeRecord(out, resolved.link!, layout.link, omit)
  }
}

/** The size of a ResolvedEvent: the records, then the original event's commit and prepare positions. */
const resolvedEventSize = (resolved: Resolved, layout: ResolvedLayout, omit: boolean): number => {
  const { commitPosition, preparePosition } = resolved.original
  return layout.indexedSize + (!omit || commitPosition !== 0 ? 1 + varintSize(commitPosition) : 0) +
    (!omit || preparePosition !== 0 ? 1 + varintSize(preparePosition) : 0)
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
  const layout = resolved === undefined ? undefined : resolvedLayout(resolved, omit)
  const eventSize = layout === undefined ? 0 : layout.indexedSize
  const errorLength = optionalString(error, omit)
  const size = varintFieldSize(result, omit) + delimitedSize(eventSize) +
    (errorLength < 0 ? 0 : delimitedSize(errorLength))
  out.frame(command, correlationId, size)
  if (!omit || result !== 0) out.varintField(1, result)
  out.messageField(2, eventSize)
  if (layout !== undefined) writeResolvedRecords(out, resolved!, layout, omit)
  if (errorLength >= 0) out.stringField(3, error!, errorLength)
}

/**
 * The fields of a ReadStreamEventsCompleted.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamEventsCompleted {
  readonly events: ReadonlyArray<Resolved>
  readonly result: number
  readonly nextEventNumber: number
  readonly lastEventNumber: number
  readonly isEndOfStream: boolean
  readonly lastCommitPosition: number
  readonly error?: string | undefined
}

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
  const layouts = reply.events.map((resolved) => resolvedLayout(resolved, omit))
  let size = 0
  for (const layout of layouts) size += delimitedSize(layout.indexedSize)
  const errorLength = optionalString(reply.error, omit)
  size += varintFieldSize(reply.result, omit) + int64FieldSize(reply.nextEventNumber, omit) +
    int64FieldSize(reply.lastEventNumber, omit) + boolFieldSize(reply.isEndOfStream, omit) +
    int64FieldSize(reply.lastCommitPosition, omit) + (errorLength < 0 ? 0 : delimitedSize(errorLength))
  out.frame(command, correlationId, size)
  for (let i = 0; i < layouts.length; i++) {
    const layout = layouts[i]!
    out.messageField(1, layout.indexedSize)
    writeResolvedRecords(out, reply.events[i]!, layout, omit)
  }
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
 * the filtered message.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadAllEventsCompleted {
  readonly commitPosition: number
  readonly preparePosition: number
  readonly events: ReadonlyArray<Resolved>
  readonly nextCommitPosition: number
  readonly nextPreparePosition: number
  readonly isEndOfStream: boolean
  readonly result: number
  readonly error?: string | undefined
}

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
  const layouts = reply.events.map((resolved) => resolvedLayout(resolved, omit))
  let size = 0
  for (let i = 0; i < layouts.length; i++) {
    size += delimitedSize(resolvedEventSize(reply.events[i]!, layouts[i]!, omit))
  }
  const errorLength = optionalString(reply.error, omit)
  size += int64FieldSize(reply.commitPosition, omit) + int64FieldSize(reply.preparePosition, omit) +
    int64FieldSize(reply.nextCommitPosition, omit) + int64FieldSize(reply.nextPreparePosition, omit) +
    (filtered ? boolFieldSize(reply.isEndOfStream, omit) : 0) + (reply.result !== 0 ? 1 + varintSize(reply.result) : 0) +
    (errorLength < 0 ? 0 : delimitedSize(errorLength))
  out.frame(command, correlationId, size)
  if (!omit || reply.commitPosition !== 0) out.int64Field(1, reply.commitPosition)
  if (!omit || reply.preparePosition !== 0) out.int64Field(2, reply.preparePosition)
  for (let i = 0; i < layouts.length; i++) {
    const resolved = reply.events[i]!
    const layout = layouts[i]!
    out.messageField(3, resolvedEventSize(resolved, layout, omit))
    writeResolvedRecords(out, resolved, layout, omit)
    const { commitPosition, preparePosition } = resolved.original
    if (!omit || commitPosition !== 0) out.varintField(3, commitPosition)
    if (!omit || preparePosition !== 0) out.varintField(4, preparePosition)
  }
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
  const layout = resolvedLayout(resolved, omit)
  const eventSize = resolvedEventSize(resolved, layout, omit)
  out.frame(command, correlationId, delimitedSize(eventSize))
  out.messageField(1, eventSize)
  writeResolvedRecords(out, resolved, layout, omit)
  const { commitPosition, preparePosition } = resolved.original
  if (!omit || commitPosition !== 0) out.varintField(3, commitPosition)
  if (!omit || preparePosition !== 0) out.varintField(4, preparePosition)
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
  const layout = resolvedLayout(resolved, omit)
  out.frame(command, correlationId, delimitedSize(layout.indexedSize) + varintFieldSize(retryCount, omit))
  out.messageField(1, layout.indexedSize)
  writeResolvedRecords(out, resolved, layout, omit)
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
