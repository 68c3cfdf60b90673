/**
 * Subscriptions against raw peers that do on purpose what a well-behaved server does only in rare
 * cases, or never: drop a subscription with each reason, answer with BadRequest or NotHandled, never
 * confirm, flood a slow consumer, hang up, overlap history and live events at the switch as much as
 * possible. And what a server cannot show: the frames the client sends (acks batched into one frame,
 * acks before the unsubscribe).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scheduler from "effect/Scheduler"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { Command as CommandModule, Guid, Messages, type Package } from "@photonpump/protocol"
import { EventStore, EventStoreError, PersistentSubscription, Position, Subscription } from "@photonpump/client"
import * as Subscriptions from "../src/internal/Subscription.ts"
import { eventually, failsWith } from "./Assertions.ts"
import {
  confirmation,
  decode,
  dropped,
  eventAppeared,
  frame,
  message,
  peer,
  type Peer,
  receivedOf,
  record,
  send
} from "./Peer.ts"

const Command = CommandModule.Command
const Reasons = Messages.SubscriptionDropped_SubscriptionDropReason

const connect = (server: Peer, options?: { readonly operationTimeout?: Duration.Input }) =>
  EventStore.connect({ host: "127.0.0.1", port: server.port, operationTimeout: options?.operationTimeout ?? "5 seconds" })

/** A peer that confirms every subscription, answers unsubscribes, and calls `then` after confirming. */
const confirming = (then?: (pkg: Package.InboundPackage, socket: Net.Socket) => void) =>
  peer((pkg, socket) => {
    switch (pkg.command) {
      case Command.SubscribeToStream:
      case Command.FilteredSubscribeToStream:
        send(socket, Command.SubscriptionConfirmation, pkg.correlationId, confirmation(1000n, 9n))
        then?.(pkg, socket)
        return
      case Command.UnsubscribeFromStream:
        return send(socket, Command.SubscriptionDropped, pkg.correlationId, dropped(Reasons.Unsubscribed))
      case Command.Ping:
        return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
    }
  })

/** A peer that answers each subscription (volatile or persistent) with the given package. */
const answering = (command: number, payload?: Uint8Array) =>
  peer((pkg, socket) => {
    if (pkg.command === Command.SubscribeToStream || pkg.command === Command.ConnectToPersistentSubscription) {
      send(socket, command, pkg.correlationId, payload)
    }
  })

const subscribeFails = <E>(server: Effect.Effect<Peer, never, Scope.Scope>, errorClass: new(...args: any) => E) =>
  Effect.gen(function*() {
    const es = yield* connect(yield* server)
    return yield* failsWith(Stream.runDrain(es.subscribeTo("ponies")), errorClass as any) as Effect.Effect<E>
  })

