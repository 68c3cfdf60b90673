/**
 * Byte streams for the framing tests (the frame parser and the frame reader): the captured frames back
 * to back, ways to cut a stream into chunks, and arbitrary streams, valid or not.
 */
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"
import { Frame } from "@photonpump/protocol"
import { eventAppearedLinkOnly, eventAppearedWithLink, heartbeatRequest, readEventCompleted, toHex } from "./WireVectors.ts"

/** The parts, back to back, in one buffer. */
export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** The captured frames (docs/wire-vectors.md). */
export const captured = [heartbeatRequest, eventAppearedWithLink, eventAppearedLinkOnly, readEventCompleted]

/** The captured frames, back to back, as one TCP stream. */
export const stream = concat(captured)

/** The bodies of the captured frames, as hex: what reading `stream` must hand back. */
export const bodies = captured.map((frame) => toHex(frame.subarray(Frame.prefixLength)))

/** A length prefix: `length` as a little-endian int32. */
export const prefix = (length: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setInt32(0, length, true)
  return bytes
}

/** Lengths a prefix must not carry (protocol.md 1.1), by name. */
export const invalidLengths = [
  { name: "zero", length: 0 },
  { name: "negative", length: -1 },
  { name: "2 GiB, negative as an int32", length: -0x8000_0000 },
  { name: "just over 64 MiB", length: 64 * 1024 * 1024 + 1 },
  { name: "the largest int32", length: 0x7fff_ffff }
]

/** Cuts bytes at the given offsets (any order, duplicates and out-of-range offsets allowed). */
export const cut = (bytes: Uint8Array, offsets: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(offsets.map((offset) => Math.min(Math.max(offset, 0), bytes.length)))]
  points.sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}

/** Offsets at which to cut a stream. */
export const offsetUpTo = (maximum: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum })))

/** Frames with random bodies, of lengths 1 to 300, back to back. */
export const framedBodies = Arbitrary.array(
  Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(1, 300))),
  { minLength: 1, maxLength: 20 }
)

/**
 * Random bytes, with valid small frames mixed in so that a reader gets past the first prefix, and
 * prefixes of every kind (valid, zero, negative, too long) turn up.
 */
export const garbage = Arbitrary.array(
  Arbitrary.schema(Schema.Struct({ framed: Schema.Boolean, bytes: Schema.Uint8Array })),
  { maxLength: 12 }
).pipe(
  Arbitrary.map((segments) =>
    concat(segments.map(({ bytes, framed }) => framed && bytes.length > 0 ? Frame.encode(bytes) : bytes))
  )
)
