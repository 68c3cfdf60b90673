/**
 * The two encodings of replies: every proto2-required field (servers up to 21.10, the default), or
 * default values left out (servers from 22.6, `omitDefaultValues: true`).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { C, connect, newEvent, streamName } from "./RawClient.ts"

/** The field numbers present at the top level of a protobuf payload. */
const fieldNumbers = (payload: Uint8Array): Array<number> => {
  const fields: Array<number> = []
  let offset = 0
  const varint = () => {
    let value = 0n
    let shift = 0n
    while (true) {
      const byte = payload[offset++]!
      value |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return value
      shift += 7n
    }
  }
  while (offset < payload.length) {
    const key = Number(varint())
    fields.push(key >> 3)
    switch (key & 7) {
      case 0:
        varint()
        break
      case 1:
        offset += 8
        break
      case 2: {
        // Read the length before adding: `offset += varint()` would add to the offset before the length.
        const length = Number(varint())
        offset += length
        break
      }
      case 5:
        offset += 4
        break
    }
  }
  return fields
}

const exchange = (port: number) =>
  Effect.gen(function*() {
    const client = yield* connect(port)
    const stream = streamName()
    const write = yield* client.reply(
      client.sendMessage(C.WriteEvents, Messages.WriteEventsSchema, {
        eventStreamId: stream,
        expectedVersion: -1n,
        events: [newEvent()],
        requireLeader: true
      })
    )
    const read = yield* client.reply(
      client.sendMessage(C.ReadStreamEventsForward, Messages.ReadStreamEventsSchema, {
        eventStreamId: stream,
        fromEventNumber: 0n,
        maxCount: 1,
        resolveLinkTos: false,
        requireLeader: true
      })
    )
    const identified = yield* client.reply(
      client.sendMessage(C.IdentifyClient, Messages.IdentifyClientSchema, { version: 1 })
    )
    return { write, read, identified }
  })

describe("Reply encoding", () => {
  layer(EventStoreServer.layer({ port: 0 }), { excludeTestServices: true })("by default", (it) => {
    it.effect("writes every required field, even when it holds its default", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const { read, write } = yield* exchange(port)
        // result (0 = Success) and first_event_number (0) are written.
        assert.deepStrictEqual(fieldNumbers(write.payload), [1, 3, 4, 5, 6])
        // events, result 0, next, last 0, is_end_of_stream, last_commit_position.
        assert.deepStrictEqual(fieldNumbers(read.payload), [1, 2, 3, 4, 5, 6])
        assert.isTrue(Result.isSuccess(Messages.decode(Messages.ReadStreamEventsCompletedSchema, read.payload)))
      }))
  })

  layer(EventStoreServer.layer({ port: 0, omitDefaultValues: true }), { excludeTestServices: true })(
    "with omitDefaultValues",
    (it) => {
      it.effect("leaves out fields that hold their default value, as 22.6+ servers do", () =>
        Effect.gen(function*() {
          const { port } = yield* EventStoreServer.EventStoreServer
          const { identified, read, write } = yield* exchange(port)
          // result 0 and first_event_number 0 and last_event_number 0 are gone.
          assert.deepStrictEqual(fieldNumbers(write.payload), [5, 6])
          // result 0 and last_event_number 0 are gone; the event record keeps its sub-message.
          assert.deepStrictEqual(fieldNumbers(read.payload), [1, 3, 5, 6])
          const decoded = Result.getOrThrow(Messages.decode(Messages.ReadStreamEventsCompletedSchema, read.payload))
          assert.strictEqual(decoded.events[0]!.event!.eventNumber, 0n)
          assert.strictEqual(identified.payload.length, 0)
        }))
    }
  )
})