describe("volatile subscriptions against raw peers", () => {
  it.live("say CaughtUp once confirmed, deliver the events, and unsubscribe when the consumer is done", () =>
    Effect.gen(function*() {
      const server = yield* confirming((pkg, socket) => {
        socket.write(frame(Command.StreamEventAppeared, pkg.correlationId, eventAppeared("ponies", 10n)))
        socket.write(frame(Command.StreamEventAppeared, pkg.correlationId, eventAppeared("ponies", 11n)))
      })
      const es = yield* connect(server)
      const items = yield* Stream.runCollect(Stream.take(es.subscribeTo("ponies"), 3))
      assert.isTrue(Subscription.isCaughtUp(items[0]!))
      const events = items.filter(Subscription.isEvent)
      assert.deepStrictEqual(events.map((e) => e.eventNumber), [10n, 11n])
      assert.deepStrictEqual(events.map((e) => e.position), [Position.make(1000), Position.make(1100)])
      // The stream ended once the server had answered the unsubscribe, under the subscription's id.
      const [subscribe] = receivedOf(server, Command.SubscribeToStream)
      const [unsubscribe] = receivedOf(server, Command.UnsubscribeFromStream)
      assert.strictEqual(unsubscribe?.correlationId, subscribe?.correlationId)
      const request = decode(Messages.SubscribeToStreamSchema, subscribe!.payload)
      assert.strictEqual(request.eventStreamId, "ponies")
      assert.isTrue(request.resolveLinkTos)
    }))

  it.live("to $all send an empty stream id, and a filter when asked", () =>
    Effect.gen(function*() {
      const server = yield* confirming()
      const es = yield* connect(server)
      yield* Stream.runDrain(Stream.take(es.subscribeToAll(), 1))
      yield* Stream.runDrain(
        Stream.take(
          es.subscribeToAll({ filter: { on: "StreamName", match: "Prefix", values: ["a-", "b-"] }, checkpointInterval: 7 }),
          1
        )
      )
      const [plain] = receivedOf(server, Command.SubscribeToStream)
      assert.strictEqual(decode(Messages.SubscribeToStreamSchema, plain!.payload).eventStreamId, "")
      assert.isFalse(decode(Messages.SubscribeToStreamSchema, plain!.payload).resolveLinkTos)
      const [filtered] = receivedOf(server, Command.FilteredSubscribeToStream)
      const request = decode(Messages.FilteredSubscribeToStreamSchema, filtered!.payload)
      assert.strictEqual(request.eventStreamId, "")
      assert.strictEqual(request.checkpointInterval, 7)
      assert.strictEqual(request.filter?.context, Messages.Filter_FilterContext.StreamId)
      assert.strictEqual(request.filter?.type, Messages.Filter_FilterType.Prefix)
      assert.deepStrictEqual(request.filter?.data, ["a-", "b-"])
    }))

  it.live("deliver checkpoints of filtered subscriptions in order with the events", () =>
    Effect.gen(function*() {
      const server = yield* confirming((pkg, socket) => {
        send(socket, Command.StreamEventAppeared, pkg.correlationId, eventAppeared("a-1", 0n, 500n))
        send(
          socket,
          Command.CheckpointReached,
          pkg.correlationId,
          message(Messages.CheckpointReachedSchema, { commitPosition: 900n, preparePosition: 900n })
        )
      })
      const es = yield* connect(server)
      const items = yield* Stream.runCollect(
        Stream.take(es.subscribeToAll({ filter: { on: "StreamName", match: "Prefix", values: ["a-"] } }), 3)
      )
      assert.isTrue(Subscription.isCaughtUp(items[0]!))
      assert.isTrue(Subscription.isEvent(items[1]!))
      assert.deepStrictEqual(items[2], Subscription.checkpoint(Position.make(900)))
    }))

  describe("dropped by the server: typed errors, never a silent end", () => {
    it.live("AccessDenied", () =>
      Effect.gen(function*() {
        const error = yield* subscribeFails(
          answering(Command.SubscriptionDropped, dropped(Reasons.AccessDenied)),
          EventStoreError.AccessDenied
        )
        assert.strictEqual(error.stream, "ponies")
        assert.strictEqual(error.operation, "subscribeTo")
      }))

    it.live("Unsubscribed, when the client did not ask", () =>
      Effect.gen(function*() {
        const error = yield* subscribeFails(
          answering(Command.SubscriptionDropped, dropped(Reasons.Unsubscribed)),
          EventStoreError.SubscriptionDropped
        )
        assert.strictEqual(error.reason, "Unsubscribed")
        assert.strictEqual(error.stream, "ponies")
      }))

    it.live("a drop reason that does not fit a volatile subscription, and one the client does not know", () =>
      Effect.gen(function*() {
        const notFound = yield* subscribeFails(
          answering(Command.SubscriptionDropped, dropped(Reasons.NotFound)),
          EventStoreError.SubscriptionDropped
        )
        assert.strictEqual(notFound.reason, "NotFound")
        const unknown = yield* subscribeFails(
          answering(Command.SubscriptionDropped, dropped(42 as Messages.SubscriptionDropped_SubscriptionDropReason)),
          EventStoreError.SubscriptionDropped
        )
        assert.strictEqual(unknown.reason, "Unknown")
        assert.strictEqual(unknown.code, 42)
      }))

    it.live("BadRequest (a server error), NotAuthenticated and NotHandled", () =>
      Effect.gen(function*() {
        const bad = yield* subscribeFails(
          answering(Command.BadRequest, new TextEncoder().encode("no way")),
          EventStoreError.BadRequest
        )
        assert.strictEqual(bad.reason, "no way")
        const auth = yield* subscribeFails(
          answering(Command.NotAuthenticated, new TextEncoder().encode("who are you")),
          EventStoreError.NotAuthenticated
        )
        assert.strictEqual(auth.reason, "who are you")
        const notHandled = yield* subscribeFails(
          answering(Command.NotHandled, message(Messages.NotHandledSchema, { reason: Messages.NotHandled_NotHandledReason.TooBusy })),
          EventStoreError.NotHandled
        )
        assert.strictEqual(notHandled.reason, "TooBusy")
      }))

    it.live("the connection closed, while waiting for events", () =>
      Effect.gen(function*() {
        const server = yield* confirming()
        const es = yield* connect(server)
        const fiber = yield* Effect.forkChild(Stream.runDrain(es.subscribeTo("ponies")))
        yield* eventually(() => receivedOf(server, Command.SubscribeToStream).length === 1, "the subscription")
        server.sockets[0]!.destroy()
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* failsWith(Fiber.join(fiber), EventStoreError.ConnectionError)
        assert.strictEqual(error.reason, "Closed")
      }))

    it.live("no confirmation within the timeout", () =>
      Effect.gen(function*() {
        const server = yield* peer(() => {})
        const es = yield* connect(server, { operationTimeout: "200 millis" })
        const error = yield* failsWith(Stream.runDrain(es.subscribeTo("ponies")), EventStoreError.Timeout)
        assert.strictEqual(error.operation, "subscribeTo")
        // The client lets the server know it does not want the subscription any more.
        yield* eventually(() => receivedOf(server, Command.UnsubscribeFromStream).length === 1, "the unsubscribe")
      }))
  })

  it.live("a consumer too slow for its buffer fails with SubscriptionOverflow, and the connection goes on", () =>
    Effect.gen(function*() {
      const server = yield* confirming((pkg, socket) => {
        const frames: Array<Uint8Array> = []
        for (let n = 0; n < 1000; n++) {
          frames.push(frame(Command.StreamEventAppeared, pkg.correlationId, eventAppeared("ponies", BigInt(n))))
        }
        socket.write(Buffer.concat(frames))
      })
      const es = yield* connect(server)
      const probe = new Subscriptions.Probe()
      const release = yield* Deferred.make<void>()
      const consumed: Array<bigint> = []
      const fiber = yield* es.subscribeTo("ponies", { liveBufferSize: 100 }).pipe(
        Subscription.events,
        Stream.runForEach((event) =>
          Effect.andThen(Deferred.await(release), Effect.sync(() => consumed.push(event.eventNumber)))
        ),
        Effect.provideService(Subscriptions.CurrentProbe, probe),
        Effect.forkChild
      )
      yield* eventually(() => probe.overflows === 1, "the overflow")
      // The dispatcher was never held up by the full subscription: the connection serves requests.
      yield* es.ping()
      yield* Deferred.succeed(release, undefined)
      const error = yield* failsWith(Fiber.join(fiber), EventStoreError.SubscriptionOverflow)
      assert.strictEqual(error.bufferSize, 100)
      assert.strictEqual(error.stream, "ponies")
      assert.isAtMost(probe.bufferHighWater, 100)
      assert.isAtMost(consumed.length, 101)
      assert.strictEqual(receivedOf(server, Command.UnsubscribeFromStream).length, 1)
    }))
})

