/**
 * Conformance of persistent-subscription delivery, checked by node-eventstore-client and raw packages
 * (protocol.md sections 3.7 and 5.4): `startFrom`, delivery in order with auto-ack and manual ack, the
 * in-flight limit of a connection, nak with each action (Park, Retry, Skip, Stop, Unknown), retry
 * counts on redelivery, parking after the maximum retry count and on message timeout, the parked
 * stream's link events and their metadata, and checkpoints following the min/max counts and time.
 *
 * The server's persistent-subscription clock ticks every 25 ms here, so message timeouts and
 * checkpoints by time take milliseconds; every wait is on a condition with a deadline.
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import { eventually } from "./Collector.ts"
import {
  admin,
  conformanceServer,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  rejection,
  streamName
} from "./Harness.ts"
import {
  checkpointReaching,
  checkpointStream,
  checkpointValue,
  connectConsumer,
  createGroup,
  groupName,
  idsOf,
  numbersOf,
  parkedStream,
  readAsAdmin,
  settings,
  subscriptionId
} from "./PersistentHarness.ts"
import { RawConnection } from "./RawConnection.ts"
import {
  connectToPersistentSubscription,
  eventIdOf,
  NakAction,
  type RawPersistentEventAppeared,
  type RawSubscription
} from "./RawSubscriptions.ts"

const { expectedVersion } = EventStore
const { PersistentSubscriptionNakEventAction } = EventStore

const es = conformanceServer({ persistentSubscriptionTick: 25 })

/** A stream of `count` events and a group on it created with `overrides`. */
const streamWithGroup = async (
  prefix: string,
  count: number,
  overrides: Parameters<typeof createGroup>[3] = {}
) => {
  const stream = streamName(prefix)
  const events = jsonEvents(count)
  if (count > 0) await es.connection.appendToStream(stream, expectedVersion.noStream, events)
  const group = groupName()
  await createGroup(es.connection, stream, group, overrides)
  return { stream, group, events, ids: events.map((e) => e.eventId) }
}

/** A raw consumer, confirmed, with the id its acks and naks carry. */
const rawConsumer = async (raw: RawConnection, stream: string, group: string, allowedInFlight = 10) => {
  const subscription = connectToPersistentSubscription(raw, stream, group, allowedInFlight)
  const confirmation = await subscription.persistentConfirmation()
  assert.strictEqual(confirmation.subscriptionId, subscriptionId(stream, group))
  return { subscription, id: confirmation.subscriptionId }
}

/** The event id and retry count of a raw delivery. */
const delivery = (appeared: RawPersistentEventAppeared) => ({
  id: eventIdOf(appeared.event.link ?? appeared.event.event!),
  retryCount: appeared.retryCount
})

/** Opens a raw connection for the duration of `body`. */
const withRaw = async <A>(body: (raw: RawConnection) => Promise<A>): Promise<A> => {
  const raw = await RawConnection.open(es.server)
  try {
    return await body(raw)
  } finally {
    await raw.close()
  }
}

/** Waits for the next delivery of a raw consumer. */
const nextDelivery = async (subscription: RawSubscription) => delivery(await subscription.persistentEvent())

/** The parked stream's events, once it holds `count`. */
const parked = (stream: string, group: string, count: number) =>
  eventually(async () => {
    const events = await readAsAdmin(es.connection, parkedStream(stream, group))
    return events.length >= count ? events : undefined
  }, `${count} parked messages`)

