import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Frame, FrameReader, ProtocolError } from "@photonpump/protocol"
import { failsWith, succeeds } from "./Assertions.ts"
import {
  bodies,
  captured,
  concat,
  cut,
  framedBodies,
  garbage,
  invalidLengths,
  offsetUpTo,
  prefix,
  stream
} from "./ByteStreams.ts"
import { eventAppearedWithLink, heartbeatRequest, readEventCompleted, toHex } from "./WireVectors.ts"

/**
 * Plays a socket: the bytes of each arrival are read as a socket would, into the memory the reader
 * offers, as much as fits per read. Gives back what each read returned, stopping at the first failure.
 */
const readArrivals = (reader: FrameReader.FrameReader, arrivals: Iterable<Uint8Array>) => {
  const frames: Array<Uint8Array> = []
  for (const arrival of arrivals) {
    let offset = 0
    while (offset < arrival.length) {
      const target = reader.next()
      assert.isAbove(target.length, 0, "the reader offered no memory")
      const length = Math.min(target.length, arrival.length - offset)
      target.set(arrival.subarray(offset, offset + length))
      offset += length
      const read = reader.filled(length)
      if (Result.isFailure(read)) return { frames, failure: read.failure }
      frames.push(...read.success)
    }
  }
  return { frames, failure: undefined }
}

/** Reads the arrivals and asserts that no read failed: the frames, as hex. */
const framesOf = (arrivals: Iterable<Uint8Array>, options?: FrameReader.Options) => {
  const { failure, frames } = readArrivals(FrameReader.make(options), arrivals)
  assert.isUndefined(failure)
  return frames.map(toHex)
}

/** What a frame parser makes of some bytes, in the shape `readerOutcome` gives, to compare the two. */
const parserOutcome = (bytes: Uint8Array, maxLength: number) => {
  const pushed = Frame.makeParser({ maxLength }).push(bytes)
  return Result.isFailure(pushed)
    ? { frames: pushed.failure.framesBefore.map(toHex), failedOn: pushed.failure.length }
    : { frames: pushed.success.map(toHex), failedOn: undefined }
}

/** What a frame reader makes of some bytes, arriving in the given chunks. */
const readerOutcome = (chunks: ReadonlyArray<Uint8Array>, options: FrameReader.Options) => {
  const { failure, frames } = readArrivals(FrameReader.make(options), chunks)
  const before = failure === undefined ? [] : failure.framesBefore
  return { frames: [...frames, ...before].map(toHex), failedOn: failure?.length }
}

