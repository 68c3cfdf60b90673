/**
 * Persistent-subscription consumers by property, against the embedded server over real sockets: the
 * client's side of docs/protocol.md 5.4 and of the README's "Persistent subscriptions" section. A group
 * is created (with a strategy the server refuses first, then a good one) and updated through the
 * client; two to four consumers join it, on the client's own connection or on connections of their
 * own, with random in-flight limits, under RoundRobin or DispatchToSingle, on a stream of events or
 * of links to them (resolved, so acks and naks must name the links). Each event has a plan:
 * nak it with Retry some times, then ack, park or skip it. One consumer may leave right after settling
 * its k-th event (its last ack or nak still queued when its stream is interrupted or ends), or is
 * interrupted from outside while it holds an event, leaving unsettled events in its buffer. Then:
 *
 * - each event's deliveries, over all consumers, carry increasing retry counts from 0, without a gap
 *   but one where the leaving consumer held it unseen in its buffer (an ack or nak lost, or sent
 *   twice, would show as a repeat, an extra gap or a delivery after the final settle);
 * - the last delivery of each event is the one its plan settles (nothing settled comes back);
 * - exactly the events planned to be parked reach the parked stream, once each;
 * - the group's checkpoint reaches the last event (every event processed);
 * - no consumer's buffer ever holds more than its in-flight limit;
 * - deleting the group through the client drops what is left and a new consumer is refused.
 *
 * Unspecified, so not checked: which consumer gets which event (the strategies' fairness is the
 * server's, checked by its own tests), and how the acks and naks are cut into frames. The retry limit
 * is kept above what a plan plus one leaving consumer can reach (limit parking is checked in
 * PersistentSubscriptions.test.ts), and the message timeout is long, so no delivery depends on time.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { EventStore, EventStoreError, NewEvent, type PersistentSubscription } from "@photonpump/client"
import * as Subscriptions from "../src/internal/Subscription.ts"
import { eventually, failsWith } from "./Assertions.ts"
import { checks, intBetween } from "./Properties.ts"
import { admin, serverAddress, serverAndClient, streamName } from "./TestServer.ts"

type Event = PersistentSubscription.PersistentEvent
type Settle = "ack" | "park" | "skip"

const plan = Arbitrary.all({
  retries: intBetween(0, 2),
  settle: intBetween(0, 2).pipe(Arbitrary.map((n) => (["ack", "park", "skip"] as const)[n]!))
})

const consumerPlan = Arbitrary.all({
  ownConnection: intBetween(0, 1).pipe(Arbitrary.map((n) => n === 1)),
  bufferSize: intBetween(1, 5)
})

interface Delivery {
  readonly consumer: number
  readonly retryCount: number
  /** What the consumer did with it: a Retry nak, the plan's final settle, or nothing (it left). */
  settled: "retry" | Settle | "none"
}

