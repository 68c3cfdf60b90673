/**
 * Volatile subscriptions on the wire (docs/protocol.md 3.6, 5.1, 5.2): confirmations, pushes after
 * confirmation, links, unsubscribing, access, filters with checkpoints, closes, shutdown and slow
 * subscribers.
 */
import { create, isFieldSet } from "@bufbuild/protobuf"
import { assert, it, layer } from "@effect/vitest"
import { Guid, Messages, Package } from "@photonpump/protocol"
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
  type RawClient,
  type SendOptions,
  streamName,
  text
} from "./RawClient.ts"

const Dropped = Messages.SubscriptionDropped_SubscriptionDropReason
const encoder = new TextEncoder()

const decode = <A>(result: Result.Result<A, unknown>): A => Result.getOrThrow(result)

/** Subscribes and returns the correlation id and the confirmation. */
const subscribe = (client: RawClient, stream: string, resolveLinkTos = false, options?: SendOptions) =>
  Effect.gen(function*() {
    const id = client.sendMessage(
      C.SubscribeToStream,
      Messages.SubscribeToStreamSchema,
      { eventStreamId: stream, resolveLinkTos },
      options
    )
    const reply = yield* client.reply(id)
    assert.strictEqual(reply.command, C.SubscriptionConfirmation, text(reply.payload))
    return { id, confirmation: decode(Messages.decode(Messages.SubscriptionConfirmationSchema, reply.payload)) }
  })

/** Takes the next push of a subscription. */
const nextEvent = (client: RawClient, id: string) =>
  client.take((pkg) => pkg.correlationId === id).pipe(
    Effect.map((pkg) => {
      assert.strictEqual(pkg.command, C.StreamEventAppeared)
      return decode(Messages.decode(Messages.StreamEventAppearedSchema, pkg.payload)).event!
    })
  )

const link = (data: string) => ({ ...newEvent("$>"), dataContentType: 0, data: encoder.encode(data) })

const dataOf = (record: Messages.EventRecord | undefined) => text(record!.data)

const deleteStream = (client: RawClient, stream: string, hardDelete: boolean) =>
  client.request(
    C.DeleteStream,
    Messages.DeleteStreamSchema,
    { eventStreamId: stream, expectedVersion: -2n, requireLeader: true, hardDelete },
    C.DeleteStreamCompleted,
    Messages.DeleteStreamCompletedSchema
  )

