/**
 * The events of the store, kept in their wire form. Each event is encoded once, when it is committed,
 * as the `EventRecord` message a 20.10 server sends (every field written), into shared slabs: a read
 * reply, a subscription push or a persistent-subscription message is then mostly a copy of these
 * bytes, with nothing to work out per event. The event's id, data and metadata are views into the same
 * bytes, made when asked for, so the encoding is the store's only copy of an event.
 *
 * Servers from 22.6 leave out fields that hold their default value. Every such field is a two-byte
 * `<tag> 00` pair in the full encoding (a zero varint or an empty string or bytes), so the 22.6+ form
 * is the same bytes with those pairs skipped: no second encoding is kept.
 *
 * @since 0.1.0
 */
import type { ProposedEvent, RecordedEvent } from "../Store.ts"
import * as Protobuf from "./Protobuf.ts"
import * as Slab from "./Slab.ts"

const { copyBytes, int64Size, varint64Size, varintSize, writeInt64, writeVarint, writeVarint64 } = Protobuf

const encoder = new TextEncoder()

/**
 * A committed event, with its `EventRecord` bytes.
 *
 * @since 0.1.0
 * @category models
 */
export class StoredEvent implements RecordedEvent {
  readonly streamId: string
  readonly eventNumber: number
  readonly eventType: string
  readonly isJson: boolean
  readonly created: number
  readonly commitPosition: number
  readonly preparePosition: number
  readonly size: number
  readonly commitEnd: number
  /** The `EventRecord` message with every field written (the style of servers up to 21.10). */
  readonly wire: Uint8Array
  /** Where the id field (its tag) starts in `wire`; data and metadata follow the same way. */
  readonly idField: number
  readonly dataField: number
  readonly metadataField: number
  /** How many fields hold their default value: two-byte pairs that the 22.6+ style leaves out. */
  readonly defaults: number

  constructor(
    streamId: string,
    eventNumber: number,
    eventType: string,
    isJson: boolean,
    created: number,
    commitPosition: number,
    preparePosition: number,
    size: number,
    commitEnd: number,
    wire: Uint8Array,
    idField: number,
    dataField: number,
    metadataField: number,
    defaults: number
  ) {
    this.streamId = streamId
    this.eventNumber = eventNumber
    this.eventType = eventType
    this.isJson = isJson
    this.created = created
    this.commitPosition = commitPosition
    this.preparePosition = preparePosition
    this.size = size
    this.commitEnd = commitEnd
    this.wire = wire
    this.idField = idField
    this.dataField = dataField
    this.metadataField = metadataField
    this.defaults = defaults
  }

  get eventId(): Uint8Array {
    return this.#bytesField(this.idField)
  }

  get data(): Uint8Array {
    return this.#bytesField(this.dataField)
  }

  get metadata(): Uint8Array {
    return this.#bytesField(this.metadataField)
  }

  /** The value of the length-delimited field whose tag is at `field`, as a view. */
  #bytesField(field: number): Uint8Array {
    const wire = this.wire
    let at = field + 1
    let length = 0
    let multiplier = 1
    let byte: number
    do {
      byte = wire[at++]!
      length += (byte & 0x7f) * multiplier
      multiplier *= 128
    } while (byte >= 0x80)
    return wire.subarray(at, at + length)
  }
}

/**
 * What the events of one write share: their stream (with its UTF-8 bytes) and the moment they were
 * committed (with its .NET ticks).
 *
 * @since 0.1.0
 * @category models
 */
export interface Commit {
  readonly streamId: string
  readonly streamIdBytes: Uint8Array
  readonly created: number
  readonly ticksHigh: number
  readonly ticksLow: number
}

/**
 * The shared part of the events of one write.
 *
 * @since 0.1.0
 * @category constructors
 */
export const commit = (streamId: string, streamIdBytes: Uint8Array, created: number): Commit => {
  const ticks = Protobuf.ticksOf(created)
  return { streamId, streamIdBytes, created, ticksHigh: ticks.high, ticksLow: ticks.low }
}

/**
 * The UTF-8 bytes of a string.
 *
 * @since 0.1.0
 * @category encoding
 */
export const utf8 = (text: string): Uint8Array => encoder.encode(text)

/** Writes a string whose UTF-8 length is known: ASCII by its codes, anything else through the encoder. */
const writeString = (bytes: Uint8Array, at: number, text: string, length: number): number => {
  if (length === text.length) {
    for (let i = 0; i < length; i++) bytes[at + i] = text.charCodeAt(i)
  } else {
    encoder.encodeInto(text, bytes.subarray(at, at + length))
  }
  return at + length
}

