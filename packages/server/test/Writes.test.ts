/**
 * WriteEvents on the wire: the reply fields of each outcome (docs/protocol.md 4.2), positions, created
 * timestamps, and the validation that answers BadRequest.
 */
import { assert, layer } from "@effect/vitest"
import { Messages, Ticks } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import { admin, append, C, connect, eventId, newEvent, readForward, streamName, text } from "./RawClient.ts"

const OperationResult = Messages.OperationResult
const invalid = -2_147_483_648n

layer(EventStoreServer.layer({ port: 0 }), { excludeTestServices: true })("WriteEvents", (it) => {
  it.effect("reports the first and last event numbers and the position of the last event", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const first = yield* append(client, stream, -1n, [newEvent(), newEvent()])
      assert.strictEqual(first.result, OperationResult.Success)
      assert.strictEqual(first.firstEventNumber, 0n)
      assert.strictEqual(first.lastEventNumber, 1n)
      assert.strictEqual(first.preparePosition, first.commitPosition)
      const second = yield* append(client, stream, 1n, [newEvent()])
      assert.strictEqual(second.firstEventNumber, 2n)
      assert.strictEqual(second.lastEventNumber, 2n)
      assert.isTrue(second.commitPosition > first.commitPosition)
      assert.isFalse(second.message !== "")
    }))

  it.effect("answers a wrong expected version with the sentinels and the current version", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent(), newEvent(), newEvent()])
      const reply = yield* append(client, stream, 5n, [newEvent()])
      assert.strictEqual(reply.result, OperationResult.WrongExpectedVersion)
      assert.strictEqual(reply.message, "Wrong expected version.")
      assert.strictEqual(reply.firstEventNumber, invalid)
      assert.strictEqual(reply.lastEventNumber, invalid)
      assert.strictEqual(reply.preparePosition, invalid)
      assert.strictEqual(reply.commitPosition, 0n)
      assert.strictEqual(reply.currentVersion, 2n)
    }))

  it.effect("answers a write to a hard-deleted stream with StreamDeleted", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent()])
      yield* client.request(
        C.DeleteStream,
        Messages.DeleteStreamSchema,
        { eventStreamId: stream, expectedVersion: -2n, requireLeader: true, hardDelete: true },
        C.DeleteStreamCompleted,
        Messages.DeleteStreamCompletedSchema
      )
      const reply = yield* append(client, stream, -2n, [newEvent()])
      assert.strictEqual(reply.result, OperationResult.StreamDeleted)
      assert.strictEqual(reply.message, "Stream is deleted.")
      assert.strictEqual(reply.currentVersion, -1n)
      assert.strictEqual(reply.firstEventNumber, invalid)
    }))

  it.effect("re-sending the same events is idempotent and reports the original numbers and position", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const events = [newEvent(), newEvent()]
      const original = yield* append(client, stream, -1n, events)
      const again = yield* append(client, stream, -1n, events)
      assert.strictEqual(again.result, OperationResult.Success)
      assert.strictEqual(again.firstEventNumber, 0n)
      assert.strictEqual(again.lastEventNumber, 1n)
      assert.strictEqual(again.commitPosition, original.commitPosition)
      const withAny = yield* append(client, stream, -2n, events)
      assert.strictEqual(withAny.lastEventNumber, 1n)
      const read = yield* readForward(client, stream, 0n, 10)
      assert.strictEqual(read.events.length, 2)
    }))

  it.effect("stores created as .NET ticks and created_epoch as milliseconds of the same moment", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const before = Date.now()
      yield* append(client, stream, -1n, [newEvent()])
      const after = Date.now()
      const read = yield* readForward(client, stream, 0n, 1)
      const record = read.events[0]!.event!
      const epoch = Number(record.createdEpoch)
      assert.isTrue(epoch >= before && epoch <= after)
      assert.strictEqual(Ticks.toEpochMillis(record.created), epoch)
      assert.strictEqual(record.dataContentType, 1)
      assert.strictEqual(record.metadataContentType, 1)
    }))

  it.effect("lets a listener on the node's store see each committed event live, with its position", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(server.port)
      const stream = streamName()
      const seen: Array<{ readonly eventNumber: number; readonly commitPosition: number }> = []
      const stop = server.store.subscribe((event) => {
        if (event.streamId === stream) seen.push({ eventNumber: event.eventNumber, commitPosition: event.commitPosition })
      })
      yield* Effect.addFinalizer(() => Effect.sync(stop))
      const written = yield* append(client, stream, -1n, [newEvent(), newEvent()])
      assert.deepStrictEqual(seen.map((e) => e.eventNumber), [0, 1])
      assert.strictEqual(BigInt(seen[1]!.commitPosition), written.commitPosition)
    }))

  it.effect("answers a write the caller may not make with AccessDenied", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const reply = yield* append(client, "$denied-" + streamName(), -2n, [newEvent()])
      assert.strictEqual(reply.result, OperationResult.AccessDenied)
      assert.strictEqual(reply.message, "Access Denied")
      assert.strictEqual(reply.currentVersion, -1n)
      const allowed = yield* append(client, "$allowed-" + streamName(), -2n, [newEvent()], { credentials: admin })
      assert.strictEqual(allowed.result, OperationResult.Success)
    }))

  it.effect("writes an empty event list as first = current + 1 and last = current", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent(), newEvent()])
      const reply = yield* append(client, stream, -2n, [])
      assert.strictEqual(reply.result, OperationResult.Success)
      assert.strictEqual(reply.firstEventNumber, 2n)
      assert.strictEqual(reply.lastEventNumber, 1n)
    }))

  for (
    const [name, init] of [
      ["an empty stream id", { eventStreamId: "", expectedVersion: -2n, events: [newEvent()] }],
      ["expected version -3", { eventStreamId: "s", expectedVersion: -3n, events: [newEvent()] }],
      ["expected version -5", { eventStreamId: "s", expectedVersion: -5n, events: [newEvent()] }],
      ["an all-zero event id", {
        eventStreamId: "s",
        expectedVersion: -2n,
        events: [newEvent("t", {}, new Uint8Array(16))]
      }],
      ["an event id of 15 bytes", {
        eventStreamId: "s",
        expectedVersion: -2n,
        events: [newEvent("t", {}, eventId().subarray(1))]
      }],
      ["an empty event type", { eventStreamId: "s", expectedVersion: -2n, events: [newEvent("")] }]
    ] as const
  ) {
    it.effect(`answers ${name} with BadRequest and keeps the connection`, () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const id = client.sendMessage(C.WriteEvents, Messages.WriteEventsSchema, {
          ...init,
          events: [...init.events],
          requireLeader: true
        })
        const reply = yield* client.reply(id)
        assert.strictEqual(reply.command, C.BadRequest)
        assert.isTrue(text(reply.payload).startsWith("Could not unwrap network package for command WriteEvents.\n"))
        const pong = yield* client.reply(client.send(C.Ping))
        assert.strictEqual(pong.command, C.Pong)
      }))
  }

  it.effect("answers an event over the size limit with BadRequest \"Record is too big.\"", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = client.sendMessage(C.WriteEvents, Messages.WriteEventsSchema, {
        eventStreamId: streamName(),
        expectedVersion: -2n,
        events: [{ ...newEvent(), data: new Uint8Array(16 * 1024 * 1024) }],
        requireLeader: true
      })
      const reply = yield* client.reply(id)
      assert.strictEqual(reply.command, C.BadRequest)
      assert.isTrue(text(reply.payload).endsWith("Record is too big."))
    }))

  it.effect("accepts and returns a 1 MiB event intact", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const data = new Uint8Array(1024 * 1024)
      for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
      const written = yield* append(client, stream, -1n, [{ ...newEvent(), dataContentType: 0, data }])
      assert.strictEqual(written.result, OperationResult.Success)
      const read = yield* readForward(client, stream, 0n, 1)
      const record = read.events[0]!.event!
      assert.strictEqual(record.data.length, data.length)
      assert.isTrue(record.data.every((byte, i) => byte === data[i]))
      assert.strictEqual(record.dataContentType, 0)
    }))
})
