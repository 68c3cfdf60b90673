/**
 * The busiest requests read by hand: WriteEvents, ReadEvent, ReadStreamEvents and ReadAllEvents. Fields
 * carry the names of the generated messages; int64 values come out as JS numbers (clamped past 2^53,
 * beyond anything the store holds) and bytes as views into the payload. Like the real server's
 * decoder, a known field with the wrong wire type makes the payload malformed. Tests check these
 * readers against the generated decoder of `@photonpump/protocol`.
 *
 * @since 0.1.0
 */
import * as Protobuf from "./Protobuf.ts"

const { expectWireType, Malformed } = Protobuf

const maxSafe = Number.MAX_SAFE_INTEGER

/**
 * Reads an int64 as a number: exact for safe integers, including the negative sentinels. A varint of ten
 * bytes holds bit 63, the sign, in the lowest bit of its last byte (the bits above it do not count):
 * negative numbers always take ten bytes, and a non-negative one only when it is written the long way,
 * which a decoder must read as it reads the short way.
 */
const int64 = (reader: Protobuf.Reader): number => {
  const start = reader.position
  const value = reader.varint()
  if (reader.position - start < 10) return value > maxSafe ? maxSafe : value
  const bytes = reader.bytes
  let magnitude = 0
  let multiplier = 1
  if ((bytes[start + 9]! & 1) === 0) {
    for (let i = 0; i < 9; i++) {
      magnitude += (bytes[start + i]! & 0x7f) * multiplier
      multiplier *= 128
    }
    return magnitude > maxSafe ? maxSafe : magnitude
  }
  // Negative: complementing each 7-bit group keeps small magnitudes exact:
  // value = -(1 + sum((0x7f - group) * 128^i)).
  for (let i = 0; i < 9; i++) {
    magnitude += (0x7f - (bytes[start + i]! & 0x7f)) * multiplier
    multiplier *= 128
  }
  const negative = -(magnitude + 1)
  return negative < -maxSafe ? -maxSafe : negative
}

/**
 * Reads an int32: the low 32 bits of the varint, signed, as protobuf reads one however many bytes it
 * takes (ten for a negative number, more than five for one written the long way).
 */
const int32 = (reader: Protobuf.Reader): number => {
  const start = reader.position
  const value = reader.varint()
  // Four bytes hold 28 bits: the value is its own low half.
  if (reader.position - start <= 4) return value
  const bytes = reader.bytes
  let low = 0
  for (let i = 0; i < 5; i++) low |= (bytes[start + i]! & 0x7f) << (7 * i)
  return low
}

/** A field's number from its key; the wire type is `key & 7`. No tuple: this runs for every field. */
const fieldOf = (key: number): number => {
  const field = key < 0x80000000 ? key >>> 3 : Math.floor(key / 8)
  if (field === 0) throw new Malformed("field number 0")
  return field
}

/** Slots in an interning table: a power of two, enough for the names a busy server sees at once. */
const internSlots = 1024

/** The longest name worth interning; longer ones are rare and decoded each time. */
const internMaxLength = 64

/**
 * Recently seen short strings, by their UTF-8 bytes: writers send the same stream ids and event types
 * again and again, and hashing and comparing a few bytes is cheaper than building a new string each
 * time (and leaves less garbage). A slot holds the last name that hashed to it.
 */
class Interner {
  readonly #bytes: Array<Uint8Array | undefined> = Array.from({ length: internSlots }, () => undefined)
  readonly #texts: Array<string> = Array.from({ length: internSlots }, () => "")

  /** Reads a string field, as `Reader.string` would decode it. */
  read(reader: Protobuf.Reader): string {
    const before = reader.position
    const start = reader.delimited()
    const end = reader.position
    const length = end - start
    if (length > internMaxLength) {
      reader.position = before
      return reader.string()
    }
    const bytes = reader.bytes
    let hash = 0x811c9dc5 ^ length
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193)
    const slot = (hash >>> 0) & (internSlots - 1)
    const known = this.#bytes[slot]
    if (known !== undefined && known.length === length) {
      let same = true
      for (let i = 0; i < length; i++) {
        if (known[i] !== bytes[start + i]) {
          same = false
          break
        }
      }
      if (same) return this.#texts[slot]!
    }
    reader.position = before
    const text = reader.string()
    this.#bytes[slot] = bytes.slice(start, end)
    this.#texts[slot] = text
    return text
  }
}

const streamIds = new Interner()
const eventTypes = new Interner()

/**
 * A NewEvent, its bytes views into the payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewEvent {
  eventId: Uint8Array
  eventType: string
  dataContentType: number
  metadataContentType: number
  data: Uint8Array
  metadata: Uint8Array
  /** `dataContentType === 1`: with it, a NewEvent is also the store's `ProposedEvent`, no copy needed. */
  isJson: boolean
}

