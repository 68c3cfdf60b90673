/**
 * The protobuf reader under the hand-written decoders (`Decode.ts`), and under the fields an event reads
 * from its reply only when asked for (`RecordedEvent`'s creation time).
 *
 * @internal
 */

/**
 * Thrown by a `Reader` on bytes that are not the expected message; the decoders turn it into a
 * `Malformed` result.
 *
 * @internal
 */
export class MalformedError {
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

/**
 * The int64 whose two's complement halves are `low` (unsigned) and `high`.
 *
 * @internal
 */
export const toBigInt = (low: number, high: number): bigint => {
  if (high === 0) return BigInt(low)
  if (high > 0 && high < 0x200000) return BigInt(high * two32 + low)
  return BigInt.asIntN(64, (BigInt(high >>> 0) << 32n) | BigInt(low))
}
// A leading U+FEFF in a protobuf string is part of the text, not a byte order mark to drop:
// "\uFEFForders" and "orders" are two streams, as the generated decoder and the server read them.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true })
/** @internal */
export const two32 = 4294967296

/** How deep groups may nest in a skipped field: protobuf's default recursion limit. */
const maxGroupDepth = 100

/**
 * Recently decoded strings of one field, by their bytes: a page repeats its stream id in every event,
 * and usually a handful of event types. A hit costs a comparison of the bytes instead of a new string.
 * Eight slots, picked by the length and the first and last bytes; a collision only replaces a slot.
 *
 * @internal
 */
export class StringCache {
  readonly keys: Array<Uint8Array | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]
  readonly texts: Array<string> = ["", "", "", "", "", "", "", ""]
}

/** Longer strings are decoded every time. */
const maxCachedLength = 64

/**
 * Reads protobuf fields from `bytes`, from `offset` up to `end`, treating every field as optional.
 * Offsets are into `bytes` itself, embedded messages included.
 *
 * @internal
 */
export class Reader {
  readonly bytes: Uint8Array
  offset: number
  /** Where the current message ends; moved by `enter` and `leave` for embedded messages. */
  end: number
  /** The two halves of the last `varint64`: the low 32 bits (unsigned) and the high 32 (signed). */
  low = 0
  high = 0
  constructor(bytes: Uint8Array, offset: number, end: number) {
    this.bytes = bytes
    this.offset = offset
    this.end = end
  }

  /** Reads an embedded message's length and narrows the reader to it; returns the outer end for `leave`. */
  enter(): number {
    const length = this.length()
    const outer = this.end
    this.end = this.offset + length
    return outer
  }

  /** Leaves an embedded message entered with `enter`, after its last byte. */
  leave(outer: number): void {
    this.offset = this.end
    this.end = outer
  }

  /** A varint that fits 32 bits (tags, lengths, enums, bools); larger ones are truncated. */
  uint32(): number {
    const bytes = this.bytes
    let value = 0
    let shift = 0
    while (true) {
      if (this.offset >= this.end) throw new MalformedError("a varint runs past the end")
      const byte = bytes[this.offset++]!
      if (shift < 28) value |= (byte & 0x7f) << shift
      else if (shift === 28) value |= (byte & 0x0f) << 28
      if (byte < 0x80) return value >>> 0
      shift += 7
      if (shift > 63) throw new MalformedError("a varint is too long")
    }
  }

  /** A 64-bit varint, left in `low` and `high` without making a number of it. */
  varint64(): void {
    const bytes = this.bytes
    let low = 0
    let high = 0
    let shift = 0
    while (true) {
      if (this.offset >= this.end) throw new MalformedError("a varint runs past the end")
      const byte = bytes[this.offset++]!
      if (shift < 28) {
        low |= (byte & 0x7f) << shift
      } else if (shift === 28) {
        low |= (byte & 0x0f) << 28
        high |= (byte & 0x7f) >> 4
      } else {
        high |= (byte & 0x7f) << (shift - 32)
      }
      if (byte < 0x80) break
      shift += 7
      if (shift > 63) throw new MalformedError("a varint is too long")
    }
    this.low = low >>> 0
    this.high = high
  }

  /** An int64 varint (two's complement, as the protocol writes negative numbers). */
  int64(): bigint {
    this.varint64()
    return toBigInt(this.low, this.high)
  }

