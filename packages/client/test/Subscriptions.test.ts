/**
 * Volatile and catch-up subscriptions against the embedded server, over a real socket, in both wire
 * styles: live events, the caught-up signal, exactly-once delivery across the switch from reading to
 * live under concurrent writers, slow consumers with bounded buffers, filters and checkpoints, access,
 * and the unsubscribe when the consumer's scope closes, as the server sees it. By property: a catch-up
 * subscription to `$all`, from the start or from a write, with any page and buffer sizes, while two
 * writers race it, delivers every event after its starting point once, in the order `$all` holds them.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { EventStoreServer } from "@photonpump/server"
import {
  Credentials,
  EventStore,
  EventStoreError,
  Filter,
  NewEvent,
  Position,
  Subscription
} from "@photonpump/client"
import * as Subscriptions from "../src/internal/Subscription.ts"
import { eventually, failsWith } from "./Assertions.ts"
import { checks, intBetween } from "./Properties.ts"
import { admin, serverAndClient, streamName } from "./TestServer.ts"

const jump = (n: number) => NewEvent.make("PonyJumped", { body: { n } })

/** Writes events numbered `from`..`to - 1` (their `n`) to a stream, `batch` at a time. */
const write = (es: EventStore.Service, stream: string, from: number, to: number, batch = 100) =>
  Effect.gen(function*() {
    for (let start = from; start < to; start += batch) {
      const events = Array.from({ length: Math.min(batch, to - start) }, (_, i) => jump(start + i))
      yield* es.publish(stream, events)
    }
  })

const numbers = (items: ReadonlyArray<Subscription.Item>) =>
  items.filter(Subscription.isEvent).map((e) => Number(e.originalEventNumber))

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

/** A probe for the subscriptions the effect runs. */
const probed = <A, E, R>(effect: Effect.Effect<A, E, R>, probe: Subscriptions.Probe) =>
  Effect.provideService(effect, Subscriptions.CurrentProbe, probe)

const reader = Credentials.make("reader", "reader-pw")

/** Batches of 1 to 5 events, as a writer makes them. */
const batches = Arbitrary.array(intBetween(1, 5), { maxLength: 8 })

