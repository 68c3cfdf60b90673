/**
 * DeleteStream on the wire (docs/protocol.md 4.6): the reply fields, and what reads and writes see
 * after soft and hard deletes.
 */
import { assert, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import {
  append,
  C,
  connect,
  connectIdentified,
  identify,
  newEvent,
  type RawClient,
  readForward,
  streamName,
  text
} from "./RawClient.ts"

const OperationResult = Messages.OperationResult
const ReadStreamResult = Messages.ReadStreamEventsCompleted_ReadStreamResult
const ReadEventResult = Messages.ReadEventCompleted_ReadEventResult

const remove = (client: RawClient, stream: string, expectedVersion: bigint, hardDelete: boolean) =>
  client.request(
    C.DeleteStream,
    Messages.DeleteStreamSchema,
    { eventStreamId: stream, expectedVersion, requireLeader: true, hardDelete },
    C.DeleteStreamCompleted,
    Messages.DeleteStreamCompletedSchema
  )

const readMetadata = (client: RawClient, stream: string) =>
  client.request(
    C.ReadEvent,
    Messages.ReadEventSchema,
    { eventStreamId: "$$" + stream, eventNumber: -1n, resolveLinkTos: false, requireLeader: true },
    C.ReadEventCompleted,
    Messages.ReadEventCompletedSchema
  )

layer(EventStoreServer.layer({ port: 0 }), { excludeTestServices: true })("DeleteStream", (it) => {
  it.effect("soft delete: success with the position of the delete, then NoStream with the last number", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const written = yield* append(client, stream, -1n, [newEvent(), newEvent()])
      const deleted = yield* remove(client, stream, 1n, false)
      assert.strictEqual(deleted.result, OperationResult.Success)
      assert.strictEqual(deleted.preparePosition, deleted.commitPosition)
      assert.isTrue(deleted.commitPosition > written.commitPosition)
      const read = yield* readForward(client, stream, 0n, 10)
      assert.strictEqual(read.result, ReadStreamResult.NoStream)
      assert.strictEqual(read.lastEventNumber, 1n)
      const metadata = yield* readMetadata(client, stream)
      assert.strictEqual(text(metadata.event!.event!.data), `{"$tb":9223372036854775807}`)
      assert.strictEqual(metadata.event!.event!.eventType, "$metadata")
    }))

  it.effect("soft delete then write: the stream comes back and numbering continues", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent(), newEvent()])
      yield* remove(client, stream, -2n, false)
      const written = yield* append(client, stream, -2n, [newEvent()])
      assert.strictEqual(written.firstEventNumber, 2n)
      const read = yield* readForward(client, stream, 0n, 10)
      assert.deepStrictEqual(read.events.map((e) => e.event!.eventNumber), [2n])
      const metadata = yield* readMetadata(client, stream)
      assert.strictEqual(text(metadata.event!.event!.data), `{"$tb":2}`)
      assert.strictEqual(metadata.event!.event!.eventNumber, 1n)
    }))

  it.effect("hard delete: StreamDeleted forever, for reads, writes, metadata and deletes", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connectIdentified(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent()])
      const deleted = yield* remove(client, stream, 0n, true)
      assert.strictEqual(deleted.result, OperationResult.Success)
      const read = yield* readForward(client, stream, 0n, 10)
      assert.strictEqual(read.result, ReadStreamResult.StreamDeleted)
      assert.strictEqual(read.lastEventNumber, 9_223_372_036_854_775_807n)
      assert.strictEqual(read.nextEventNumber, -1n)
      assert.isTrue(read.isEndOfStream)
      const metadata = yield* readMetadata(client, stream)
      assert.strictEqual(metadata.result, ReadEventResult.StreamDeleted)
      const again = yield* remove(client, stream, -2n, true)
      assert.strictEqual(again.result, OperationResult.StreamDeleted)
      assert.strictEqual(again.message, "Stream is deleted.")
      assert.strictEqual(again.commitPosition, -1n)
      const soft = yield* remove(client, stream, -2n, false)
      assert.strictEqual(soft.result, OperationResult.StreamDeleted)
    }))

  it.effect("a hard delete's tombstone appears in $all with event number 2^63-1", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connectIdentified(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent()])
      const deleted = yield* remove(client, stream, -2n, true)
      const page = yield* client.request(
        C.ReadAllEventsForward,
        Messages.ReadAllEventsSchema,
        {
          commitPosition: deleted.commitPosition,
          preparePosition: deleted.preparePosition,
          maxCount: 1,
          resolveLinkTos: false,
          requireLeader: true
        },
        C.ReadAllEventsForwardCompleted,
        Messages.ReadAllEventsCompletedSchema,
        { credentials: { login: "admin", password: "changeit" } }
      )
      const tombstone = page.events[0]!.event!
      assert.strictEqual(tombstone.eventStreamId, stream)
      assert.strictEqual(tombstone.eventType, "$streamDeleted")
      assert.strictEqual(tombstone.eventNumber, 9_223_372_036_854_775_807n)
      assert.strictEqual(page.events[0]!.commitPosition, deleted.commitPosition)
    }))

  it.effect("a client that never identified (V1) gets 2^63-1 as 2^31-1, in read replies and in $all (4.1)", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const v1 = yield* connect(port)
      const v2 = yield* connectIdentified(port)
      const stream = streamName()
      yield* append(v1, stream, -1n, [newEvent()])
      const deleted = yield* remove(v1, stream, -2n, true)
      const lastEventNumbers = (client: RawClient) =>
        Effect.gen(function*() {
          const read = yield* readForward(client, stream, 0n, 10)
          assert.strictEqual(read.result, ReadStreamResult.StreamDeleted)
          const page = yield* client.request(
            C.ReadAllEventsBackward,
            Messages.ReadAllEventsSchema,
            {
              commitPosition: -1n,
              preparePosition: -1n,
              maxCount: 1,
              resolveLinkTos: false,
              requireLeader: true
            },
            C.ReadAllEventsBackwardCompleted,
            Messages.ReadAllEventsCompletedSchema,
            { credentials: { login: "admin", password: "changeit" } }
          )
          const tombstone = page.events[0]!.event!
          assert.strictEqual(tombstone.eventType, "$streamDeleted")
          assert.strictEqual(page.events[0]!.commitPosition, deleted.commitPosition)
          return [read.lastEventNumber, tombstone.eventNumber]
        })
      assert.deepStrictEqual(yield* lastEventNumbers(v1), [2_147_483_647n, 2_147_483_647n])
      assert.deepStrictEqual(yield* lastEventNumbers(v2), [9_223_372_036_854_775_807n, 9_223_372_036_854_775_807n])
      // Identifying with version 0 is being V1 too.
      const zero = yield* connect(port)
      yield* identify(zero, 0)
      assert.deepStrictEqual(yield* lastEventNumbers(zero), [2_147_483_647n, 2_147_483_647n])
    }))

  it.effect("a wrong expected version fails the delete and reports the current version", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent(), newEvent()])
      const reply = yield* remove(client, stream, 5n, true)
      assert.strictEqual(reply.result, OperationResult.WrongExpectedVersion)
      assert.strictEqual(reply.message, "Wrong expected version.")
      assert.strictEqual(reply.preparePosition, -1n)
      assert.strictEqual(reply.commitPosition, -1n)
      assert.strictEqual(reply.currentVersion, 1n)
    }))

  it.effect("deleting a stream that does not exist succeeds with Any and NoStream", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      assert.strictEqual((yield* remove(client, streamName(), -2n, false)).result, OperationResult.Success)
      assert.strictEqual((yield* remove(client, streamName(), -1n, true)).result, OperationResult.Success)
    }))

  it.effect("nobody may delete a metastream; anonymous callers may not delete system streams", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const meta = yield* remove(client, "$$" + streamName(), -2n, false)
      assert.strictEqual(meta.result, OperationResult.AccessDenied)
      assert.strictEqual(meta.message, "Access Denied")
      const system = yield* remove(client, "$" + streamName(), -2n, true)
      assert.strictEqual(system.result, OperationResult.AccessDenied)
    }))
})
