/**
 * The photonpump walkthrough, in Effect: ping the server, write a pony's jump and read it back, write
 * and read a batch, read a stream as a `Stream`, plain and transformed, follow a stream with a catch-up
 * subscription into a read model, and share a stream's events out to workers with a persistent
 * subscription. It starts an embedded EventStore node in-process, so it needs nothing installed:
 * `npm run demo`.
 *
 * Against a real node, replace the `Demo` layer by `EventStore.layer("tcp://admin:changeit@localhost:1113")`.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import {
  Credentials,
  EventStore,
  NewEvent,
  PersistentSubscription,
  StreamDirection,
  Subscription
} from "@photonpump/client"
import { EventStoreServer } from "@photonpump/server"

interface Jump {
  readonly Pony: string
  readonly Height: number
  readonly Distance: number
}

/** Prints a check of the walkthrough, and stops it if the check does not hold. */
const check = (what: string, holds: boolean) =>
  holds ? Console.log(`   ✓ ${what}`) : Effect.die(new Error(`the walkthrough went wrong: ${what}`))

const sameJump = (a: Jump, b: Jump) => a.Pony === b.Pony && a.Height === b.Height && a.Distance === b.Distance

const feetToMetres = (jump: Jump): Jump => ({
  ...jump,
  Height: jump.Height * 0.3048,
  Distance: jump.Distance * 0.3048
})

const metres = (value: number) => `${value.toFixed(2)} m`

