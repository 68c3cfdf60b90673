import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Result from "effect/Result"
import { Frame, ProtocolError } from "@photonpump/protocol"
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
import { eventAppearedWithLink, heartbeatRequest, hex, readEventCompleted, toHex } from "./WireVectors.ts"

/** Feeds chunks to a fresh parser and collects every body it hands back, as hex. */
const parseChunks = (chunks: Iterable<Uint8Array>, options?: Frame.ParserOptions) => {
  const parser = Frame.makeParser(options)
  const frames: Array<string> = []
  for (const chunk of chunks) {
    for (const frame of succeeds(parser.push(chunk))) frames.push(toHex(frame))
  }
  return { frames, parser }
}

/**
 * What a fuzzing parser (maximum length 64) makes of some chunks: every frame it handed back, the
 * length it failed on if it failed, and what it still holds.
 */
const fuzzOutcome = (chunks: ReadonlyArray<Uint8Array>) => {
  const parser = Frame.makeParser({ maxLength: 64 })
  const frames: Array<string> = []
  for (const chunk of chunks) {
    const pushed = parser.push(chunk)
    if (Result.isFailure(pushed)) {
      assert.instanceOf(pushed.failure, ProtocolError.InvalidFrameLength)
      frames.push(...pushed.failure.framesBefore.map(toHex))
      return { frames, failedOn: pushed.failure.length, buffered: 0 }
    }
    frames.push(...pushed.success.map(toHex))
  }
  return { frames, failedOn: undefined, buffered: parser.buffered() }
}