describe("FrameReader", () => {
  it("reads the captured frames arriving at once, in order", () => {
    assert.deepStrictEqual(framesOf([stream]), bodies)
  })

  it("reads the same frames when bytes arrive one at a time", () => {
    assert.deepStrictEqual(framesOf(Array.from(stream, (byte) => new Uint8Array([byte]))), bodies)
  })

  it("reads the same frames when the stream arrives in two parts, split at every offset", () => {
    for (let offset = 0; offset <= stream.length; offset++) {
      assert.deepStrictEqual(framesOf(cut(stream, [offset])), bodies, `split at ${offset}`)
    }
  })

  it("hands back frames as views of the memory they were read into, not copies", () => {
    const reader = FrameReader.make({ copyBelow: 0 })
    const target = reader.next()
    target.set(stream)
    const frames = succeeds(reader.filled(stream.length))
    assert.lengthOf(frames, captured.length)
    for (const frame of frames) assert.strictEqual(frame.buffer, target.buffer)
    assert.strictEqual(frames[0]!.byteOffset, target.byteOffset + Frame.prefixLength)
  })

  it("offers the same memory again until it is read into", () => {
    const reader = FrameReader.make({ copyBelow: 0 })
    const first = reader.next()
    const again = reader.next()
    assert.strictEqual(again.buffer, first.buffer)
    assert.strictEqual(again.byteOffset, first.byteOffset)
    first.set(heartbeatRequest.subarray(0, 10))
    succeeds(reader.filled(10))
    const after = reader.next()
    assert.strictEqual(after.buffer, first.buffer)
    assert.strictEqual(after.byteOffset, first.byteOffset + 10)
  })

  it("copies out the frames of a read that are small all together, and reads into their memory again", () => {
    const reader = FrameReader.make()
    const target = reader.next()
    target.set(concat([heartbeatRequest, readEventCompleted]))
    const small = succeeds(reader.filled(heartbeatRequest.length + readEventCompleted.length))
    assert.deepStrictEqual(small.map(toHex), [bodies[0], bodies[3]])
    // One buffer of the read's size, apart from the segment, holds both.
    assert.notStrictEqual(small[0]!.buffer, target.buffer)
    assert.strictEqual(small[1]!.buffer, small[0]!.buffer)
    assert.strictEqual(small[0]!.buffer.byteLength, heartbeatRequest.length + readEventCompleted.length)
    const again = reader.next()
    assert.strictEqual(again.buffer, target.buffer)
    assert.strictEqual(again.byteOffset, target.byteOffset)
    // Read into again: the copies keep their bytes.
    again.set(heartbeatRequest)
    succeeds(reader.filled(heartbeatRequest.length))
    assert.deepStrictEqual(small.map(toHex), [bodies[0], bodies[3]])
  })

  it("copies a small frame that arrived over several reads, from its start", () => {
    const reader = FrameReader.make()
    const first = reader.next()
    first.set(readEventCompleted.subarray(0, 10))
    assert.deepStrictEqual(reader.filled(10), Result.succeed([]))
    const rest = reader.next()
    assert.strictEqual(rest.byteOffset, first.byteOffset + 10)
    rest.set(readEventCompleted.subarray(10))
    const [frame] = succeeds(reader.filled(readEventCompleted.length - 10))
    assert.strictEqual(toHex(frame!), bodies[3])
    assert.notStrictEqual(frame!.buffer, first.buffer)
    assert.strictEqual(reader.next().byteOffset, first.byteOffset)
  })

  it("leaves as views the frames of a read of 4 KiB or more, or of a read that leaves a frame under way", () => {
    const reader = FrameReader.make()
    const large = Frame.encode(new Uint8Array(4 * 1024 - Frame.prefixLength).fill(7))
    const target = reader.next()
    target.set(large)
    const [view] = succeeds(reader.filled(large.length))
    assert.strictEqual(view!.buffer, target.buffer)
    const after = reader.next()
    assert.strictEqual(after.byteOffset, target.byteOffset + large.length)
    // A heartbeat and the start of the next frame: the heartbeat stays a view, since the memory after
    // it is taken.
    after.set(concat([heartbeatRequest, readEventCompleted.subarray(0, 10)]))
    const [heartbeat] = succeeds(reader.filled(heartbeatRequest.length + 10))
    assert.strictEqual(heartbeat!.buffer, target.buffer)
    assert.strictEqual(toHex(heartbeat!), bodies[0])
    assert.strictEqual(reader.buffered(), 10)
  })

  it("reads into segments of 64 KiB, and leaves one behind once less than 8 KiB is left", () => {
    const reader = FrameReader.make({ copyBelow: 0 })
    const first = reader.next()
    assert.strictEqual(first.length, 64 * 1024)
    const body = new Uint8Array(64 * 1024 - 8 * 1024 - Frame.prefixLength)
    first.set(Frame.encode(body))
    assert.lengthOf(succeeds(reader.filled(body.length + Frame.prefixLength)), 1)
    const second = reader.next()
    assert.strictEqual(second.length, 8 * 1024)
    assert.strictEqual(second.buffer, first.buffer)
    first.set(heartbeatRequest, body.length + Frame.prefixLength)
    assert.lengthOf(succeeds(reader.filled(heartbeatRequest.length)), 1)
    const third = reader.next()
    assert.notStrictEqual(third.buffer, first.buffer)
    assert.strictEqual(third.length, 64 * 1024)
  })

  it("carries a frame that does not fit what is left of a segment over to a new one, and never writes an old one again", () => {
    const reader = FrameReader.make({ segmentSize: 64, minimumRead: 16, copyBelow: 0 })
    const early = readArrivals(reader, [concat([heartbeatRequest, heartbeatRequest])]).frames
    assert.lengthOf(early, 2)
    const before = early.map(toHex)
    const oldSegment = early[0]!.buffer
    // 44 bytes are used; the next frame's first 10 bytes go into the 20 left, then it needs a segment
    // that holds all of it.
    const { failure, frames } = readArrivals(reader, [readEventCompleted.subarray(0, 10), readEventCompleted.subarray(10)])
    assert.isUndefined(failure)
    assert.deepStrictEqual(frames.map(toHex), [bodies[3]])
    assert.notStrictEqual(frames[0]!.buffer, oldSegment)
    assert.deepStrictEqual(early.map(toHex), before)
    assert.strictEqual(reader.buffered(), 0)
  })

  it("reads a frame longer than a segment into a segment of its own size", () => {
    const reader = FrameReader.make({ segmentSize: 64, minimumRead: 16, copyBelow: 0 })
    const body = Uint8Array.from({ length: 1000 }, (_, i) => i % 251)
    const frame = Frame.encode(body)
    const target = reader.next()
    target.set(frame.subarray(0, 16))
    assert.deepStrictEqual(reader.filled(16), Result.succeed([]))
    const rest = reader.next()
    assert.strictEqual(rest.length, frame.length - 16)
    rest.set(frame.subarray(16))
    const [read] = succeeds(reader.filled(rest.length))
    assert.deepStrictEqual(read, body)
    assert.strictEqual(read!.buffer.byteLength, frame.length)
  })

  it("counts the bytes it holds for an incomplete frame", () => {
    const reader = FrameReader.make()
    readArrivals(reader, [eventAppearedWithLink.subarray(0, 2)])
    assert.strictEqual(reader.buffered(), 2)
    readArrivals(reader, [eventAppearedWithLink.subarray(2, 100)])
    assert.strictEqual(reader.buffered(), 100)
    assert.lengthOf(readArrivals(reader, [eventAppearedWithLink.subarray(100)]).frames, 1)
    assert.strictEqual(reader.buffered(), 0)
  })

  it("accepts a body of exactly the maximum length and a body of one byte", () => {
    const frames = framesOf([prefix(10), new Uint8Array(10), prefix(1), new Uint8Array(1)], { maxLength: 10 })
    assert.deepStrictEqual(frames.map((frame) => frame.split(" ").length), [10, 1])
  })

  describe("invalid lengths (protocol.md 1.1)", () => {
    for (const { length, name } of invalidLengths) {
      it(`fails on a ${name} length as soon as the four prefix bytes arrive, and stays failed`, () => {
        const reader = FrameReader.make()
        const { failure } = readArrivals(reader, [prefix(length)])
        assert.instanceOf(failure, ProtocolError.InvalidFrameLength)
        assert.strictEqual(failure!.length, length)
        assert.strictEqual(failure!.maxLength, Frame.defaultMaxLength)
        const again = failsWith(reader.filled(0), ProtocolError.InvalidFrameLength)
        assert.strictEqual(again.length, length)
      })

      it(`fails on a ${name} length whose prefix arrives a byte at a time`, () => {
        const bytes = prefix(length)
        const { failure, frames } = readArrivals(FrameReader.make(), cut(bytes, [1, 2, 3]))
        assert.deepStrictEqual(frames, [])
        assert.strictEqual(failure?.length, length)
      })
    }

    it("offers no memory sized by a bad prefix", () => {
      const reader = FrameReader.make()
      readArrivals(reader, [concat([heartbeatRequest, prefix(0x7fff_ffff)])])
      assert.isAtMost(reader.next().length, 64 * 1024)
    })

    it("fails on a bad prefix that follows whole frames in the same read, handing back those frames", () => {
      const reader = FrameReader.make()
      const { failure, frames } = readArrivals(reader, [
        concat([heartbeatRequest, readEventCompleted, prefix(-5), heartbeatRequest])
      ])
      assert.deepStrictEqual(frames, [])
      assert.strictEqual(failure?.length, -5)
      assert.deepStrictEqual(failure?.framesBefore.map(toHex), [bodies[0], bodies[3]])
      const again = failsWith(reader.filled(0), ProtocolError.InvalidFrameLength)
      assert.deepStrictEqual(again.framesBefore, [])
    })
  })

  describe("properties", () => {
    const sizes = Arbitrary.schema(
      Schema.Struct({
        segmentSize: Schema.Int.check(Schema.isBetween({ minimum: 4, maximum: 700 })),
        minimumRead: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 700 })),
        copyBelow: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 700 }))
      })
    )

    it.prop(
      "any chunking of any valid stream, into segments of any size, gives back its bodies",
      [framedBodies, Arbitrary.array(offsetUpTo(6100)), sizes],
      ([random, cuts, options]) => {
        const bytes = concat(random.map(Frame.encode))
        assert.deepStrictEqual(framesOf(cut(bytes, cuts), options), random.map(toHex))
      },
      { arbitrary: { runs: 300, size: 60 } }
    )

    it.prop(
      "random bytes in random chunks give the frames and the failure a frame parser gives, never a throw",
      [garbage, Arbitrary.array(offsetUpTo(800)), sizes],
      ([bytes, cuts, options]) => {
        const outcome = readerOutcome(cut(bytes, cuts), { ...options, maxLength: 64 })
        const expected = parserOutcome(bytes, 64)
        // Bytes of a frame that never completes are neither frames nor a failure, for either of them.
        assert.deepStrictEqual(outcome, expected)
      },
      { arbitrary: { runs: 500, size: 60 } }
    )
  })
})