describe("startFrom (protocol.md 5.4)", () => {
  it("0 delivers the stream from its first event, then live events, in order", async () => {
    const { stream, group, ids } = await streamWithGroup("from-start", 3, { startFrom: 0 })
    const consumer = await connectConsumer(es.connection, stream, group)
    const live = jsonEvent("Live")
    await es.connection.appendToStream(stream, 2, live)
    const delivered = await consumer.events.atLeast(4, "four events")
    assert.deepStrictEqual(idsOf(delivered), [...ids, live.eventId])
    assert.deepStrictEqual(numbersOf(delivered), [0, 1, 2, 3])
    consumer.subscription.stop()
  })

  it("a number delivers from that event number on", async () => {
    const { stream, group, ids } = await streamWithGroup("from-number", 5, { startFrom: 2 })
    const consumer = await connectConsumer(es.connection, stream, group)
    const delivered = await consumer.events.atLeast(3, "three events")
    assert.deepStrictEqual(idsOf(delivered), ids.slice(2))
    const marker = jsonEvent("Marker")
    await es.connection.appendToStream(stream, 4, marker)
    assert.deepStrictEqual(idsOf(await consumer.events.atLeast(4, "the marker")), [...ids.slice(2), marker.eventId])
    consumer.subscription.stop()
  })

  it("-1 delivers only events written after the group was created", async () => {
    const { stream, group } = await streamWithGroup("from-live", 3, { startFrom: -1 })
    const afterCreation = jsonEvent("AfterCreation")
    await es.connection.appendToStream(stream, 2, afterCreation)
    const consumer = await connectConsumer(es.connection, stream, group)
    const afterConnection = jsonEvent("AfterConnection")
    await es.connection.appendToStream(stream, 3, afterConnection)
    const delivered = await consumer.events.atLeast(2, "two events")
    assert.deepStrictEqual(idsOf(delivered), [afterCreation.eventId, afterConnection.eventId])
    consumer.subscription.stop()
  })

  it("on a stream that does not exist yet delivers its events once written", async () => {
    const stream = streamName("from-nothing")
    const group = groupName()
    await createGroup(es.connection, stream, group, { startFrom: 0 })
    const consumer = await connectConsumer(es.connection, stream, group)
    const events = jsonEvents(2)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    assert.deepStrictEqual(idsOf(await consumer.events.atLeast(2, "two events")), events.map((e) => e.eventId))
    consumer.subscription.stop()
  })
})

describe("delivery and acknowledgement (protocol.md 5.4)", () => {
  it("delivers ResolvedIndexedEvents with no position, with retryCount 0 on the first delivery", async () => {
    const { stream, group, ids } = await streamWithGroup("raw-delivery", 2)
    await withRaw(async (raw) => {
      const { subscription } = await rawConsumer(raw, stream, group)
      const first = await subscription.persistentEvent()
      assert.strictEqual(first.retryCount, 0)
      assert.isNull(first.event.link)
      assert.strictEqual(first.event.event!.eventStreamId, stream)
      assert.strictEqual(num(first.event.event!.eventNumber), 0)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[1]!, retryCount: 0 })
    })
  })

  it("auto-ack acknowledges each event: a checkpoint follows once max checkpoint count events are acked", async () => {
    const { stream, group, ids } = await streamWithGroup("auto-ack", 4, { maxCheckPointCount: 4, minCheckPointCount: 4 })
    const consumer = await connectConsumer(es.connection, stream, group, { autoAck: true })
    assert.deepStrictEqual(idsOf(await consumer.events.atLeast(4, "four events")), ids)
    await checkpointReaching(es.connection, stream, group, 3)
    consumer.subscription.stop()
  })

  it("a connection gets at most its in-flight limit of unacknowledged messages; an ack frees a slot", async () => {
    const { stream, group, ids } = await streamWithGroup("in-flight", 5)
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group, 2)
      assert.deepStrictEqual([await nextDelivery(subscription), await nextDelivery(subscription)], [
        { id: ids[0]!, retryCount: 0 },
        { id: ids[1]!, retryCount: 0 }
      ])
      subscription.ack(id, [ids[0]!])
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[2]!, retryCount: 0 })
      await raw.ping()
      assert.strictEqual(subscription.unread, 0, "only one message more after one ack")
      subscription.ack(id, [ids[1]!, ids[2]!])
      assert.deepStrictEqual([await nextDelivery(subscription), await nextDelivery(subscription)], [
        { id: ids[3]!, retryCount: 0 },
        { id: ids[4]!, retryCount: 0 }
      ])
    })
  })

  it("manual acks through the client, one event or several at once", async () => {
    const { stream, group, ids } = await streamWithGroup("manual-ack", 6, { maxCheckPointCount: 6, minCheckPointCount: 6 })
    const consumer = await connectConsumer(es.connection, stream, group, { autoAck: false, bufferSize: 3 })
    const firstThree = await consumer.events.atLeast(3, "three events")
    consumer.subscription.acknowledge(firstThree[0]!)
    consumer.subscription.acknowledge([firstThree[1]!, firstThree[2]!])
    const all = await consumer.events.atLeast(6, "six events")
    assert.deepStrictEqual(idsOf(all), ids)
    consumer.subscription.acknowledge(all.slice(3))
    await checkpointReaching(es.connection, stream, group, 5)
    consumer.subscription.stop()
  })

  it("acks of resolved links use the link's id", async () => {
    const target = streamName("ack-target")
    const targets = jsonEvents(2, "Target")
    await es.connection.appendToStream(target, expectedVersion.noStream, targets)
    const links = streamName("ack-links")
    await es.connection.appendToStream(links, expectedVersion.noStream, [0, 1].map((n) =>
      EventStore.createEventData(randomUUID(), "$>", false, Buffer.from(`${n}@${target}`))
    ))
    const group = groupName()
    await createGroup(es.connection, links, group, { resolveLinkTos: true, maxCheckPointCount: 2, minCheckPointCount: 2 })
    const consumer = await connectConsumer(es.connection, links, group, { autoAck: true })
    const delivered = await consumer.events.atLeast(2, "two links")
    assert.deepStrictEqual(delivered.map((e) => e.event!.eventId), targets.map((e) => e.eventId))
    assert.isTrue(delivered.every((e) => e.isResolved && e.link!.eventStreamId === links))
    // The client acked the links' ids; the checkpoint shows the server took them.
    await checkpointReaching(es.connection, links, group, 1)
    consumer.subscription.stop()
  })
})

