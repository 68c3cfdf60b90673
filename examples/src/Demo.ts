/**
 * The photonpump walkthrough, in Effect: ping the server, write a pony's jump and read it back, write
 * and read a batch, and read a stream as a `Stream`, plain and transformed. It starts an embedded
 * EventStore node in-process, so it needs nothing installed: `npm run demo`.
 *
 * Against a real node, replace the `Demo` layer by `EventStore.layer("tcp://admin:changeit@localhost:1113")`.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Credentials, EventStore, NewEvent, StreamDirection } from "@photonpump/client"
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