  /** A string field, through `cache` when it is short. */
  cachedString(cache: StringCache): string {
    const start = this.lengthDelimited()
    const length = this.offset - start
    if (length === 0) return ""
    if (length > maxCachedLength) return this.text(start, length)
    const bytes = this.bytes
    const slot = (length + bytes[start]! + bytes[start + length - 1]!) & 7
    const key = cache.keys[slot]
    if (key !== undefined && key.length === length) {
      let same = true
      for (let i = 0; i < length; i++) {
        if (key[i] !== bytes[start + i]) {
          same = false
          break
        }
      }
      if (same) return cache.texts[slot]!
    }
    const text = this.text(start, length)
    const copy = new Uint8Array(length)
    for (let i = 0; i < length; i++) copy[i] = bytes[start + i]!
    cache.keys[slot] = copy
    cache.texts[slot] = text
    return text
  }

  length(): number {
    const length = this.uint32()
    if (this.offset + length > this.end) throw new MalformedError("a field runs past the end")
    return length
  }

  /**
   * Goes past a length-delimited field (bytes, a string, an embedded message) and returns where its
   * contents start; they end at the new `offset`.
   */
  lengthDelimited(): number {
    const length = this.length()
    const start = this.offset
    this.offset = start + length
    return start
  }

  /**
   * Goes past a varint and returns where it starts, or -1 when it is zero (the wire's default). Only
   * whether any of its bits is set is worked out: an event's two creation times, read this way, take
   * nine and six bytes.
   */
  nonZeroVarint(): number {
    const bytes = this.bytes
    const at = this.offset
    let offset = at
    let bits = 0
    for (let continued = 0;; continued++) {
      if (offset >= this.end) throw new MalformedError("a varint runs past the end")
      const byte = bytes[offset++]!
      bits |= byte & 0x7f
      if (byte < 0x80) break
      if (continued === 9) throw new MalformedError("a varint is too long")
    }
    this.offset = offset
    return bits !== 0 ? at : -1
  }

  string(): string {
    const start = this.lengthDelimited()
    return this.text(start, this.offset - start)
  }

  text(start: number, length: number): string {
    if (length < 48) {
      const bytes = this.bytes
      let ascii = true
      for (let i = start; i < start + length; i++) {
        if (bytes[i]! > 0x7f) {
          ascii = false
          break
        }
      }
      if (ascii) {
        let text = ""
        for (let i = start; i < start + length; i++) text += String.fromCharCode(bytes[i]!)
        return text
      }
    }
    return utf8.decode(this.bytes.subarray(start, start + length))
  }

  /**
   * Skips the field whose tag was just read. A group (wire type 3, which proto2 allows in a field this
   * client does not know) is skipped up to the end-group tag of its field number; groups nest, and a
   * bound on how deep keeps a payload of nested groups from exhausting the stack.
   */
  skip(tag: number, depth = 0): void {
    switch (tag & 7) {
      case 0:
        this.uint32()
        return
      case 1:
        this.offset += 8
        break
      case 2:
        this.lengthDelimited()
        return
      case 3:
        return this.#skipGroup(tag >>> 3, depth)
      case 5:
        this.offset += 4
        break
      default:
        throw new MalformedError(`unsupported wire type ${tag & 7}`)
    }
    if (this.offset > this.end) throw new MalformedError("a field runs past the end")
  }

  #skipGroup(field: number, depth: number): void {
    if (depth >= maxGroupDepth) throw new MalformedError(`groups nested more than ${maxGroupDepth} deep`)
    while (this.offset < this.end) {
      const tag = this.uint32()
      if ((tag & 7) === 4) {
        if (tag >>> 3 !== field) throw new MalformedError(`group ${field} ends with the tag of field ${tag >>> 3}`)
        return
      }
      this.skip(tag, depth + 1)
    }
    throw new MalformedError("a group runs past the end")
  }

  /** A reader over an embedded message. */
  message(): Reader {
    const start = this.lengthDelimited()
    return new Reader(this.bytes, start, this.offset)
  }
}

/**
 * The int64 varint at `offset` in `bytes`, read where the decoder has already found a whole one (an
 * event's creation time, kept as where it lies).
 *
 * @internal
 */
export const int64At = (bytes: Uint8Array, offset: number): bigint => new Reader(bytes, offset, bytes.length).int64()
