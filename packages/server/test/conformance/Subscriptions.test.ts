/**
 * Conformance of volatile subscriptions, to a stream and to $all, checked by node-eventstore-client
 * and, for the wire facts its API hides, by raw packages (protocol.md sections 3.6, 4.13 and 5.1):
 * the confirmation's last commit position and last event number, a push for every event committed
 * after it (in order, with positions, links resolved when asked), UnsubscribeFromStream answered with
 * SubscriptionDropped(Unsubscribed), AccessDenied and NotAuthenticated, and the drops that do not
 * happen (deleting the stream).
 *
 * node-eventstore-client quirks worked around here:
 * - it reports a subscription it unsubscribed itself as dropped (userInitiated) at once, without
 *   waiting for the server's SubscriptionDropped, so that reply is checked on raw packages;
 * - a drop before confirmation rejects the subscribe promise instead of calling subscriptionDropped;
 * - its typings declare the confirmation's `lastCommitPosition` a Position; it is the wire's Long;
 * - it sends SubscribeToStream proto3-style: for $all without link resolution the payload is empty.
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import { EventStoreServer } from "@photonpump/server"
import { Collector, eventually } from "./Collector.ts"
import {
  admin,
  comparePositions,
  conformanceServer,
  type Connection,
  deletedStream,
  EventStore,
  jsonEvent,
  jsonEvents,
  type Long,
  num,
  positionOf,
  rejection,
  streamName,
  text
} from "./Harness.ts"
import { Command, RawConnection, readStreamEvents, writeEvents } from "./RawConnection.ts"
import { decodeDropped, DropReason, eventIdOf, rawAdmin, subscribeToStream } from "./RawSubscriptions.ts"

const { expectedVersion } = EventStore

const alice = new EventStore.UserCredentials("alice", "alice-password")
const bob = new EventStore.UserCredentials("bob", "bob-password")

const es = conformanceServer({
  users: [
    { login: "alice", password: "alice-password", groups: [] },
    { login: "bob", password: "bob-password", groups: [] }
  ]
})

/** A volatile subscription through node-eventstore-client, with what it delivers collected. */
const subscribe = async (
  connection: Connection,
  stream: string | "$all",
  options: { readonly resolveLinkTos?: boolean; readonly credentials?: EventStore.UserCredentials } = {}
) => {
  const events = new Collector<EventStore.ResolvedEvent>()
  const drops = new Collector<{ readonly reason: string; readonly error: Error | undefined }>()
  const appeared = (_: EventStore.EventStoreSubscription, event: EventStore.ResolvedEvent) => events.push(event)
  const dropped = (_: EventStore.EventStoreSubscription, reason: string, error?: Error) => drops.push({ reason, error })
  const subscription = stream === "$all"
    ? await connection.subscribeToAll(options.resolveLinkTos ?? false, appeared, dropped, options.credentials)
    : await connection.subscribeToStream(stream, options.resolveLinkTos ?? false, appeared, dropped, options.credentials)
  return { subscription, events, drops }
}

/** The server's last commit position, as a read reports it (protocol.md section 3.5). */
const lastCommitPosition = async (): Promise<number> => {
  const raw = await RawConnection.open(es.server)
  try {
    return num((await readStreamEvents(raw, "forward", streamName("probe"), 0, 1)).lastCommitPosition)
  } finally {
    await raw.close()
  }
}

/**
 * The confirmation's last commit position. node-eventstore-client's typings call it a Position, but
 * it holds the Long from the wire.
 */
const confirmedCommitPosition = (subscription: EventStore.EventStoreSubscription): number =>
  num(subscription.lastCommitPosition as unknown as Long)

const idOf = (event: EventStore.ResolvedEvent) => event.originalEvent!.eventId

/** A link event pointing at event `number` of `stream`. */
const linkTo = (number: number, stream: string) =>
  EventStore.createEventData(randomUUID(), "$>", false, Buffer.from(`${number}@${stream}`))

