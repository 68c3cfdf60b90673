/**
 * Conformance of competing consumers on one persistent subscription group, checked by
 * node-eventstore-client and raw packages (protocol.md section 5.4): the subscriber max count, the
 * consumer strategies RoundRobin, DispatchToSingle, Pinned and PinnedByCorrelation, in-flight
 * messages of a consumer that disconnects or unsubscribes going to the others with their retry count
 * increased, and update and delete dropping connected consumers with SubscriptionDropped(Unsubscribed).
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import { eventually } from "./Collector.ts"
import {
  admin,
  conformanceServer,
  disconnect,
  EventStore,
  jsonEvent,
  jsonEvents,
  rejection,
  streamName
} from "./Harness.ts"
import {
  checkpointStream,
  type Consumer,
  connectConsumer,
  createGroup,
  groupName,
  idsOf,
  parkedStream,
  settings
} from "./PersistentHarness.ts"
import { RawConnection } from "./RawConnection.ts"
import {
  connectToPersistentSubscription,
  DropReason,
  eventIdOf,
  NakAction,
  rawAdmin
} from "./RawSubscriptions.ts"

const { expectedVersion } = EventStore

const es = conformanceServer({ persistentSubscriptionTick: 25 })

/** Opens a raw connection for the duration of `body`. */
const withRaw = async <A>(body: (raw: RawConnection) => Promise<A>): Promise<A> => {
  const raw = await RawConnection.open(es.server)
  try {
    return await body(raw)
  } finally {
    await raw.close()
  }
}

/** Which consumer got each of `ids`: the index of the consumer, or -1. */
const owners = (consumers: ReadonlyArray<Consumer>, ids: ReadonlyArray<string>) =>
  ids.map((id) => consumers.findIndex((c) => c.events.items.some((e) => e.originalEvent!.eventId === id)))

/** Waits until the consumers together have received `count` events. */
const together = (consumers: ReadonlyArray<Consumer>, count: number) =>
  eventually(async () => {
    const total = consumers.reduce((sum, c) => sum + c.events.items.length, 0)
    return total >= count ? total : undefined
  }, `${count} deliveries in all`)

describe("subscriber max count (protocol.md 5.4)", () => {
  it("a connection beyond the max count is dropped with SubscriberMaxCountReached", async () => {
    const stream = streamName("max-subscribers")
    const group = groupName()
    await createGroup(es.connection, stream, group, { maxSubscriberCount: 1 })
    const first = await connectConsumer(es.connection, stream, group)
    const error = await rejection(connectConsumer(es.connection, stream, group))
    assert.strictEqual(error.message, "Maximum subscribers reached.")
    await withRaw(async (raw) => {
      const second = connectToPersistentSubscription(raw, stream, group, 10)
      assert.strictEqual(await second.dropped(), DropReason.SubscriberMaxCountReached)
    })
    // Once the first leaves, there is room again.
    first.subscription.stop()
    await first.drops.atLeast(1, "the first consumer's drop")
    const again = await eventually(
      () => connectConsumer(es.connection, stream, group).then((c) => c, () => undefined),
      "a connection once the first consumer left"
    )
    again.subscription.stop()
  })

  it("0 means unlimited", async () => {
    const stream = streamName("unlimited")
    const group = groupName()
    await createGroup(es.connection, stream, group, { maxSubscriberCount: 0 })
    const consumers = await Promise.all(Array.from({ length: 5 }, () => connectConsumer(es.connection, stream, group)))
    assert.strictEqual(consumers.length, 5)
    for (const consumer of consumers) consumer.subscription.stop()
  })
})

