/**
 * The hand-written encoders of the write path against the generated protobuf code: what they write
 * decodes, with the generated decoder, to exactly the message that was meant.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import { create, toBinary } from "@bufbuild/protobuf"
import { Guid, Messages } from "@photonpump/protocol"
import * as Encode from "../src/internal/Encode.ts"

const encoder = new TextEncoder()

const event = (type: string, data: string, metadata = ""): Encode.WireEvent => ({
  id: Result.getOrThrow(Guid.toWire(Guid.random())),
  type,
  isJson: data.startsWith("{"),
  data: encoder.encode(data),
  metadata: encoder.encode(metadata)
})

/** An event whose data and metadata are text, written as UTF-8 by the encoder itself. */
const textEvent = (type: string, data: string, metadata = ""): Encode.WireEvent => ({
  id: Result.getOrThrow(Guid.toWire(Guid.random())),
  type,
  isJson: true,
  data,
  metadata
})

const bytesOf = (value: Uint8Array | string): Uint8Array => typeof value === "string" ? encoder.encode(value) : value

const newEventMessage = (e: Encode.WireEvent) => {
  const metadata = bytesOf(e.metadata)
  return create(Messages.NewEventSchema, {
    eventId: e.id,
    eventType: e.type,
    dataContentType: e.isJson ? 1 : 0,
    metadataContentType: 0,
    data: bytesOf(e.data),
    ...(metadata.length > 0 ? { metadata } : {})
  })
}

describe("Encode", () => {
  const cases: ReadonlyArray<readonly [string, bigint, ReadonlyArray<Encode.WireEvent>]> = [
    ["ponies", -2n, [event("PonyJumped", `{"Pony":"Derpy Hooves"}`)]],
    ["more_ponies", -1n, [event("A", "{}", `{"by":"me"}`), event("B", "raw bytes"), event("C", "")]],
    ["stream-ü-名前", 4n, [event("Typé", "x".repeat(300))]],
    ["big", 9_007_199_254_740_993n, [event("T", "y".repeat(70_000))]],
    ["exists", -4n, []],
    ["text", -2n, [textEvent("A", `{"Pony":"Derpy Hooves"}`, `{"by":"me"}`), textEvent("B", `"x"`)]],
    ["text-unicode", -2n, [
      textEvent("Ü", `{"name":"Pinkie Pie ü 名前 🐴 ${"\u00ff".repeat(100)}"}`, `{"m":"é"}`),
      // A lone surrogate becomes U+FFFD, three bytes, as TextEncoder writes it.
      textEvent("L", `"\ud800 and \udc00 ${"z".repeat(200)}"`)
    ]],
    ["text-big", 1n, [textEvent("T", "w".repeat(70_000)), textEvent("U", "é".repeat(9_000))]]
  ]

  for (const [stream, expected, events] of cases) {
    for (const requireLeader of [true, false]) {
      it(`writes WriteEvents like the generated encoder (${stream}, ${expected}, leader ${requireLeader})`, () => {
        const bytes = Encode.writeEvents(stream, expected, events, requireLeader)
        const generated = toBinary(
          Messages.WriteEventsSchema,
          create(Messages.WriteEventsSchema, {
            eventStreamId: stream,
            expectedVersion: expected,
            events: events.map(newEventMessage),
            requireLeader
          })
        )
        assert.deepStrictEqual(bytes, generated)
        const decoded = Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, bytes))
        assert.strictEqual(decoded.eventStreamId, stream)
        assert.strictEqual(decoded.expectedVersion, expected)
        assert.strictEqual(decoded.events.length, events.length)
      })
    }
  }

  it("writes TransactionWrite like the generated encoder", () => {
    const events = [event("A", "{}"), event("B", "bytes", "meta")]
    for (const id of [0n, 1n, 123_456_789_012n]) {
      const bytes = Encode.transactionWrite(id, events, true)
      const generated = toBinary(
        Messages.TransactionWriteSchema,
        create(Messages.TransactionWriteSchema, {
          transactionId: id,
          events: events.map(newEventMessage),
          requireLeader: true
        })
      )
      assert.deepStrictEqual(bytes, generated)
    }
  })

  it("draws event ids as random version 4 UUIDs, never handing out the same bytes twice", () => {
    const first = Encode.randomEventId()
    const kept = Uint8Array.from(first)
    const texts = new Set<string>()
    for (let i = 0; i < 1_000; i++) {
      const text = Result.getOrThrow(Guid.fromWire(Encode.randomEventId()))
      assert.match(text, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      texts.add(text)
    }
    assert.strictEqual(texts.size, 1_000)
    // Refilling the pool (every 256 ids) must not overwrite an id already handed out.
    assert.deepStrictEqual(first, kept)
  })

  it("writes a WriteEvents frame as the same message after room for the frame header", () => {
    const events = [event("A", `{"a":1}`), textEvent("B", `{"b":"é"}`, `{"m":1}`)]
    const frame = Encode.writeEventsFrame("ponies", -2n, events, true)
    assert.deepStrictEqual(
      frame.subarray(Encode.frameHeaderLength),
      Encode.writeEvents("ponies", -2n, events, true)
    )
  })

  it("writes ReadStreamEvents and ReadAllEvents frames like the generated encoder, after room for the header", () => {
    const numbers = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 35n, 2n ** 42n + 5n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, -1n, -2n]
    for (const stream of ["ponies", "stream-ü-名前", "$all-ish", ""]) {
      for (const from of numbers) {
        for (const [maxCount, flag] of [[1, true], [100, false], [4096, true]] as const) {
          const frame = Encode.readStreamEventsFrame(stream, from, maxCount, flag, !flag)
          const generated = toBinary(
            Messages.ReadStreamEventsSchema,
            create(Messages.ReadStreamEventsSchema, {
              eventStreamId: stream,
              fromEventNumber: from,
              maxCount,
              resolveLinkTos: flag,
              requireLeader: !flag
            })
          )
          assert.deepStrictEqual(frame.subarray(Encode.frameHeaderLength), generated)
        }
      }
    }
    for (const commit of numbers) {
      for (const prepare of [0n, 300n, -1n]) {
        const frame = Encode.readAllEventsFrame(commit, prepare, 500, false, true)
        const generated = toBinary(
          Messages.ReadAllEventsSchema,
          create(Messages.ReadAllEventsSchema, {
            commitPosition: commit,
            preparePosition: prepare,
            maxCount: 500,
            resolveLinkTos: false,
            requireLeader: true
          })
        )
        assert.deepStrictEqual(frame.subarray(Encode.frameHeaderLength), generated)
      }
    }
  })
})