describe("Frame", () => {
  describe("encode", () => {
    it("puts the body's length in front of it, little-endian, not counting the prefix (worked example 1.6)", () => {
      const body = hex("01 00 67 45 23 01 ab 89 ef cd 01 23 45 67 89 ab cd ef")
      assert.strictEqual(
        toHex(Frame.encode(body)),
        "12 00 00 00 01 00 67 45 23 01 ab 89 ef cd 01 23 45 67 89 ab cd ef"
      )
    })

    it("writes every byte of a long length", () => {
      const frame = Frame.encode(new Uint8Array(0x010203))
      assert.strictEqual(toHex(frame.subarray(0, 4)), "03 02 01 00")
      assert.strictEqual(frame.length, 0x010207)
    })

    it("gives back the captured frames from their bodies", () => {
      for (const frame of captured) assert.deepStrictEqual(Frame.encode(frame.subarray(4)), frame)
    })
  })

  describe("the parser", () => {
    it("reads the captured heartbeat as one 18-byte body", () => {
      const { frames, parser } = parseChunks([heartbeatRequest])
      assert.deepStrictEqual(frames, [toHex(heartbeatRequest.subarray(4))])
      assert.strictEqual(frames[0]!.split(" ").length, 18)
      assert.strictEqual(parser.buffered(), 0)
    })

    it("reassembles the heartbeat split at offsets 2, 7 and 14, as photon-pump's tests do", () => {
      const { frames } = parseChunks(cut(heartbeatRequest, [2, 7, 14]))
      assert.deepStrictEqual(frames, [bodies[0]])
    })

    it("reads many frames from one chunk, in order", () => {
      assert.deepStrictEqual(parseChunks([stream]).frames, bodies)
    })

    it("reads the same frames when bytes arrive one at a time", () => {
      const chunks = Array.from(stream, (byte) => new Uint8Array([byte]))
      assert.deepStrictEqual(parseChunks(chunks).frames, bodies)
    })

    it("reads the same frames when the stream is split in two at every offset", () => {
      for (let offset = 0; offset <= stream.length; offset++) {
        assert.deepStrictEqual(parseChunks(cut(stream, [offset])).frames, bodies, `split at ${offset}`)
      }
    })

    it("hands back nothing for an empty chunk", () => {
      const parser = Frame.makeParser()
      assert.deepStrictEqual(parser.push(new Uint8Array(0)), Result.succeed([]))
    })

    it("counts the bytes it holds for an incomplete frame", () => {
      const parser = Frame.makeParser()
      succeeds(parser.push(eventAppearedWithLink.subarray(0, 2)))
      assert.strictEqual(parser.buffered(), 2)
      succeeds(parser.push(eventAppearedWithLink.subarray(2, 100)))
      assert.strictEqual(parser.buffered(), 96)
      assert.lengthOf(succeeds(parser.push(eventAppearedWithLink.subarray(100))), 1)
      assert.strictEqual(parser.buffered(), 0)
    })

    it("gives views into the chunk for frames that lie wholly inside it, and copies for the others", () => {
      const parser = Frame.makeParser()
      const [whole] = succeeds(parser.push(heartbeatRequest))
      assert.strictEqual(whole!.buffer, heartbeatRequest.buffer)
      succeeds(parser.push(readEventCompleted.subarray(0, 50)))
      const [joined] = succeeds(parser.push(readEventCompleted.subarray(50)))
      assert.notStrictEqual(joined!.buffer, readEventCompleted.buffer)
      assert.strictEqual(toHex(joined!), bodies[3])
    })

    it("accepts a body of exactly the maximum length and a body of one byte", () => {
      const { frames } = parseChunks([prefix(10), new Uint8Array(10), prefix(1), new Uint8Array(1)], { maxLength: 10 })
      assert.deepStrictEqual(frames.map((frame) => frame.split(" ").length), [10, 1])
      assert.strictEqual(Frame.defaultMaxLength, 64 * 1024 * 1024)
    })
  })

  describe("invalid lengths (protocol.md 1.1)", () => {
    for (const { length, name } of invalidLengths) {
      it(`fails on a ${name} length as soon as the four prefix bytes arrive`, () => {
        const parser = Frame.makeParser()
        const error = failsWith(parser.push(prefix(length)), ProtocolError.InvalidFrameLength)
        assert.strictEqual(error.length, length)
        assert.strictEqual(error.maxLength, Frame.defaultMaxLength)
        assert.include(error.message, String(length))
      })

      it(`fails on a ${name} length whose prefix arrives a byte at a time`, () => {
        const parser = Frame.makeParser()
        const bytes = prefix(length)
        for (let i = 0; i < 3; i++) assert.deepStrictEqual(parser.push(bytes.subarray(i, i + 1)), Result.succeed([]))
        const error = failsWith(parser.push(bytes.subarray(3)), ProtocolError.InvalidFrameLength)
        assert.strictEqual(error.length, length)
      })
    }

    it("allocates nothing for a 2 GiB prefix", () => {
      const before = process.memoryUsage().arrayBuffers
      const parser = Frame.makeParser()
      failsWith(parser.push(hex("00 00 00 80")), ProtocolError.InvalidFrameLength)
      failsWith(Frame.makeParser().push(hex("ff ff ff 7f 00")), ProtocolError.InvalidFrameLength)
      assert.isBelow(process.memoryUsage().arrayBuffers - before, 16 * 1024 * 1024)
      assert.strictEqual(parser.buffered(), 0)
    })

    it("honours a smaller maximum", () => {
      const error = failsWith(Frame.makeParser({ maxLength: 10 }).push(prefix(11)), ProtocolError.InvalidFrameLength)
      assert.strictEqual(error.maxLength, 10)
    })

    it("stays failed: the stream cannot be resynchronised", () => {
      const parser = Frame.makeParser()
      const error = failsWith(parser.push(prefix(0)), ProtocolError.InvalidFrameLength)
      const again = failsWith(parser.push(heartbeatRequest), ProtocolError.InvalidFrameLength)
      assert.strictEqual(again.length, error.length)
      failsWith(parser.push(new Uint8Array(0)), ProtocolError.InvalidFrameLength)
    })

    it("fails on a bad prefix that follows whole frames in the same chunk, handing back those frames", () => {
      const parser = Frame.makeParser()
      const chunk = concat([heartbeatRequest, readEventCompleted, prefix(-5), heartbeatRequest])
      const error = failsWith(parser.push(chunk), ProtocolError.InvalidFrameLength)
      assert.strictEqual(error.length, -5)
      assert.deepStrictEqual(error.framesBefore.map(toHex), [bodies[0], bodies[3]])
      const again = failsWith(parser.push(heartbeatRequest), ProtocolError.InvalidFrameLength)
      assert.deepStrictEqual(again.framesBefore, [])
    })
  })

  describe("properties", () => {
    const offsets = Arbitrary.array(offsetUpTo(stream.length), { maxLength: 60 })

    it.prop("any chunking of the captured stream gives the same frames", [offsets], ([cuts]) => {
      assert.deepStrictEqual(parseChunks(cut(stream, cuts)).frames, bodies)
    }, { arbitrary: { runs: 300 } })

    it.prop(
      "any chunking of any valid stream gives back its bodies",
      [framedBodies, Arbitrary.array(offsetUpTo(6100))],
      ([random, cuts]) => {
        const bytes = concat(random.map(Frame.encode))
        assert.deepStrictEqual(parseChunks(cut(bytes, cuts)).frames, random.map(toHex))
      },
      { arbitrary: { runs: 300, size: 60 } }
    )

    const garbageCuts = Arbitrary.array(offsetUpTo(800))

    it.prop(
      "random bytes in random chunks give frames or an InvalidFrameLength, never a throw, " +
        "and the same outcome for every chunking",
      [garbage, garbageCuts],
      ([bytes, cuts]) => {
        assert.deepStrictEqual(fuzzOutcome(cut(bytes, cuts)), fuzzOutcome([bytes]))
      },
      { arbitrary: { runs: 500, size: 60 } }
    )
  })
})