const sorted = (values: ReadonlyArray<number>) => {
  const copy = Array.from(values)
  copy.sort((a, b) => a - b)
  return copy
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

layer(serverAndClient({}, { persistentSubscriptionTick: "10 millis" }), { excludeTestServices: true })(
  "Persistent consumers by property",
  (it) => {
    describe("several consumers, acks and naks, one leaving", () => {
      it.effect.prop(
        "every event settles as planned, once, whichever consumer has it and whoever leaves",
        [
          Arbitrary.array(plan, { minLength: 1, maxLength: 16 }),
          Arbitrary.array(consumerPlan, { minLength: 2, maxLength: 4 }),
          intBetween(0, 1).pipe(Arbitrary.map((n) => (["RoundRobin", "DispatchToSingle"] as const)[n]!)),
          // Which consumer leaves (none when out of range), and after settling how many events.
          intBetween(0, 5),
          intBetween(1, 6),
          // How it leaves: interrupting itself right after a settle, its stream ending (`Stream.take`)
          // right after a settle, or interrupted from outside while it holds an event it has not settled.
          intBetween(0, 2).pipe(Arbitrary.map((n) => (["interrupt", "take", "outside"] as const)[n]!)),
          intBetween(0, 16),
          // Whether the group's stream holds links to another stream's events, resolved: acks and naks
          // must then name the links.
          intBetween(0, 1).pipe(Arbitrary.map((n) => n === 1))
        ],
        ([plans, consumers, strategy, leaver, leaveAfter, leaving, before, ofLinks]) =>
          Effect.scoped(Effect.gen(function*() {
            const es = yield* EventStore.EventStore
            const { host, port } = yield* serverAddress
            const stream = streamName("pp")
            const group = "g"
            const written = Math.min(before, plans.length)
            const source = `${stream}-source`
            const writeRange = (from: number, to: number) =>
              ofLinks
                ? Effect.andThen(
                  es.publish(source, range(from, to).map((n) => NewEvent.make("Jumped", { body: { n } }))),
                  es.publish(
                    stream,
                    range(from, to).map((n) => NewEvent.binary("$>", new TextEncoder().encode(`${n}@${source}`)))
                  )
                )
                : es.publish(stream, range(from, to).map((n) => NewEvent.make("Jumped", { body: { n } })))
            yield* writeRange(0, written)
            yield* failsWith(
              es.createSubscription(stream, group, {
                consumerStrategy: "Nope" as PersistentSubscription.ConsumerStrategy
              }),
              EventStoreError.PersistentSubscriptionFailed
            )
            yield* es.createSubscription(stream, group, { startFrom: 0 })
            yield* es.updateSubscription(stream, group, {
              startFrom: 0,
              resolveLinks: ofLinks,
              consumerStrategy: strategy,
              maxRetryCount: 10,
              messageTimeout: "1 minute",
              checkpointAfter: "10 millis",
              minCheckpointCount: 1,
              maxCheckpointCount: 1
            })
            const deliveries = plans.map((): Array<Delivery> => [])
            let left = false
            let holding = false
            const fibers: Array<Fiber.Fiber<void, unknown>> = []
            const probes: Array<Subscriptions.Probe> = []
            for (const [index, { bufferSize, ownConnection }] of consumers.entries()) {
              const client = ownConnection ? yield* EventStore.connect({ credentials: admin, host, port }) : es
              const probe = new Subscriptions.Probe()
              probes.push(probe)
              let settledCount = 0
              const events = client.connectSubscription(stream, group, { bufferSize })
              const fiber = yield* (index === leaver && leaving === "take" ? Stream.take(events, leaveAfter) : events).pipe(
                Stream.runForEach((event: Event) =>
                  Effect.gen(function*() {
                    const n = Number(event.originalEventNumber)
                    assert.strictEqual(event.json<{ n: number }>().n, n)
                    const delivery: Delivery = { consumer: index, retryCount: event.retryCount, settled: "none" }
                    deliveries[n]!.push(delivery)
                    const { retries, settle } = plans[n]!
                    if (index === leaver && leaving === "outside" && settledCount === leaveAfter - 1) {
                      // Holds this one, unsettled, until it is interrupted.
                      holding = true
                      return yield* Effect.never
                    }
                    if (event.retryCount < retries) {
                      delivery.settled = "retry"
                      yield* event.nak("Retry", "not yet")
                    } else {
                      delivery.settled = settle
                      yield* settle === "ack" ? event.ack() : event.nak(settle === "park" ? "Park" : "Skip", "planned")
                    }
                    settledCount++
                    // Leave at once: the ack or nak just issued is still queued.
                    if (index === leaver && leaving !== "outside" && settledCount === leaveAfter) {
                      left = true
                      if (leaving === "interrupt") return yield* Effect.interrupt
                    }
                  })
                ),
                Effect.provideService(Subscriptions.CurrentProbe, probe),
                Effect.forkChild
              )
              fibers.push(fiber)
              yield* eventually(() => probe.confirmations === 1, `consumer ${index} to connect`)
            }
            yield* writeRange(written, plans.length)

            if (leaver < consumers.length && leaving === "outside") {
              const settledAll = () => plans.every((_, n) => final(n))
              yield* eventually(() => holding || settledAll(), "the leaving consumer to hold an event")
              if (holding) {
                left = true
                yield* Fiber.interrupt(fibers[leaver]!)
              }
            }
            function final(n: number) {
              return deliveries[n]!.some((d) => d.settled !== "retry" && d.settled !== "none")
            }
            yield* eventually(() => plans.every((_, n) => final(n)), "every event settled as planned")
            const last = plans.length - 1
            const checkpoint = `$persistentsubscription-${stream}::${group}-checkpoint`
            yield* Effect.eventually(Effect.filterOrFail(
              Effect.map(es.getEvent(checkpoint, -1), (event) => event.json<number>()),
              (n) => n === last
            ))
            const parkedNumbers = plans.flatMap(({ settle }, n) => settle === "park" ? [n] : [])
            const parked = `$persistentsubscription-${stream}::${group}-parked`
            const links = parkedNumbers.length === 0 ? [] : yield* Effect.eventually(Effect.filterOrFail(
              Stream.runCollect(es.iter(parked, { resolveLinks: false })),
              (events) => events.length >= parkedNumbers.length
            ))

            plans.forEach(({ retries, settle }, n) => {
              const of = deliveries[n]!
              const what = `event ${n}: ${JSON.stringify(of)}`
              // Each retry count at most once, whoever got it, and in order. The leaving consumer may have
              // held a delivery in its buffer that its handler never saw: one gap at most, only then.
              const counts = of.map((d) => d.retryCount)
              const gaps = counts.reduce((sum, count, i) => sum + count - (i === 0 ? 0 : counts[i - 1]! + 1), 0)
              assert.isTrue(counts.every((count, i) => i === 0 || count > counts[i - 1]!), what)
              assert.isAtMost(gaps, left ? 1 : 0, what)
              // Settled at last as planned, and never given again after.
              assert.strictEqual(of[of.length - 1]!.settled, settle, what)
              // Given again only for a Retry nak or a consumer that left holding it.
              assert.isTrue(of.slice(0, -1).every((d) => d.settled === "retry" || d.settled === "none"), what)
              assert.isAtLeast(of[of.length - 1]!.retryCount, retries, what)
              assert.isTrue(
                of.every((d) => d.settled !== "none" || d.consumer === leaver),
                what
              )
            })
            // No timeouts, so no stale copies: the server keeps to each in-flight limit, and so does the buffer.
            consumers.forEach(({ bufferSize }, index) =>
              assert.isAtMost(probes[index]!.bufferHighWater, bufferSize, `consumer ${index}'s buffer`)
            )
            assert.deepStrictEqual(
              sorted(links.map((link) => Number(link.event.text().split("@")[0]))),
              parkedNumbers
            )

            // Deleting the group drops the consumers still there, and refuses new ones.
            yield* es.deleteSubscription(stream, group)
            for (const fiber of fibers) {
              // The one that left ended interrupted; the others are dropped.
              const error = Exit.findErrorOption(yield* Fiber.await(fiber))
              if (Option.isSome(error)) assert.instanceOf(error.value, EventStoreError.SubscriptionDropped)
            }
            yield* failsWith(
              Stream.runDrain(es.connectSubscription(stream, group)),
              EventStoreError.PersistentSubscriptionNotFound
            )
          })),
        checks(40)
      )
    })
  }
)
