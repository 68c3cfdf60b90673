/**
 * Persistent subscriptions against the embedded server, over real sockets: managing groups (every
 * result), consumers competing under each strategy, acks and naks with each action, retries, parking,
 * message timeouts, the drops that updates and deletes cause, and what a consumer leaves behind when
 * its scope closes (its acks sent, its unsettled events given to others). By property: for any plan of
 * retries, acks, parks and skips and any retry limit, each event is delivered with the retry counts
 * docs/protocol.md 5.4 implies, and exactly the events parked by a nak or by the limit reach the parked
 * stream.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import {
  Credentials,
  EventStore,
  EventStoreError,
  NewEvent,
  PersistentSubscription,
  type Settings
} from "@photonpump/client"
import * as Subscriptions from "../src/internal/Subscription.ts"
import { eventually, failsWith } from "./Assertions.ts"
import { checks, intBetween } from "./Properties.ts"
import { admin, serverAddress, serverAndClient, streamName } from "./TestServer.ts"

const jump = (n: number, metadata?: unknown) => NewEvent.make("PonyJumped", { body: { n }, metadata })

const write = (es: EventStore.Service, stream: string, from: number, to: number) =>
  es.publish(stream, Array.from({ length: to - from }, (_, i) => jump(from + i)))

const reader = Credentials.make("reader", "reader-pw")

/** Another connection to the test's server. */
const connectTo = (options?: Settings.Options) =>
  Effect.flatMap(serverAddress, ({ host, port }) => EventStore.connect({ credentials: admin, ...options, host, port }))

type Event = PersistentSubscription.PersistentEvent

/**
 * A consumer of a group on a connection of its own, running in the background: it records every
 * event it gets and settles it with `settle` (nothing by default). Returns once the server has
 * confirmed it.
 */
const consumer = (
  stream: string,
  group: string,
  options?: {
    readonly bufferSize?: number
    readonly settle?: (event: Event) => Effect.Effect<void>
  }
) =>
  Effect.gen(function*() {
    const es = yield* connectTo()
    const probe = new Subscriptions.Probe()
    const events: Array<Event> = []
    const fiber = yield* es.connectSubscription(stream, group, { bufferSize: options?.bufferSize ?? 10 }).pipe(
      Stream.runForEach((event) => {
        events.push(event)
        return options?.settle?.(event) ?? Effect.void
      }),
      Effect.provideService(Subscriptions.CurrentProbe, probe),
      Effect.forkChild
    )
    yield* eventually(() => probe.confirmations === 1 || fiber.pollUnsafe() !== undefined, "the consumer to connect")
    return { events, fiber, probe, numbers: () => events.map((e) => Number(e.eventNumber)) }
  })

const ack = (event: Event) => event.ack()
const correlationOf = (e: Event) => e.event.metadataJson<{ $correlationId: string }>()!.$correlationId
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
const sorted = (values: ReadonlyArray<number>) => {
  const copy = Array.from(values)
  copy.sort((a, b) => a - b)
  return copy
}

const configOf = (es: EventStore.Service, stream: string, group: string) =>
  Effect.map(es.getEvent("$persistentSubscriptionConfig", -1), (event) =>
    event.json<{ entries: Array<Record<string, unknown>> }>().entries.find((entry) =>
      entry["stream"] === stream && entry["group"] === group
    ))