describe("consumer strategies (protocol.md 5.4)", () => {
  it("RoundRobin gives consecutive messages to alternate consumers", async () => {
    const stream = streamName("round-robin")
    const group = groupName()
    await createGroup(es.connection, stream, group, { namedConsumerStrategy: "RoundRobin" })
    const consumers = [
      await connectConsumer(es.connection, stream, group, { bufferSize: 10 }),
      await connectConsumer(es.connection, stream, group, { bufferSize: 10 })
    ]
    const events = jsonEvents(10)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await together(consumers, 10)
    const owner = owners(consumers, events.map((e) => e.eventId))
    assert.notInclude(owner, -1)
    for (let i = 1; i < owner.length; i++) assert.notStrictEqual(owner[i], owner[i - 1], `events ${i - 1} and ${i}`)
    assert.strictEqual(consumers[0]!.events.items.length, 5)
    assert.strictEqual(consumers[1]!.events.items.length, 5)
    for (const consumer of consumers) consumer.subscription.stop()
  })

  it("DispatchToSingle fills the first consumer up to its in-flight limit, then the next", async () => {
    const stream = streamName("dispatch-to-single")
    const group = groupName()
    await createGroup(es.connection, stream, group, { namedConsumerStrategy: "DispatchToSingle" })
    const first = await connectConsumer(es.connection, stream, group, { bufferSize: 3, autoAck: false })
    const second = await connectConsumer(es.connection, stream, group, { bufferSize: 3, autoAck: false })
    const events = jsonEvents(5)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await together([first, second], 5)
    assert.deepStrictEqual(idsOf(first.events.items), events.slice(0, 3).map((e) => e.eventId))
    assert.deepStrictEqual(idsOf(second.events.items), events.slice(3).map((e) => e.eventId))
    first.subscription.stop()
    second.subscription.stop()
  })

  it("DispatchToSingle keeps giving everything to one consumer while it has room", async () => {
    const stream = streamName("dispatch-to-single-room")
    const group = groupName()
    await createGroup(es.connection, stream, group, { namedConsumerStrategy: "DispatchToSingle" })
    const first = await connectConsumer(es.connection, stream, group, { bufferSize: 10 })
    const second = await connectConsumer(es.connection, stream, group, { bufferSize: 10 })
    const events = jsonEvents(6)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await together([first, second], 6)
    assert.deepStrictEqual(idsOf(first.events.items), events.map((e) => e.eventId))
    assert.strictEqual(second.events.items.length, 0)
    first.subscription.stop()
    second.subscription.stop()
  })

  it("Pinned gives every message of one source stream to the same consumer", async () => {
    const sources = [streamName("pinned-a"), streamName("pinned-b"), streamName("pinned-c"), streamName("pinned-d")]
    const links = streamName("pinned-links")
    const group = groupName()
    await createGroup(es.connection, links, group, { namedConsumerStrategy: "Pinned", resolveLinkTos: true })
    const consumers = [
      await connectConsumer(es.connection, links, group, { bufferSize: 50 }),
      await connectConsumer(es.connection, links, group, { bufferSize: 50 })
    ]
    const bySource = new Map<string, Array<string>>()
    for (const source of sources) {
      const events = jsonEvents(5)
      await es.connection.appendToStream(source, expectedVersion.noStream, events)
      bySource.set(source, events.map((e) => e.eventId))
    }
    // Links interleaved across the sources: the hash of the linked event's stream picks the consumer.
    const linkEvents = []
    for (let n = 0; n < 5; n++) {
      for (const source of sources) {
        linkEvents.push(EventStore.createEventData(randomUUID(), "$>", false, Buffer.from(`${n}@${source}`)))
      }
    }
    await es.connection.appendToStream(links, expectedVersion.noStream, linkEvents)
    await together(consumers, linkEvents.length)
    for (const [source, ids] of bySource) {
      const owner = ids.map((id) => consumers.findIndex((c) => c.events.items.some((e) => e.event?.eventId === id)))
      assert.notInclude(owner, -1, source)
      assert.strictEqual(new Set(owner).size, 1, `every event of ${source} went to one consumer`)
    }
    for (const consumer of consumers) consumer.subscription.stop()
  })

  it("PinnedByCorrelation gives every message with one $correlationId to the same consumer", async () => {
    const stream = streamName("pinned-correlation")
    const group = groupName()
    await createGroup(es.connection, stream, group, { namedConsumerStrategy: "PinnedByCorrelation" })
    const consumers = [
      await connectConsumer(es.connection, stream, group, { bufferSize: 50 }),
      await connectConsumer(es.connection, stream, group, { bufferSize: 50 })
    ]
    const correlations = ["c-1", "c-2", "c-3", "c-4"].map((c) => `${c}-${randomUUID()}`)
    const events = []
    for (let n = 0; n < 4; n++) {
      for (const correlation of correlations) {
        events.push({ correlation, event: jsonEvent("Correlated", { n }, { $correlationId: correlation }) })
      }
    }
    await es.connection.appendToStream(stream, expectedVersion.noStream, events.map((e) => e.event))
    await together(consumers, events.length)
    for (const correlation of correlations) {
      const ids = events.filter((e) => e.correlation === correlation).map((e) => e.event.eventId)
      assert.strictEqual(new Set(owners(consumers, ids)).size, 1, `every event of ${correlation} went to one consumer`)
    }
    for (const consumer of consumers) consumer.subscription.stop()
  })
})

