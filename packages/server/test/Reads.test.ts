/**
 * Reads on the wire: ReadEvent, stream reads in both directions with the worked examples of
 * docs/protocol.md 4.4, the 4096 limit, and `$all` reads in both directions (4.5).
 */
import { assert, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { admin, append, C, connect, newEvent, type RawClient, readForward, streamName, text } from "./RawClient.ts"

const ReadStreamResult = Messages.ReadStreamEventsCompleted_ReadStreamResult
const ReadEventResult = Messages.ReadEventCompleted_ReadEventResult
const ReadAllResult = Messages.ReadAllEventsCompleted_ReadAllResult

const readBackward = (client: RawClient, stream: string, from: bigint, maxCount: number) =>
  client.request(
    C.ReadStreamEventsBackward,
    Messages.ReadStreamEventsSchema,
    { eventStreamId: stream, fromEventNumber: from, maxCount, resolveLinkTos: false, requireLeader: true },
    C.ReadStreamEventsBackwardCompleted,
    Messages.ReadStreamEventsCompletedSchema
  )

const readEvent = (client: RawClient, stream: string, eventNumber: bigint) =>
  client.request(
    C.ReadEvent,
    Messages.ReadEventSchema,
    { eventStreamId: stream, eventNumber, resolveLinkTos: false, requireLeader: true },
    C.ReadEventCompleted,
    Messages.ReadEventCompletedSchema
  )

const readAll = (
  client: RawClient,
  direction: "forward" | "backward",
  commitPosition: bigint,
  preparePosition: bigint,
  maxCount: number,
  credentials = admin
) =>
  client.request(
    direction === "forward" ? C.ReadAllEventsForward : C.ReadAllEventsBackward,
    Messages.ReadAllEventsSchema,
    { commitPosition, preparePosition, maxCount, resolveLinkTos: false, requireLeader: true },
    direction === "forward" ? C.ReadAllEventsForwardCompleted : C.ReadAllEventsBackwardCompleted,
    Messages.ReadAllEventsCompletedSchema,
    { credentials }
  )

const tenEvents = (client: RawClient) =>
  Effect.gen(function*() {
    const stream = streamName()
    yield* append(client, stream, -1n, Array.from({ length: 10 }, (_, i) => newEvent("numbered", { i })))
    return stream
  })

const numbers = (slice: Messages.ReadStreamEventsCompleted) => slice.events.map((e) => Number(e.event!.eventNumber))

layer(EventStoreServer.layer({ port: 0 }), { excludeTestServices: true })("Reads", (it) => {
  it.effect("reads forward in pages with the documented next and end-of-stream values", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = yield* tenEvents(client)
      const first = yield* readForward(client, stream, 0n, 5)
      assert.strictEqual(first.result, ReadStreamResult.Success)
      assert.deepStrictEqual(numbers(first), [0, 1, 2, 3, 4])
      assert.strictEqual(first.nextEventNumber, 5n)
      assert.strictEqual(first.lastEventNumber, 9n)
      assert.isFalse(first.isEndOfStream)
      const second = yield* readForward(client, stream, 5n, 5)
      assert.deepStrictEqual(numbers(second), [5, 6, 7, 8, 9])
      assert.strictEqual(second.nextEventNumber, 10n)
      assert.isTrue(second.isEndOfStream)
      const beyond = yield* readForward(client, stream, 20n, 10)
      assert.deepStrictEqual(numbers(beyond), [])
      assert.strictEqual(beyond.nextEventNumber, 10n)
      assert.isTrue(beyond.isEndOfStream)
      assert.isTrue(beyond.lastCommitPosition > 0n)
    }))

  it.effect("reads backward in pages with the documented next and end-of-stream values", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = yield* tenEvents(client)
      const first = yield* readBackward(client, stream, -1n, 5)
      assert.deepStrictEqual(numbers(first), [9, 8, 7, 6, 5])
      assert.strictEqual(first.nextEventNumber, 4n)
      assert.isFalse(first.isEndOfStream)
      const second = yield* readBackward(client, stream, 4n, 5)
      assert.deepStrictEqual(numbers(second), [4, 3, 2, 1, 0])
      assert.strictEqual(second.nextEventNumber, -1n)
      assert.isTrue(second.isEndOfStream)
    }))

  it.effect("answers a missing stream with NoStream, next -1, last -1 and end of stream", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const slice = yield* readForward(client, streamName(), 0n, 10)
      assert.strictEqual(slice.result, ReadStreamResult.NoStream)
      assert.strictEqual(slice.nextEventNumber, -1n)
      assert.strictEqual(slice.lastEventNumber, -1n)
      assert.isTrue(slice.isEndOfStream)
      assert.strictEqual(slice.events.length, 0)
    }))

  it.effect("refuses pages over 4096 events with Error", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = yield* tenEvents(client)
      const tooBig = yield* readForward(client, stream, 0n, 4097)
      assert.strictEqual(tooBig.result, ReadStreamResult.Error)
      assert.strictEqual(tooBig.error, "Read size too big, should be less than 4096 items")
      assert.strictEqual(tooBig.nextEventNumber, -1n)
      assert.isTrue(tooBig.isEndOfStream)
      const largest = yield* readForward(client, stream, 0n, 4096)
      assert.strictEqual(largest.result, ReadStreamResult.Success)
    }))

  it.effect("reads one event, -1 meaning the last, and NotFound outside the stream", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = yield* tenEvents(client)
      const third = yield* readEvent(client, stream, 2n)
      assert.strictEqual(third.result, ReadEventResult.Success)
      assert.strictEqual(third.event!.event!.eventNumber, 2n)
      assert.strictEqual(text(third.event!.event!.data), JSON.stringify({ i: 2 }))
      const last = yield* readEvent(client, stream, -1n)
      assert.strictEqual(last.event!.event!.eventNumber, 9n)
      const missing = yield* readEvent(client, stream, 10n)
      assert.strictEqual(missing.result, ReadEventResult.NotFound)
      assert.isDefined(missing.event)
      assert.isUndefined(missing.event!.event)
      const noStream = yield* readEvent(client, streamName(), 0n)
      assert.strictEqual(noStream.result, ReadEventResult.NoStream)
    }))

  it.effect("answers ReadEvent below -1 with BadRequest", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = client.sendMessage(C.ReadEvent, Messages.ReadEventSchema, {
        eventStreamId: "s",
        eventNumber: -2n,
        resolveLinkTos: false,
        requireLeader: true
      })
      const reply = yield* client.reply(id)
      assert.strictEqual(reply.command, C.BadRequest)
    }))

  it.effect("pages through $all forward and backward without gaps or repeats", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      yield* tenEvents(client)
      const forward: Array<bigint> = []
      let commit = 0n
      let prepare = 0n
      while (true) {
        const page = yield* readAll(client, "forward", commit, prepare, 7)
        assert.strictEqual(page.result, ReadAllResult.Success)
        assert.strictEqual(page.commitPosition, commit)
        if (page.events.length === 0) {
          assert.strictEqual(page.nextCommitPosition, commit)
          break
        }
        for (const event of page.events) forward.push(event.commitPosition)
        commit = page.nextCommitPosition
        prepare = page.nextPreparePosition
      }
      assert.isTrue(forward.length >= 10)
      for (let i = 1; i < forward.length; i++) assert.isTrue(forward[i - 1]! < forward[i]!)

      const backward: Array<bigint> = []
      commit = -1n
      prepare = -1n
      while (true) {
        const page = yield* readAll(client, "backward", commit, prepare, 6)
        if (page.events.length === 0) break
        for (const event of page.events) backward.push(event.commitPosition)
        commit = page.nextCommitPosition
        prepare = page.nextPreparePosition
      }
      // Other tests write concurrently: everything read forward is found backward, in reverse order.
      const seenForward = backward.filter((position) => position <= forward[forward.length - 1]!)
      assert.deepStrictEqual(seenForward, forward.map((_, i) => forward[forward.length - 1 - i]!))
    }))

  it.effect("refuses $all to anonymous callers and invalid positions", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = client.sendMessage(C.ReadAllEventsForward, Messages.ReadAllEventsSchema, {
        commitPosition: 0n,
        preparePosition: 0n,
        maxCount: 10,
        resolveLinkTos: false,
        requireLeader: true
      })
      const denied = Result.getOrThrow(
        Messages.decode(Messages.ReadAllEventsCompletedSchema, (yield* client.reply(id)).payload)
      )
      assert.strictEqual(denied.result, ReadAllResult.AccessDenied)
      assert.strictEqual(denied.nextCommitPosition, -1n)
      const invalid = yield* readAll(client, "forward", -5n, 0n, 10)
      assert.strictEqual(invalid.result, ReadAllResult.Error)
      assert.strictEqual(invalid.error, "Invalid position.")
    }))
})