describe("nak (protocol.md 5.4)", () => {
  it("Retry redelivers the message with its retry count increased", async () => {
    const { stream, group, ids } = await streamWithGroup("nak-retry", 1)
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 0 })
      subscription.nak(id, [ids[0]!], NakAction.Retry, "again")
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 1 })
      subscription.nak(id, [ids[0]!], NakAction.Retry, "again")
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 2 })
      subscription.ack(id, [ids[0]!])
    })
  })

  it("Unknown is treated as Retry", async () => {
    const { stream, group, ids } = await streamWithGroup("nak-unknown", 1)
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      await nextDelivery(subscription)
      subscription.nak(id, [ids[0]!], NakAction.Unknown, "unsure")
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 1 })
    })
  })

  it("Retry through the client redelivers the same event", async () => {
    const { stream, group, ids } = await streamWithGroup("nak-retry-client", 1)
    let failures = 0
    const consumer = await connectConsumer(es.connection, stream, group, {
      autoAck: false,
      onEvent: (subscription, event) => {
        if (failures++ < 2) subscription.fail(event, PersistentSubscriptionNakEventAction.Retry, "not yet")
        else subscription.acknowledge(event)
      }
    })
    assert.deepStrictEqual(idsOf(await consumer.events.atLeast(3, "three deliveries")), [ids[0], ids[0], ids[0]])
    consumer.subscription.stop()
  })

  it("Park writes the message to the parked stream as a link with the reason, and does not redeliver it", async () => {
    const { stream, group, ids } = await streamWithGroup("nak-park", 3)
    const consumer = await connectConsumer(es.connection, stream, group, {
      autoAck: false,
      onEvent: (subscription, event) => {
        if (num(event.originalEventNumber) === 1) subscription.fail(event, PersistentSubscriptionNakEventAction.Park, "poison")
        else subscription.acknowledge(event)
      }
    })
    const [link] = await parked(stream, group, 1)
    assert.strictEqual(link!.eventType, "$>")
    assert.isFalse(link!.isJson)
    assert.strictEqual(link!.data!.toString("utf8"), `1@${stream}`)
    const metadata = JSON.parse(link!.metadata!.toString("utf8")) as Record<string, unknown>
    assert.strictEqual(metadata["reason"], "Client explicitly NAK'ed message.\npoison")
    assert.strictEqual(metadata["subscriptionEventNumber"], 1)
    assert.isString(metadata["added"])
    assert.isFalse(Number.isNaN(Date.parse(metadata["added"] as string)), "added is a timestamp")
    // A marker delivered after the park: the parked message did not come back before it.
    const marker = jsonEvent("Marker")
    await es.connection.appendToStream(stream, 2, marker)
    await consumer.events.find((e) => e.originalEvent!.eventId === marker.eventId, "the marker")
    assert.deepStrictEqual(idsOf(consumer.events.items), [...ids, marker.eventId])
    // Resolving the parked link gives the original event.
    const resolved = await es.connection.readStreamEventsForward(parkedStream(stream, group), 0, 1, true, admin)
    assert.strictEqual(resolved.events[0]!.event!.eventId, ids[1])
    consumer.subscription.stop()
  })

  it("Skip forgets the message: not redelivered, not parked", async () => {
    const { stream, group, ids } = await streamWithGroup("nak-skip", 1)
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      await nextDelivery(subscription)
      subscription.nak(id, [ids[0]!], NakAction.Skip, "never mind")
      const marker = jsonEvent("Marker")
      await es.connection.appendToStream(stream, 0, marker)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: marker.eventId, retryCount: 0 })
    })
    const parkedSlice = await es.connection.readStreamEventsForward(parkedStream(stream, group), 0, 10, false, admin)
    assert.strictEqual(parkedSlice.events.length, 0)
  })

  it("Skip counts as processed: the checkpoint moves past the skipped message", async () => {
    const { stream, group, ids } = await streamWithGroup("nak-skip-checkpoint", 2, { maxCheckPointCount: 2, minCheckPointCount: 2 })
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      await nextDelivery(subscription)
      await nextDelivery(subscription)
      subscription.nak(id, [ids[0]!], NakAction.Skip, "skip")
      subscription.ack(id, [ids[1]!])
      const { lastEventNumber } = await checkpointReaching(es.connection, stream, group, 1)
      assert.strictEqual(lastEventNumber, 0, "one checkpoint, past both messages")
    })
  })

  it("Stop forgets the message as 20.10 does: not parked, and not redelivered at its timeout", async () => {
    const { stream, group, ids } = await streamWithGroup("nak-stop", 1, { messageTimeout: 100 })
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 0 })
      subscription.nak(id, [ids[0]!], NakAction.Stop, "stop")
      // A marker delivered after the Stop and left unacknowledged: its own timeout comes after the
      // stopped message's, and a tick retries what expired in event-number order. So had the stopped
      // message stayed outstanding, it would come back before the marker's redelivery.
      const marker = jsonEvent("Marker")
      await es.connection.appendToStream(stream, 0, marker)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: marker.eventId, retryCount: 0 })
      assert.deepStrictEqual(await nextDelivery(subscription), { id: marker.eventId, retryCount: 1 })
      subscription.ack(id, [marker.eventId])
      await raw.ping()
    })
    const parkedSlice = await es.connection.readStreamEventsForward(parkedStream(stream, group), 0, 10, false, admin)
    assert.strictEqual(parkedSlice.events.length, 0)
  })

  it("Retry beyond the maximum retry count parks the message with \"Reached retry count of N\"", async () => {
    const { stream, group, ids } = await streamWithGroup("max-retries", 2, { maxRetryCount: 2 })
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 0 })
      subscription.ack(id, [ids[0]!])
      for (const retryCount of [0, 1, 2]) {
        assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[1]!, retryCount })
        subscription.nak(id, [ids[1]!], NakAction.Retry, "fails")
      }
      const [link] = await parked(stream, group, 1)
      assert.strictEqual(link!.data!.toString("utf8"), `1@${stream}`)
      const metadata = JSON.parse(link!.metadata!.toString("utf8")) as Record<string, unknown>
      assert.strictEqual(metadata["reason"], "Reached retry count of 2")
      assert.strictEqual(metadata["subscriptionEventNumber"], 1)
      const marker = jsonEvent("Marker")
      await es.connection.appendToStream(stream, 1, marker)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: marker.eventId, retryCount: 0 })
    })
  })
})