/**
 * A peer holding a stream's history in memory that serves forward reads of it, confirms a
 * subscription at `confirmAt` (its last event number then), and, right after confirming, appends
 * `liveAfterConfirm` more events, pushing them live; reads after that see them too. It is the worst
 * case of the switch: the events around the confirmation reach the client both by reading and live.
 */
const scripted = (history: number, confirmAt: number, liveAfterConfirm: number) => {
  let last = history - 1
  return peer((pkg, socket) => {
    switch (pkg.command) {
      case Command.ReadStreamEventsForward: {
        const request = decode(Messages.ReadStreamEventsSchema, pkg.payload)
        const from = Number(request.fromEventNumber)
        const to = Math.min(last, from + request.maxCount - 1)
        const events = []
        for (let n = from; n <= to; n++) events.push({ event: record("ponies", BigInt(n)) })
        send(
          socket,
          Command.ReadStreamEventsForwardCompleted,
          pkg.correlationId,
          message(Messages.ReadStreamEventsCompletedSchema, {
            events,
            result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Success,
            nextEventNumber: BigInt(to < from ? last + 1 : to + 1),
            lastEventNumber: BigInt(last),
            isEndOfStream: to >= last,
            lastCommitPosition: BigInt(last * 100)
          })
        )
        return
      }
      case Command.SubscribeToStream: {
        last = Math.max(last, confirmAt)
        send(socket, Command.SubscriptionConfirmation, pkg.correlationId, confirmation(BigInt(last * 100), BigInt(last)))
        for (let i = 0; i < liveAfterConfirm; i++) {
          last++
          send(socket, Command.StreamEventAppeared, pkg.correlationId, eventAppeared("ponies", BigInt(last)))
        }
        return
      }
      case Command.UnsubscribeFromStream:
        return send(socket, Command.SubscriptionDropped, pkg.correlationId, dropped(Reasons.Unsubscribed))
    }
  })
}