layer(
  serverAndClient({}, {
    users: [{ login: "reader", password: "reader-pw", groups: [] }],
    persistentSubscriptionTick: "20 millis"
  }),
  { excludeTestServices: true }
)("Persistent subscriptions", (it) => {
  describe("managing groups", () => {
    it.effect("create with the official defaults, update, delete", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("manage")
        yield* es.createSubscription(stream, "billing")
        assert.deepStrictEqual(yield* configOf(es, stream, "billing"), {
          stream,
          group: "billing",
          messageTimeout: 30000,
          startFrom: -1,
          liveBufferSize: 500,
          historyBufferSize: 500,
          maxRetryCount: 10,
          readBatchSize: 20,
          preferRoundRobin: true,
          checkPointAfter: 2000,
          minCheckPointCount: 10,
          maxCheckPointCount: 1000,
          namedConsumerStrategy: "RoundRobin"
        })
        yield* es.updateSubscription(stream, "billing", {
          resolveLinks: true,
          startFrom: 5,
          messageTimeout: "1 second",
          maxRetryCount: 3,
          checkpointAfter: "500 millis",
          maxSubscriberCount: 2,
          consumerStrategy: "DispatchToSingle"
        })
        const updated = yield* configOf(es, stream, "billing")
        assert.strictEqual(updated?.["resolveLinkTos"], true)
        assert.strictEqual(updated?.["startFrom"], 5)
        assert.strictEqual(updated?.["messageTimeout"], 1000)
        assert.strictEqual(updated?.["maxRetryCount"], 3)
        assert.strictEqual(updated?.["checkPointAfter"], 500)
        assert.strictEqual(updated?.["maxSubscriberCount"], 2)
        assert.strictEqual(updated?.["namedConsumerStrategy"], "DispatchToSingle")
        assert.isUndefined(updated?.["preferRoundRobin"])
        yield* es.deleteSubscription(stream, "billing")
        assert.isUndefined(yield* configOf(es, stream, "billing"))
      }))

    it.effect("refuse a start that is not an event number with BadRequest, before anything is sent", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("bad-start")
        for (const startFrom of [1.5, Number.NaN, 2n ** 64n]) {
          const created = yield* failsWith(es.createSubscription(stream, "g", { startFrom }), EventStoreError.BadRequest)
          assert.include(created.reason, `${startFrom}`)
          yield* failsWith(es.updateSubscription(stream, "g", { startFrom }), EventStoreError.BadRequest)
        }
        // Nothing reached the server: the group can still be created.
        yield* es.createSubscription(stream, "g", { startFrom: 0 })
      }))

    it.effect("fail with each result's error", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("errors")
        yield* es.createSubscription(stream, "billing")
        const exists = yield* failsWith(
          es.createSubscription(stream, "billing"),
          EventStoreError.PersistentSubscriptionAlreadyExists
        )
        assert.deepStrictEqual([exists.stream, exists.group], [stream, "billing"])
        const all = yield* failsWith(es.createSubscription("$all", "billing"), EventStoreError.PersistentSubscriptionFailed)
        assert.strictEqual(all.reason, "Bad stream name.")
        assert.strictEqual(all.operation, "createSubscription")
        const strategy = yield* failsWith(
          es.createSubscription(stream, "other", { consumerStrategy: "Nope" as PersistentSubscription.ConsumerStrategy }),
          EventStoreError.PersistentSubscriptionFailed
        )
        assert.include(strategy.reason, "Nope")
        const missing = yield* failsWith(
          es.updateSubscription(stream, "missing"),
          EventStoreError.PersistentSubscriptionNotFound
        )
        assert.deepStrictEqual([missing.stream, missing.group], [stream, "missing"])
        yield* failsWith(es.deleteSubscription(stream, "missing"), EventStoreError.PersistentSubscriptionNotFound)
        const denied = yield* failsWith(
          es.createSubscription(stream, "mine", { credentials: reader }),
          EventStoreError.AccessDenied
        )
        assert.strictEqual(denied.operation, "createSubscription")
        yield* failsWith(es.deleteSubscription(stream, "billing", { credentials: reader }), EventStoreError.AccessDenied)
      }))
  })

  describe("consumers", () => {
    it.effect("get the history from startFrom and the live events, each once when acked", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("orders")
        yield* write(es, stream, 0, 5)
        yield* es.createSubscription(stream, "billing", { startFrom: 0 })
        const first = yield* consumer(stream, "billing", { settle: ack })
        yield* write(es, stream, 5, 10)
        yield* eventually(() => first.events.length === 10, "ten events")
        assert.deepStrictEqual(first.numbers(), range(0, 10))
        assert.isTrue(first.events.every((e) => e.retryCount === 0))
        assert.deepStrictEqual(first.events.map((e) => e.json()), range(0, 10).map((n) => ({ n })))
        // Acked events are not given again: a consumer arriving later gets only what comes next.
        yield* Fiber.interrupt(first.fiber)
        const second = yield* consumer(stream, "billing", { settle: ack })
        yield* write(es, stream, 10, 11)
        yield* eventually(() => second.events.length === 1, "the next event")
        assert.deepStrictEqual(second.numbers(), [10])
      }))

    it.effect("are refused with typed errors: no such group, too many consumers, no read access", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("refused")
        const missing = yield* failsWith(
          Stream.runDrain(es.connectSubscription(stream, "missing")),
          EventStoreError.PersistentSubscriptionNotFound
        )
        assert.deepStrictEqual([missing.stream, missing.group], [stream, "missing"])
        yield* es.createSubscription(stream, "single", { maxSubscriberCount: 1 })
        yield* consumer(stream, "single")
        const full = yield* failsWith(
          Stream.runDrain(es.connectSubscription(stream, "single")),
          EventStoreError.MaxSubscribersReached
        )
        assert.strictEqual(full.group, "single")
        yield* es.setStreamMetadata(stream, { acl: { readRoles: ["$admins"] } })
        const denied = yield* failsWith(
          Stream.runDrain(es.connectSubscription(stream, "single", { credentials: reader })),
          EventStoreError.AccessDenied
        )
        assert.strictEqual(denied.operation, "connectSubscription")
      }))
  })

  describe("two competing consumers", () => {
    it.effect("RoundRobin: take turns", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("rr")
        yield* es.createSubscription(stream, "g", { consumerStrategy: "RoundRobin" })
        const a = yield* consumer(stream, "g", { settle: ack })
        const b = yield* consumer(stream, "g", { settle: ack })
        yield* write(es, stream, 0, 20)
        yield* eventually(() => a.events.length + b.events.length === 20, "twenty events")
        assert.deepStrictEqual(sorted([...a.numbers(), ...b.numbers()]), range(0, 20))
        assert.strictEqual(a.events.length, 10)
        assert.strictEqual(b.events.length, 10)
      }))

    it.effect("DispatchToSingle: fill the first consumer up to its buffer, then the next", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("single")
        yield* es.createSubscription(stream, "g", { consumerStrategy: "DispatchToSingle" })
        // Neither acks: the first takes as many as its buffer holds, the second the rest.
        const a = yield* consumer(stream, "g", { bufferSize: 5 })
        const b = yield* consumer(stream, "g", { bufferSize: 5 })
        yield* write(es, stream, 0, 8)
        yield* eventually(() => a.events.length + b.events.length === 8, "eight events")
        const [first, second] = a.events.length === 5 ? [a, b] : [b, a]
        assert.deepStrictEqual(first.numbers(), range(0, 5))
        assert.deepStrictEqual(second.numbers(), range(5, 8))
      }))

    it.effect("Pinned: each source stream to one consumer", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const links = streamName("pinned")
        const sources = Array.from({ length: 6 }, (_, i) => `${links}-source${i}`)
        yield* es.createSubscription(links, "g", { consumerStrategy: "Pinned", resolveLinks: true })
        const a = yield* consumer(links, "g", { settle: ack, bufferSize: 50 })
        const b = yield* consumer(links, "g", { settle: ack, bufferSize: 50 })
        for (let round = 0; round < 4; round++) {
          for (const source of sources) {
            const written = yield* es.publish(source, [jump(round)])
            yield* es.publish(links, [
              NewEvent.binary("$>", new TextEncoder().encode(`${written.lastEventNumber}@${source}`))
            ])
          }
        }
        yield* eventually(() => a.events.length + b.events.length === 24, "every link")
        const ownerOf = new Map<string, Set<string>>()
        for (const [name, events] of [["a", a.events], ["b", b.events]] as const) {
          for (const event of events) {
            const owners = ownerOf.get(event.stream) ?? new Set()
            owners.add(name)
            ownerOf.set(event.stream, owners)
          }
        }
        assert.strictEqual(ownerOf.size, 6)
        assert.isTrue(Array.from(ownerOf.values()).every((owners) => owners.size === 1))
        // The events reached the consumers resolved, and are acked by the links' ids.
        assert.isTrue([...a.events, ...b.events].every((e) => e.link?.stream === links))
      }))

    it.effect("PinnedByCorrelation: each $correlationId to one consumer", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("correlated")
        yield* es.createSubscription(stream, "g", { consumerStrategy: "PinnedByCorrelation" })
        const a = yield* consumer(stream, "g", { settle: ack, bufferSize: 50 })
        const b = yield* consumer(stream, "g", { settle: ack, bufferSize: 50 })
        const correlations = ["c1", "c2", "c3", "c4", "c5", "c6"]
        for (let i = 0; i < 24; i++) {
          yield* es.publish(stream, [jump(i, { $correlationId: correlations[i % 6] })])
        }
        yield* eventually(() => a.events.length + b.events.length === 24, "every event")
        const ofA = new Set(a.events.map(correlationOf))
        const ofB = new Set(b.events.map(correlationOf))
        assert.strictEqual(ofA.size + ofB.size, 6)
        assert.isTrue([...ofA].every((c) => !ofB.has(c)))
      }))
  })

  describe("nak", () => {
    it.effect("Retry: given again with a higher retry count", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("retry")
        yield* es.createSubscription(stream, "g")
        const c = yield* consumer(stream, "g", {
          settle: (event) => event.retryCount < 2 ? event.nak("Retry", "not yet") : event.ack()
        })
        yield* write(es, stream, 0, 1)
        yield* eventually(() => c.events.length === 3, "three deliveries")
        assert.deepStrictEqual(c.events.map((e) => [Number(e.eventNumber), e.retryCount]), [[0, 0], [0, 1], [0, 2]])
      }))

    it.effect("Park: put aside at once in the parked stream, with the reason", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("park")
        yield* es.createSubscription(stream, "g")
        const c = yield* consumer(stream, "g", {
          settle: (event) => event.eventNumber === 0n ? event.nak("Park", "poison") : event.ack()
        })
        yield* write(es, stream, 0, 2)
        yield* eventually(() => c.events.length === 2, "both events")
        const parked = `$persistentsubscription-${stream}::g-parked`
        const link = yield* es.getEvent(parked, 0, { resolveLinks: false })
        assert.strictEqual(link.event.text(), `0@${stream}`)
        assert.include(link.event.metadataJson<{ reason: string }>()!.reason, "poison")
        assert.deepStrictEqual(c.numbers(), [0, 1])
      }))

    it.effect("Skip: forgotten, the next event comes", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("skip")
        yield* es.createSubscription(stream, "g")
        // One event in flight at a time: the second comes only once the first is settled.
        const c = yield* consumer(stream, "g", {
          bufferSize: 1,
          settle: (event) => event.eventNumber === 0n ? event.nak("Skip") : event.ack()
        })
        yield* write(es, stream, 0, 3)
        yield* eventually(() => c.events.length === 3, "three events")
        assert.deepStrictEqual(c.events.map((e) => [Number(e.eventNumber), e.retryCount]), [[0, 0], [1, 0], [2, 0]])
      }))

    it.effect("Stop: forgotten like Skip, even after its message timeout (as the 20.10 server)", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("stop")
        yield* es.createSubscription(stream, "g", { messageTimeout: "100 millis", minCheckpointCount: 1 })
        const c = yield* consumer(stream, "g", {
          bufferSize: 1,
          settle: (event) => event.eventNumber === 0n ? event.nak("Stop") : event.ack()
        })
        yield* write(es, stream, 0, 2)
        // The checkpoint passes event 0 only once nothing before it is outstanding: the stopped
        // event is no longer awaited, so no timeout can bring it back.
        const checkpoint = `$persistentsubscription-${stream}::g-checkpoint`
        yield* Effect.eventually(Effect.filterOrFail(
          Effect.map(es.getEvent(checkpoint, -1), (event) => event.json<number>()),
          (n) => n === 1
        ))
        yield* write(es, stream, 2, 3)
        yield* eventually(() => c.events.length === 3, "the next event")
        assert.deepStrictEqual(c.events.map((e) => [Number(e.eventNumber), e.retryCount]), [[0, 0], [1, 0], [2, 0]])
      }))

    it.effect("Retry past maxRetryCount parks the event", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("exhausted")
        yield* es.createSubscription(stream, "g", { maxRetryCount: 2 })
        const c = yield* consumer(stream, "g", { settle: (event) => event.nak("Retry", "still failing") })
        yield* write(es, stream, 0, 1)
        const parked = `$persistentsubscription-${stream}::g-parked`
        yield* eventually(() => c.events.length === 3, "three deliveries")
        const link = yield* Effect.eventually(es.getEvent(parked, 0, { resolveLinks: false }))
        assert.strictEqual(link.event.text(), `0@${stream}`)
        assert.deepStrictEqual(c.events.map((e) => e.retryCount), [0, 1, 2])
      }))
  })

  it.effect("an event not settled within the message timeout is given again", () =>
    Effect.gen(function*() {
      const es = yield* EventStore.EventStore
      const stream = streamName("timeout")
      yield* es.createSubscription(stream, "g", { messageTimeout: "100 millis" })
      const c = yield* consumer(stream, "g", { settle: (event) => event.retryCount > 0 ? event.ack() : Effect.void })
      yield* write(es, stream, 0, 2)
      yield* eventually(() => c.events.length === 4, "both events twice")
      assert.deepStrictEqual(
        c.events.map((e) => [Number(e.eventNumber), e.retryCount]),
        [[0, 0], [1, 0], [0, 1], [1, 1]]
      )
    }))

  describe("by property", () => {
    /** What the consumer does with an event: nak it with Retry `retries` times, then settle it so. */
    const plan = Arbitrary.all({
      retries: intBetween(0, 3),
      settle: intBetween(0, 2).pipe(Arbitrary.map((n) => (["ack", "park", "skip"] as const)[n]!))
    })

    it.effect.prop(
      "every event is delivered with the retry counts its plan and the retry limit imply, and parked exactly when due",
      [Arbitrary.array(plan, { minLength: 1, maxLength: 12 }), intBetween(0, 3)],
      ([plans, maxRetryCount]) =>
        Effect.scoped(Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("plans")
          yield* es.createSubscription(stream, "g", { maxRetryCount })
          const c = yield* consumer(stream, "g", {
            bufferSize: 5,
            settle: (event) => {
              const { retries, settle } = plans[Number(event.eventNumber)]!
              if (event.retryCount < retries) return event.nak("Retry", "not yet")
              return settle === "ack" ? event.ack() : settle === "park" ? event.nak("Park", "planned") : event.nak("Skip", "planned")
            }
          })
          yield* write(es, stream, 0, plans.length)
          // A Retry at the limit parks instead (5.4): an event is delivered up to the limit's count.
          const deliveries = plans.map(({ retries }) => Math.min(retries, maxRetryCount) + 1)
          const total = deliveries.reduce((sum, n) => sum + n, 0)
          yield* eventually(() => c.events.length >= total, `${total} deliveries`)
          const parkedNumbers = plans.flatMap(({ retries, settle }, n) =>
            retries > maxRetryCount || settle === "park" ? [n] : []
          )
          const parked = `$persistentsubscription-${stream}::g-parked`
          const readParked = Effect.flatMap(
            Stream.runCollect(es.iter(parked, { resolveLinks: false })),
            (events) => events.length >= parkedNumbers.length ? Effect.succeed(Array.from(events)) : Effect.fail("not yet")
          )
          const links = parkedNumbers.length === 0 ? [] : yield* Effect.eventually(readParked)
          yield* Fiber.interrupt(c.fiber)
          // Each event's retry counts, in the order it was given them.
          const countsOf = (n: number) => c.events.filter((e) => Number(e.eventNumber) === n).map((e) => e.retryCount)
          plans.forEach((_, n) => assert.deepStrictEqual(countsOf(n), range(0, deliveries[n]!), `event ${n}`))
          assert.strictEqual(c.events.length, total)
          assert.deepStrictEqual(sorted(links.map((link) => Number(link.event.text().split("@")[0]))), parkedNumbers)
        })),
      checks(25)
    )
  })

  describe("dropped consumers", () => {
    it.effect("an update drops the consumers: SubscriptionDropped, to catch", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("updated")
        yield* es.createSubscription(stream, "g")
        const c = yield* consumer(stream, "g")
        yield* es.updateSubscription(stream, "g", { maxRetryCount: 1 })
        const error = yield* failsWith(Fiber.join(c.fiber), EventStoreError.SubscriptionDropped)
        assert.strictEqual(error.reason, "Unsubscribed")
        assert.strictEqual(error.group, "g")
        // The consumer can reconnect to the updated group.
        yield* consumer(stream, "g")
      }))

    it.effect("a delete drops the consumers", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("deleted")
        yield* es.createSubscription(stream, "g")
        const c = yield* consumer(stream, "g")
        yield* es.deleteSubscription(stream, "g")
        const error = yield* failsWith(Fiber.join(c.fiber), EventStoreError.SubscriptionDropped)
        assert.strictEqual(error.reason, "Unsubscribed")
      }))
  })

  describe("leaving", () => {
    it.effect("sends every ack issued before the scope closed: nothing acked comes back to others", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("leave")
        yield* es.createSubscription(stream, "g")
        const other = yield* consumer(stream, "g", { settle: ack })
        // A second consumer takes its share, acks it all at once, and leaves at once.
        const leaver = yield* connectTo()
        const probe = new Subscriptions.Probe()
        const taken = yield* Effect.forkChild(
          Effect.scoped(Effect.gen(function*() {
            const pull = yield* Stream.toPull(leaver.connectSubscription(stream, "g", { bufferSize: 50 }))
            const events: Array<Event> = []
            while (events.length < 10) events.push(...(yield* Effect.orDie(pull)))
            yield* Effect.forEach(events, ack, { discard: true })
            return events
          })).pipe(Effect.provideService(Subscriptions.CurrentProbe, probe))
        )
        yield* eventually(() => probe.confirmations === 1, "the second consumer")
        yield* write(es, stream, 0, 20)
        const left = yield* Fiber.join(taken)
        yield* eventually(() => other.events.length + left.length >= 20, "every event")
        yield* write(es, stream, 20, 21)
        yield* eventually(() => other.numbers().includes(20), "the last event")
        assert.deepStrictEqual(sorted([...other.numbers(), ...left.map((e) => Number(e.eventNumber))]), range(0, 21))
        assert.isTrue(other.events.every((e) => e.retryCount === 0))
      }))

    it.effect("gives the events it had not settled to the other consumers", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("handover")
        yield* es.createSubscription(stream, "g", { consumerStrategy: "DispatchToSingle" })
        const first = yield* consumer(stream, "g", { bufferSize: 5 })
        yield* write(es, stream, 0, 5)
        yield* eventually(() => first.events.length === 5, "the first consumer's five")
        const second = yield* consumer(stream, "g", { settle: ack })
        assert.strictEqual(second.events.length, 0)
        yield* Fiber.interrupt(first.fiber)
        yield* eventually(() => second.events.length === 5, "the five again, to the second consumer")
        assert.deepStrictEqual(second.numbers(), range(0, 5))
        assert.isTrue(second.events.every((e) => e.retryCount === 1))
      }))
  })

  it.effect("autoAck: acks what the handler did, retries what it failed, and acks move the checkpoint", () =>
    Effect.gen(function*() {
      const es = yield* EventStore.EventStore
      const stream = streamName("auto")
      yield* es.createSubscription(stream, "g", { minCheckpointCount: 1, maxCheckpointCount: 10 })
      yield* write(es, stream, 0, 10)
      const handled: Array<[number, number]> = []
      const probe = new Subscriptions.Probe()
      const fiber = yield* es.connectSubscription(stream, "g").pipe(
        PersistentSubscription.autoAck((event) =>
          event.eventNumber === 3n && event.retryCount === 0
            ? Effect.fail("not now")
            : Effect.sync(() => handled.push([Number(event.eventNumber), event.retryCount]))
        ),
        Stream.runDrain,
        Effect.provideService(Subscriptions.CurrentProbe, probe),
        Effect.forkChild
      )
      yield* eventually(() => probe.confirmations === 1, "the consumer")
      yield* write(es, stream, 10, 20)
      yield* eventually(() => handled.length === 20, "twenty events handled")
      assert.deepStrictEqual(sorted(handled.map(([n]) => n)), range(0, 20))
      assert.deepStrictEqual(handled.filter(([n]) => n === 3), [[3, 1]])
      // Every event was acked: the group's checkpoint reaches the last one.
      const checkpoint = `$persistentsubscription-${stream}::g-checkpoint`
      const last = yield* Effect.eventually(Effect.filterOrFail(
        Effect.map(es.getEvent(checkpoint, -1), (event) => event.json<number>()),
        (n) => n === 19
      ))
      assert.strictEqual(last, 19)
      yield* Fiber.interrupt(fiber)
    }))
})
