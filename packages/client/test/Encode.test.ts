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

const newEventMessage = (e: Encode.WireEvent) =>
  create(Messages.NewEventSchema, {
    eventId: e.id,
    eventType: e.type,
    dataContentType: e.isJson ? 1 : 0,
    metadataContentType: 0,
    data: e.data,
    ...(e.metadata.length > 0 ? { metadata: e.metadata } : {})
  })

describe("Encode", () => {
  const cases: ReadonlyArray<readonly [string, bigint, ReadonlyArray<Encode.WireEvent>]> = [
    ["ponies", -2n, [event("PonyJumped", `{"Pony":"Derpy Hooves"}`)]],
    ["more_ponies", -1n, [event("A", "{}", `{"by":"me"}`), event("B", "raw bytes"), event("C", "")]],
    ["stream-ü-名前", 4n, [event("Typé", "x".repeat(300))]],
    ["big", 9_007_199_254_740_993n, [event("T", "y".repeat(70_000))]],
    ["exists", -4n, []]
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
})
