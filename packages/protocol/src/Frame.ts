/**
 * Frames: a little-endian length prefix and the package it counts (docs/protocol.md 1.1). TCP is a
 * byte stream, so frames arrive split across reads and packed together; the parser here takes chunks as
 * they come and hands back whole frame bodies.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
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
   * `chunk` are views into it; the others are fresh buffers. After an `InvalidFrameLength` the stream
   * cannot be resynchronised, and every later push fails with the same error.
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

/**
 * Creates a frame parser.
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
  let failure: InvalidFrameLength | undefined

  const checkLength = (length: number): InvalidFrameLength | undefined =>
    length <= 0 || length > maxLength ? new InvalidFrameLength({ length, maxLength }) : undefined

  const push = (chunk: Uint8Array): Result.Result<ReadonlyArray<Uint8Array>, InvalidFrameLength> => {
    if (failure !== undefined) return Result.fail(failure)
    const frames: Array<Uint8Array> = []
    let offset = 0
    const end = chunk.length
    while (offset < end) {
      if (body !== undefined) {
        const take = Math.min(body.length - bodyFilled, end - offset)
        body.set(chunk.subarray(offset, offset + take), bodyFilled)
        bodyFilled += take
        offset += take
        if (bodyFilled === body.length) {
          frames.push(body)
          body = undefined
          bodyFilled = 0
        }
        continue
      }
      let length: number
      if (prefixFilled === 0 && end - offset >= prefixLength) {
        length = (chunk[offset]! | (chunk[offset + 1]! << 8) | (chunk[offset + 2]! << 16) | (chunk[offset + 3]! << 24))
        offset += prefixLength
      } else {
        while (prefixFilled < prefixLength && offset < end) prefix[prefixFilled++] = chunk[offset++]!
        if (prefixFilled < prefixLength) break
        prefixFilled = 0
        length = prefix[0]! | (prefix[1]! << 8) | (prefix[2]! << 16) | (prefix[3]! << 24)
      }
      failure = checkLength(length)
      if (failure !== undefined) return Result.fail(failure)
      if (end - offset >= length) {
        frames.push(chunk.subarray(offset, offset + length))
        offset += length
      } else {
        body = new Uint8Array(length)
        bodyFilled = 0
      }
    }
    return Result.succeed(frames)
  }

  return { push, buffered: () => prefixFilled + bodyFilled }
}

/**
 * Wraps a frame body in its length prefix.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (body: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(prefixLength + body.length)
  new DataView(frame.buffer).setInt32(0, body.length, true)
  frame.set(body, prefixLength)
  return frame
}
