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

const hex: Array<string> = []
for (let i = 0; i < 256; i++) hex.push(i.toString(16).padStart(2, "0"))

const nibble = (code: number): number => {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 97 && code <= 102) return code - 87
  if (code >= 65 && code <= 70) return code - 55
  return -1
}

/** Holds a UUID's bytes in text order while it is checked, before any byte of the target is written. */
const parsed = new Uint8Array(16)

/** Text offsets of the 16 bytes in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const textOffsets = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34] as const

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
  const bytes = parsed
  for (let i = 0; i < 16; i++) {
    const at = textOffsets[i]!
    const high = nibble(uuid.charCodeAt(at))
    const low = nibble(uuid.charCodeAt(at + 1))
    if (high < 0 || low < 0) return false
    bytes[i] = (high << 4) | low
  }
  for (let i = 0; i < 16; i++) target[offset + wireOrder[i]!] = bytes[i]!
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
export const readUnsafe = (source: Uint8Array, offset: number): string =>
  hex[source[offset + 3]!]! + hex[source[offset + 2]!]! + hex[source[offset + 1]!]! + hex[source[offset]!]! + "-" +
  hex[source[offset + 5]!]! + hex[source[offset + 4]!]! + "-" +
  hex[source[offset + 7]!]! + hex[source[offset + 6]!]! + "-" +
  hex[source[offset + 8]!]! + hex[source[offset + 9]!]! + "-" +
  hex[source[offset + 10]!]! + hex[source[offset + 11]!]! + hex[source[offset + 12]!]! +
  hex[source[offset + 13]!]! + hex[source[offset + 14]!]! + hex[source[offset + 15]!]!

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
