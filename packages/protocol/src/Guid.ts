/**
 * UUIDs as EventStore puts them on the wire: in .NET `Guid.ToByteArray()` order, where the first
 * three groups are little-endian and the last eight bytes are as written (docs/protocol.md 1.3).
 * Correlation ids, event ids and the ids in persistent-subscription acks all use this order.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import * as Result from "effect/Result"
import { InvalidUuid } from "./ProtocolError.ts"

/**
 * The all-zero UUID. Servers use it as the correlation id of connection-wide errors, and it is never
 * a valid event id.
 *
 * @since 0.1.0
 * @category constants
 */
export const empty = "00000000-0000-0000-0000-000000000000"

/**
 * Where each byte of the UUID's text form lands in the 16 wire bytes: the wire position of the
 * UUID's n-th byte is `wireOrder[n]`.
 */
const wireOrder = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15] as const

/** Text offsets of the 16 bytes in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const textOffsets = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34] as const

/** The value of each ASCII hex digit, -1 for every other ASCII character. */
const nibbles = new Int8Array(128).fill(-1)
for (let i = 0; i < 10; i++) nibbles[48 + i] = i
for (let i = 0; i < 6; i++) {
  nibbles[97 + i] = 10 + i
  nibbles[65 + i] = 10 + i
}

/** The character codes of each byte's two lower-case hex digits. */
const highDigit = new Uint8Array(256)
const lowDigit = new Uint8Array(256)
for (let i = 0; i < 256; i++) {
  const digits = i.toString(16).padStart(2, "0")
  highDigit[i] = digits.charCodeAt(0)
  lowDigit[i] = digits.charCodeAt(1)
}

/** Holds a UUID's bytes in text order while it is checked, before any byte of the target is written. */
const parsed = new Uint8Array(16)

/**
 * The character codes of the UUID being read, dashes in place. `String.fromCharCode` makes a flat string
 * from them in one step; concatenating 20 pieces would make a rope that every `Map` lookup by
 * correlation id must flatten first, which costs more than the rest of decoding a package header.
 */
const textCodes: Array<number> = Array.from({ length: 36 }, () => 45)

/**
 * Writes a UUID's wire bytes into `target` at `offset`. Returns false, writing nothing, when the text
 * is not a UUID in the canonical 8-4-4-4-12 form (either case).
 *
 * @since 0.1.0
 * @category encoding
 */
export const writeUnsafe = (uuid: string, target: Uint8Array, offset: number): boolean => {
  if (
    uuid.length !== 36 || uuid.charCodeAt(8) !== 45 || uuid.charCodeAt(13) !== 45 || uuid.charCodeAt(18) !== 45 ||
    uuid.charCodeAt(23) !== 45
  ) return false
  for (let i = 0; i < 16; i++) {
    const at = textOffsets[i]!
    const highCode = uuid.charCodeAt(at)
    const lowCode = uuid.charCodeAt(at + 1)
    const high = highCode < 128 ? nibbles[highCode]! : -1
    const low = lowCode < 128 ? nibbles[lowCode]! : -1
    if ((high | low) < 0) return false
    parsed[i] = (high << 4) | low
  }
  for (let i = 0; i < 16; i++) target[offset + wireOrder[i]!] = parsed[i]!
  return true
}

/**
 * Converts a UUID to its 16 wire bytes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toWire = (uuid: string): Result.Result<Uint8Array, InvalidUuid> => {
  const bytes = new Uint8Array(16)
  return writeUnsafe(uuid, bytes, 0) ? Result.succeed(bytes) : Result.fail(new InvalidUuid({ input: uuid }))
}

/**
 * Reads 16 wire bytes starting at `offset` as a lower-case UUID. The caller guarantees that the bytes
 * are there.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readUnsafe = (source: Uint8Array, offset: number): string => {
  for (let i = 0; i < 16; i++) {
    const byte = source[offset + wireOrder[i]!]!
    const at = textOffsets[i]!
    textCodes[at] = highDigit[byte]!
    textCodes[at + 1] = lowDigit[byte]!
  }
  return String.fromCharCode.apply(null, textCodes)
}

/**
 * Converts 16 wire bytes to a lower-case UUID. Anything but exactly 16 bytes is an `InvalidUuid`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromWire = (bytes: Uint8Array): Result.Result<string, InvalidUuid> =>
  bytes.length === 16
    ? Result.succeed(readUnsafe(bytes, 0))
    : Result.fail(new InvalidUuid({ input: `<${bytes.length} bytes>` }))

/**
 * Tells whether a string is a UUID in the canonical 8-4-4-4-12 form.
 *
 * @since 0.1.0
 * @category guards
 */
export const isUuid = (input: string): boolean => writeUnsafe(input, scratch, 0)

const scratch = new Uint8Array(16)

/**
 * A new random (version 4) UUID.
 *
 * @since 0.1.0
 * @category constructors
 */
export const random = (): string => randomUUID()