/** The walkthrough itself: everything it needs is the `EventStore` service. */
const walkthrough = Effect.gen(function*() {
  const es = yield* EventStore.EventStore

  yield* Console.log("1. Working with connections")
  const rtt = yield* es.ping()
  yield* Console.log(`   ping: the server answered in ${Duration.toMillis(rtt).toFixed(2)} ms`)

  yield* Console.log("\n2. Reading and writing single events")
  const result = yield* es.publishEvent("ponies", "PonyJumped", {
    body: { Pony: "Derpy Hooves", Height: 10, Distance: 13 }
  })
  yield* Console.log(`   published PonyJumped to "ponies" as event ${result.lastEventNumber}`)
  const event = yield* es.getEvent("ponies", result.lastEventNumber)
  const data = event.json<Jump>()
  yield* Console.log(`   read it back: ${event.type} ${JSON.stringify(data)}`)
  yield* check("its JSON says Derpy Hooves", data.Pony === "Derpy Hooves")

  yield* Console.log("\n3. Reading and writing in batches")
  yield* es.publish("more_ponies", [
    NewEvent.make("PonyJumped", { body: { Pony: "Peculiar Hooves", Height: 9, Distance: 13 } }),
    NewEvent.make("PonyJumped", { body: { Pony: "Sparkly Hooves", Height: 12, Distance: 12 } }),
    NewEvent.make("PonyJumped", { body: { Pony: "Sparkly Hooves", Height: 11, Distance: 14 } })
  ])
  yield* Console.log(`   published three PonyJumped events to "more_ponies" in one batch`)
  const allEvents = yield* es.get("more_ponies")
  yield* check(`get gives all ${allEvents.events.length} of them`, allEvents.events.length === 3)
  const firstEvent = (yield* es.get("more_ponies", { maxCount: 1 })).events[0]!.json<Jump>()
  yield* check(`with maxCount: 1, the first: ${firstEvent.Pony}`, firstEvent.Pony === "Peculiar Hooves")
  const secondEvent = (yield* es.get("more_ponies", { maxCount: 1, fromEventNumber: 1 })).events[0]!.json<Jump>()
  yield* check(`from event 1, the second: ${secondEvent.Pony}`, secondEvent.Pony === "Sparkly Hooves")
  const reversedEvents = yield* es.get("more_ponies", { direction: StreamDirection.Backward })
  yield* check(
    "backwards, all three, the last of them being the first event",
    reversedEvents.events.length === 3 && sameJump(reversedEvents.events[2]!.json<Jump>(), firstEvent)
  )

  yield* Console.log("\n4. Reading with streams")
  // A few more events, so that there is something to page through and something to filter out.
  yield* es.publish("ponies", [
    NewEvent.make("PonyJumped", { body: { Pony: "Applejack", Height: 2, Distance: 7 } }),
    NewEvent.make("PonyRested", { body: { Pony: "Applejack", Minutes: 20 } }),
    NewEvent.make("PonyJumped", { body: { Pony: "Rainbow Dash", Height: 30, Distance: 120 } })
  ])
  yield* Console.log(`   iter over "ponies", page by page:`)
  yield* es.iter("ponies", { batchSize: 2 }).pipe(
    Stream.runForEach((event) => Console.log(`     #${event.eventNumber} ${event.type} ${event.event.text()}`))
  )

  yield* Console.log(`   the jumps of "ponies", in metres (Stream.filter and Stream.map):`)
  const jumps = es.iter("ponies").pipe(
    Stream.filter((event) => event.type === "PonyJumped"),
    Stream.map((event) => feetToMetres(event.json<Jump>()))
  )
  yield* Stream.runForEach(
    jumps,
    (jump) => Console.log(`     ${jump.Pony} jumped ${metres(jump.Height)} high and ${metres(jump.Distance)} far`)
  )

  yield* Console.log("\n5. Following a stream: a catch-up subscription into a read model")
  // The read model: each pony's best jump. A catch-up subscription reads the history, says CaughtUp,
  // then delivers what is written next, each event once and in order.
  const best = new Map<string, number>()
  const live = yield* Deferred.make<void>()
  const follower = yield* es.subscribeTo("ponies", { from: "start" }).pipe(
    Stream.tap((item) => {
      if (Subscription.isCaughtUp(item)) {
        return Effect.andThen(Console.log("     caught up: what follows is live"), Deferred.succeed(live, undefined))
      }
      if (!Subscription.isEvent(item) || item.type !== "PonyJumped") return Effect.void
      const jump = item.json<Jump>()
      best.set(jump.Pony, Math.max(best.get(jump.Pony) ?? 0, jump.Distance))
      return Console.log(`     #${item.eventNumber}: ${jump.Pony} jumped ${jump.Distance} ft`)
    }),
    Stream.takeUntil((item) => Subscription.isEvent(item) && item.json<Jump>().Pony === "Fluttershy"),
    Stream.runDrain,
    Effect.forkChild
  )
  yield* Deferred.await(live)
  yield* es.publishEvent("ponies", "PonyJumped", { body: { Pony: "Fluttershy", Height: 3, Distance: 150 } })
  yield* Fiber.join(follower)
  yield* check(
    `the read model has every pony's best jump, live ones included: Fluttershy ${best.get("Fluttershy")} ft`,
    best.get("Fluttershy") === 150 && best.get("Rainbow Dash") === 120 && best.size === 4
  )

  yield* Console.log("\n6. Sharing the work: a persistent subscription")
  // A group on "more_ponies" from its first event: the server hands each event to one of the group's
  // consumers and waits for its ack. autoAck acks what the handler did and retries what it failed.
  yield* es.createSubscription("more_ponies", "judges", { startFrom: 0 })
  const scored = yield* es.connectSubscription("more_ponies", "judges").pipe(
    PersistentSubscription.autoAck((event) => {
      const jump = event.json<Jump>()
      const score = jump.Height + jump.Distance
      return Effect.as(Console.log(`     judged ${jump.Pony}: ${score} points`), score)
    }),
    Stream.take(3),
    Stream.runCollect
  )
  yield* check(`every jump judged once, ${scored.reduce((a, b) => a + b, 0)} points in all`, scored.length === 3)
})

/** An embedded EventStore node on a free port, and a client connected to it as `admin`. */
const Demo = Layer.unwrap(
  Effect.map(EventStoreServer.EventStoreServer, ({ host, port }) =>
    EventStore.layer({ host, port, credentials: Credentials.make("admin", "changeit") }))
).pipe(Layer.provide(EventStoreServer.layer({ port: 0 })))

walkthrough.pipe(
  Effect.andThen(Console.log("\nDone.")),
  Effect.provide(Demo),
  NodeRuntime.runMain
)
