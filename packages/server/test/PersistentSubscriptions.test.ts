/**
 * Persistent subscriptions on the wire (docs/protocol.md 3.7 and 5.4): management replies and access,
 * connect confirmations and drops, pushes, acks and naks under the connect's correlation id, timeouts
 * with a fast clock, unsubscribe and disconnect redelivery, the drops of updates, deletes and shutdown,
 * and a long run of events.
 */
import type { MessageInitShape } from "@bufbuild/protobuf"
import { assert, it, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import {
  admin,
  append,
  C,
  connect,
  connectIdentified,
  eventually,
  newEvent,
  persistentSettings,
  type RawClient,
  type SendOptions,
  streamName,
  text
} from "./RawClient.ts"

const Dropped = Messages.SubscriptionDropped_SubscriptionDropReason
const CreateResult = Messages.CreatePersistentSubscriptionCompleted_CreatePersistentSubscriptionResult
const UpdateResult = Messages.UpdatePersistentSubscriptionCompleted_UpdatePersistentSubscriptionResult
const DeleteResult = Messages.DeletePersistentSubscriptionCompleted_DeletePersistentSubscriptionResult
const NakAction = Messages.PersistentSubscriptionNakEvents_NakAction


const createGroup = (
  client: RawClient,
  init: MessageInitShape<typeof Messages.CreatePersistentSubscriptionSchema>,
  options: SendOptions = { credentials: admin }
) =>
  client.request(
    C.CreatePersistentSubscription,
    Messages.CreatePersistentSubscriptionSchema,
    init,
    C.CreatePersistentSubscriptionCompleted,
    Messages.CreatePersistentSubscriptionCompletedSchema,
    options
  )

const updateGroup = (
  client: RawClient,
  init: MessageInitShape<typeof Messages.CreatePersistentSubscriptionSchema>,
  options: SendOptions = { credentials: admin }
) =>
  client.request(
    C.UpdatePersistentSubscription,
    Messages.UpdatePersistentSubscriptionSchema,
    // The two messages have the same fields.
    init as unknown as MessageInitShape<typeof Messages.UpdatePersistentSubscriptionSchema>,
    C.UpdatePersistentSubscriptionCompleted,
    Messages.UpdatePersistentSubscriptionCompletedSchema,
    options
  )

const deleteGroup = (client: RawClient, stream: string, group: string, options: SendOptions = { credentials: admin }) =>
  client.request(
    C.DeletePersistentSubscription,
    Messages.DeletePersistentSubscriptionSchema,
    { subscriptionGroupName: group, eventStreamId: stream },
    C.DeletePersistentSubscriptionCompleted,
    Messages.DeletePersistentSubscriptionCompletedSchema,
    options
  )

/** Sends a connect; returns the correlation id and the first reply. */
const connectTo = (client: RawClient, stream: string, group: string, inFlight = 10, options?: SendOptions) =>
  Effect.gen(function*() {
    const id = client.sendMessage(
      C.ConnectToPersistentSubscription,
      Messages.ConnectToPersistentSubscriptionSchema,
      { subscriptionId: group, eventStreamId: stream, allowedInFlightMessages: inFlight },
      options
    )
    return { id, reply: yield* client.reply(id) }
  })

const consume = (client: RawClient, stream: string, group: string, inFlight = 10) =>
  Effect.gen(function*() {
    const { id, reply } = yield* connectTo(client, stream, group, inFlight)
    assert.strictEqual(reply.command, C.PersistentSubscriptionConfirmation, text(reply.payload))
    const confirmation = Result.getOrThrow(Messages.decode(Messages.PersistentSubscriptionConfirmationSchema, reply.payload))
    return { id, confirmation }
  })

const nextMessage = (client: RawClient, id: string) =>
  client.take((pkg) => pkg.correlationId === id).pipe(
    Effect.map((pkg) => {
      assert.strictEqual(pkg.command, C.PersistentSubscriptionStreamEventAppeared, `got command ${pkg.command}`)
      return Result.getOrThrow(Messages.decode(Messages.PersistentSubscriptionStreamEventAppearedSchema, pkg.payload))
    })
  )

const dropReason = (client: RawClient, id: string) =>
  client.take((pkg) => pkg.correlationId === id && pkg.command === C.SubscriptionDropped).pipe(
    Effect.map((pkg) => Result.getOrThrow(Messages.decode(Messages.SubscriptionDroppedSchema, pkg.payload)).reason)
  )

const ack = (client: RawClient, id: string, subscriptionId: string, ids: ReadonlyArray<Uint8Array>) =>
  client.sendMessage(
    C.PersistentSubscriptionAckEvents,
    Messages.PersistentSubscriptionAckEventsSchema,
    { subscriptionId, processedEventIds: [...ids] },
    { correlationId: id }
  )

const nak = (
  client: RawClient,
  id: string,
  subscriptionId: string,
  ids: ReadonlyArray<Uint8Array>,
  action: Messages.PersistentSubscriptionNakEvents_NakAction,
  message = ""
) =>
  client.sendMessage(
    C.PersistentSubscriptionNakEvents,
    Messages.PersistentSubscriptionNakEventsSchema,
    { subscriptionId, processedEventIds: [...ids], action, message },
    { correlationId: id }
  )

const eventIdOf = (message: Messages.PersistentSubscriptionStreamEventAppeared) =>
  (message.event!.link ?? message.event!.event)!.eventId

const numberOf = (message: Messages.PersistentSubscriptionStreamEventAppeared) =>
  (message.event!.link ?? message.event!.event)!.eventNumber

const Fast = EventStoreServer.layer({ port: 0, persistentSubscriptionTick: "20 millis" })

layer(Fast, { excludeTestServices: true })("Persistent subscriptions", (it) => {
  it.effect("answers create, update and delete with every result code and reason", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const created = yield* createGroup(client, persistentSettings(stream, "g"))
      assert.strictEqual(created.result, CreateResult.Success)
      assert.strictEqual(created.reason, "")
      const again = yield* createGroup(client, persistentSettings(stream, "g"))
      assert.deepStrictEqual([again.result, again.reason], [CreateResult.AlreadyExists, "Group 'g' already exists."])
      const bad = yield* createGroup(client, persistentSettings("$all", "g"))
      assert.deepStrictEqual([bad.result, bad.reason], [CreateResult.Fail, "Bad stream name."])
      const strategy = yield* createGroup(client, persistentSettings(stream, "h", { namedConsumerStrategy: "Nope" }))
      assert.deepStrictEqual([strategy.result, strategy.reason], [CreateResult.Fail, "Consumer strategy Nope does not exist."])
      const anonymous = yield* createGroup(client, persistentSettings(stream, "i"), {})
      assert.strictEqual(anonymous.result, CreateResult.AccessDenied)
      const byOps = yield* createGroup(client, persistentSettings(stream, "j"), { credentials: { login: "ops", password: "changeit" } })
      assert.strictEqual(byOps.result, CreateResult.Success)

      const updated = yield* updateGroup(client, persistentSettings(stream, "g"))
      assert.strictEqual(updated.result, UpdateResult.Success)
      const missing = yield* updateGroup(client, persistentSettings(stream, "zz"))
      assert.deepStrictEqual([missing.result, missing.reason], [UpdateResult.DoesNotExist, "Group 'zz' does not exist."])
      const badUpdate = yield* updateGroup(client, persistentSettings(stream, "g", { namedConsumerStrategy: "Nope" }))
      assert.strictEqual(badUpdate.result, UpdateResult.Fail)
      assert.strictEqual((yield* updateGroup(client, persistentSettings(stream, "g"), {})).result, UpdateResult.AccessDenied)

      assert.strictEqual((yield* deleteGroup(client, stream, "g", {})).result, DeleteResult.AccessDenied)
      assert.strictEqual((yield* deleteGroup(client, stream, "g")).result, DeleteResult.Success)
      const gone = yield* deleteGroup(client, stream, "g")
      assert.deepStrictEqual([gone.result, gone.reason], [DeleteResult.DoesNotExist, "Group 'g' does not exist."])

      const config = yield* client.request(
        C.ReadEvent,
        Messages.ReadEventSchema,
        { eventStreamId: "$persistentSubscriptionConfig", eventNumber: -1n, resolveLinkTos: false, requireLeader: true },
        C.ReadEventCompleted,
        Messages.ReadEventCompletedSchema,
        { credentials: admin }
      )
      assert.strictEqual(config.event!.event!.eventType, "PersistentConfig1")
      const json = JSON.parse(text(config.event!.event!.data)) as { entries: Array<{ stream: string; group: string }> }
      assert.isTrue(json.entries.some((entry) => entry.stream === stream && entry.group === "j"))
      assert.isFalse(json.entries.some((entry) => entry.stream === stream && entry.group === "g"))
    }))

  it.effect("confirms a client that never identified (V1) with 2^31-1 for a hard-deleted stream's 2^63-1 (4.1)", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const v1 = yield* connect(port)
      const v2 = yield* connectIdentified(port)
      const stream = streamName()
      yield* append(v2, stream, -1n, [newEvent()])
      yield* createGroup(v2, persistentSettings(stream, "g"))
      yield* v2.request(
        C.DeleteStream,
        Messages.DeleteStreamSchema,
        { eventStreamId: stream, expectedVersion: -2n, requireLeader: true, hardDelete: true },
        C.DeleteStreamCompleted,
        Messages.DeleteStreamCompletedSchema
      )
      const confirmations = [yield* consume(v1, stream, "g"), yield* consume(v2, stream, "g")]
      assert.deepStrictEqual(confirmations.map(({ confirmation }) => confirmation.lastEventNumber), [
        2_147_483_647n,
        9_223_372_036_854_775_807n
      ])
    }))

  it.effect("connects with the stream::group id, pushes under the connect's id, and takes acks by original event id", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent(), newEvent(), newEvent()])
      yield* createGroup(client, persistentSettings(stream, "g"))
      const { confirmation, id } = yield* consume(client, stream, "g", 2)
      assert.strictEqual(confirmation.subscriptionId, `${stream}::g`)
      assert.strictEqual(confirmation.lastEventNumber, 2n)
      assert.isTrue(confirmation.lastCommitPosition > 0n)
      const first = yield* nextMessage(client, id)
      const second = yield* nextMessage(client, id)
      assert.deepStrictEqual([numberOf(first), numberOf(second), first.retryCount], [0n, 1n, 0])
      ack(client, id, confirmation.subscriptionId, [eventIdOf(first)])
      assert.strictEqual(numberOf(yield* nextMessage(client, id)), 2n)
      yield* append(client, stream, 2n, [newEvent("live")])
      ack(client, id, confirmation.subscriptionId, [eventIdOf(second)])
      const live = yield* nextMessage(client, id)
      assert.strictEqual(live.event!.event!.eventType, "live")
    }))

  it.effect("drops a connect to an unknown group (NotFound), without read access (AccessDenied) and past the limit", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const unknown = yield* connectTo(client, stream, "nope")
      assert.strictEqual(unknown.reply.command, C.SubscriptionDropped)
      const decoded = (pkg: typeof unknown.reply) =>
        Result.getOrThrow(Messages.decode(Messages.SubscriptionDroppedSchema, pkg.payload)).reason
      assert.strictEqual(decoded(unknown.reply), Dropped.NotFound)
      yield* append(client, `$$${stream}`, -1n, [newEvent("$metadata", { $acl: { $r: "$admins" } })])
      yield* createGroup(client, persistentSettings(stream, "g", { subscriberMaxCount: 1 }))
      const denied = yield* connectTo(client, stream, "g")
      assert.strictEqual(decoded(denied.reply), Dropped.AccessDenied)
      const adminClient = yield* connect(port)
      const first = yield* connectTo(adminClient, stream, "g", 10, { credentials: admin })
      assert.strictEqual(first.reply.command, C.PersistentSubscriptionConfirmation)
      const second = yield* connectTo(adminClient, stream, "g", 10, { credentials: admin })
      assert.strictEqual(decoded(second.reply), Dropped.SubscriberMaxCountReached)
    }))

  it.effect("redelivers on nak Retry with retryCount + 1 and parks on nak Park", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent(), newEvent()])
      yield* createGroup(client, persistentSettings(stream, "g"))
      const { confirmation, id } = yield* consume(client, stream, "g")
      const first = yield* nextMessage(client, id)
      const second = yield* nextMessage(client, id)
      nak(client, id, confirmation.subscriptionId, [eventIdOf(first)], NakAction.Retry, "later")
      const retried = yield* nextMessage(client, id)
      assert.deepStrictEqual([numberOf(retried), retried.retryCount], [0n, 1])
      nak(client, id, confirmation.subscriptionId, [eventIdOf(second)], NakAction.Park, "poison")
      const parkedStream = `$persistentsubscription-${stream}::g-parked`
      const parked = yield* Effect.gen(function*() {
        for (;;) {
          const read = yield* client.request(
            C.ReadStreamEventsForward,
            Messages.ReadStreamEventsSchema,
            { eventStreamId: parkedStream, fromEventNumber: 0n, maxCount: 10, resolveLinkTos: true, requireLeader: true },
            C.ReadStreamEventsForwardCompleted,
            Messages.ReadStreamEventsCompletedSchema,
            { credentials: admin }
          )
          if (read.events.length > 0) return read.events
        }
      })
      assert.strictEqual(parked[0]!.link!.eventType, "$>")
      assert.strictEqual(text(parked[0]!.link!.data), `1@${stream}`)
      assert.strictEqual(parked[0]!.event!.eventNumber, 1n)
      assert.strictEqual(JSON.parse(text(parked[0]!.link!.metadata)).reason, "Client explicitly NAK'ed message.\npoison")
    }))

  it.effect("retries a message whose timeout passed, then parks it after max retries", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent()])
      yield* createGroup(client, persistentSettings(stream, "g", { messageTimeoutMilliseconds: 50, maxRetryCount: 2 }))
      const { id } = yield* consume(client, stream, "g")
      const counts: Array<number> = []
      for (let i = 0; i < 3; i++) counts.push((yield* nextMessage(client, id)).retryCount)
      assert.deepStrictEqual(counts, [0, 1, 2])
      const parkedStream = `$persistentsubscription-${stream}::g-parked`
      const server = yield* EventStoreServer.EventStoreServer
      yield* eventually(() => server.store.lastEventNumber(parkedStream) === 0)
      const parked = server.store.readEvent(parkedStream, 0)
      assert.strictEqual(parked.status, "Success")
      if (parked.status === "Success") {
        assert.strictEqual(JSON.parse(text(parked.event!.metadata)).reason, "Reached retry count of 2")
      }
    }))

  it.effect("answers UnsubscribeFromStream with Dropped(Unsubscribed) and gives the consumer's messages to another", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const first = yield* connect(server.port)
      const second = yield* connect(server.port)
      const stream = streamName()
      yield* append(first, stream, -1n, [newEvent()])
      yield* createGroup(first, persistentSettings(stream, "g", { namedConsumerStrategy: "DispatchToSingle" }))
      const a = yield* consume(first, stream, "g")
      assert.strictEqual(numberOf(yield* nextMessage(first, a.id)), 0n)
      const b = yield* consume(second, stream, "g")
      first.send(C.UnsubscribeFromStream, new Uint8Array(0), { correlationId: a.id })
      assert.strictEqual(yield* dropReason(first, a.id), Dropped.Unsubscribed)
      const redelivered = yield* nextMessage(second, b.id)
      assert.deepStrictEqual([numberOf(redelivered), redelivered.retryCount], [0n, 1])
      // A consumer whose connection closes has its messages redelivered too.
      yield* append(first, stream, 0n, [newEvent()])
      const third = yield* connect(server.port)
      const c = yield* consume(third, stream, "g")
      const before = server.subscriptions()
      second.socket.destroy()
      yield* eventually(() => server.subscriptions() === before - 1)
      const fromClosed = [yield* nextMessage(third, c.id), yield* nextMessage(third, c.id)]
      assert.deepStrictEqual(fromClosed.map((m) => [numberOf(m), m.retryCount]), [[0n, 2], [1n, 1]])
    }))

  it.effect("retries each message of a closed connection's consumers once, not again through a sibling consumer", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const closing = yield* connect(server.port)
      const staying = yield* connect(server.port)
      const stream = streamName()
      yield* append(staying, stream, -1n, [newEvent(), newEvent()])
      yield* createGroup(staying, persistentSettings(stream, "g", { namedConsumerStrategy: "DispatchToSingle", maxRetryCount: 1 }))
      const first = yield* consume(closing, stream, "g", 1)
      assert.strictEqual(numberOf(yield* nextMessage(closing, first.id)), 0n)
      // The second consumer on the same connection keeps a free slot.
      const second = yield* consume(closing, stream, "g", 2)
      assert.strictEqual(numberOf(yield* nextMessage(closing, second.id)), 1n)
      const other = yield* consume(staying, stream, "g", 10)
      const before = server.subscriptions()
      closing.socket.destroy()
      yield* eventually(() => server.subscriptions() === before - 2)
      // 5.4 step 8: each is retried once (retryCount 1, within maxRetryCount), none parked.
      const retried = [yield* nextMessage(staying, other.id), yield* nextMessage(staying, other.id)]
      retried.sort((a, b) => Number(numberOf(a) - numberOf(b)))
      assert.deepStrictEqual(retried.map((m) => [numberOf(m), m.retryCount]), [[0n, 1], [1n, 1]])
      assert.strictEqual(server.store.lastEventNumber(`$persistentsubscription-${stream}::g-parked`), -1)
    }))

  it.effect("drops connected consumers with Unsubscribed when their group is updated or deleted", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      yield* createGroup(client, persistentSettings(stream, "g"))
      const before = yield* consume(client, stream, "g")
      yield* updateGroup(client, persistentSettings(stream, "g", { maxRetryCount: 3 }))
      assert.strictEqual(yield* dropReason(client, before.id), Dropped.Unsubscribed)
      const after = yield* consume(client, stream, "g")
      yield* deleteGroup(client, stream, "g")
      assert.strictEqual(yield* dropReason(client, after.id), Dropped.Unsubscribed)
      const reconnect = yield* connectTo(client, stream, "g")
      assert.strictEqual(
        Result.getOrThrow(Messages.decode(Messages.SubscriptionDroppedSchema, reconnect.reply.payload)).reason,
        Dropped.NotFound
      )
    }))

  it.effect("delivers 20,000 events to two competing consumers acking in batches, each exactly once", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const writer = yield* connect(port)
      const stream = streamName()
      yield* createGroup(writer, persistentSettings(stream, "g", { startFrom: -1n }))
      const consumers = [yield* connect(port), yield* connect(port)]
      const subscriptions = [] as Array<{ readonly id: string; readonly subscriptionId: string }>
      for (const consumer of consumers) {
        const { confirmation, id } = yield* consume(consumer, stream, "g", 500)
        subscriptions.push({ id, subscriptionId: confirmation.subscriptionId })
      }
      const total = 20_000
      for (let i = 0; i < total; i += 500) {
        yield* append(writer, stream, -2n, Array.from({ length: 500 }, () => newEvent()))
      }
      const seen = new Set<bigint>()
      let received = 0
      while (received < total) {
        for (let index = 0; index < consumers.length; index++) {
          const consumer = consumers[index]!
          const { id, subscriptionId } = subscriptions[index]!
          const batch = consumer.inbox.filter((pkg) => pkg.correlationId === id)
          if (batch.length === 0) continue
          consumer.inbox.splice(0, consumer.inbox.length, ...consumer.inbox.filter((pkg) => pkg.correlationId !== id))
          const messages = batch.map((pkg) =>
            Result.getOrThrow(Messages.decode(Messages.PersistentSubscriptionStreamEventAppearedSchema, pkg.payload))
          )
          for (const message of messages) seen.add(numberOf(message))
          received += messages.length
          ack(consumer, id, subscriptionId, messages.map(eventIdOf))
        }
        if (received < total) {
          yield* Effect.raceFirst(
            consumers[0]!.take((pkg) => pkg.correlationId === subscriptions[0]!.id).pipe(
              Effect.tap((pkg) => Effect.sync(() => consumers[0]!.inbox.unshift(pkg)))
            ),
            consumers[1]!.take((pkg) => pkg.correlationId === subscriptions[1]!.id).pipe(
              Effect.tap((pkg) => Effect.sync(() => consumers[1]!.inbox.unshift(pkg)))
            )
          )
        }
      }
      assert.strictEqual(received, total)
      assert.strictEqual(seen.size, total)
    }))
})

it.live("drops persistent-subscription consumers with Unsubscribed when the node shuts down", () =>
  Effect.gen(function*() {
    const server = yield* Effect.promise(() => EventStoreServer.start({ port: 0 }))
    const client = yield* connect(server.port)
    const stream = streamName()
    yield* createGroup(client, persistentSettings(stream, "g"))
    const { id } = yield* consume(client, stream, "g")
    yield* Effect.promise(() => server.close())
    assert.strictEqual(yield* dropReason(client, id), Dropped.Unsubscribed)
    yield* client.closed()
  }).pipe(Effect.scoped))