/**
 * A WriteEvents request.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteEvents {
  eventStreamId: string
  expectedVersion: number
  events: Array<NewEvent>
  requireLeader: boolean
}

const empty = new Uint8Array(0)

const readNewEvent = (reader: Protobuf.Reader): NewEvent => {
  const event: NewEvent = {
    eventId: empty,
    eventType: "",
    dataContentType: 0,
    metadataContentType: 0,
    data: empty,
    metadata: empty,
    isJson: false
  }
  while (!reader.done) {
    const key = reader.varint()
    const field = fieldOf(key)
    const wireType = key & 7
    switch (field) {
      case 1:
        expectWireType(field, wireType, 2)
        event.eventId = reader.bytesView()
        break
      case 2:
        expectWireType(field, wireType, 2)
        event.eventType = eventTypes.read(reader)
        break
      case 3:
        expectWireType(field, wireType, 0)
        event.dataContentType = int32(reader)
        break
      case 4:
        expectWireType(field, wireType, 0)
        event.metadataContentType = int32(reader)
        break
      case 5:
        expectWireType(field, wireType, 2)
        event.data = reader.bytesView()
        break
      case 6:
        expectWireType(field, wireType, 2)
        event.metadata = reader.bytesView()
        break
      default:
        reader.skip(wireType, field)
    }
  }
  event.isJson = event.dataContentType === 1
  return event
}

/**
 * Reads a WriteEvents payload; throws `Malformed` when it is not one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const writeEvents = (payload: Uint8Array): WriteEvents => {
  const reader = new Protobuf.Reader(payload)
  const message: WriteEvents = { eventStreamId: "", expectedVersion: 0, events: [], requireLeader: false }
  while (!reader.done) {
    const key = reader.varint()
    const field = fieldOf(key)
    const wireType = key & 7
    switch (field) {
      case 1:
        expectWireType(field, wireType, 2)
        message.eventStreamId = streamIds.read(reader)
        break
      case 2:
        expectWireType(field, wireType, 0)
        message.expectedVersion = int64(reader)
        break
      case 3: {
        expectWireType(field, wireType, 2)
        const start = reader.delimited()
        message.events.push(readNewEvent(new Protobuf.Reader(payload, start, reader.position)))
        break
      }
      case 4:
        expectWireType(field, wireType, 0)
        message.requireLeader = reader.bool()
        break
      default:
        reader.skip(wireType, field)
    }
  }
  return message
}

/**
 * A ReadEvent request.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadEvent {
  eventStreamId: string
  eventNumber: number
  resolveLinkTos: boolean
  requireLeader: boolean
}

/**
 * Reads a ReadEvent payload; throws `Malformed` when it is not one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readEvent = (payload: Uint8Array): ReadEvent => {
  const reader = new Protobuf.Reader(payload)
  const message: ReadEvent = { eventStreamId: "", eventNumber: 0, resolveLinkTos: false, requireLeader: false }
  while (!reader.done) {
    const key = reader.varint()
    const field = fieldOf(key)
    const wireType = key & 7
    switch (field) {
      case 1:
        expectWireType(field, wireType, 2)
        message.eventStreamId = streamIds.read(reader)
        break
      case 2:
        expectWireType(field, wireType, 0)
        message.eventNumber = int64(reader)
        break
      case 3:
        expectWireType(field, wireType, 0)
        message.resolveLinkTos = reader.bool()
        break
      case 4:
        expectWireType(field, wireType, 0)
        message.requireLeader = reader.bool()
        break
      default:
        reader.skip(wireType, field)
    }
  }
  return message
}

/**
 * A ReadStreamEvents request (either direction).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamEvents {
  eventStreamId: string
  fromEventNumber: number
  maxCount: number
  resolveLinkTos: boolean
  requireLeader: boolean
}

/**
 * Reads a ReadStreamEvents payload; throws `Malformed` when it is not one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readStreamEvents = (payload: Uint8Array): ReadStreamEvents => {
  const reader = new Protobuf.Reader(payload)
  const message: ReadStreamEvents = {
    eventStreamId: "",
    fromEventNumber: 0,
    maxCount: 0,
    resolveLinkTos: false,
    requireLeader: false
  }
  while (!reader.done) {
    const key = reader.varint()
    const field = fieldOf(key)
    const wireType = key & 7
    switch (field) {
      case 1:
        expectWireType(field, wireType, 2)
        message.eventStreamId = streamIds.read(reader)
        break
      case 2:
        expectWireType(field, wireType, 0)
        message.fromEventNumber = int64(reader)
        break
      case 3:
        expectWireType(field, wireType, 0)
        message.maxCount = int32(reader)
        break
      case 4:
        expectWireType(field, wireType, 0)
        message.resolveLinkTos = reader.bool()
        break
      case 5:
        expectWireType(field, wireType, 0)
        message.requireLeader = reader.bool()
        break
      default:
        reader.skip(wireType, field)
    }
  }
  return message
}

/**
 * A ReadAllEvents request (either direction).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadAllEvents {
  commitPosition: number
  preparePosition: number
  maxCount: number
  resolveLinkTos: boolean
  requireLeader: boolean
}

/**
 * Reads a ReadAllEvents payload; throws `Malformed` when it is not one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readAllEvents = (payload: Uint8Array): ReadAllEvents => {
  const reader = new Protobuf.Reader(payload)
  const message: ReadAllEvents = {
    commitPosition: 0,
    preparePosition: 0,
    maxCount: 0,
    resolveLinkTos: false,
    requireLeader: false
  }
  while (!reader.done) {
    const key = reader.varint()
    const field = fieldOf(key)
    const wireType = key & 7
    switch (field) {
      case 1:
        expectWireType(field, wireType, 0)
        message.commitPosition = int64(reader)
        break
      case 2:
        expectWireType(field, wireType, 0)
        message.preparePosition = int64(reader)
        break
      case 3:
        expectWireType(field, wireType, 0)
        message.maxCount = int32(reader)
        break
      case 4:
        expectWireType(field, wireType, 0)
        message.resolveLinkTos = reader.bool()
        break
      case 5:
        expectWireType(field, wireType, 0)
        message.requireLeader = reader.bool()
        break
      default:
        reader.skip(wireType, field)
    }
  }
  return message
}
