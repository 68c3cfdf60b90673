/**
 * Filtered `$all` reads on the wire (20.6+): event-type and stream filters, prefixes and regexes, the
 * search window, and the end-of-stream flag.
 */
import { assert, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { admin, append, C, connect, newEvent, type RawClient, streamName } from "./RawClient.ts"

const Context = Messages.Filter_FilterContext
const Type = Messages.Filter_FilterType

const filtered = (
  client: RawClient,
  filter: { context: Messages.Filter_FilterContext; type: Messages.Filter_FilterType; data: Array<string> },
  from: { commit: bigint; prepare: bigint },
  maxCount: number,
  maxSearchWindow: number,
  direction: "forward" | "backward" = "forward"
) =>
  client.request(
    direction === "forward" ? C.FilteredReadAllEventsForward : C.FilteredReadAllEventsBackward,
    Messages.FilteredReadAllEventsSchema,
    {
      commitPosition: from.commit,
      preparePosition: from.prepare,
      maxCount,
      maxSearchWindow,
      resolveLinkTos: false,
      requireLeader: true,
      filter
    },
    direction === "forward" ? C.FilteredReadAllEventsForwardCompleted : C.FilteredReadAllEventsBackwardCompleted,
    Messages.FilteredReadAllEventsCompletedSchema,
    { credentials: admin }
  )

/** Reads every page of a filtered read from where `start` is, collecting the events. */
const all = (client: RawClient, filter: Parameters<typeof filtered>[1], start: { commit: bigint; prepare: bigint }) =>
  Effect.gen(function*() {
    const events: Array<Messages.ResolvedEvent> = []
    let from = start
    for (let pages = 0; pages < 1000; pages++) {
      const page = yield* filtered(client, filter, from, 10, 50)
      events.push(...page.events)
      if (page.isEndOfStream) return events
      from = { commit: page.nextCommitPosition, prepare: page.nextPreparePosition }
    }
    throw new Error("The read never ended")
  })

layer(EventStoreServer.layer({ port: 0 }), { excludeTestServices: true })("Filtered $all reads", (it) => {
  it.effect("filters by event type prefix and by stream prefix, any of several prefixes matching", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const tag = streamName("run")
      yield* append(client, `${tag}-a`, -1n, [newEvent(`${tag}-alpha`), newEvent("other")])
      yield* append(client, `${tag}-b`, -1n, [newEvent(`${tag}-beta`)])
      const start = { commit: 0n, prepare: 0n }
      const byType = yield* all(client, { context: Context.EventType, type: Type.Prefix, data: [`${tag}-`] }, start)
      assert.deepStrictEqual(byType.map((e) => e.event!.eventType), [`${tag}-alpha`, `${tag}-beta`])
      const byStream = yield* all(
        client,
        { context: Context.StreamId, type: Type.Prefix, data: ["no-such-prefix", `${tag}-b`] },
        start
      )
      assert.deepStrictEqual(byStream.map((e) => e.event!.eventStreamId), [`${tag}-b`])
    }))

  it.effect("filters by regex, matching anywhere in the value", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const tag = streamName("regex").replaceAll("-", "")
      yield* append(client, tag, -1n, [newEvent("OrderPlaced"), newEvent("OrderShipped"), newEvent("x")])
      const start = { commit: 0n, prepare: 0n }
      const events = yield* all(client, { context: Context.StreamId, type: Type.Regex, data: [`^${tag}$`] }, start)
      assert.strictEqual(events.length, 3)
      const shipped = yield* all(client, { context: Context.EventType, type: Type.Regex, data: ["Ship"] }, start)
      assert.isTrue(shipped.every((e) => e.event!.eventType.includes("Ship")))
      assert.isAtLeast(shipped.length, 1)
    }))

  it.effect("looks at no more than the search window and says whether it reached the end", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const tag = streamName("window")
      const marker = yield* append(client, tag, -1n, [newEvent("marker")])
      yield* append(client, tag, 0n, Array.from({ length: 6 }, () => newEvent("skip")))
      const filter = { context: Context.EventType, type: Type.Prefix, data: [`never-${tag}`] }
      const from = { commit: marker.commitPosition, prepare: marker.preparePosition }
      const page = yield* filtered(client, filter, from, 10, 2)
      assert.strictEqual(page.events.length, 0)
      assert.isFalse(page.isEndOfStream)
      assert.isTrue(page.nextCommitPosition > marker.commitPosition)
      const backward = yield* filtered(client, filter, { commit: -1n, prepare: -1n }, 10, 100_000, "backward")
      assert.strictEqual(backward.events.length, 0)
      assert.isTrue(backward.isEndOfStream)
    }))

  it.effect("answers a filter with an invalid regex with BadRequest", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = client.sendMessage(C.FilteredReadAllEventsForward, Messages.FilteredReadAllEventsSchema, {
        commitPosition: 0n,
        preparePosition: 0n,
        maxCount: 10,
        resolveLinkTos: false,
        requireLeader: true,
        filter: { context: Context.EventType, type: Type.Regex, data: ["(unclosed"] }
      }, { credentials: admin })
      const reply = yield* client.reply(id)
      assert.strictEqual(reply.command, C.BadRequest)
    }))

  it.effect("refuses anonymous callers like plain $all reads", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = client.sendMessage(C.FilteredReadAllEventsForward, Messages.FilteredReadAllEventsSchema, {
        commitPosition: 0n,
        preparePosition: 0n,
        maxCount: 10,
        resolveLinkTos: false,
        requireLeader: true,
        filter: { context: Context.EventType, type: Type.Prefix, data: [] }
      })
      const reply = Result.getOrThrow(
        Messages.decode(Messages.FilteredReadAllEventsCompletedSchema, (yield* client.reply(id)).payload)
      )
      assert.strictEqual(reply.result, Messages.FilteredReadAllEventsCompleted_FilteredReadAllResult.AccessDenied)
    }))
})