describe("catch-up subscriptions against a scripted peer", () => {
  it.live("deliver every event once, in order, when history and live events overlap at the switch", () =>
    Effect.gen(function*() {
      const server = yield* scripted(25, 40, 30)
      const es = yield* connect(server)
      const items = yield* Stream.runCollect(Stream.take(es.subscribeTo("ponies", { from: "start", readBatchSize: 10 }), 72))
      const numbers = items.filter(Subscription.isEvent).map((e) => Number(e.eventNumber))
      assert.deepStrictEqual(numbers, Array.from({ length: 71 }, (_, i) => i))
      // CaughtUp comes once reading reached the confirmation (event 40), before the live events.
      const caughtUp = items.findIndex(Subscription.isCaughtUp)
      assert.isAtLeast(caughtUp, 41)
      assert.strictEqual(items.filter(Subscription.isCaughtUp).length, 1)
    }))

  it.live("start after the checkpoint, which is exclusive", () =>
    Effect.gen(function*() {
      const server = yield* scripted(20, 19, 0)
      const es = yield* connect(server)
      const items = yield* Stream.runCollect(
        Subscription.untilCaughtUp(es.subscribeTo("ponies", { from: 14n, readBatchSize: 3 }))
      )
      assert.deepStrictEqual(items.map((e) => Number(e.eventNumber)), [15, 16, 17, 18, 19])
    }))
})

/**
 * A peer serving one persistent subscription group: confirms connections as `<stream>::<group>` and
 * sends `events` events at once, in one write.
 */
const group = (events: number, options?: { readonly links?: boolean }) =>
  peer((pkg, socket) => {
    switch (pkg.command) {
      case Command.ConnectToPersistentSubscription: {
        const request = decode(Messages.ConnectToPersistentSubscriptionSchema, pkg.payload)
        send(
          socket,
          Command.PersistentSubscriptionConfirmation,
          pkg.correlationId,
          message(Messages.PersistentSubscriptionConfirmationSchema, {
            lastCommitPosition: 0n,
            subscriptionId: `${request.eventStreamId}::${request.subscriptionId}`,
            lastEventNumber: BigInt(events - 1)
          })
        )
        const frames: Array<Uint8Array> = []
        for (let n = 0; n < events; n++) {
          const event = options?.links === true
            ? { event: record("ponies", BigInt(n)), link: record("$ce-ponies", BigInt(n)) }
            : { event: record("ponies", BigInt(n)) }
          frames.push(
            frame(
              Command.PersistentSubscriptionStreamEventAppeared,
              pkg.correlationId,
              message(Messages.PersistentSubscriptionStreamEventAppearedSchema, { event, retryCount: n % 3 })
            )
          )
        }
        socket.write(Buffer.concat(frames))
        return
      }
      case Command.UnsubscribeFromStream:
        return send(socket, Command.SubscriptionDropped, pkg.correlationId, dropped(Reasons.Unsubscribed))
    }
  })

/**
 * Takes `count` events of a persistent subscription, then settles them all with `settle` in one go
 * (the fiber does not yield to the event loop in between), and closes the subscription's scope.
 */
