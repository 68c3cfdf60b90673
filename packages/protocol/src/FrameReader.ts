/**
 * Frames read in place. A frame parser ({@link Frame.makeParser}) takes whatever chunks the socket hands
 * it; a frame reader instead hands the socket the memory to read into (Node's `onread` option), laid out
 * so that a frame's bytes land next to each other. Every frame then comes back as a view of the memory it
 * was read into, and Node neither allocates nor copies a buffer of its own per read.
 *
 * The memory comes in segments of 64 KiB, a size the C library serves from memory it keeps rather than
 * maps afresh. The socket reads into the free end of the current segment. When too little is left, the
 * reader starts a new segment, and carries over the part of a frame that has arrived so far. A frame
 * longer than a segment gets a segment of its own size.
 *
 * Memory a frame's view covers is never written again, so the view stays valid for as long as anything
 * holds it, like a view of any other buffer; a segment's memory is freed when the last view of it goes.
 * That would let one small frame held for long keep a whole segment alive: so the frames a read
 * completes are copied out instead when they are small all together (under `copyBelow`, 4 KiB by
 * default) and no frame is left under way, into one buffer of their size as Node's own reads would be,
 * and the memory they took in the segment is read into again. A trickle of small frames then copies a
 * few hundred bytes a read and takes no new segment; a fast read of large frames copies nothing but the
 * start of a frame carried over.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Frame from "./Frame.ts"
import * as LengthPrefix from "./internal/LengthPrefix.ts"
import { InvalidFrameLength } from "./ProtocolError.ts"

/**
 * A frame reader: the memory a socket reads into, and the frames the reads complete.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameReader {
  /**
   * The memory the next read goes into: a view of the free end of the current segment, or of a new one.
   * Calling it again before {@link filled} returns the same memory.
   */
  readonly next: () => Uint8Array
  /**
   * Records that the socket read `length` bytes into the start of the memory {@link next} returned, and
   * returns every frame body those bytes completed, in order, as views of the segments they were read
   * into. A length of 0, a negative length or a length above `maxLength` in a prefix fails with
   * `InvalidFrameLength` (the frames before it in its `framesBefore`), and so does every later call: the
   * stream cannot be resynchronised.
   */
  readonly filled: (length: number) => Result.Result<ReadonlyArray<Uint8Array>, InvalidFrameLength>
  /** The number of bytes read for frames not yet complete. */
  readonly buffered: () => number
}

/**
 * Options for a frame reader.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The largest frame body accepted; defaults to 64 MiB. */
  readonly maxLength?: number | undefined
  /** The size of a segment; defaults to 64 KiB. */
  readonly segmentSize?: number | undefined
  /**
   * The least free memory a read is given; a segment with less left is left behind. Defaults to 8 KiB.
   */
  readonly minimumRead?: number | undefined
  /**
   * Frames whose bytes come to fewer than this, completed by a read that leaves no frame under way,
   * are copied out of the segment, and the memory they took is read into again: a trickle of small
   * frames (a live subscription's events, the replies to single requests) then keeps alive no more
   * than its own bytes, where views would each hold a whole segment. Defaults to 4 KiB; 0 copies none.
   */
  readonly copyBelow?: number | undefined
}

/** What a read that completes no frame returns: shared, since most reads of a large frame are such. */
const noFrames: Result.Result<ReadonlyArray<Uint8Array>, never> = Result.succeed([])

/**
 * Creates a frame reader.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): FrameReader => {
  const maxLength = options?.maxLength ?? Frame.defaultMaxLength
  const segmentSize = options?.segmentSize ?? 64 * 1024
  const minimumRead = Math.max(Frame.prefixLength, Math.min(options?.minimumRead ?? 8 * 1024, segmentSize))
  const copyBelow = options?.copyBelow ?? 4 * 1024
  let segment = new Uint8Array(0)
  /** Where the first frame not yet complete starts in the segment. */
  let start = 0
  /** Where the bytes read so far end in the segment. */
  let end = 0
  let failure: Result.Result<never, InvalidFrameLength> | undefined

  const next = (): Uint8Array => {
    const partial = end - start
    // The memory the frame under way still needs, when its length is known: it is read into a segment
    // that holds all of it.
    let frameNeeds = 0
    if (partial >= Frame.prefixLength && failure === undefined) {
      const length = LengthPrefix.read(segment, start)
      if (LengthPrefix.isValid(length, maxLength)) frameNeeds = Frame.prefixLength + length - partial
    }
    const wanted = Math.max(frameNeeds, minimumRead)
    if (segment.length - end < wanted) {
      const fresh = new Uint8Array(Math.max(segmentSize, partial + wanted))
      if (partial > 0) fresh.set(segment.subarray(start, end))
      segment = fresh
      start = 0
      end = partial
    }
    return segment.subarray(end)
  }

  const filled = (length: number): Result.Result<ReadonlyArray<Uint8Array>, InvalidFrameLength> => {
    if (failure !== undefined) return failure
    end += length
    const first = start
    let frames: Array<Uint8Array> | undefined
    while (end - start >= Frame.prefixLength) {
      const bodyLength = LengthPrefix.read(segment, start)
      if (!LengthPrefix.isValid(bodyLength, maxLength)) {
        failure = Result.fail(new InvalidFrameLength({ length: bodyLength, maxLength }))
        return frames === undefined
          ? failure
          : Result.fail(new InvalidFrameLength({ length: bodyLength, maxLength, framesBefore: frames }))
      }
      const bodyStart = start + Frame.prefixLength
      if (end - bodyStart < bodyLength) break
      ;(frames ??= []).push(segment.subarray(bodyStart, bodyStart + bodyLength))
      start = bodyStart + bodyLength
    }
    if (frames === undefined) return noFrames
    if (start === end && end - first < copyBelow) {
      const copy = segment.slice(first, end)
      for (let i = 0; i < frames.length; i++) {
        const frame = frames[i]!
        const at = frame.byteOffset - first
        frames[i] = copy.subarray(at, at + frame.length)
      }
      start = end = first
    }
    return Result.succeed(frames)
  }

  return { next, filled, buffered: () => end - start }
}