describe("message timeout (protocol.md 5.4)", () => {
  it("redelivers an unacknowledged message after the timeout with its retry count increased", async () => {
    const { stream, group, ids } = await streamWithGroup("timeout", 1, { messageTimeout: 200 })
    await withRaw(async (raw) => {
      // Taken before connecting, so before the server can have sent anything: a lower bound that load cannot break.
      const beforeConnecting = Date.now()
      const { subscription, id } = await rawConsumer(raw, stream, group)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 0 })
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 1 })
      assert.isAtLeast(Date.now() - beforeConnecting, 190, "not before the timeout")
      subscription.ack(id, [ids[0]!])
    })
  })

  it("parks a message that keeps timing out once it reaches the maximum retry count", async () => {
    const { stream, group, ids } = await streamWithGroup("timeout-park", 1, { messageTimeout: 100, maxRetryCount: 1 })
    await withRaw(async (raw) => {
      const { subscription } = await rawConsumer(raw, stream, group)
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 0 })
      assert.deepStrictEqual(await nextDelivery(subscription), { id: ids[0]!, retryCount: 1 })
      const [link] = await parked(stream, group, 1)
      const metadata = JSON.parse(link!.metadata!.toString("utf8")) as Record<string, unknown>
      assert.strictEqual(metadata["reason"], "Reached retry count of 1")
    })
  })

  it("through the client, an event left unacknowledged comes again", async () => {
    const { stream, group, ids } = await streamWithGroup("timeout-client", 1, { messageTimeout: 150 })
    const consumer = await connectConsumer(es.connection, stream, group, { autoAck: false })
    assert.deepStrictEqual(idsOf(await consumer.events.atLeast(2, "the redelivery")), [ids[0], ids[0]])
    consumer.subscription.acknowledge(consumer.events.items[1]!)
    consumer.subscription.stop()
  })
})