describe("volatile subscription to a stream (protocol.md 5.1)", () => {
  it("is confirmed with the server's last commit position and the stream's last event number", async () => {
    const stream = streamName("confirm")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    // A later write to another stream: the last commit position is the server's, not the stream's.
    const other = await es.connection.appendToStream(streamName("elsewhere"), expectedVersion.noStream, jsonEvent("E"))
    const expected = await lastCommitPosition()
    assert.isAtLeast(expected, num(other.logPosition.commitPosition))
    const { subscription } = await subscribe(es.connection, stream)
    assert.isFalse(subscription.isSubscribedToAll)
    assert.strictEqual(subscription.streamId, stream)
    assert.strictEqual(num(subscription.lastEventNumber), 2)
    assert.strictEqual(confirmedCommitPosition(subscription), expected)
    subscription.unsubscribe()
  })

  it("is confirmed with last event number -1 for a stream that does not exist", async () => {
    const { subscription } = await subscribe(es.connection, streamName("absent"))
    assert.strictEqual(num(subscription.lastEventNumber), -1)
    subscription.unsubscribe()
  })

  it("is confirmed with last event number 2^63-1 for a hard-deleted stream", async () => {
    const stream = streamName("hard-deleted")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(1))
    await es.connection.deleteStream(stream, expectedVersion.any, true)
    const { subscription } = await subscribe(es.connection, stream)
    assert.strictEqual(text(subscription.lastEventNumber), deletedStream)
    subscription.unsubscribe()
  })

  it("the raw confirmation carries the same fields", async () => {
    const stream = streamName("confirm-raw")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(2))
    const expected = await lastCommitPosition()
    const raw = await RawConnection.open(es.server)
    try {
      const subscription = subscribeToStream(raw, stream, false)
      const confirmation = await subscription.confirmation()
      assert.strictEqual(num(confirmation.lastCommitPosition), expected)
      assert.strictEqual(num(confirmation.lastEventNumber), 1)
    } finally {
      await raw.close()
    }
  })

  it("pushes every event committed after the confirmation, and only those, in order", async () => {
    const stream = streamName("live")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(2, "Before"))
    const { subscription, events } = await subscribe(es.connection, stream)
    const first = jsonEvent("After-0", { n: 0 })
    const rest = [jsonEvent("After-1", { n: 1 }), jsonEvent("After-2", { n: 2 })]
    const written = await es.connection.appendToStream(stream, 1, first)
    await es.connection.appendToStream(streamName("unrelated"), expectedVersion.any, jsonEvents(2))
    // A stream whose name starts with the subscribed one is another stream.
    await es.connection.appendToStream(`${stream}-suffix`, expectedVersion.any, jsonEvents(1))
    await es.connection.appendToStream(stream, 2, rest)
    const received = await events.atLeast(3, "the three events written after subscribing")
    assert.deepStrictEqual(received.map(idOf), [first, ...rest].map((e) => e.eventId))
    assert.deepStrictEqual(received.map((e) => num(e.originalEventNumber)), [2, 3, 4])
    assert.deepStrictEqual(received.map((e) => e.event!.eventType), ["After-0", "After-1", "After-2"])
    assert.deepStrictEqual(received.map((e) => JSON.parse(e.event!.data!.toString("utf8"))), [{ n: 0 }, { n: 1 }, { n: 2 }])
    assert.isTrue(received.every((e) => e.event!.isJson && e.originalStreamId === stream && e.link === null))
    // Pushes carry the event's $all position.
    assert.deepStrictEqual(positionOf(received[0]!.originalPosition), positionOf(written.logPosition))
    assert.isBelow(comparePositions(received[0]!.originalPosition!, received[1]!.originalPosition!), 0)
    assert.isBelow(comparePositions(received[1]!.originalPosition!, received[2]!.originalPosition!), 0)
    // A marker written last arrives last: nothing else was pushed in between.
    const marker = jsonEvent("Marker")
    await es.connection.appendToStream(stream, expectedVersion.any, marker)
    const all = await events.atLeast(4, "the marker")
    assert.deepStrictEqual(all.map(idOf), [first, ...rest, marker].map((e) => e.eventId))
    subscription.unsubscribe()
  })

  it("does not push the stream's metadata, which is written to $$stream", async () => {
    const stream = streamName("metadata")
    const { subscription, events } = await subscribe(es.connection, stream)
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { custom: 1 })
    const event = jsonEvent("AfterMetadata")
    await es.connection.appendToStream(stream, expectedVersion.any, event)
    const received = await events.atLeast(1, "the event written after the metadata")
    assert.deepStrictEqual(received.map(idOf), [event.eventId])
    subscription.unsubscribe()
  })

  it("resolves links when asked, and pushes the link itself otherwise", async () => {
    const target = streamName("target")
    const targetEvents = jsonEvents(2, "Target")
    await es.connection.appendToStream(target, expectedVersion.noStream, targetEvents)
    const links = streamName("links")
    const resolved = await subscribe(es.connection, links, { resolveLinkTos: true })
    const unresolved = await subscribe(es.connection, links, { resolveLinkTos: false })
    const link = linkTo(1, target)
    const written = await es.connection.appendToStream(links, expectedVersion.noStream, link)

    const [withTarget] = await resolved.events.atLeast(1, "the resolved link")
    assert.isTrue(withTarget!.isResolved)
    assert.strictEqual(withTarget!.event!.eventId, targetEvents[1]!.eventId)
    assert.strictEqual(withTarget!.event!.eventStreamId, target)
    assert.strictEqual(num(withTarget!.event!.eventNumber), 1)
    assert.strictEqual(withTarget!.link!.eventId, link.eventId)
    assert.strictEqual(withTarget!.link!.eventStreamId, links)
    assert.strictEqual(withTarget!.originalStreamId, links)
    assert.deepStrictEqual(positionOf(withTarget!.originalPosition), positionOf(written.logPosition))

    const [asLink] = await unresolved.events.atLeast(1, "the unresolved link")
    assert.isNull(asLink!.link)
    assert.strictEqual(asLink!.event!.eventId, link.eventId)
    assert.strictEqual(asLink!.event!.eventType, "$>")
    assert.strictEqual(asLink!.event!.data!.toString("utf8"), `1@${target}`)
    resolved.subscription.unsubscribe()
    unresolved.subscription.unsubscribe()
  })

  it("unsubscribing reports the drop as userInitiated", async () => {
    const stream = streamName("unsubscribe")
    const { subscription, drops } = await subscribe(es.connection, stream)
    subscription.unsubscribe()
    const [drop] = await drops.atLeast(1, "the drop")
    assert.strictEqual(drop!.reason, "userInitiated")
  })

  it("UnsubscribeFromStream is answered with SubscriptionDropped(Unsubscribed), after which nothing is pushed", async () => {
    const stream = streamName("unsubscribe-raw")
    const raw = await RawConnection.open(es.server)
    try {
      const leaving = subscribeToStream(raw, stream, false)
      await leaving.confirmation()
      const staying = subscribeToStream(raw, stream, false)
      await staying.confirmation()
      leaving.unsubscribe()
      assert.strictEqual(await leaving.dropped(), DropReason.Unsubscribed)
      const eventId = randomUUID()
      await writeEvents(raw, stream, -2, [eventId])
      assert.strictEqual(eventIdOf((await staying.event()).event!), eventId)
      await raw.ping()
      assert.strictEqual(leaving.unread, 0, "a subscription that was dropped gets no more events")
    } finally {
      await raw.close()
    }
  })

  it("deleting the stream does not drop the subscription; events written after a soft delete still arrive", async () => {
    const stream = streamName("soft-deleted")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(2))
    const { subscription, events, drops } = await subscribe(es.connection, stream)
    await es.connection.deleteStream(stream, expectedVersion.any, false)
    const recreated = jsonEvent("Recreated")
    await es.connection.appendToStream(stream, expectedVersion.any, recreated)
    const [event] = await events.atLeast(1, "the event written after the soft delete")
    assert.strictEqual(idOf(event!), recreated.eventId)
    assert.strictEqual(num(event!.originalEventNumber), 2)
    assert.strictEqual(drops.items.length, 0)
    subscription.unsubscribe()
  })

  it("a hard delete does not drop the subscription either", async () => {
    const stream = streamName("hard-delete-live")
    const raw = await RawConnection.open(es.server)
    try {
      await writeEvents(raw, stream, -1, [randomUUID()])
      const subscription = subscribeToStream(raw, stream, false)
      await subscription.confirmation()
      await es.connection.deleteStream(stream, expectedVersion.any, true)
      // Another subscription on the same connection, confirmed after the delete: a barrier.
      const after = subscribeToStream(raw, stream, false)
      assert.strictEqual(text((await after.confirmation()).lastEventNumber), deletedStream)
      await raw.ping()
      assert.isFalse(
        subscription.all.some((reply) => reply.command === Command.SubscriptionDropped),
        "no SubscriptionDropped"
      )
    } finally {
      await raw.close()
    }
  })

  it("is dropped with AccessDenied for a caller the stream's $r does not allow", async () => {
    const stream = streamName("denied")
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $acl: { $r: "alice" } }, admin)
    const error = await rejection(subscribe(es.connection, stream, { credentials: bob }))
    assert.strictEqual(error.message, `Subscription to '${stream}' failed due to access denied.`)
    const allowed = await subscribe(es.connection, stream, { credentials: alice })
    allowed.subscription.unsubscribe()
    const raw = await RawConnection.open(es.server)
    try {
      const denied = subscribeToStream(raw, stream, false, { username: "bob", password: "bob-password" })
      assert.strictEqual(await denied.dropped(), DropReason.AccessDenied)
    } finally {
      await raw.close()
    }
  })

  it("wrong credentials are answered NotAuthenticated", async () => {
    const stream = streamName("not-authenticated")
    const error = await rejection(
      subscribe(es.connection, stream, { credentials: new EventStore.UserCredentials("alice", "wrong") })
    )
    assert.strictEqual(error.message, "Not Authenticated")
    const raw = await RawConnection.open(es.server)
    try {
      const subscription = subscribeToStream(raw, stream, false, { username: "mallory", password: "whatever" })
      const reply = await subscription.next("the NotAuthenticated reply")
      assert.strictEqual(reply.command, Command.NotAuthenticated)
    } finally {
      await raw.close()
    }
  })
})