describe("a consumer leaving (protocol.md 5.4)", () => {
  it("that disconnects has its in-flight messages redelivered to another, with retryCount + 1", async () => {
    const stream = streamName("disconnect")
    const group = groupName()
    const events = jsonEvents(3)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await createGroup(es.connection, stream, group)
    const leaving = await es.connect()
    const first = await connectConsumer(leaving, stream, group, { autoAck: false })
    await first.events.atLeast(3, "the three events, unacknowledged")
    await withRaw(async (raw) => {
      const other = connectToPersistentSubscription(raw, stream, group, 10)
      const { subscriptionId } = await other.persistentConfirmation()
      await disconnect(leaving)
      const redelivered = [await other.persistentEvent(), await other.persistentEvent(), await other.persistentEvent()]
      assert.deepStrictEqual(
        redelivered.map((d) => ({ id: eventIdOf(d.event.event!), retryCount: d.retryCount })),
        events.map((e) => ({ id: e.eventId, retryCount: 1 }))
      )
      other.ack(subscriptionId, events.map((e) => e.eventId))
    })
  })

  it("that unsubscribes is answered with SubscriptionDropped(Unsubscribed) and its messages go to another", async () => {
    const stream = streamName("unsubscribe")
    const group = groupName()
    const events = jsonEvents(2)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await createGroup(es.connection, stream, group, { namedConsumerStrategy: "DispatchToSingle" })
    await withRaw(async (raw) => {
      const first = connectToPersistentSubscription(raw, stream, group, 10)
      await first.persistentConfirmation()
      await first.persistentEvent()
      await first.persistentEvent()
      const second = connectToPersistentSubscription(raw, stream, group, 10)
      await second.persistentConfirmation()
      first.unsubscribe()
      assert.strictEqual(await first.dropped(), DropReason.Unsubscribed)
      const redelivered = [await second.persistentEvent(), await second.persistentEvent()]
      assert.deepStrictEqual(
        redelivered.map((d) => ({ id: eventIdOf(d.event.event!), retryCount: d.retryCount })),
        events.map((e) => ({ id: e.eventId, retryCount: 1 }))
      )
    })
  })

  it("that disconnects with a message at the max retry count has it parked", async () => {
    const stream = streamName("disconnect-park")
    const group = groupName()
    const event = jsonEvent("Doomed")
    await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    await createGroup(es.connection, stream, group, { maxRetryCount: 1 })
    await withRaw(async (raw) => {
      const first = connectToPersistentSubscription(raw, stream, group, 10)
      const { subscriptionId } = await first.persistentConfirmation()
      await first.persistentEvent()
      first.nak(subscriptionId, [event.eventId], NakAction.Retry, "once")
      assert.strictEqual((await first.persistentEvent()).retryCount, 1)
    })
    const parked = await eventually(async () => {
      const slice = await es.connection.readStreamEventsForward(parkedStream(stream, group), 0, 10, false, admin)
      return slice.events.length > 0 ? slice.events : undefined
    }, "the parked message")
    assert.strictEqual(parked[0]!.event!.data!.toString("utf8"), `0@${stream}`)
  })
})