describe("parked stream (protocol.md 5.4)", () => {
  it("is readable by admins only", async () => {
    const { stream, group, ids } = await streamWithGroup("parked-acl", 1)
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      await nextDelivery(subscription)
      subscription.nak(id, [ids[0]!], NakAction.Park, "park")
      await parked(stream, group, 1)
    })
    const error = await rejection(es.connection.readStreamEventsForward(parkedStream(stream, group), 0, 10))
    assert.instanceOf(error, EventStore.AccessDeniedError)
  })
})

describe("checkpoints (protocol.md 5.4)", () => {
  it("are written every max checkpoint count processed messages, as SubscriptionCheckpoint JSON numbers", async () => {
    const { stream, group } = await streamWithGroup("checkpoint-max", 12, {
      maxCheckPointCount: 5,
      // As many as the max count: no checkpoint by time can come between the count-driven ones.
      minCheckPointCount: 5
    })
    const consumer = await connectConsumer(es.connection, stream, group, { bufferSize: 20 })
    await consumer.events.atLeast(12, "twelve events")
    const { events } = await checkpointReaching(es.connection, stream, group, 9)
    const last = events.at(-1)!
    assert.strictEqual(last.eventType, "SubscriptionCheckpoint")
    assert.isTrue(last.isJson)
    assert.strictEqual(last.data!.toString("utf8"), "9")
    // Three more acks reach the max count again; the stream then holds checkpoints 0..2 (4, 9, 14).
    await es.connection.appendToStream(stream, 11, jsonEvents(3))
    await consumer.events.atLeast(15, "fifteen events")
    const after = await checkpointReaching(es.connection, stream, group, 14)
    assert.strictEqual(after.lastEventNumber, 2, "exactly three checkpoints were written")
    assert.deepStrictEqual(after.events.map(checkpointValue), [9, 14])
    consumer.subscription.stop()
  })

  it("are written by time once min checkpoint count messages are processed, not before", async () => {
    const stream = streamName("checkpoint-min")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(4))
    const strict = groupName("strict")
    const eager = groupName("eager")
    await createGroup(es.connection, stream, strict, { minCheckPointCount: 3, checkPointAfter: 50 })
    await createGroup(es.connection, stream, eager, { minCheckPointCount: 1, checkPointAfter: 50 })
    await withRaw(async (raw) => {
      const a = await rawConsumer(raw, stream, strict)
      const b = await rawConsumer(raw, stream, eager)
      const aIds = [await nextDelivery(a.subscription), await nextDelivery(a.subscription)].map((d) => d.id)
      a.subscription.ack(a.id, aIds)
      const bIds = [await nextDelivery(b.subscription), await nextDelivery(b.subscription)].map((d) => d.id)
      b.subscription.ack(b.id, bIds)
      // The eager group, acked later, gets its checkpoint by time: time has passed for the strict one too.
      await checkpointReaching(es.connection, stream, eager, 1)
      const strictSlice = await es.connection.readStreamEventsForward(checkpointStream(stream, strict), 0, 10, false, admin)
      assert.strictEqual(strictSlice.events.length, 0, "two processed messages are below the min count of 3")
      a.subscription.ack(a.id, [(await nextDelivery(a.subscription)).id])
      const { events } = await checkpointReaching(es.connection, stream, strict, 2)
      assert.strictEqual(events.length, 1)
    })
  })

  it("are the lowest outstanding message's number minus one", async () => {
    const { stream, group, ids } = await streamWithGroup("checkpoint-lowest", 4, { maxCheckPointCount: 1, minCheckPointCount: 1 })
    await withRaw(async (raw) => {
      const { subscription, id } = await rawConsumer(raw, stream, group)
      for (let i = 0; i < 4; i++) await nextDelivery(subscription)
      // 0 and 2 processed, 1 outstanding: the checkpoint can only say 0.
      subscription.ack(id, [ids[0]!])
      await checkpointReaching(es.connection, stream, group, 0)
      subscription.ack(id, [ids[2]!])
      subscription.ack(id, [ids[1]!])
      const { events, lastEventNumber } = await checkpointReaching(es.connection, stream, group, 2)
      assert.deepStrictEqual(events.map(checkpointValue), [0, 2], "acking 2 while 1 was outstanding moved nothing")
      assert.strictEqual(lastEventNumber, 1)
    })
  })

  it("live in a stream with $maxCount 2, admin-only, whose metadata anyone may read", async () => {
    const { stream, group } = await streamWithGroup("checkpoint-metadata", 1, { maxCheckPointCount: 1, minCheckPointCount: 1 })
    const consumer = await connectConsumer(es.connection, stream, group)
    await checkpointReaching(es.connection, stream, group, 0)
    const metadata = await es.connection.getStreamMetadataRaw(checkpointStream(stream, group), admin)
    const value = metadata.streamMetadata as { $maxCount?: number; $acl?: Record<string, unknown> }
    assert.strictEqual(value.$maxCount, 2)
    assert.isDefined(value.$acl)
    const error = await rejection(es.connection.readStreamEventsForward(checkpointStream(stream, group), 0, 10))
    assert.instanceOf(error, EventStore.AccessDeniedError)
    consumer.subscription.stop()
  })

  it("make the group resume after the checkpoint, not at startFrom, when it restarts on update", async () => {
    const { stream, group } = await streamWithGroup("checkpoint-resume", 3, {
      startFrom: 0,
      maxCheckPointCount: 3,
      minCheckPointCount: 3
    })
    const first = await connectConsumer(es.connection, stream, group)
    await first.events.atLeast(3, "three events")
    await checkpointReaching(es.connection, stream, group, 2)
    await es.connection.updatePersistentSubscription(
      stream,
      group,
      settings({ startFrom: 0, maxCheckPointCount: 3, minCheckPointCount: 3 }),
      admin
    )
    await first.drops.atLeast(1, "the drop caused by the update")
    const second = await connectConsumer(es.connection, stream, group)
    const later = jsonEvent("AfterUpdate")
    await es.connection.appendToStream(stream, 2, later)
    const [event] = await second.events.atLeast(1, "the first event after the update")
    assert.strictEqual(event!.originalEvent!.eventId, later.eventId)
    second.subscription.stop()
  })
})