describe("volatile subscription to $all (protocol.md 5.1)", () => {
  it("is confirmed with the server's last commit position", async () => {
    await es.connection.appendToStream(streamName("all-confirm"), expectedVersion.noStream, jsonEvents(2))
    const expected = await lastCommitPosition()
    const { subscription } = await subscribe(es.connection, "$all", { credentials: admin })
    assert.isTrue(subscription.isSubscribedToAll)
    assert.strictEqual(confirmedCommitPosition(subscription), expected)
    subscription.unsubscribe()
  })

  it("pushes every event committed after the confirmation, metadata included, in commit order with positions", async () => {
    const first = streamName("all-a")
    const second = streamName("all-b")
    await es.connection.appendToStream(first, expectedVersion.noStream, jsonEvent("Before"))
    const { subscription, events } = await subscribe(es.connection, "$all", { credentials: admin })
    const writes: Array<{ readonly stream: string; readonly position: EventStore.Position }> = []
    for (const stream of [first, second, first]) {
      const result = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent(`In-${stream}`))
      writes.push({ stream, position: result.logPosition })
    }
    const metadata = await es.connection.setStreamMetadataRaw(second, expectedVersion.noStream, { custom: 2 })
    writes.push({ stream: `$$${second}`, position: metadata.logPosition })
    const mine = new Set(writes.map((w) => w.stream))
    const received = await events.until(
      (items) => items.filter((e) => mine.has(e.originalStreamId)).length >= writes.length,
      "the four events written after subscribing"
    )
    const relevant = received.filter((e) => mine.has(e.originalStreamId))
    assert.deepStrictEqual(relevant.map((e) => e.originalStreamId), writes.map((w) => w.stream))
    assert.deepStrictEqual(relevant.map((e) => positionOf(e.originalPosition)), writes.map((w) => positionOf(w.position)))
    assert.strictEqual(relevant[3]!.event!.eventType, "$metadata")
    for (let i = 0; i < received.length; i++) {
      assert.isAbove(num(received[i]!.originalPosition!.commitPosition), confirmedCommitPosition(subscription), "after the confirmation")
      if (i > 0) assert.isBelow(comparePositions(received[i - 1]!.originalPosition!, received[i]!.originalPosition!), 0)
    }
    subscription.unsubscribe()
  })

  it("resolves links when asked, with the link's position", async () => {
    const target = streamName("all-target")
    const targetEvent = jsonEvent("Target")
    await es.connection.appendToStream(target, expectedVersion.noStream, targetEvent)
    const { subscription, events } = await subscribe(es.connection, "$all", { resolveLinkTos: true, credentials: admin })
    const links = streamName("all-links")
    const link = linkTo(0, target)
    const written = await es.connection.appendToStream(links, expectedVersion.noStream, link)
    const pushed = await events.find((e) => e.link?.eventId === link.eventId, "the resolved link")
    assert.isTrue(pushed.isResolved)
    assert.strictEqual(pushed.event!.eventId, targetEvent.eventId)
    assert.strictEqual(pushed.event!.eventStreamId, target)
    assert.deepStrictEqual(positionOf(pushed.originalPosition), positionOf(written.logPosition))
    subscription.unsubscribe()
  })

  it("is dropped with AccessDenied for anonymous callers and users outside $admins", async () => {
    const anonymous = await rejection(subscribe(es.connection, "$all"))
    assert.strictEqual(anonymous.message, "Subscription to '<all>' failed due to access denied.")
    const user = await rejection(subscribe(es.connection, "$all", { credentials: alice }))
    assert.strictEqual(user.message, "Subscription to '<all>' failed due to access denied.")
    const raw = await RawConnection.open(es.server)
    try {
      const denied = subscribeToStream(raw, "", false)
      assert.strictEqual(await denied.dropped(), DropReason.AccessDenied)
    } finally {
      await raw.close()
    }
  })

  it("wrong credentials are answered NotAuthenticated", async () => {
    const error = await rejection(
      subscribe(es.connection, "$all", { credentials: new EventStore.UserCredentials("admin", "wrong") })
    )
    assert.strictEqual(error.message, "Not Authenticated")
  })

  it("UnsubscribeFromStream is answered with SubscriptionDropped(Unsubscribed)", async () => {
    const raw = await RawConnection.open(es.server)
    try {
      const subscription = subscribeToStream(raw, "", false, rawAdmin)
      await subscription.confirmation()
      subscription.unsubscribe()
      // Events committed meanwhile may precede the drop; the drop must come.
      const drop = await subscription.packages.find(
        (reply) => reply.command === Command.SubscriptionDropped,
        "SubscriptionDropped"
      )
      assert.strictEqual(decodeDropped(drop), DropReason.Unsubscribed)
    } finally {
      await raw.close()
    }
  })

  it("unsubscribing through the client reports userInitiated", async () => {
    const { subscription, drops } = await subscribe(es.connection, "$all", { credentials: admin })
    subscription.unsubscribe()
    const [drop] = await drops.atLeast(1, "the drop")
    assert.strictEqual(drop!.reason, "userInitiated")
  })
})