describe("update and delete (protocol.md 5.4)", () => {
  it("update drops connected consumers with SubscriptionDropped(Unsubscribed); they can reconnect", async () => {
    const stream = streamName("update-drops")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const consumer = await connectConsumer(es.connection, stream, group)
    await withRaw(async (raw) => {
      const subscription = connectToPersistentSubscription(raw, stream, group, 10)
      await subscription.persistentConfirmation()
      await es.connection.updatePersistentSubscription(stream, group, settings({ maxRetryCount: 5 }), admin)
      assert.strictEqual(await subscription.dropped(), DropReason.Unsubscribed)
    })
    // node-eventstore-client reports a server's Unsubscribed as userInitiated.
    const [drop] = await consumer.drops.atLeast(1, "the client's drop")
    assert.strictEqual(drop!.reason, "userInitiated")
    const again = await connectConsumer(es.connection, stream, group)
    const event = jsonEvent("AfterUpdate")
    await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    assert.deepStrictEqual(idsOf(await again.events.atLeast(1, "an event after the update")), [event.eventId])
    again.subscription.stop()
  })

  it("update drops only the updated group's consumers", async () => {
    const stream = streamName("update-other")
    const updated = groupName("updated")
    const untouched = groupName("untouched")
    await createGroup(es.connection, stream, updated)
    await createGroup(es.connection, stream, untouched)
    await withRaw(async (raw) => {
      const dropped = connectToPersistentSubscription(raw, stream, updated, 10)
      await dropped.persistentConfirmation()
      const kept = connectToPersistentSubscription(raw, stream, untouched, 10)
      await kept.persistentConfirmation()
      await es.connection.updatePersistentSubscription(stream, updated, settings(), admin)
      assert.strictEqual(await dropped.dropped(), DropReason.Unsubscribed)
      const event = jsonEvent("StillDelivered")
      await es.connection.appendToStream(stream, expectedVersion.noStream, event)
      assert.strictEqual(eventIdOf((await kept.persistentEvent()).event.event!), event.eventId)
    })
  })

  it("delete drops connected consumers with SubscriptionDropped(Unsubscribed); reconnecting finds nothing", async () => {
    const stream = streamName("delete-drops")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const consumer = await connectConsumer(es.connection, stream, group)
    await withRaw(async (raw) => {
      const subscription = connectToPersistentSubscription(raw, stream, group, 10, rawAdmin)
      await subscription.persistentConfirmation()
      await es.connection.deletePersistentSubscription(stream, group, admin)
      assert.strictEqual(await subscription.dropped(), DropReason.Unsubscribed)
      const again = connectToPersistentSubscription(raw, stream, group, 10)
      assert.strictEqual(await again.dropped(), DropReason.NotFound)
    })
    const [drop] = await consumer.drops.atLeast(1, "the client's drop")
    assert.strictEqual(drop!.reason, "userInitiated")
  })

  it("delete removes the group's checkpoint and parked streams", async () => {
    const stream = streamName("delete-streams")
    const group = groupName()
    const events = jsonEvents(2)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await createGroup(es.connection, stream, group, { maxCheckPointCount: 1, minCheckPointCount: 1 })
    await withRaw(async (raw) => {
      const subscription = connectToPersistentSubscription(raw, stream, group, 10)
      const { subscriptionId } = await subscription.persistentConfirmation()
      await subscription.persistentEvent()
      await subscription.persistentEvent()
      subscription.ack(subscriptionId, [events[0]!.eventId])
      subscription.nak(subscriptionId, [events[1]!.eventId], NakAction.Park, "park")
      for (const name of [checkpointStream(stream, group), parkedStream(stream, group)]) {
        await eventually(async () => {
          const slice = await es.connection.readStreamEventsForward(name, 0, 10, false, admin)
          return slice.events.length > 0 ? true : undefined
        }, `an event in ${name}`)
      }
    })
    await es.connection.deletePersistentSubscription(stream, group, admin)
    for (const name of [checkpointStream(stream, group), parkedStream(stream, group)]) {
      const slice = await eventually(async () => {
        const read = await es.connection.readStreamEventsForward(name, 0, 10, false, admin)
        return read.status === "success" ? undefined : read
      }, `${name} to be deleted`)
      assert.include(["streamNotFound", "streamDeleted"], slice.status, name)
    }
  })
})

