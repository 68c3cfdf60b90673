/**
 * Metastreams and links on the wire (docs/protocol.md 4.7, 4.8): metadata as clients read and write it,
 * `$maxCount` seen through reads, and `resolve_link_tos` including links whose target is gone.
 */
import { assert, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import { admin, append, C, connect, newEvent, type RawClient, readForward, streamName, text } from "./RawClient.ts"

const ReadEventResult = Messages.ReadEventCompleted_ReadEventResult
const encoder = new TextEncoder()

const metadata = (json: string) => ({ ...newEvent("$metadata"), data: encoder.encode(json) })

const link = (target: string) => ({ ...newEvent("$>"), dataContentType: 0, data: encoder.encode(target) })

const readEvent = (client: RawClient, stream: string, eventNumber: bigint, resolveLinkTos = false) =>
  client.request(
    C.ReadEvent,
    Messages.ReadEventSchema,
    { eventStreamId: stream, eventNumber, resolveLinkTos, requireLeader: true },
    C.ReadEventCompleted,
    Messages.ReadEventCompletedSchema
  )

layer(EventStoreServer.layer({ port: 0 }), { excludeTestServices: true })("Metadata and links", (it) => {
  it.effect("reading the metadata of a stream that has none is Success without an event", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent()])
      const reply = yield* readEvent(client, "$$" + stream, -1n)
      assert.strictEqual(reply.result, ReadEventResult.Success)
      assert.isDefined(reply.event)
      assert.isUndefined(reply.event!.event)
      const missing = yield* readEvent(client, "$$" + streamName(), -1n)
      assert.strictEqual(missing.result, ReadEventResult.NoStream)
    }))

  it.effect("$maxCount limits what reads return; custom keys come back as written", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, Array.from({ length: 5 }, () => newEvent()))
      const json = `{"$maxCount":2,"custom":{"nested":[1,"two"]}}`
      const written = yield* append(client, "$$" + stream, -1n, [metadata(json)])
      assert.strictEqual(written.result, Messages.OperationResult.Success)
      const read = yield* readForward(client, stream, 0n, 10)
      assert.deepStrictEqual(read.events.map((e) => e.event!.eventNumber), [3n, 4n])
      assert.strictEqual(read.lastEventNumber, 4n)
      const stored = yield* readEvent(client, "$$" + stream, -1n)
      assert.strictEqual(text(stored.event!.event!.data), json)
      assert.strictEqual(stored.event!.event!.eventNumber, 0n)
    }))

  it.effect("metadata writes check the metastream's own expected version", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, "$$" + stream, -1n, [metadata(`{"$maxCount":3}`)])
      const stale = yield* append(client, "$$" + stream, -1n, [metadata(`{"$maxCount":4}`)])
      assert.strictEqual(stale.result, Messages.OperationResult.WrongExpectedVersion)
      assert.strictEqual(stale.currentVersion, 0n)
      const next = yield* append(client, "$$" + stream, 0n, [metadata(`{"$maxCount":4}`)])
      assert.strictEqual(next.firstEventNumber, 1n)
    }))

  it.effect("resolves links when asked: event = target, link = the link", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const target = streamName("target")
      const links = streamName("links")
      yield* append(client, target, -1n, [newEvent("first"), newEvent("second")])
      yield* append(client, links, -1n, [link(`1@${target}`)])
      const resolved = yield* readForward(client, links, 0n, 10, { resolveLinkTos: true })
      const pair = resolved.events[0]!
      assert.strictEqual(pair.event!.eventStreamId, target)
      assert.strictEqual(pair.event!.eventType, "second")
      assert.strictEqual(pair.link!.eventStreamId, links)
      assert.strictEqual(pair.link!.eventType, "$>")
      const raw = yield* readForward(client, links, 0n, 10)
      assert.strictEqual(raw.events[0]!.event!.eventType, "$>")
      assert.isUndefined(raw.events[0]!.link)
      const single = yield* readEvent(client, links, 0n, true)
      assert.strictEqual(single.event!.event!.eventType, "second")
    }))

  it.effect("a link whose target is gone comes back with the link and no event", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const target = streamName("target")
      const links = streamName("links")
      yield* append(client, target, -1n, [newEvent()])
      yield* append(client, links, -1n, [link(`0@${target}`), link(`7@${target}`), link("garbage")])
      yield* client.request(
        C.DeleteStream,
        Messages.DeleteStreamSchema,
        { eventStreamId: target, expectedVersion: -2n, requireLeader: true, hardDelete: true },
        C.DeleteStreamCompleted,
        Messages.DeleteStreamCompletedSchema
      )
      const read = yield* readForward(client, links, 0n, 10, { resolveLinkTos: true })
      assert.strictEqual(read.events.length, 3)
      for (const pair of read.events) {
        assert.isUndefined(pair.event)
        assert.strictEqual(pair.link!.eventType, "$>")
      }
    }))

  it.effect("positions a resolved link in $all at the link, not at its target", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const target = streamName("target")
      const links = streamName("links")
      yield* append(client, target, -1n, [newEvent()])
      const written = yield* append(client, links, -1n, [link(`0@${target}`)])
      const page = yield* client.request(
        C.ReadAllEventsForward,
        Messages.ReadAllEventsSchema,
        {
          commitPosition: written.commitPosition,
          preparePosition: written.preparePosition,
          maxCount: 1,
          resolveLinkTos: true,
          requireLeader: true
        },
        C.ReadAllEventsForwardCompleted,
        Messages.ReadAllEventsCompletedSchema,
        { credentials: admin }
      )
      const resolved = page.events[0]!
      assert.strictEqual(resolved.event!.eventStreamId, target)
      assert.strictEqual(resolved.link!.eventStreamId, links)
      assert.strictEqual(resolved.commitPosition, written.commitPosition)
    }))
})