layer(EventStoreServer.layer({ port: 0 }), { excludeTestServices: true })("Volatile subscriptions", (it) => {
  it.effect("confirms a stream subscription with the last commit position and last event number", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(server.port)
      const stream = streamName()
      const none = yield* subscribe(client, stream)
      assert.strictEqual(none.confirmation.lastEventNumber, -1n)
      assert.strictEqual(none.confirmation.lastCommitPosition, BigInt(server.store.lastCommitPosition))
      yield* append(client, stream, -1n, [newEvent(), newEvent()])
      const two = yield* subscribe(client, stream)
      assert.strictEqual(two.confirmation.lastEventNumber, 1n)
      assert.strictEqual(two.confirmation.lastCommitPosition, BigInt(server.store.lastCommitPosition))
    }))

  it.effect("confirms a $all subscription without a last event number", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(server.port)
      const { confirmation } = yield* subscribe(client, "", false, { credentials: admin })
      assert.isFalse(isFieldSet(confirmation, Messages.SubscriptionConfirmationSchema.field.lastEventNumber))
      assert.strictEqual(confirmation.lastCommitPosition, BigInt(server.store.lastCommitPosition))
    }))

  it.effect("pushes each event committed after confirmation, in order, with its position, and nothing else", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const subscriber = yield* connect(port)
      const writer = yield* connect(port)
      const stream = streamName()
      yield* append(writer, stream, -1n, [newEvent("old", { n: -1 })])
      const { id } = yield* subscribe(subscriber, stream)
      yield* append(writer, streamName("other"), -1n, [newEvent()])
      yield* append(writer, `$$${stream}`, -2n, [newEvent("$metadata", { $maxCount: 100 })])
      const written = yield* append(writer, stream, 0n, [newEvent("e", { n: 1 }), newEvent("e", { n: 2 })])
      const first = yield* nextEvent(subscriber, id)
      const second = yield* nextEvent(subscriber, id)
      assert.strictEqual(first.event!.eventStreamId, stream)
      assert.strictEqual(first.event!.eventNumber, 1n)
      assert.strictEqual(dataOf(first.event), "{\"n\":1}")
      assert.strictEqual(second.event!.eventNumber, 2n)
      assert.strictEqual(second.commitPosition, written.commitPosition)
      assert.strictEqual(second.preparePosition, written.preparePosition)
      assert.isTrue(first.commitPosition < second.commitPosition)
      assert.isUndefined(first.link)
      // The push of the first event came before the second: nothing else was queued in between.
      assert.strictEqual(subscriber.inbox.filter((pkg) => pkg.correlationId === id).length, 0)
    }))

  it.effect("pushes every committed event to a $all subscription, transactions at their commit", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const subscriber = yield* connect(port)
      const writer = yield* connect(port)
      const { id } = yield* subscribe(subscriber, "", false, { credentials: admin })
      const a = streamName("a")
      const b = streamName("b")
      yield* append(writer, a, -1n, [newEvent()])
      const started = yield* writer.request(
        C.TransactionStart,
        Messages.TransactionStartSchema,
        { eventStreamId: b, expectedVersion: -1n, requireLeader: true },
        C.TransactionStartCompleted,
        Messages.TransactionStartCompletedSchema
      )
      yield* writer.request(
        C.TransactionWrite,
        Messages.TransactionWriteSchema,
        { transactionId: started.transactionId, events: [newEvent(), newEvent()], requireLeader: true },
        C.TransactionWriteCompleted,
        Messages.TransactionWriteCompletedSchema
      )
      const committed = yield* writer.request(
        C.TransactionCommit,
        Messages.TransactionCommitSchema,
        { transactionId: started.transactionId, requireLeader: true },
        C.TransactionCommitCompleted,
        Messages.TransactionCommitCompletedSchema
      )
      const seen: Array<Messages.ResolvedEvent> = []
      while (seen.length < 3) {
        const event = yield* nextEvent(subscriber, id)
        // Other tests write to this node too; keep what this one wrote.
        if (event.event!.eventStreamId === a || event.event!.eventStreamId === b) seen.push(event)
      }
      assert.deepStrictEqual(seen.map((event) => event.event!.eventStreamId), [a, b, b])
      assert.strictEqual(seen[1]!.commitPosition, committed.commitPosition)
      assert.strictEqual(seen[2]!.commitPosition, committed.commitPosition)
      assert.isTrue(seen[1]!.preparePosition < seen[2]!.preparePosition)
    }))

  it.effect("resolves links when asked, and sends the link alone when it cannot be resolved", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const target = streamName("target")
      const links = streamName("links")
      yield* append(client, target, -1n, [newEvent("target-event", { t: 1 })])
      const resolving = yield* subscribe(client, links, true)
      const raw = yield* subscribe(client, links, false)
      yield* append(client, links, -1n, [link(`0@${target}`), link(`5@${target}`)])
      const resolved = yield* nextEvent(client, resolving.id)
      assert.strictEqual(resolved.event!.eventStreamId, target)
      assert.strictEqual(resolved.event!.eventType, "target-event")
      assert.strictEqual(resolved.link!.eventStreamId, links)
      assert.strictEqual(resolved.commitPosition, resolved.commitPosition)
      const dangling = yield* nextEvent(client, resolving.id)
      assert.isUndefined(dangling.event)
      assert.strictEqual(dangling.link!.eventNumber, 1n)
      const plain = yield* nextEvent(client, raw.id)
      assert.strictEqual(plain.event!.eventType, "$>")
      assert.strictEqual(plain.event!.eventStreamId, links)
      assert.isUndefined(plain.link)
      // The position is the link's, in both forms.
      assert.strictEqual(plain.commitPosition, resolved.commitPosition)
    }))

  it.effect("answers UnsubscribeFromStream with SubscriptionDropped(Unsubscribed) and pushes nothing more", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(server.port)
      const stream = streamName()
      const { id } = yield* subscribe(client, stream)
      const before = server.subscriptions()
      client.send(C.UnsubscribeFromStream, new Uint8Array(0), { correlationId: id })
      const dropped = yield* client.reply(id)
      assert.strictEqual(dropped.command, C.SubscriptionDropped)
      assert.strictEqual(decode(Messages.decode(Messages.SubscriptionDroppedSchema, dropped.payload)).reason, Dropped.Unsubscribed)
      assert.strictEqual(server.subscriptions(), before - 1)
      const later = yield* subscribe(client, stream)
      yield* append(client, stream, -2n, [newEvent()])
      yield* nextEvent(client, later.id)
      assert.isFalse(client.inbox.some((pkg) => pkg.correlationId === id))
      // Unsubscribing an unknown id gets no answer; the connection carries on.
      const unknown = client.send(C.UnsubscribeFromStream, new Uint8Array(0))
      assert.strictEqual((yield* client.reply(client.send(C.Ping))).command, C.Pong)
      assert.isFalse(client.inbox.some((pkg) => pkg.correlationId === unknown))
    }))

  it.effect("pushes the events a write commits before the drop of an unsubscribe read in the same chunk", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const { id } = yield* subscribe(client, stream)
      // A pipelining client: the write and the unsubscribe leave in one socket write, so the node reads
      // them together; the event is committed while the subscription is live, and must be pushed (5.1).
      const writeId = Guid.random()
      const write = Package.encodeFrame({
        command: C.WriteEvents,
        correlationId: writeId,
        payload: decode(Messages.encode(Messages.WriteEventsSchema, create(Messages.WriteEventsSchema, {
          eventStreamId: stream,
          expectedVersion: -2n,
          events: [newEvent("before-unsubscribe")],
          requireLeader: true
        })))
      })
      const unsubscribe = Package.encodeFrame({ command: C.UnsubscribeFromStream, correlationId: id })
      client.sendBytes(Uint8Array.from([...decode(write), ...decode(unsubscribe)]))
      assert.strictEqual((yield* client.reply(writeId)).command, C.WriteEventsCompleted)
      assert.strictEqual((yield* nextEvent(client, id)).event!.eventType, "before-unsubscribe")
      const dropped = yield* client.reply(id)
      assert.strictEqual(dropped.command, C.SubscriptionDropped)
      assert.strictEqual(decode(Messages.decode(Messages.SubscriptionDroppedSchema, dropped.payload)).reason, Dropped.Unsubscribed)
    }))

  it.effect("drops with AccessDenied instead of confirming when the caller may not read", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      for (const stream of ["", "$system-stream"]) {
        const id = client.sendMessage(C.SubscribeToStream, Messages.SubscribeToStreamSchema, {
          eventStreamId: stream,
          resolveLinkTos: false
        })
        const reply = yield* client.reply(id)
        assert.strictEqual(reply.command, C.SubscriptionDropped)
        assert.strictEqual(decode(Messages.decode(Messages.SubscriptionDroppedSchema, reply.payload)).reason, Dropped.AccessDenied)
      }
      const protectedStream = streamName("protected")
      yield* append(client, `$$${protectedStream}`, -1n, [newEvent("$metadata", { $acl: { $r: "$admins" } })])
      const denied = yield* client.reply(
        client.sendMessage(C.SubscribeToStream, Messages.SubscribeToStreamSchema, {
          eventStreamId: protectedStream,
          resolveLinkTos: false
        })
      )
      assert.strictEqual(denied.command, C.SubscriptionDropped)
      yield* subscribe(client, protectedStream, false, { credentials: admin })
    }))

  it.effect("answers wrong credentials with NotAuthenticated", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const reply = yield* client.reply(
        client.sendMessage(
          C.SubscribeToStream,
          Messages.SubscribeToStreamSchema,
          { eventStreamId: streamName(), resolveLinkTos: false },
          { credentials: { login: "admin", password: "wrong" } }
        )
      )
      assert.strictEqual(reply.command, C.NotAuthenticated)
      assert.strictEqual(Package.decodeText(reply.payload), "Not Authenticated")
    }))

  it.effect("forgets the subscriptions of a connection that closes", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const before = server.subscriptions()
      const client = yield* connect(server.port)
      yield* subscribe(client, streamName())
      yield* subscribe(client, streamName())
      assert.strictEqual(server.subscriptions(), before + 2)
      client.socket.destroy()
      yield* eventually(() => server.subscriptions() === before)
      // Writing to the streams afterwards troubles nobody.
      const writer = yield* connect(server.port)
      const written = yield* append(writer, streamName(), -1n, [newEvent()])
      assert.strictEqual(written.result, Messages.OperationResult.Success)
    }))

  it.effect("keeps the subscription when its stream is deleted, soft or hard", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connectIdentified(port)
      const stream = streamName()
      yield* append(client, stream, -1n, [newEvent()])
      const { id } = yield* subscribe(client, stream)
      yield* deleteStream(client, stream, false)
      yield* append(client, stream, -2n, [newEvent("after-soft-delete")])
      const recreated = yield* nextEvent(client, id)
      assert.strictEqual(recreated.event!.eventType, "after-soft-delete")
      assert.strictEqual(recreated.event!.eventNumber, 1n)
      yield* deleteStream(client, stream, true)
      const tombstone = yield* nextEvent(client, id)
      assert.strictEqual(tombstone.event!.eventType, "$streamDeleted")
      assert.strictEqual(tombstone.event!.eventNumber, 9_223_372_036_854_775_807n)
      assert.isFalse(client.inbox.some((pkg) => pkg.command === C.SubscriptionDropped))
    }))

  it.effect("gives a client that never identified (V1) 2^63-1 as 2^31-1, in pushes and confirmations (4.1)", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const v1 = yield* connect(port)
      const v2 = yield* connectIdentified(port)
      const stream = streamName()
      yield* append(v2, stream, -1n, [newEvent()])
      const live = [yield* subscribe(v1, stream), yield* subscribe(v2, stream)]
      yield* deleteStream(v2, stream, true)
      const tombstones = [yield* nextEvent(v1, live[0]!.id), yield* nextEvent(v2, live[1]!.id)]
      assert.deepStrictEqual(tombstones.map((pushed) => pushed.event!.eventType), ["$streamDeleted", "$streamDeleted"])
      assert.deepStrictEqual(tombstones.map((pushed) => pushed.event!.eventNumber), [
        2_147_483_647n,
        9_223_372_036_854_775_807n
      ])
      const afterwards = [yield* subscribe(v1, stream), yield* subscribe(v2, stream)]
      assert.deepStrictEqual(afterwards.map(({ confirmation }) => confirmation.lastEventNumber), [
        2_147_483_647n,
        9_223_372_036_854_775_807n
      ])
    }))

  it.effect("filters a $all subscription and reports a checkpoint every checkpoint_interval events considered", () =>
    Effect.gen(function*() {
      // A node of its own: events written by other tests would be considered too.
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => EventStoreServer.start({ port: 0 })),
        (started) => Effect.promise(() => started.close())
      )
      const client = yield* connect(server.port)
      const id = client.sendMessage(
        C.FilteredSubscribeToStream,
        Messages.FilteredSubscribeToStreamSchema,
        {
          eventStreamId: "",
          resolveLinkTos: false,
          filter: {
            context: Messages.Filter_FilterContext.EventType,
            type: Messages.Filter_FilterType.Prefix,
            data: ["wanted"]
          },
          checkpointInterval: 3
        },
        { credentials: admin }
      )
      assert.strictEqual((yield* client.reply(id)).command, C.SubscriptionConfirmation)
      const stream = streamName()
      const types = ["other", "wanted-1", "other", "other", "wanted-2", "other", "other"]
      const written: Array<Messages.WriteEventsCompleted> = []
      for (const type of types) written.push(yield* append(client, stream, -2n, [newEvent(type)]))
      const received: Array<string> = []
      while (received.length < 4) {
        const pkg = yield* client.take((pkg) => pkg.correlationId === id)
        if (pkg.command === C.StreamEventAppeared) {
          const event = decode(Messages.decode(Messages.StreamEventAppearedSchema, pkg.payload)).event!
          received.push(event.event!.eventType)
        } else {
          assert.strictEqual(pkg.command, C.CheckpointReached)
          const checkpoint = decode(Messages.decode(Messages.CheckpointReachedSchema, pkg.payload))
          received.push(`checkpoint@${checkpoint.commitPosition}`)
          const third = written[received.filter((r) => r.startsWith("checkpoint")).length * 3 - 1]!
          assert.strictEqual(checkpoint.commitPosition, third.commitPosition)
          assert.strictEqual(checkpoint.preparePosition, third.preparePosition)
        }
      }
      assert.deepStrictEqual(received, [
        "wanted-1",
        `checkpoint@${written[2]!.commitPosition}`,
        "wanted-2",
        `checkpoint@${written[5]!.commitPosition}`
      ])
    }))

  it.effect("pushes one committed event to many subscribers on many connections", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const stream = streamName()
      const subscribers: Array<{ readonly client: RawClient; readonly id: string }> = []
      for (let i = 0; i < 20; i++) {
        const client = yield* connect(port)
        for (let j = 0; j < 5; j++) subscribers.push({ client, id: (yield* subscribe(client, stream)).id })
      }
      const writer = yield* connect(port)
      yield* append(writer, stream, -1n, [newEvent("fan-out")])
      for (const { client, id } of subscribers) {
        assert.strictEqual((yield* nextEvent(client, id)).event!.eventType, "fan-out")
      }
    }))
})

