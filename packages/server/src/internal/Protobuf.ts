/**
 * Protobuf by hand for the hot path: a writer that puts frames and the messages of the busiest replies
 * straight into one output buffer, and a reader for the busiest requests. The generated code of
 * `@photonpump/protocol` stays the reference: tests check that both produce the same bytes and
 * values, and every other message goes through it.
 *
 * Numbers are JS numbers: event numbers and positions are safe integers inside the server. Negative
 * int64 values (the sentinels of failed replies) take ten bytes, as protobuf's two's complement does,
 * and `Infinity` stands for the tombstone number 2^63-1.
 *
 * @since 0.1.0
 */
import { Guid } from "@photonpump/protocol"

const tombstone = 2n ** 63n - 1n
const empty = Buffer.alloc(0)

/**
 * The bytes a varint takes for a non-negative safe integer.
 *
 * @since 0.1.0
 * @category sizes
 */
export const varintSize = (n: number): number => {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x200000) return 3
  if (n < 0x10000000) return 4
  let size = 4
  let rest = Math.floor(n / 0x10000000)
  while (rest > 0) {
    size++
    rest = Math.floor(rest / 0x80)
  }
  return size
}

/**
 * The bytes an int64 takes: negative values take ten, the tombstone (`Infinity`) nine.
 *
 * @since 0.1.0
 * @category sizes
 */
export const int64Size = (n: number): number => (n < 0 ? 10 : n === Number.POSITIVE_INFINITY ? 9 : varintSize(n))

/**
 * The UTF-8 length of a string.
 *
 * @since 0.1.0
 * @category sizes
 */
export const utf8Length = (text: string): number => {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, "utf8")
  }
  return text.length
}

/** .NET ticks at the Unix epoch, 621355968000000000, as two 32-bit halves. */
const epochTicksHigh = 0x089f7ff5
const epochTicksLow = 0xf7b58000
const twoTo32 = 4294967296

/**
 * The .NET ticks of a moment in milliseconds since the Unix epoch, as the two 32-bit halves of the
 * int64 (ticks pass 2^53, so a JS number cannot hold them exactly).
 *
 * @since 0.1.0
 * @category conversions
 */
export const ticksOf = (millis: number): { readonly high: number; readonly low: number } => {
  // ticks = millis * 10000 + epoch, with millis split so that every product stays exact.
  const millisHigh = Math.floor(millis / 0x1000000)
  const millisLow = millis % 0x1000000
  const lowProduct = millisLow * 10000
  const highProduct = millisHigh * 10000
  let low = (lowProduct % twoTo32) + (highProduct % 0x100) * 0x1000000 + epochTicksLow
  let high = Math.floor(lowProduct / twoTo32) + Math.floor(highProduct / 0x100) + epochTicksHigh
  high += Math.floor(low / twoTo32)
  low %= twoTo32
  return { high, low }
}

/**
 * The bytes a varint takes for a 64-bit value given as halves.
 *
 * @since 0.1.0
 * @category sizes
 */
export const varint64Size = (high: number, low: number): number => {
  const bits = high !== 0 ? 64 - Math.clz32(high) : 32 - Math.clz32(low)
  return bits === 0 ? 1 : Math.ceil(bits / 7)
}

/**
 * The bytes a length-delimited field of `length` bytes takes, tag included (fields 1 to 15).
 *
 * @since 0.1.0
 * @category sizes
 */
export const delimitedSize = (length: number): number => 1 + varintSize(length) + length

/**
 * Writes a varint for a non-negative safe integer at `at`; returns the position after it.
 *
 * @since 0.1.0
 * @category writing
 */
