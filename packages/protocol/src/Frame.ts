/**
 * Frames: a little-endian length prefix and the package it counts (docs/protocol.md 1.1). TCP is a
 * byte stream, so frames arrive split across reads and packed together; the parser here takes chunks as
 * they come and hands back whole frame bodies.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as LengthPrefix from "./internal/LengthPrefix.ts"
import * as Slab from "./internal/Slab.ts"
import { InvalidFrameLength } from "./ProtocolError.ts"

/**
 * The size of the length prefix.
 *
 * @since 0.1.0
 * @category constants
 */
export const prefixLength = 4

/**
 * The largest frame body both the server and the .NET client accept by default: 64 MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxLength = 64 * 1024 * 1024

/**
 * An incremental frame parser.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parser {
  /**
   * Adds bytes and returns every frame body completed by them, in order. Bodies that lie wholly inside
   * `chunk` are views into it (so the caller must not reuse `chunk`'s memory while it holds them); the
   * others are buffers of their own (small ones views into a shared slab, never reused). After an
   * `InvalidFrameLength` the stream cannot be resynchronised, and every later push fails with the same
   * error. The frames a failing push completed before the bad prefix are in the error's `framesBefore`.
   */
  readonly push: (chunk: Uint8Array) => Result.Result<ReadonlyArray<Uint8Array>, InvalidFrameLength>
  /** The number of bytes held for frames not yet complete. */
  readonly buffered: () => number
}

/**
 * Options for a frame parser.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParserOptions {
  /** The largest frame body accepted; defaults to 64 MiB. */
  readonly maxLength?: number | undefined
}

/** What a push that completes no frame returns: shared, since most pushes of a slow stream are such. */
const noFrames: Result.Result<ReadonlyArray<Uint8Array>, never> = Result.succeed([])

/**
 * Creates a frame parser.
 *
 * A length of 0, a negative length (the prefix is a signed int32, so any prefix of 2 GiB or more) or a
 * length above `maxLength` fails as soon as its four bytes arrive: the parser never allocates a buffer
 * for a frame it will refuse. Whatever the chunk boundaries, the same bytes give the same frames and
 * the same error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeParser = (options?: ParserOptions): Parser => {
  const maxLength = options?.maxLength ?? defaultMaxLength
  const prefix = new Uint8Array(prefixLength)
  let prefixFilled = 0
  // The body being assembled across chunks, once its length is known.
  let body: Uint8Array | undefined
  let bodyFilled = 0
  let failure: Result.Result<never, InvalidFrameLength> | undefined

  const push = (chunk: Uint8Array): Result.Result<ReadonlyArray<Uint8Array>, InvalidFrameLength> => {
    if (failure !== undefined) return failure
    let frames: Array<Uint8Array> | undefined
    let offset = 0
    const end = chunk.length
    while (offset < end) {
      if (body !== undefined) {
        const take = Math.min(body.length - bodyFilled, end - offset)
        body.set(chunk.subarray(offset, offset + take), bodyFilled)
        bodyFilled += take
        offset += take
        if (bodyFilled === body.length) {
          ;(frames ??= []).push(body)
          body = undefined
          bodyFilled = 0
        }
        continue
      }
      let length: number
      if (prefixFilled === 0 && end - offset >= prefixLength) {
        length = LengthPrefix.read(chunk, offset)
        offset += prefixLength
      } else {
        while (prefixFilled < prefixLength && offset < end) prefix[prefixFilled++] = chunk[offset++]!
        if (prefixFilled < prefixLength) break
        prefixFilled = 0
        length = LengthPrefix.read(prefix, 0)
      }
      if (!LengthPrefix.isValid(length, maxLength)) {
        failure = Result.fail(new InvalidFrameLength({ length, maxLength }))
        return frames === undefined
          ? failure
          : Result.fail(new InvalidFrameLength({ length, maxLength, framesBefore: frames }))
      }
      if (end - offset >= length) {
        ;(frames ??= []).push(chunk.subarray(offset, offset + length))
        offset += length
      } else {
        body = Slab.allocate(length)
        bodyFilled = 0
      }
    }
    return frames === undefined ? noFrames : Result.succeed(frames)
  }

  return { push, buffered: () => prefixFilled + bodyFilled }
}

/**
 * Wraps a frame body in its length prefix. A small frame may be a view into a larger shared buffer.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (body: Uint8Array): Uint8Array => {
  const frame = Slab.allocate(prefixLength + body.length)
  LengthPrefix.write(frame, 0, body.length)
  frame.set(body, prefixLength)
  return frame
}