describe("a server encoding replies the 22.6+ way (protocol.md 3.1, 3.7)", () => {
  const omitting = conformanceServer({ omitDefaultValues: true, persistentSubscriptionTick: 25 })

  it("creates groups (Success left out), delivers event 0 with retry count 0 and redelivers with 1", async () => {
    const stream = streamName("omit-persistent")
    const group = groupName()
    const result = await omitting.connection.createPersistentSubscription(stream, group, settings(), admin)
    assert.strictEqual(result.status, "success")
    const event = jsonEvent("Zero")
    await omitting.connection.appendToStream(stream, expectedVersion.noStream, event)
    const raw = await RawConnection.open(omitting.server)
    try {
      const subscription = connectToPersistentSubscription(raw, stream, group, 10)
      const confirmation = await subscription.persistentConfirmation()
      assert.strictEqual(confirmation.subscriptionId, subscriptionId(stream, group))
      assert.strictEqual(num(confirmation.lastEventNumber), 0)
      const first = await subscription.persistentEvent()
      assert.strictEqual(num(first.event.event!.eventNumber), 0)
      assert.deepStrictEqual(delivery(first), { id: event.eventId, retryCount: 0 })
      subscription.nak(confirmation.subscriptionId, [event.eventId], NakAction.Retry, "again")
      assert.deepStrictEqual(await nextDelivery(subscription), { id: event.eventId, retryCount: 1 })
    } finally {
      await raw.close()
    }
  })
})