describe("connection and server lifecycle (protocol.md 5.1)", () => {
  it("the server forgets the subscriptions of a connection that closes, and those that unsubscribe", async () => {
    const server = await EventStoreServer.start({ port: 0 })
    try {
      const raw = await RawConnection.open(server)
      const stream = subscribeToStream(raw, streamName("forgotten"), false)
      await stream.confirmation()
      const all = subscribeToStream(raw, "", false, rawAdmin)
      await all.confirmation()
      const leaving = subscribeToStream(raw, streamName("leaving"), false)
      await leaving.confirmation()
      assert.strictEqual(server.subscriptions(), 3)
      leaving.unsubscribe()
      assert.strictEqual(await leaving.dropped(), DropReason.Unsubscribed)
      await eventually(async () => (server.subscriptions() === 2 ? true : undefined), "the unsubscribed one to be forgotten")
      await raw.close()
      await eventually(async () => (server.subscriptions() === 0 ? true : undefined), "the subscriptions to be forgotten")
    } finally {
      await server.close()
    }
  })


  it("a server shutting down drops live subscriptions with SubscriptionDropped(Unsubscribed)", async () => {
    const server = await EventStoreServer.start({ port: 0 })
    let raw: RawConnection | undefined
    try {
      raw = await RawConnection.open(server)
      const subscription = subscribeToStream(raw, streamName("shutdown"), false)
      await subscription.confirmation()
      const closing = server.close()
      assert.strictEqual(await subscription.dropped(), DropReason.Unsubscribed)
      await closing
    } finally {
      await raw?.close()
      await server.close()
    }
  })
})