/**
 * Encodes an event for the store: its `EventRecord` bytes go into a slab, copied from `event`, which
 * the caller may reuse afterwards. `typeLength` is the UTF-8 length of its event type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  commit: Commit,
  event: ProposedEvent,
  typeLength: number,
  eventNumber: number,
  commitPosition: number,
  preparePosition: number,
  size: number,
  commitEnd: number
): StoredEvent => {
  const { created, streamIdBytes } = commit
  const streamLength = streamIdBytes.length
  const { data, eventId, metadata } = event
  const contentType = event.isJson ? 1 : 0
  const wireSize = 1 + varintSize(streamLength) + streamLength +
    1 + int64Size(eventNumber) +
    1 + varintSize(eventId.length) + eventId.length +
    1 + varintSize(typeLength) + typeLength +
    4 +
    1 + varintSize(data.length) + data.length +
    1 + varintSize(metadata.length) + metadata.length +
    1 + varint64Size(commit.ticksHigh, commit.ticksLow) +
    1 + varintSize(created)
  const wire = Slab.allocate(wireSize)
  wire[0] = 0x0a
  let at = writeVarint(wire, 1, streamLength)
  at = copyBytes(wire, at, streamIdBytes)
  wire[at++] = 0x10
  at = writeInt64(wire, at, eventNumber)
  const idField = at
  wire[at++] = 0x1a
  at = writeVarint(wire, at, eventId.length)
  at = copyBytes(wire, at, eventId)
  wire[at++] = 0x22
  at = writeVarint(wire, at, typeLength)
  at = writeString(wire, at, event.eventType, typeLength)
  wire[at++] = 0x28
  wire[at++] = contentType
  wire[at++] = 0x30
  wire[at++] = contentType
  const dataField = at
  wire[at++] = 0x3a
  at = writeVarint(wire, at, data.length)
  at = copyBytes(wire, at, data)
  const metadataField = at
  wire[at++] = 0x42
  at = writeVarint(wire, at, metadata.length)
  at = copyBytes(wire, at, metadata)
  wire[at++] = 0x48
  at = writeVarint64(wire, at, commit.ticksHigh, commit.ticksLow)
  wire[at++] = 0x50
  writeVarint(wire, at, created)
  const defaults = (streamLength === 0 ? 1 : 0) + (eventNumber === 0 ? 1 : 0) + (eventId.length === 0 ? 1 : 0) +
    (typeLength === 0 ? 1 : 0) + (contentType === 0 ? 2 : 0) + (data.length === 0 ? 1 : 0) +
    (metadata.length === 0 ? 1 : 0) + (created === 0 ? 1 : 0)
  return new StoredEvent(
    commit.streamId,
    eventNumber,
    event.eventType,
    event.isJson,
    created,
    commitPosition,
    preparePosition,
    size,
    commitEnd,
    wire,
    idField,
    dataField,
    metadataField,
    defaults
  )
}

/**
 * An event in its wire form: itself for an event of the store, a fresh encoding for any other
 * `RecordedEvent`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const of = (event: RecordedEvent): StoredEvent => {
  if (event instanceof StoredEvent) return event
  const typeBytes = utf8(event.eventType)
  return make(
    commit(event.streamId, utf8(event.streamId), event.created),
    event,
    typeBytes.length,
    event.eventNumber,
    event.commitPosition,
    event.preparePosition,
    event.size,
    event.commitEnd
  )
}

/**
 * The size of an event's `EventRecord` in a style.
 *
 * @since 0.1.0
 * @category encoding
 */
export const wireSize = (event: StoredEvent, omitDefaults: boolean): number =>
  omitDefaults ? event.wire.length - 2 * event.defaults : event.wire.length

/**
 * Copies an event's `EventRecord` into `out` at `at`, in a style; returns the position after it.
 *
 * @since 0.1.0
 * @category encoding
 */
export const write = (out: Uint8Array, at: number, event: StoredEvent, omitDefaults: boolean): number => {
  const wire = event.wire
  if (!omitDefaults || event.defaults === 0) {
    out.set(wire, at)
    return at + wire.length
  }
  // Walk the fields, copying the runs between the `<tag> 00` pairs of default values.
  const end = wire.length
  let run = 0
  let position = 0
  while (position < end) {
    const field = position
    const wireType = wire[position++]! & 7
    let length = 0
    let multiplier = 1
    let byte: number
    do {
      byte = wire[position++]!
      length += (byte & 0x7f) * multiplier
      multiplier *= 128
    } while (byte >= 0x80)
    if (wireType === 2) position += length
    if (position - field === 2 && wire[field + 1] === 0) {
      at = copyRun(out, at, wire, run, field)
      run = position
    }
  }
  return copyRun(out, at, wire, run, end)
}

const copyRun = (out: Uint8Array, at: number, wire: Uint8Array, from: number, to: number): number => {
  if (to - from <= 16) {
    for (let i = from; i < to; i++) out[at++] = wire[i]!
    return at
  }
  out.set(wire.subarray(from, to), at)
  return at + to - from
}

/**
 * A map key for an event id: its bytes as a string, one character a byte (a 16-byte id spelled out: a
 * spread costs ten times more). The store's idempotency check and the persistent subscriptions' acks
 * look events up by it.
 *
 * @since 0.1.0
 * @category ids
 */
export const idKey = (id: Uint8Array): string =>
  id.length !== 16
    ? String.fromCharCode(...id)
    : String.fromCharCode(
      id[0]!,
      id[1]!,
      id[2]!,
      id[3]!,
      id[4]!,
      id[5]!,
      id[6]!,
      id[7]!,
      id[8]!,
      id[9]!,
      id[10]!,
      id[11]!,
      id[12]!,
      id[13]!,
      id[14]!,
      id[15]!
    )