const takeThen = (
  stream: Stream.Stream<PersistentSubscription.PersistentEvent, unknown>,
  count: number,
  settle: (event: PersistentSubscription.PersistentEvent) => Effect.Effect<void>
) =>
  Effect.scoped(Effect.gen(function*() {
    const pull = yield* Stream.toPull(stream)
    const events: Array<PersistentSubscription.PersistentEvent> = []
    while (events.length < count) events.push(...(yield* Effect.orDie(pull)))
    yield* Effect.forEach(events, settle, { discard: true }).pipe(
      Effect.provideService(Scheduler.MaxOpsBeforeYield, Number.MAX_SAFE_INTEGER)
    )
    return events
  }))

const idsOf = (pkg: Package.InboundPackage) =>
  decode(Messages.PersistentSubscriptionAckEventsSchema, pkg.payload).processedEventIds.map((id) => Guid.readUnsafe(id, 0))

/** Connects to a group of a peer that drops every consumer with `reason`. */
const connectFails = <E>(reason: number, errorClass: new(...args: any) => E) =>
  Effect.gen(function*() {
    const server = yield* answering(Command.SubscriptionDropped, dropped(reason as Messages.SubscriptionDropped_SubscriptionDropReason))
    const es = yield* connect(server)
    return yield* failsWith(Stream.runDrain(es.connectSubscription("ponies", "billing")), errorClass as any) as Effect.Effect<E>
  })