describe("a server encoding replies the 22.6+ way (protocol.md 3.1, 3.6)", () => {
  const omitting = conformanceServer({ omitDefaultValues: true })

  it("confirms last event number 0 and pushes event 0 at its position, which the client decodes", async () => {
    const stream = streamName("omit-subscription")
    await omitting.connection.appendToStream(stream, expectedVersion.noStream, jsonEvent("First"))
    const { subscription, events } = await subscribe(omitting.connection, stream)
    assert.strictEqual(num(subscription.lastEventNumber), 0)
    const fresh = streamName("omit-fresh")
    const live = await subscribe(omitting.connection, fresh)
    assert.strictEqual(num(live.subscription.lastEventNumber), -1)
    const event = jsonEvent("Zero")
    const written = await omitting.connection.appendToStream(fresh, expectedVersion.noStream, event)
    const [pushed] = await live.events.atLeast(1, "event 0")
    assert.strictEqual(num(pushed!.originalEventNumber), 0)
    assert.strictEqual(idOf(pushed!), event.eventId)
    assert.deepStrictEqual(positionOf(pushed!.originalPosition), positionOf(written.logPosition))
    assert.strictEqual(events.items.length, 0)
    subscription.unsubscribe()
    live.subscription.unsubscribe()
  })

  it("answers an unsubscribe with SubscriptionDropped(Unsubscribed), the reason left out", async () => {
    const raw = await RawConnection.open(omitting.server)
    try {
      const subscription = subscribeToStream(raw, streamName("omit-drop"), false)
      await subscription.confirmation()
      subscription.unsubscribe()
      assert.strictEqual(await subscription.dropped(), DropReason.Unsubscribed)
    } finally {
      await raw.close()
    }
  })
})