export const writeVarint = (bytes: Uint8Array, at: number, n: number): number => {
  if (n >= 0x80000000) return writeVarint64(bytes, at, Math.floor(n / 4294967296), n >>> 0)
  while (n > 0x7f) {
    bytes[at++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  bytes[at++] = n
  return at
}

/**
 * Writes a varint for a 64-bit value given as two unsigned 32-bit halves; returns the position after it.
 *
 * @since 0.1.0
 * @category writing
 */
export const writeVarint64 = (bytes: Uint8Array, at: number, high: number, low: number): number => {
  while (high > 0 || low > 0x7f) {
    bytes[at++] = (low & 0x7f) | 0x80
    low = ((low >>> 7) | (high << 25)) >>> 0
    high >>>= 7
  }
  bytes[at++] = low
  return at
}

/**
 * Writes an int64 (two's complement for negative values, 2^63-1 for `Infinity`); returns the position
 * after it.
 *
 * @since 0.1.0
 * @category writing
 */
export const writeInt64 = (bytes: Uint8Array, at: number, n: number): number => {
  if (n >= 0 && n !== Number.POSITIVE_INFINITY) return writeVarint(bytes, at, n)
  let value = n === Number.POSITIVE_INFINITY ? tombstone : BigInt.asUintN(64, BigInt(n))
  while (value > 0x7fn) {
    bytes[at++] = Number(value & 0x7fn) | 0x80
    value >>= 7n
  }
  bytes[at++] = Number(value)
  return at
}

/**
 * Copies `source` into `target` at `at`: a loop for short arrays, whose copy by `set` costs more in
 * its fixed overhead than in the bytes; `set` for the rest. Returns the position after the copy.
 *
 * @since 0.1.0
 * @category writing
 */
export const copyBytes = (target: Uint8Array, at: number, source: Uint8Array): number => {
  const length = source.length
  if (length <= 16) {
    for (let i = 0; i < length; i++) target[at + i] = source[i]!
  } else {
    target.set(source, at)
  }
  return at + length
}

/** The largest buffer a `Writer` starts a batch with; a batch that needs more grows it. */
const maxStartSize = 64 * 1024
/**
 * The largest buffer a `Writer` keeps for its next batches: room for the replies to a burst of read
 * requests (eight pages of 500 events are ~1.1 MB). A buffer this large that is not kept costs more
 * than the frames in it, every batch (the allocator maps and faults in fresh pages): with 1 MiB, a
 * client keeping eight pages of 500 in flight got them five times slower than one keeping two
 * (bench/NOTES.md, phase 7). One that is kept costs its memory for as long as the connection lasts.
 */
const maxKeptSize = 8 * 1024 * 1024

/**
 * A growing output buffer for frames. `take` hands out what was written and starts afresh, so the
 * bytes handed to the socket are never written again, unless `reuse` says the socket is done with them.
 *
 * @since 0.1.0
 * @category writing
 */
export class Writer {
  buffer: Buffer = empty
  position = 0
  /** The size of the next buffer: twice what the last batch needed, so small batches take small buffers. */
  #nextSize = 1024

  /** The buffer of the last `take`, while `reuse` may give it back. */
  #taken: Buffer | undefined = undefined

  /** The bytes written since the last `take`, or `undefined` if there are none. */
  take(): Buffer | undefined {
    if (this.position === 0) return undefined
    const written = this.buffer.subarray(0, this.position)
    this.#nextSize = Math.min(maxStartSize, Math.max(256, this.position * 2))
    this.#taken = this.buffer
    this.buffer = empty
    this.position = 0
    return written
  }

  /**
   * Writes the next frames over the bytes of the last `take`, instead of a new buffer: for when their
   * reader is done with them (the socket took them at once). A buffer larger than 8 MiB is not kept.
   */
  reuse(): void {
    const taken = this.#taken
    this.#taken = undefined
    if (taken !== undefined && this.position === 0 && taken.length <= maxKeptSize) this.buffer = taken
  }

  /** Drops what was written since `position` (used when a reply is abandoned). */
  rewind(position: number): void {
    this.position = position
  }

  ensure(bytes: number): void {
    const needed = this.position + bytes
    if (needed <= this.buffer.length) return
    // Buffers of up to 4 KiB come from node's pool, so most batches cost no allocation of their own.
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#nextSize, this.buffer.length * 2))
    this.buffer.copy(grown, 0, 0, this.position)
    this.buffer = grown
  }

  /**
   * Starts a frame: length prefix, command, no flags, correlation id (a UUID, or its 16 wire bytes).
   * Reserves room for a payload of exactly `payloadSize` bytes, which the caller then writes.
   */
  frame(command: number, correlationId: string | Uint8Array, payloadSize: number): void {
    this.ensure(22 + payloadSize)
    const buffer = this.buffer
    let at = this.position
    buffer.writeInt32LE(18 + payloadSize, at)
    buffer[at + 4] = command
    buffer[at + 5] = 0
    at += 6
    if (typeof correlationId !== "string") buffer.set(correlationId, at)
    else if (!Guid.writeUnsafe(correlationId, buffer, at)) throw new Error(`Not a UUID: ${correlationId}`)
    this.position = at + 16
  }

  byte(value: number): void {
    this.buffer[this.position++] = value
  }

  /** A varint for a non-negative safe integer. */
  varint(n: number): void {
    this.position = writeVarint(this.buffer, this.position, n)
  }

  /** A varint for a 64-bit value given as two unsigned 32-bit halves. */
  varint64(high: number, low: number): void {
    this.position = writeVarint64(this.buffer, this.position, high, low)
  }

  /** An int64: two's complement for negative values, 2^63-1 for `Infinity`. */
  int64(n: number): void {
    this.position = writeInt64(this.buffer, this.position, n)
  }

  /** A field key; fields 1 to 15 take one byte. */
  key(field: number, wireType: number): void {
    this.buffer[this.position++] = (field << 3) | wireType
  }

  varintField(field: number, n: number): void {
    this.buffer[this.position++] = field << 3
    this.varint(n)
  }

  int64Field(field: number, n: number): void {
    this.buffer[this.position++] = field << 3
    this.int64(n)
  }

  boolField(field: number, value: boolean): void {
    this.buffer[this.position++] = field << 3
    this.buffer[this.position++] = value ? 1 : 0
  }

  /** A string field whose UTF-8 length the caller already knows. */
  stringField(field: number, text: string, length: number): void {
    this.buffer[this.position++] = (field << 3) | 2
    this.varint(length)
    if (length !== text.length) {
      this.position += this.buffer.write(text, this.position, length, "utf8")
    } else if (length <= 64) {
      // ASCII (its UTF-8 length is its length): copying the codes beats Buffer#write for short names.
      const buffer = this.buffer
      let at = this.position
      for (let i = 0; i < length; i++) buffer[at++] = text.charCodeAt(i)
      this.position = at
    } else {
      this.position += this.buffer.write(text, this.position, length, "latin1")
    }
  }

  bytesField(field: number, bytes: Uint8Array): void {
    this.buffer[this.position++] = (field << 3) | 2
    this.varint(bytes.length)
    this.position = copyBytes(this.buffer, this.position, bytes)
  }

  /** Opens a length-delimited field whose content, written next, is `length` bytes. */
  messageField(field: number, length: number): void {
    this.buffer[this.position++] = (field << 3) | 2
    this.varint(length)
  }
}

/**
 * A payload that is not the message it should be.
 *
 * @since 0.1.0
 * @category reading
 */
export class Malformed extends Error {}

/**
 * A reader over one message's bytes.
 *
 * @since 0.1.0
 * @category reading
 */
export class Reader {
  readonly bytes: Uint8Array
  position: number
  readonly end: number

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes
    this.position = start
    this.end = end
  }

  get done(): boolean {
    return this.position >= this.end
  }

  /** A varint as a JS number (exact up to 2^53; larger values come out rounded). */
  varint(): number {
    const bytes = this.bytes
    let result = 0
    let multiplier = 1
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) throw new Malformed("premature end of a varint")
      const byte = bytes[this.position++]!
      result += (byte & 0x7f) * multiplier
      if (byte < 0x80) return result
      multiplier *= 128
    }
    throw new Malformed("a varint longer than ten bytes")
  }

  /** A varint as an int64 bigint (two's complement for negative values). */
  int64(): bigint {
    const bytes = this.bytes
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) throw new Malformed("premature end of a varint")
      const byte = bytes[this.position++]!
      result |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return BigInt.asIntN(64, result)
      shift += 7n
    }
    throw new Malformed("a varint longer than ten bytes")
  }

  /** An int32: a varint whose low 32 bits are taken as signed. */
  int32(): number {
    const value = this.int64()
    return Number(BigInt.asIntN(32, value))
  }

  bool(): boolean {
    return this.varint() !== 0
  }

  /** The bounds of a length-delimited value, skipped over. */
  delimited(): number {
    const length = this.varint()
    const start = this.position
    if (length > this.end - start) throw new Malformed("a length-delimited field runs past the end")
    this.position = start + length
    return start
  }

  bytesView(): Uint8Array {
    const start = this.delimited()
    return this.bytes.subarray(start, this.position)
  }

  string(): string {
    const start = this.delimited()
    const end = this.position
    const bytes = this.bytes
    // Names are short and mostly ASCII: building them directly beats a TextDecoder call.
    if (end - start <= 64) {
      let text = ""
      for (let i = start; i < end; i++) {
        const byte = bytes[i]!
        if (byte > 0x7f) return decoder.decode(bytes.subarray(start, end))
        text += String.fromCharCode(byte)
      }
      return text
    }
    return decoder.decode(bytes.subarray(start, end))
  }

  /**
   * Skips a field of the given wire type. A group (wire type 3, which proto2 still allows in an unknown
   * field) is skipped up to the end-group tag of its field number.
   */
  skip(wireType: number, field: number, depth = 0): void {
    switch (wireType) {
      case 0:
        this.varint()
        return
      case 1:
        this.position += 8
        break
      case 2:
        this.delimited()
        return
      case 3:
        return this.#skipGroup(field, depth)
      case 5:
        this.position += 4
        break
      default:
        throw new Malformed(`wire type ${wireType} is not supported here`)
    }
    if (this.position > this.end) throw new Malformed("a fixed-size field runs past the end")
  }

  #skipGroup(field: number, depth: number): void {
    // Groups nest; a bound keeps a payload of nested groups from exhausting the stack.
    if (depth >= maxGroupDepth) throw new Malformed(`groups nested more than ${maxGroupDepth} deep`)
    for (;;) {
      if (this.position >= this.end) throw new Malformed("a group runs past the end")
      const key = this.varint()
      const wireType = key % 8
      const number = Math.floor(key / 8)
      if (number === 0) throw new Malformed("field number 0")
      if (wireType === 4) {
        if (number !== field) throw new Malformed(`group ${field} ends with the tag of field ${number}`)
        return
      }
      this.skip(wireType, number, depth + 1)
    }
  }
}

// A leading U+FEFF in a protobuf string is text, not a byte order mark: "\uFEFForders" and "orders" are
// two streams, as the generated decoder reads them.
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })

/** How deep groups may nest in a skipped field: protobuf's default recursion limit. */
const maxGroupDepth = 100

/**
 * Checks that a known field came with the wire type its declaration calls for.
 *
 * @since 0.1.0
 * @category reading
 */
export const expectWireType = (field: number, actual: number, expected: number): void => {
  if (actual !== expected) throw new Malformed(`field ${field} has wire type ${actual}, expected ${expected}`)
}