describe("persistent subscriptions against raw peers", () => {
  it.live("ask for the group by name with the buffer size as in-flight limit, and ack by the original event's id", () =>
    Effect.gen(function*() {
      const server = yield* group(50, { links: true })
      const es = yield* connect(server)
      const events = yield* takeThen(es.connectSubscription("ponies", "billing", { bufferSize: 50 }), 50, (event) => event.ack())
      const [connectRequest] = receivedOf(server, Command.ConnectToPersistentSubscription)
      const request = decode(Messages.ConnectToPersistentSubscriptionSchema, connectRequest!.payload)
      assert.strictEqual(request.subscriptionId, "billing")
      assert.strictEqual(request.eventStreamId, "ponies")
      assert.strictEqual(request.allowedInFlightMessages, 50)
      assert.deepStrictEqual(events.map((e) => e.retryCount).slice(0, 4), [0, 1, 2, 0])
      assert.isTrue(events.every((e) => e.link !== undefined && e.isResolved))
      // One frame for the fifty acks, named by the links' ids, sent before the unsubscribe.
      const acks = receivedOf(server, Command.PersistentSubscriptionAckEvents)
      assert.strictEqual(acks.length, 1)
      assert.strictEqual(decode(Messages.PersistentSubscriptionAckEventsSchema, acks[0]!.payload).subscriptionId, "ponies::billing")
      assert.deepStrictEqual(idsOf(acks[0]!), events.map((e) => e.link!.id))
      assert.strictEqual(acks[0]!.correlationId, connectRequest!.correlationId)
      const ackIndex = server.received.indexOf(acks[0]!)
      const unsubscribeIndex = server.received.findIndex((p) => p.command === Command.UnsubscribeFromStream)
      assert.isTrue(ackIndex >= 0 && ackIndex < unsubscribeIndex)
    }))

  it.live("send the acks issued just before the scope closes, then unsubscribe", () =>
    Effect.gen(function*() {
      const server = yield* group(5)
      const es = yield* connect(server)
      // The consumer acks a chunk and closes the subscription's scope at once.
      const acked = yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(es.connectSubscription("ponies", "billing"))
        const chunk = yield* pull
        yield* Effect.forEach(chunk, (event) => event.ack(), { discard: true })
        return chunk.length
      }))
      assert.isAtLeast(acked, 1)
      const sequence = server.received
        .filter((p) => p.command === Command.PersistentSubscriptionAckEvents || p.command === Command.UnsubscribeFromStream)
        .map((p) => CommandModule.name(p.command))
      assert.deepStrictEqual(sequence, ["PersistentSubscriptionAckEvents", "UnsubscribeFromStream"])
      assert.strictEqual(idsOf(receivedOf(server, Command.PersistentSubscriptionAckEvents)[0]!).length, acked)
    }))

  it.live("nak with each action, batched per action and reason", () =>
    Effect.gen(function*() {
      const server = yield* group(8)
      const es = yield* connect(server)
      const actions: ReadonlyArray<PersistentSubscription.NakAction> = ["Park", "Retry", "Skip", "Stop"]
      yield* takeThen(
        es.connectSubscription("ponies", "billing"),
        8,
        (event) => event.nak(actions[Number(event.eventNumber) % 4]!, `no ${event.eventNumber % 4n}`)
      )
      const naks = receivedOf(server, Command.PersistentSubscriptionNakEvents).map((p) =>
        decode(Messages.PersistentSubscriptionNakEventsSchema, p.payload)
      )
      assert.strictEqual(naks.length, 4)
      const Actions = Messages.PersistentSubscriptionNakEvents_NakAction
      assert.deepStrictEqual(
        naks.map((nak) => [nak.action, nak.message, nak.processedEventIds.length, nak.subscriptionId]),
        [
          [Actions.Park, "no 0", 2, "ponies::billing"],
          [Actions.Retry, "no 1", 2, "ponies::billing"],
          [Actions.Skip, "no 2", 2, "ponies::billing"],
          [Actions.Stop, "no 3", 2, "ponies::billing"]
        ]
      )
    }))

  it.live("split more than 2,000 acks into frames of 2,000", () =>
    Effect.gen(function*() {
      const server = yield* group(4500)
      const es = yield* connect(server)
      yield* takeThen(es.connectSubscription("ponies", "billing", { bufferSize: 4500 }), 4500, (event) => event.ack())
      const acks = receivedOf(server, Command.PersistentSubscriptionAckEvents).map((p) => idsOf(p).length)
      assert.deepStrictEqual(acks, [2000, 2000, 500])
    }))

  it.live("autoAck acks what the handler handled and naks with Retry what it failed", () =>
    Effect.gen(function*() {
      const server = yield* group(6)
      const es = yield* connect(server)
      const handled = yield* es.connectSubscription("ponies", "billing").pipe(
        PersistentSubscription.autoAck((event) =>
          event.eventNumber % 2n === 0n ? Effect.succeed(Number(event.eventNumber)) : Effect.fail(new Error("odd"))
        ),
        Stream.take(3),
        Stream.runCollect
      )
      assert.deepStrictEqual(handled, [0, 2, 4])
      const acked = receivedOf(server, Command.PersistentSubscriptionAckEvents).flatMap(idsOf)
      const naks = receivedOf(server, Command.PersistentSubscriptionNakEvents).map((p) =>
        decode(Messages.PersistentSubscriptionNakEventsSchema, p.payload)
      )
      assert.strictEqual(acked.length, 3)
      assert.strictEqual(naks.flatMap((n) => n.processedEventIds).length, 2)
      assert.isTrue(naks.every((n) => n.action === Messages.PersistentSubscriptionNakEvents_NakAction.Retry))
      assert.isTrue(naks.every((n) => n.message === "odd"))
    }))

  describe("dropped by the server: typed errors", () => {
    it.live("NotFound", () =>
      Effect.gen(function*() {
        const error = yield* connectFails(Reasons.NotFound, EventStoreError.PersistentSubscriptionNotFound)
        assert.strictEqual(error.group, "billing")
        assert.strictEqual(error.stream, "ponies")
      }))

    it.live("SubscriberMaxCountReached", () =>
      Effect.gen(function*() {
        const error = yield* connectFails(Reasons.SubscriberMaxCountReached, EventStoreError.MaxSubscribersReached)
        assert.strictEqual(error.group, "billing")
      }))

    it.live("PersistentSubscriptionDeleted", () =>
      Effect.gen(function*() {
        const error = yield* connectFails(Reasons.PersistentSubscriptionDeleted, EventStoreError.PersistentSubscriptionDeleted)
        assert.strictEqual(error.group, "billing")
      }))

    it.live("AccessDenied", () =>
      Effect.gen(function*() {
        const error = yield* connectFails(Reasons.AccessDenied, EventStoreError.AccessDenied)
        assert.strictEqual(error.operation, "connectSubscription")
      }))

    it.live("Unsubscribed, when the client did not ask (the group was updated or deleted)", () =>
      Effect.gen(function*() {
        const error = yield* connectFails(Reasons.Unsubscribed, EventStoreError.SubscriptionDropped)
        assert.strictEqual(error.reason, "Unsubscribed")
        assert.strictEqual(error.group, "billing")
      }))
  })
})