it.live("sends SubscriptionDropped(Unsubscribed) to every subscriber when the node shuts down", () =>
  Effect.gen(function*() {
    const server = yield* Effect.promise(() => EventStoreServer.start({ port: 0 }))
    const client = yield* connect(server.port)
    const { id } = yield* subscribe(client, streamName())
    const all = yield* subscribe(client, "", false, { credentials: admin })
    yield* Effect.promise(() => server.close())
    for (const subscription of [id, all.id]) {
      const dropped = yield* client.reply(subscription)
      assert.strictEqual(dropped.command, C.SubscriptionDropped)
      assert.strictEqual(decode(Messages.decode(Messages.SubscriptionDroppedSchema, dropped.payload)).reason, Dropped.Unsubscribed)
    }
    yield* client.closed()
  }).pipe(Effect.scoped))

it.live("drops a subscriber that does not read its pushes, and the writer never notices", () =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => EventStoreServer.start({ port: 0, maxSendQueueBytes: 256 * 1024 })),
      (started) => Effect.promise(() => started.close())
    )
    const stream = streamName()
    const slow = yield* connect(server.port)
    yield* subscribe(slow, stream)
    const writer = yield* connect(server.port)
    slow.socket.pause()
    const before = server.connections()
    const big = { ...newEvent(), data: new Uint8Array(64 * 1024) }
    // 64 MiB of pushes: far more than socket buffers and the 256 KiB bound hold.
    for (let i = 0; i < 1024; i++) {
      const reply = yield* append(writer, stream, -2n, [{ ...big, eventId: Result.getOrThrow(Guid.toWire(Guid.random())) }])
      assert.strictEqual(reply.result, Messages.OperationResult.Success)
    }
    yield* eventually(() => server.connections() === before - 1 && server.subscriptions() === 0)
    assert.strictEqual((yield* append(writer, stream, -2n, [newEvent()])).result, Messages.OperationResult.Success)
  }).pipe(Effect.scoped))