const suite = (style: string, omitDefaultValues: boolean) =>
  layer(
    serverAndClient({}, { omitDefaultValues, users: [{ login: "reader", password: "reader-pw", groups: [] }] }),
    { excludeTestServices: true }
  )(`Subscriptions (${style})`, (it) => {
    describe("volatile", () => {
      it.effect("say CaughtUp once confirmed, then deliver the stream's new events, and unsubscribe at the end", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const server = yield* EventStoreServer.EventStoreServer
          const stream = streamName("volatile")
          yield* write(es, stream, 0, 3)
          const before = server.subscriptions()
          const live = yield* Deferred.make<void>()
          const fiber = yield* es.subscribeTo(stream).pipe(
            Stream.tap((item) => Subscription.isCaughtUp(item) ? Deferred.succeed(live, undefined) : Effect.void),
            Stream.take(4),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* Deferred.await(live)
          assert.strictEqual(server.subscriptions(), before + 1)
          yield* es.publish(streamName("other"), [jump(99)])
          yield* write(es, stream, 3, 6, 1)
          const items = yield* Fiber.join(fiber)
          assert.isTrue(Subscription.isCaughtUp(items[0]!))
          assert.deepStrictEqual(numbers(items), [3, 4, 5])
          assert.deepStrictEqual(items.filter(Subscription.isEvent).map((e) => e.json()), [{ n: 3 }, { n: 4 }, { n: 5 }])
          // The stream ended when the server had let go of the subscription.
          assert.strictEqual(server.subscriptions(), before)
        }))

      it.effect("to $all deliver every stream's events, with increasing positions", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const prefix = streamName("all")
          const live = yield* Deferred.make<void>()
          const fiber = yield* es.subscribeToAll().pipe(
            Stream.tap((item) => Subscription.isCaughtUp(item) ? Deferred.succeed(live, undefined) : Effect.void),
            Subscription.events,
            Stream.filter((event) => event.stream.startsWith(prefix)),
            Stream.take(4),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* Deferred.await(live)
          yield* es.publish(`${prefix}-a`, [jump(0), jump(1)])
          yield* es.publish(`${prefix}-b`, [jump(2), jump(3)])
          const events = yield* Fiber.join(fiber)
          assert.deepStrictEqual(events.map((e) => e.json<{ n: number }>().n), [0, 1, 2, 3])
          for (let i = 1; i < events.length; i++) {
            assert.isTrue(Position.compare(events[i - 1]!.position!, events[i]!.position!) < 0)
          }
        }))

      it.effect("resolve links when asked", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const target = streamName("target")
          const links = streamName("links")
          yield* write(es, target, 0, 3)
          const live = yield* Deferred.make<void>()
          const fiber = yield* es.subscribeTo(links).pipe(
            Stream.tap((item) => Subscription.isCaughtUp(item) ? Deferred.succeed(live, undefined) : Effect.void),
            Subscription.events,
            Stream.take(2),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* Deferred.await(live)
          yield* es.publish(links, [2, 0].map((n) => NewEvent.binary("$>", new TextEncoder().encode(`${n}@${target}`))))
          const events = yield* Fiber.join(fiber)
          assert.deepStrictEqual(events.map((e) => [e.stream, Number(e.eventNumber), Number(e.originalEventNumber)]), [
            [target, 2, 0],
            [target, 0, 1]
          ])
          assert.isTrue(events.every((e) => e.link?.stream === links))
        }))

      it.effect("are refused to a user who may not read, with AccessDenied", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const error = yield* failsWith(
            Stream.runDrain(es.subscribeToAll({ credentials: reader })),
            EventStoreError.AccessDenied
          )
          assert.strictEqual(error.stream, "$all")
          assert.strictEqual(error.operation, "subscribeToAll")
        }))
    })

    describe("catch-up", () => {
      it.effect("read the history from the start, say CaughtUp, then go on live", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("catchup")
          yield* write(es, stream, 0, 25)
          const live = yield* Deferred.make<void>()
          const fiber = yield* es.subscribeTo(stream, { from: "start", readBatchSize: 10 }).pipe(
            Stream.tap((item) => Subscription.isCaughtUp(item) ? Deferred.succeed(live, undefined) : Effect.void),
            Stream.take(31),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* Deferred.await(live)
          yield* write(es, stream, 25, 30, 1)
          const items = yield* Fiber.join(fiber)
          assert.deepStrictEqual(numbers(items), range(0, 30))
          assert.isTrue(Subscription.isCaughtUp(items[25]!))
        }))

      it.effect("start after the checkpoint, which is exclusive", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("checkpoint")
          yield* write(es, stream, 0, 10)
          const events = yield* Stream.runCollect(Subscription.untilCaughtUp(es.subscribeTo(stream, { from: 6 })))
          assert.deepStrictEqual(numbers(events), [7, 8, 9])
          const none = yield* Stream.runCollect(Subscription.untilCaughtUp(es.subscribeTo(stream, { from: 9n })))
          assert.deepStrictEqual(none, [])
        }))

      it.effect("wait for a stream that does not exist yet", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("future")
          const live = yield* Deferred.make<void>()
          const fiber = yield* es.subscribeTo(stream, { from: "start" }).pipe(
            Stream.tap((item) => Subscription.isCaughtUp(item) ? Deferred.succeed(live, undefined) : Effect.void),
            Stream.take(3),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* Deferred.await(live)
          yield* write(es, stream, 0, 2)
          const items = yield* Fiber.join(fiber)
          assert.isTrue(Subscription.isCaughtUp(items[0]!))
          assert.deepStrictEqual(numbers(items), [0, 1])
        }))

      it.effect("deliver exactly 0..N, in order, while writers append as fast as they can during the switch", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("race")
          const total = 3000
          yield* write(es, stream, 0, 200)
          // Writers append in small batches while subscribers start at different points of the race.
          const writer = yield* Effect.forkChild(write(es, stream, 200, total, 10))
          const subscriber = (readBatchSize: number) =>
            es.subscribeTo(stream, { from: "start", readBatchSize }).pipe(
              Subscription.events,
              Stream.take(total),
              Stream.map((event) => Number(event.eventNumber)),
              Stream.runCollect,
              Effect.forkChild
            )
          const subscribers = [yield* subscriber(7), yield* subscriber(50)]
          // One more once the writer is half way.
          while (Number((yield* es.getEvent(stream, -1)).eventNumber) < total / 2) yield* Effect.yieldNow
          subscribers.push(yield* subscriber(500))
          yield* Fiber.join(writer)
          subscribers.push(yield* subscriber(33))
          for (const fiber of subscribers) {
            assert.deepStrictEqual(yield* Fiber.join(fiber), range(0, total))
          }
        }))

      it.effect("with a consumer slower than the writer: buffers stay bounded, nothing is lost, and it ends live", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("slow")
          const probe = new Subscriptions.Probe()
          const liveBufferSize = 50
          const readBatchSize = 20
          yield* write(es, stream, 0, 10)
          // The consumer stops at the first live event until the writer has written far more than
          // the live buffer holds.
          const live = yield* Deferred.make<void>()
          const written = yield* Deferred.make<void>()
          const seen: Array<Subscription.Item> = []
          const total = 1010
          const fiber = yield* es.subscribeTo(stream, { from: "start", liveBufferSize, readBatchSize }).pipe(
            Stream.runForEach((item) =>
              Effect.gen(function*() {
                seen.push(item)
                if (Subscription.isCaughtUp(item) && !Deferred.isDoneUnsafe(live)) {
                  yield* Deferred.succeed(live, undefined)
                  yield* Deferred.await(written)
                }
              })
            ),
            (effect) => probed(effect, probe),
            Effect.forkChild
          )
          yield* Deferred.await(live)
          yield* write(es, stream, 10, total, 5)
          yield* Deferred.succeed(written, undefined)
          yield* eventually(
            () => seen.length > 0 && Subscription.isCaughtUp(seen[seen.length - 1]!) && numbers(seen).length === total,
            "the subscription to catch up again"
          )
          yield* Fiber.interrupt(fiber)
          assert.deepStrictEqual(numbers(seen), range(0, total))
          assert.isAtLeast(probe.overflows, 1)
          assert.isAtLeast(seen.filter(Subscription.isFellBehind).length, 1)
          assert.isAtMost(probe.bufferHighWater, liveBufferSize)
          assert.isAtMost(probe.chunkHighWater, readBatchSize + 2)
          // Every fall behind was followed by a catch up.
          const signals = seen.filter((item) => !Subscription.isEvent(item)).map(Subscription.isCaughtUp)
          assert.isTrue(signals[0])
          for (let i = 1; i < signals.length; i++) assert.notStrictEqual(signals[i], signals[i - 1])
        }))

      it.effect("with a consumer steadily slower than a concurrent writer: bounded, complete, live at the end", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("slower")
          const probe = new Subscriptions.Probe()
          const total = 3000
          const seen: Array<Subscription.Item> = []
          const fiber = yield* es.subscribeTo(stream, { from: "start", liveBufferSize: 40, readBatchSize: 25 }).pipe(
            Stream.runForEach((item) =>
              Effect.andThen(Effect.yieldNow, Effect.sync(() => seen.push(item)))
            ),
            (effect) => probed(effect, probe),
            Effect.forkChild
          )
          yield* write(es, stream, 0, total, 50)
          yield* eventually(
            () => seen.length > 0 && Subscription.isCaughtUp(seen[seen.length - 1]!) && numbers(seen).length === total,
            "the subscription to be live after the last event",
            20_000
          )
          yield* Fiber.interrupt(fiber)
          assert.deepStrictEqual(numbers(seen), range(0, total))
          assert.isAtMost(probe.bufferHighWater, 40)
          assert.isAtMost(probe.chunkHighWater, 27)
        }))

      it.effect("of $all start after a position, exclusive", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("allpos")
          yield* write(es, stream, 0, 3)
          const middle = yield* es.publish(stream, [jump(3)])
          yield* write(es, stream, 4, 6)
          const events = yield* es.subscribeToAll({ from: middle.position, filter: Filter.streamNamePrefix(stream) }).pipe(
            Subscription.untilCaughtUp,
            Stream.runCollect
          )
          assert.deepStrictEqual(events.map((e) => e.json<{ n: number }>().n), [4, 5])
          const fromStart = yield* es.subscribeToAll({ from: "start", filter: Filter.streamNamePrefix(stream) }).pipe(
            Subscription.untilCaughtUp,
            Stream.runCollect
          )
          assert.deepStrictEqual(fromStart.map((e) => e.json<{ n: number }>().n), range(0, 6))
        }))

      it.effect("of $all deliver every event once across the switch, under a concurrent writer", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("allrace")
          const total = 1500
          yield* write(es, stream, 0, 100)
          const writer = yield* Effect.forkChild(write(es, stream, 100, total, 10))
          const events = yield* es.subscribeToAll({ from: "start", readBatchSize: 100 }).pipe(
            Subscription.events,
            Stream.filter((event) => event.stream === stream),
            Stream.take(total),
            Stream.map((event) => event.json<{ n: number }>().n),
            Stream.runCollect
          )
          yield* Fiber.join(writer)
          assert.deepStrictEqual(events, range(0, total))
        }))
    })

    describe("catch-up to $all, by property", () => {
      it.effect.prop(
        "from the start or a write, racing two writers: every later event once, in $all's order",
        [batches, Arbitrary.schema(Schema.Boolean), batches, batches, intBetween(1, 20), intBetween(5, 40)],
        ([before, fromStart, writerA, writerB, readBatchSize, liveBufferSize]) =>
          Effect.scoped(Effect.gen(function*() {
            const es = yield* EventStore.EventStore
            const prefix = streamName("race-all")
            const publish = (stream: string, sizes: ReadonlyArray<number>) =>
              Effect.forEach(sizes, (size) => es.publish(`${prefix}-${stream}`, range(0, size).map(jump)), { discard: true })
            yield* publish("a", before)
            // The starting point: the start of $all, or a write of one event, which is not delivered.
            const split = yield* es.publish(`${prefix}-a`, [jump(-1)])
            yield* publish("b", before)
            const later = before.reduce((sum, size) => sum + size, 0) +
              writerA.reduce((sum, size) => sum + size, 0) + writerB.reduce((sum, size) => sum + size, 0)
            const expectedCount = later + (fromStart ? before.reduce((sum, size) => sum + size, 0) + 1 : 0)
            const delivered: Array<string> = []
            const fiber = yield* es.subscribeToAll({
              from: fromStart ? "start" : split.position,
              filter: Filter.streamNamePrefix(prefix),
              readBatchSize,
              liveBufferSize
            }).pipe(
              Subscription.events,
              Stream.runForEach((event) => Effect.sync(() => delivered.push(event.id))),
              Effect.forkScoped
            )
            yield* Effect.all([publish("a", writerA), publish("b", writerB)], { concurrency: 2, discard: true })
            yield* eventually(() => delivered.length >= expectedCount, `${expectedCount} events`)
            yield* Fiber.interrupt(fiber)
            // $all's order, as a read of it gives it.
            const all = yield* Stream.runCollect(es.iterAll({ filter: Filter.streamNamePrefix(prefix) }))
            const ids = Array.from(all, (event) => event.id)
            const splitAt = all.findIndex((event) => Position.equals(event.position!, split.position))
            assert.isAtLeast(splitAt, 0)
            assert.deepStrictEqual(delivered, fromStart ? ids : ids.slice(splitAt + 1))
          })),
        checks(30)
      )
    })

    describe("filtered $all", () => {
      it.effect("pushes only matching events, and checkpoints every so many events considered", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const type = `Matching${streamName("t").replace("-", "")}`
          const live = yield* Deferred.make<void>()
          const fiber = yield* es.subscribeToAll({ filter: Filter.eventTypePrefix(type), checkpointInterval: 5 }).pipe(
            Stream.tap((item) => Subscription.isCaughtUp(item) ? Deferred.succeed(live, undefined) : Effect.void),
            Stream.takeUntil((item) => Subscription.isEvent(item) && item.json<{ n: number }>().n === 2),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* Deferred.await(live)
          const stream = streamName("filtered")
          for (let n = 0; n < 3; n++) {
            yield* write(es, stream, 0, 6)
            yield* es.publish(stream, [NewEvent.make(type, { body: { n } })])
          }
          const items = yield* Fiber.join(fiber)
          const events = items.filter(Subscription.isEvent)
          assert.deepStrictEqual(events.map((e) => e.type), [type, type, type])
          const checkpoints = items.filter(Subscription.isCheckpoint)
          assert.isAtLeast(checkpoints.length, 3)
          for (let i = 1; i < checkpoints.length; i++) {
            assert.isTrue(Position.compare(checkpoints[i - 1]!.position, checkpoints[i]!.position) < 0)
          }
        }))

      it.effect("catch-up from a checkpoint resumes without repeating or losing a matching event", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("resume")
          const type = `Wanted${stream.replace("-", "")}`
          const marker = yield* es.publish(stream, [jump(-1)])
          for (let n = 0; n < 10; n++) {
            yield* es.publish(stream, [jump(100 + n), NewEvent.make(type, { body: { n } }), jump(200 + n)])
          }
          const options = { from: marker.position, filter: Filter.eventTypePrefix(type), readBatchSize: 2 }
          const all = yield* es.subscribeToAll(options).pipe(Subscription.untilCaughtUp, Stream.runCollect)
          assert.deepStrictEqual(all.map((e) => e.json<{ n: number }>().n), range(0, 10))
          // Reading considers two events a page: a checkpoint every three pages, between the matches.
          const items = yield* es.subscribeToAll({ ...options, checkpointInterval: 6 }).pipe(
            Stream.takeWhile((item) => !Subscription.isCaughtUp(item)),
            Stream.runCollect
          )
          const checkpoints = items.filter(Subscription.isCheckpoint)
          assert.isAtLeast(checkpoints.length, 4)
          for (const stop of checkpoints) {
            const before = items.slice(0, items.indexOf(stop)).filter(Subscription.isEvent)
            const after = yield* es.subscribeToAll({ ...options, from: stop.position }).pipe(
              Subscription.untilCaughtUp,
              Stream.runCollect
            )
            assert.deepStrictEqual([...before, ...after].map((e) => e.json<{ n: number }>().n), range(0, 10))
          }
        }))
    })
  })

suite("proto2 wire", false)
suite("22.6+ wire (default values left out)", true)

describe("Subscriptions when the server goes away", () => {
  layer(Layer.empty, { excludeTestServices: true })("shutdown", (it) => {
    it.effect("a node that shuts down drops the subscription: SubscriptionDropped, not a silent end", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* Scope.provide(EventStoreServer.make({ port: 0 }), scope)
        const es = yield* EventStore.connect({ host: server.host, port: server.port, credentials: admin })
        const live = yield* Deferred.make<void>()
        const fiber = yield* es.subscribeTo(streamName("doomed")).pipe(
          Stream.tap((item) => Subscription.isCaughtUp(item) ? Deferred.succeed(live, undefined) : Effect.void),
          Stream.runDrain,
          Effect.forkChild
        )
        yield* Deferred.await(live)
        yield* Scope.close(scope, Exit.void)
        const error = yield* failsWith(Fiber.join(fiber), EventStoreError.SubscriptionDropped)
        assert.strictEqual(error.reason, "Unsubscribed")
      }))
  })
})
