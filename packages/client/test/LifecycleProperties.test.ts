/**
 * Properties of the connection's lifecycle: many operations at once on one connection, under
 * interruption, timeouts, connection loss and the end of the connection's scope, over real sockets.
 *
 * - **A random mix against the embedded server** (through a recording proxy): appends, reads, paged
 *   reads, metadata, transactions, writes the server holds (an unknown transaction), deletes,
 *   volatile, catch-up and persistent subscriptions, all at once on one connection with a small
 *   `maxConcurrentRequests`; some interrupted after a random number of event-loop turns (before their
 *   request is written, after, mid-stream), some given a tiny timeout (0 to 2 ms) or a month, some run
 *   on fibers that yield to the scheduler every few steps. Every operation ends with its value or a
 *   typed error its type lists (a client-side `Timeout` only with a tiny timeout, an interruption
 *   only if interrupted), never a defect, never a hang; every subscription left alone goes live.
 *   Afterwards nothing is left pending: the server holds no subscription of the connection, every
 *   one-shot request the client wrote was answered, `maxConcurrentRequests` writes the server holds
 *   all go out at once (no place among the requests in flight was lost), the connection still
 *   serves, no client timer overflowed, and closing the scope closes the socket.
 * - **The same mix, ended at a random moment** (when the client has sent a random number of frames):
 *   the proxy cuts the connection, or the connection's scope is closed with the work in flight. Every
 *   operation still pending, subscriptions included, ends at once with the one `ConnectionError`
 *   (`Closed`, `ClientClosed`), every later operation fails with it straight away, the server keeps
 *   nothing of the connection, and the socket is closed.
 * - **A scripted peer** that answers each request now, late (after the others, in a random order),
 *   twice, or never; sends heartbeats at random points while a subscription's and a paged read's
 *   consumers stall; and may hang up, or have the client's scope closed on it, with work in flight.
 *   Every reply reaches the request it answers (each carries its request's number), a late or second
 *   reply harms no one, every heartbeat is answered, and everything ends promptly with its value or
 *   a typed error.
 * - **Examples**, each of a bug the properties found, run step by step on a scheduler the test drives:
 *   a consumer whose fiber yielded between finding nothing and waiting lost its wake-up (a
 *   subscription never saw its confirmation, a paged read its last page); a volatile or persistent
 *   subscription interrupted between its request and its finalizer stayed open on the server; and a
 *   timeout beyond `setTimeout`'s 24.8 days fired after 1 ms (a subscription timed out at once, the
 *   connection's deadline timer fired every millisecond).
 *
 * Every property has a fixed seed (`Properties.checks`); `PROPERTY_SEED` and `PROPERTY_RUNS` look
 * further.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { create } from "@bufbuild/protobuf"
import * as Arbitrary from "effect/Arbitrary"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Order from "effect/Order"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import { Command as CommandModule, Frame, Guid, Messages, type Package } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import { EventStore, EventStoreError, NewEvent, Subscription } from "@photonpump/client"
import * as Subscriptions from "../src/internal/Subscription.ts"
import { eventually } from "./Assertions.ts"
import { confirmation, dropped, eventAppeared, message, peer, record, send } from "./Peer.ts"
import { checks, intBetween } from "./Properties.ts"
import { admin, streamName } from "./TestServer.ts"

const Command = CommandModule.Command

// -----------------------------------------------------------------------------
// bounds
// -----------------------------------------------------------------------------

/** The connection's operation timeout: far beyond what the embedded server takes to answer. */
const operationTimeout = "5 seconds"

/** Longer than anything should take: an operation with no outcome by then hangs. */
const hangBoundMillis = 4_000

/** How long the embedded server holds a write to an unknown transaction before it fails it. */
const prepareTimeout = "150 millis"

/**
 * The check options of a property (`Properties.checks`): a failing case may cost a hang bound per
 * shrink step, so a few steps; and vitest's timeout grows with `PROPERTY_RUNS`.
 */
const lifecycleChecks = (runs: number, seed?: number) => ({
  ...checks(runs, { maxShrinks: 20, ...(seed === undefined ? {} : { seed }) }),
  timeout: 30_000 * Math.max(1, Number(process.env["PROPERTY_RUNS"] ?? "1"))
})

/** A month: beyond what one `setTimeout` can wait (2^31 - 1 ms, 24.8 days). */
const aMonth = "30 days"

// -----------------------------------------------------------------------------
// timers that overflow
// -----------------------------------------------------------------------------

/**
 * Node runs a timer set for more than 2^31 - 1 ms after 1 ms, and warns: a client timer for a long
 * deadline would fire at once, and keep firing. Every such warning is counted here.
 */
let timerOverflows = 0
process.on("warning", (warning) => {
  if (warning.name === "TimeoutOverflowWarning") timerOverflows++
})

// -----------------------------------------------------------------------------
// a recording proxy
// -----------------------------------------------------------------------------

/** A frame as the proxy saw it go by. */
interface Seen {
  readonly fromClient: boolean
  readonly command: number
  readonly correlationId: string
}

/**
 * A TCP proxy in front of the embedded server: it passes bytes both ways untouched, records the
 * frames (command and correlation id) in the order it sees them, and can hang up on both ends.
 */
interface Proxy {
  readonly port: number
  readonly frames: Array<Seen>
  /** Hangs up both ends of every connection through it, at once. */
  readonly cut: () => void
  /**
   * Calls `f` as soon as the client has sent `count` more frames, before the bytes that hold the last
   * of them are passed on (after `cut`, they are not).
   */
  readonly afterClientFrames: (count: number, f: () => void) => void
  /** The sockets still open, both ends. */
  readonly open: () => number
}

const proxyTo = (target: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly proxy: Proxy; readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>(
      (resume) => {
        const frames: Array<Seen> = []
        const sockets = new Set<Net.Socket>()
        const state = { port: 0 }
        let clientFrames = 0
        let watch: { readonly at: number; readonly f: () => void } | undefined
        const track = (socket: Net.Socket) => {
          sockets.add(socket)
          socket.setNoDelay(true)
          socket.on("error", () => {})
          socket.on("close", () => sockets.delete(socket))
        }
        const record = (fromClient: boolean) => {
          const parser = Frame.makeParser()
          return (chunk: Uint8Array) => {
            const bodies = parser.push(chunk)
            if (Result.isFailure(bodies)) return
            for (const body of bodies.success) {
              frames.push({ fromClient, command: body[0]!, correlationId: Guid.readUnsafe(body, 2) })
              if (fromClient) clientFrames++
            }
            if (watch !== undefined && clientFrames >= watch.at) {
              const f = watch.f
              watch = undefined
              f()
            }
          }
        }
        const server = Net.createServer((client) => {
          const upstream = Net.connect(target.port, target.host)
          track(client)
          track(upstream)
          const fromClient = record(true)
          const fromServer = record(false)
          client.on("data", (chunk) => {
            fromClient(chunk)
            if (!upstream.destroyed) upstream.write(chunk)
          })
          upstream.on("data", (chunk) => {
            fromServer(chunk)
            client.write(chunk)
          })
          client.on("close", () => upstream.destroy())
          upstream.on("close", () => client.destroy())
        })
        const proxy: Proxy = {
          get port() {
            return state.port
          },
          frames,
          cut: () => {
            for (const socket of sockets) socket.destroy()
          },
          afterClientFrames: (count, f) => {
            watch = { at: clientFrames + count, f }
            if (count <= 0) {
              watch = undefined
              f()
            }
          },
          open: () => sockets.size
        }
        server.listen(0, "127.0.0.1", () => {
          state.port = (server.address() as Net.AddressInfo).port
          resume(Effect.succeed({ proxy, server, sockets }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ proxy }) => proxy))

/** What the client sends that is not a one-shot request (no reply under its correlation id is due). */
const notOneShot = new Set<number>([
  Command.HeartbeatRequest,
  Command.HeartbeatResponse,
  Command.SubscribeToStream,
  Command.FilteredSubscribeToStream,
  Command.UnsubscribeFromStream,
  Command.ConnectToPersistentSubscription,
  Command.PersistentSubscriptionAckEvents,
  Command.PersistentSubscriptionNakEvents
])

/** The correlation ids of the one-shot requests the client wrote and the server has not answered yet. */
const unanswered = (proxy: Proxy): Array<string> => {
  const open = new Set<string>()
  for (const frame of proxy.frames) {
    if (frame.fromClient) {
      if (!notOneShot.has(frame.command)) open.add(frame.correlationId)
    } else {
      open.delete(frame.correlationId)
    }
  }
  return [...open]
}

// -----------------------------------------------------------------------------
// operations
// -----------------------------------------------------------------------------

const kinds = [
  "ping",
  "publishEvent",
  "publishExpecting",
  "getEvent",
  "get",
  "iter",
  "getAll",
  "iterAll",
  "getStreamMetadata",
  "transaction",
  "unknownTransaction",
  "deleteStream",
  "volatile",
  "volatileAll",
  "catchUp",
  "persistent"
] as const

type Kind = typeof kinds[number]

/** Subscriptions: they go on until they have taken what they want, or are stopped. */
const subscriptionKinds = new Set<Kind>(["volatile", "volatileAll", "catchUp", "persistent"])

/**
 * The typed errors each operation may meet from a well-behaved server, besides the transport's
 * (`Timeout`, `ConnectionError`), which depend on the case. Every name is of the operation's type.
 */
const domainErrors: Record<Kind, ReadonlyArray<string>> = {
  ping: [],
  publishEvent: [],
  publishExpecting: ["WrongExpectedVersion"],
  getEvent: ["EventNotFound", "StreamNotFound"],
  get: ["StreamNotFound"],
  iter: ["StreamNotFound"],
  getAll: [],
  iterAll: [],
  getStreamMetadata: [],
  transaction: [],
  // The server holds it, then fails it with a server-side Timeout (PrepareTimeout): see `checkExit`.
  unknownTransaction: [],
  deleteStream: [],
  volatile: [],
  volatileAll: [],
  catchUp: [],
  persistent: []
}

/** How long an operation may wait for its replies: the connection's timeout, a tiny one, or a month. */
type Patience = "default" | "tiny" | "month"

/** One operation of a case, and what happens to it. */
interface Plan {
  readonly kind: Kind
  /** Which of the case's streams it works on. */
  readonly stream: number
  readonly patience: Patience
  /** Interrupted after this many turns of the event loop, or left alone. */
  readonly interruptAfter: number | undefined
  /** Sizes and numbers: page size, how many items to take, event number, expected version. */
  readonly n: number
  /** The fiber yields to the scheduler every this many steps (`MaxOpsBeforeYield`), or at the default. */
  readonly yieldEvery: number | undefined
}

const plan: Arbitrary.Arbitrary<Plan> = Arbitrary.map(
  Arbitrary.all([
    intBetween(0, kinds.length - 1),
    intBetween(0, 2),
    intBetween(0, 7),
    intBetween(-25, 30),
    intBetween(0, 40),
    intBetween(0, 10)
  ]),
  ([kind, stream, patience, interrupt, n, yieldEvery]): Plan => ({
    kind: kinds[kind]!,
    stream,
    patience: patience === 6 ? "tiny" : patience === 7 ? "month" : "default",
    interruptAfter: interrupt < 0 ? undefined : interrupt,
    n,
    yieldEvery: yieldEvery < 6 ? undefined : 3 + (yieldEvery - 6) * 7
  })
)

/** The call options of a plan: a tiny timeout is 0 to 2 ms. */
const timeoutOf = (plan: Plan): Duration.Input | undefined =>
  plan.patience === "tiny" ? Duration.millis(plan.n % 3) : plan.patience === "month" ? aMonth : undefined

const jump = (n: number) => NewEvent.make("PonyJumped", { body: { n } })

/** Far beyond any transaction the server starts in these tests. */
const unknownTransactionId = 2n ** 40n

/** An operation on its way: its plan, its fiber, and what it showed of itself. */
interface Running {
  readonly index: number
  readonly plan: Plan
  readonly fiber: Fiber.Fiber<unknown, unknown>
  /** A subscription went live: `CaughtUp` (volatile, catch-up) or the confirmation (persistent). */
  readonly live: () => boolean
  /** The test interrupted it (as planned, or to stop a subscription). */
  interrupted: boolean
  ended: boolean
}

/** The case's streams, and the persistent subscription group on each. */
interface Streams {
  readonly names: ReadonlyArray<string>
  readonly group: string
}

/**
 * Runs a subscription until it has taken `count` items, noting when it goes live.
 */
const subscription = (items: Stream.Stream<Subscription.Item, unknown>, count: number, live: () => void) =>
  items.pipe(
    Stream.tap((item) => Subscription.isCaughtUp(item) ? Effect.sync(live) : Effect.void),
    Stream.take(count),
    Stream.runDrain
  )

/** The operation a plan describes. */
const operation = (
  es: EventStore.Service,
  streams: Streams,
  plan: Plan,
  index: number,
  wentLive: () => void,
  probe: Subscriptions.Probe
): Effect.Effect<unknown, unknown> => {
  const stream = streams.names[plan.stream]!
  const timeout = timeoutOf(plan)
  const options = { timeout }
  const n = plan.n
  switch (plan.kind) {
    case "ping":
      return es.ping(options)
    case "publishEvent":
      return es.publishEvent(stream, "PonyJumped", { body: { n }, timeout })
    case "publishExpecting":
      return es.publishEvent(stream, "PonyJumped", { body: { n }, expectedVersion: BigInt(n % 8), timeout })
    case "getEvent":
      return es.getEvent(stream, n % 12, options)
    case "get":
      return es.get(stream, { maxCount: 1 + n, timeout })
    case "iter":
      return Stream.runCount(Stream.take(es.iter(stream, { batchSize: 1 + (n % 16), timeout }), 1 + n * 3))
    case "getAll":
      return es.getAll({ maxCount: 1 + n, timeout })
    case "iterAll":
      return Stream.runCount(Stream.take(es.iterAll({ batchSize: 1 + (n % 16), timeout }), 1 + n * 3))
    case "getStreamMetadata":
      return es.getStreamMetadata(stream, options)
    case "transaction":
      return Effect.gen(function*() {
        const transaction = yield* es.startTransaction(stream, options)
        yield* transaction.write([jump(n)], options)
        return yield* transaction.commit(options)
      })
    case "unknownTransaction":
      return es.continueTransaction(stream, unknownTransactionId + BigInt(index)).write([jump(n)], options)
    case "deleteStream":
      return es.deleteStream(stream, options)
    case "volatile":
      return subscription(es.subscribeTo(stream, options), 1 + (n % 4), wentLive)
    case "volatileAll":
      return subscription(es.subscribeToAll(options), 1 + (n % 3), wentLive)
    case "catchUp":
      return subscription(
        es.subscribeTo(stream, { from: "start", readBatchSize: 1 + (n % 7), timeout }),
        1 + n,
        wentLive
      )
    case "persistent":
      return es.connectSubscription(stream, streams.group, { bufferSize: 1 + (n % 5), timeout }).pipe(
        Stream.mapEffect((event) => event.ack()),
        Stream.take(1 + (n % 4)),
        Stream.runDrain,
        Effect.provideService(Subscriptions.CurrentProbe, probe)
      )
  }
}

/** Lets the event loop turn `count` times (I/O included). */
const turns = (count: number) => Effect.repeat(Effect.yieldNow, { times: Math.max(0, count - 1) })

/**
 * Starts every planned operation in a fiber of its own, and an interrupter for those planned to be
 * interrupted.
 */
const startAll = (es: EventStore.Service, streams: Streams, plans: ReadonlyArray<Plan>) =>
  Effect.forEach(plans, (plan, index) =>
    Effect.gen(function*() {
      let live = false
      const probe = new Subscriptions.Probe()
      const running: { -readonly [K in keyof Running]: Running[K] } = {
        index,
        plan,
        fiber: undefined as unknown as Fiber.Fiber<unknown, unknown>,
        live: () => live || probe.confirmations > 0,
        interrupted: false,
        ended: false
      }
      let effect = operation(es, streams, plan, index, () => {
        live = true
      }, probe).pipe(Effect.ensuring(Effect.sync(() => {
        running.ended = true
      })))
      if (plan.yieldEvery !== undefined) effect = Effect.provideService(effect, Scheduler.MaxOpsBeforeYield, plan.yieldEvery)
      running.fiber = yield* Effect.forkChild(effect)
      if (plan.interruptAfter !== undefined) {
        yield* Effect.forkChild(Effect.andThen(turns(plan.interruptAfter), Effect.suspend(() => {
          running.interrupted = true
          return Fiber.interrupt(running.fiber)
        })))
      }
      return running as Running
    }))

/** The exit of a fiber, or a failed test if it has none within the hang bound. */
const awaitWithin = <A, E>(fiber: Fiber.Fiber<A, E>, what: string) =>
  Fiber.await(fiber).pipe(
    Effect.timeoutOrElse({
      duration: Duration.millis(hangBoundMillis),
      orElse: () => Effect.die(new Error(`${what} hangs: no outcome within ${hangBoundMillis} ms`))
    })
  )

const describePlan = (op: Running) => `${op.plan.kind} #${op.index} ${JSON.stringify(op.plan)}`

/**
 * Checks an operation's exit: its value, or one typed failure its kind may meet (a client-side
 * `Timeout` only with a tiny timeout, a `ConnectionError` only when `connectionError` allows it, and
 * then that very error), or, if the test interrupted it, an interruption. Never a defect.
 */
const checkExit = (
  op: Running,
  exit: Exit.Exit<unknown, unknown>,
  connectionError: EventStoreError.ConnectionError | undefined
): void => {
  const what = describePlan(op)
  if (Exit.isSuccess(exit)) return
  const error = typedFailure(exit.cause, op.interrupted, what)
  if (error === undefined) return
  if (error instanceof EventStoreError.ConnectionError) {
    assert.isDefined(connectionError, `${what} failed with ${error.message}, though the connection was not cut`)
    assert.strictEqual(error, connectionError, `${what} failed with another ConnectionError: ${error.message}`)
    return
  }
  if (error instanceof EventStoreError.Timeout) {
    if (error.source === "Client") {
      assert.strictEqual(op.plan.patience, "tiny", `${what} timed out on the client: ${error.message}`)
      return
    }
    // The outcome of a write to a transaction the server does not know, which it holds a while.
    assert.strictEqual(error.source, "PrepareTimeout", `${what}: ${error.message}`)
    assert.strictEqual(op.plan.kind, "unknownTransaction", `${what}: ${error.message}`)
    return
  }
  const tag = (error as { readonly ["_tag"]: string })["_tag"]
  assert.include(domainErrors[op.plan.kind], tag, `${what} failed with ${String(error)}`)
}

/**
 * The one typed failure of a cause, or `undefined` for an interruption (only if `interrupted`).
 * Interrupted, an operation may also have failed on its way out (its failure and the interruption
 * then make its cause together); a defect is never right.
 */
const typedFailure = (cause: Cause.Cause<unknown>, interrupted: boolean, what: string): unknown => {
  const reasons = cause.reasons
  const failures = reasons.filter(Cause.isFailReason)
  const interruptions = reasons.filter(Cause.isInterruptReason)
  assert.isTrue(
    failures.length <= 1 && failures.length + interruptions.length === reasons.length,
    `${what}: not a typed failure: ${Cause.pretty(cause)}`
  )
  if (interruptions.length > 0) {
    assert.isTrue(interrupted, `${what} ended interrupted, though nobody interrupted it: ${Cause.pretty(cause)}`)
  }
  return failures[0]?.error
}

/** Whether an operation ends by itself when nothing stops it. */
const endsByItself = (op: Running) => !subscriptionKinds.has(op.plan.kind)

// -----------------------------------------------------------------------------
// a case against the embedded server
// -----------------------------------------------------------------------------

/**
 * How a case ends: it does not (the connection must serve on, with nothing pending), the proxy cuts
 * the connection, or the connection's scope is closed, with work in flight.
 */
type Ending = "none" | "cut" | "close"

/** What a case is made of. */
interface Case {
  readonly plans: ReadonlyArray<Plan>
  /** How many events each stream starts with. */
  readonly seeds: ReadonlyArray<number>
  readonly maxConcurrentRequests: number
  readonly ending: Ending
  /** How many frames the client has sent when the case ends (with an ending). */
  readonly endAfter: number
}

const caseOf = (endings: ReadonlyArray<Ending>): Arbitrary.Arbitrary<Case> =>
  Arbitrary.map(
    Arbitrary.all([
      Arbitrary.array(plan, { minLength: 6, maxLength: 18 }),
      Arbitrary.array(intBetween(0, 40), { minLength: 3, maxLength: 3 }),
      intBetween(1, 6),
      intBetween(0, endings.length - 1),
      intBetween(0, 24)
    ]),
    ([plans, seeds, maxConcurrentRequests, ending, endAfter]): Case => ({
      plans,
      seeds,
      maxConcurrentRequests,
      ending: endings[ending]!,
      endAfter
    })
  )

/** The streams of a case, with their first events and a persistent subscription group each. */
const prepare = (es: EventStore.Service, seeds: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const prefix = streamName("lifecycle")
    const names = seeds.map((_, i) => `${prefix}-${i}`)
    const group = "workers"
    yield* Effect.forEach(names, (name, i) =>
      Effect.gen(function*() {
        const count = seeds[i]!
        if (count > 0) yield* es.publish(name, Array.from({ length: count }, (_, n) => jump(n)))
        yield* es.createSubscription(name, group, { startFrom: 0 })
      }))
    return { names, group } satisfies Streams
  })

/**
 * Writes that the server holds (an unknown transaction's), `count` at once: with `count` places among
 * the requests in flight, every one goes out before the server answers any, unless a place was lost.
 */
const allPlacesFree = (es: EventStore.Service, proxy: Proxy, count: number) =>
  Effect.gen(function*() {
    const mark = proxy.frames.length
    const since = () => proxy.frames.slice(mark)
    const held = yield* Effect.forkChild(
      Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => Effect.flip(es.continueTransaction("held", unknownTransactionId * 2n + BigInt(i)).write([jump(i)])),
        { concurrency: "unbounded" }
      )
    )
    const written = () => since().filter((frame) => frame.fromClient && frame.command === Command.TransactionWrite).length
    const answered = () => since().some((frame) => !frame.fromClient && frame.command === Command.TransactionWriteCompleted)
    yield* eventually(() => written() === count || answered(), `${count} held writes`, hangBoundMillis)
    assert.strictEqual(written(), count, "a place among the requests in flight was lost: not every held write went out")
    const errors = yield* awaitWithin(held, "the held writes")
    assert.isTrue(Exit.isSuccess(errors))
    if (Exit.isSuccess(errors)) {
      for (const error of errors.value) {
        assert.isTrue(error instanceof EventStoreError.Timeout && error.source === "PrepareTimeout", String(error))
      }
    }
  })

/**
 * A case: a fresh connection through a recording proxy, the streams prepared, every operation
 * started at once, and the case's ending once the client has sent its `endAfter`th frame.
 */
const runCase = (testCase: Case) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* EventStoreServer.EventStoreServer
    // The server is this file's alone: once the connections of earlier cases are gone (a failed case,
    // while shrinking, may leave its own closing), it has none, and no subscription.
    const quiet = () => server.connections() === 0 && server.subscriptions() === 0
    yield* eventually(quiet, "the server to be quiet", hangBoundMillis)
    const overflowsBefore = timerOverflows
    const proxy = yield* proxyTo(server)
    const connectionScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(connectionScope, Exit.void))
    const es = yield* EventStore.connect({
      host: "127.0.0.1",
      port: proxy.port,
      credentials: admin,
      operationTimeout,
      maxConcurrentRequests: testCase.maxConcurrentRequests
    }).pipe(Scope.provide(connectionScope))
    const streams = yield* prepare(es, testCase.seeds)
    const ending = testCase.ending
    // The moment to end: the client has sent `endAfter` more frames (the proxy cuts the connection
    // right then, before it passes the last of them on), or every operation that ends by itself has.
    const moment = yield* Deferred.make<void>()
    if (ending !== "none") {
      proxy.afterClientFrames(testCase.endAfter, () => {
        if (ending === "cut") proxy.cut()
        Deferred.doneUnsafe(moment, Exit.void)
      })
    }
    const ops = yield* startAll(es, streams, testCase.plans)
    if (ending !== "none") {
      yield* Effect.raceFirst(
        Deferred.await(moment),
        eventually(() => ops.every((op) => op.ended || !endsByItself(op)), "the moment to end", hangBoundMillis)
      )
      if (ending === "cut") {
        proxy.cut()
      } else {
        // Closing the connection's scope with work in flight ends it promptly: nothing waits for its
        // timeout, which is longer than the hang bound.
        yield* Scope.close(connectionScope, Exit.void).pipe(
          Effect.timeoutOrElse({
            duration: Duration.millis(hangBoundMillis),
            orElse: () => Effect.die(new Error("closing the connection's scope hangs"))
          })
        )
      }
    }

    // Every subscription left alone goes live, or ends; every other operation ends.
    for (const op of ops) {
      if (endsByItself(op) || op.plan.interruptAfter !== undefined) continue
      yield* eventually(() => op.live() || op.ended, `${describePlan(op)} to go live`, hangBoundMillis)
    }
    const exits = new Map<Running, Exit.Exit<unknown, unknown>>()
    for (const op of ops) {
      // A subscription ends by itself too, when the connection does.
      if (endsByItself(op) || op.plan.interruptAfter !== undefined || ending !== "none") {
        exits.set(op, yield* awaitWithin(op.fiber, describePlan(op)))
      }
    }
    // The subscriptions still going are stopped, as their consumers would stop them.
    for (const op of ops) {
      if (exits.has(op)) continue
      op.interrupted = true
      yield* Fiber.interrupt(op.fiber)
      exits.set(op, yield* awaitWithin(op.fiber, describePlan(op)))
    }

    let connectionError: EventStoreError.ConnectionError | undefined
    if (ending !== "none") {
      // Later operations fail at once, with the error the connection died of.
      const later = yield* Effect.flip(es.ping())
      assert.instanceOf(later, EventStoreError.ConnectionError)
      connectionError = later as EventStoreError.ConnectionError
      assert.strictEqual(connectionError.reason, ending === "cut" ? "Closed" : "ClientClosed")
      const subscribe = yield* Effect.flip(Stream.runDrain(es.subscribeTo(streams.names[0]!)))
      assert.strictEqual(subscribe, connectionError)
      const read = yield* Effect.flip(Stream.runDrain(es.iter(streams.names[0]!)))
      assert.strictEqual(read, connectionError)
      const append = yield* Effect.flip(es.publishEvent(streams.names[0]!, "PonyJumped"))
      assert.strictEqual(append, connectionError)
    }
    for (const op of ops) checkExit(op, exits.get(op)!, connectionError)
    // Every subscription the connection had is gone on the server too: unsubscribed, or dropped with
    // the connection.
    yield* eventually(() => server.subscriptions() === 0, "the server to drop the subscriptions", hangBoundMillis)
    if (ending === "none") {
      // Nothing is left pending: every one-shot request was answered, the connection still serves,
      // and every place among the requests in flight is free.
      yield* eventually(() => unanswered(proxy).length === 0, "every request to be answered", hangBoundMillis)
      yield* es.ping()
      const written = yield* es.publishEvent(streams.names[0]!, "PonyJumped", { body: { n: -1 } })
      const read = yield* es.getEvent(streams.names[0]!, written.lastEventNumber)
      assert.deepStrictEqual(read.json(), { n: -1 })
      yield* allPlacesFree(es, proxy, testCase.maxConcurrentRequests)
      yield* Scope.close(connectionScope, Exit.void)
    }
    // The connection's scope is closed: so is its socket (the proxy closes its side to the server
    // when the client closes its own), and the server has let go of the connection.
    yield* eventually(() => proxy.open() === 0, "the client to close its socket", hangBoundMillis)
    yield* eventually(quiet, "the server to see the connection closed", hangBoundMillis)
    assert.strictEqual(timerOverflows, overflowsBefore, "a client timer overflowed (TimeoutOverflowWarning)")
  }))

layer(EventStoreServer.layer({ port: 0, prepareTimeout }), { excludeTestServices: true })(
  "lifecycle against the embedded server",
  (it) => {
    it.effect.prop(
      "concurrent operations, interrupted at random points or timing out, each end typed, and leave nothing pending",
      [caseOf(["none"])],
      ([testCase]) => runCase(testCase),
      lifecycleChecks(20)
    )

    it.effect.prop(
      "with the connection cut, or its scope closed, at a random moment, everything pending and later fails with its ConnectionError",
      [caseOf(["cut", "close"])],
      ([testCase]) => runCase(testCase),
      lifecycleChecks(30, 11)
    )
  }
)

// -----------------------------------------------------------------------------
// a scripted peer
// -----------------------------------------------------------------------------

/** What the peer does with a request: answer it now, after the others, now and again later, or never. */
type Reply = "now" | "later" | "twice" | "never"

/** How a case against the peer ends: it does not, the peer hangs up, or the client's scope closes. */
type PeerEnding = "none" | "peerHangsUp" | "scopeCloses"

/** An operation against the peer: an append or a read, each to a stream of its own (`op-<index>`). */
interface PeerPlan {
  readonly kind: "write" | "read"
  readonly reply: Reply
  /** A tiny timeout (1 ms), rather than the connection's. */
  readonly hasty: boolean
  readonly interruptAfter: number | undefined
}

interface PeerCase {
  readonly plans: ReadonlyArray<PeerPlan>
  /** Sort keys of the late replies: they go out in that order. */
  readonly order: ReadonlyArray<number>
  /** After which of the operations' requests the peer sends a heartbeat of its own. */
  readonly heartbeatsAfter: ReadonlyArray<number>
  /** How many events the peer pushes to the subscription whose consumer stalls (its buffer holds 4). */
  readonly pushes: number
  readonly ending: PeerEnding
  /** How many of the operations' requests the peer has received when the case ends. */
  readonly endAfter: number
}

const replies: ReadonlyArray<Reply> = ["now", "later", "twice", "never"]
const peerEndings: ReadonlyArray<PeerEnding> = ["none", "peerHangsUp", "scopeCloses"]

const peerCase: Arbitrary.Arbitrary<PeerCase> = Arbitrary.map(
  Arbitrary.all([
    Arbitrary.array(
      Arbitrary.all([intBetween(0, 1), intBetween(0, 3), intBetween(0, 5), intBetween(-20, 12)]),
      { minLength: 4, maxLength: 16 }
    ),
    Arbitrary.array(intBetween(0, 1000), { minLength: 16, maxLength: 16 }),
    Arbitrary.array(intBetween(0, 16), { maxLength: 4 }),
    intBetween(0, 10),
    intBetween(0, 2),
    intBetween(0, 20)
  ]),
  ([plans, order, heartbeatsAfter, pushes, ending, endAfter]): PeerCase => ({
    plans: plans.map(([kind, reply, hasty, interrupt]) => ({
      kind: kind === 0 ? "write" : "read",
      reply: replies[reply]!,
      hasty: hasty === 5,
      interruptAfter: interrupt < 0 ? undefined : interrupt
    })),
    order,
    heartbeatsAfter,
    pushes,
    ending: peerEndings[ending]!,
    endAfter
  })
)

/** Long enough that an operation ending within the hang bound ended for another reason than its timeout. */
const peerOperationTimeout = "10 seconds"

/** The timeout of an operation whose request the peer never answers. */
const neverAnsweredTimeout = "100 millis"

/** The reply to op `i`'s request: its number is in it, so a reply given to another request shows. */
const replyTo = (pkg: Package.InboundPackage, i: number): { readonly command: number; readonly payload: Uint8Array } =>
  pkg.command === Command.WriteEvents
    ? {
      command: Command.WriteEventsCompleted,
      payload: message(Messages.WriteEventsCompletedSchema, {
        result: Messages.OperationResult.Success,
        firstEventNumber: BigInt(i),
        lastEventNumber: BigInt(i),
        preparePosition: BigInt(i),
        commitPosition: BigInt(i)
      })
    }
    : {
      command: Command.ReadEventCompleted,
      payload: message(Messages.ReadEventCompletedSchema, {
        result: Messages.ReadEventCompleted_ReadEventResult.Success,
        event: create(Messages.ResolvedIndexedEventSchema, { event: record(`op-${i}`, BigInt(i)) })
      })
    }

/** A page of the `pages` stream (300 events) from `from`, 10 events. */
const page = (from: number) =>
  message(Messages.ReadStreamEventsCompletedSchema, {
    events: Array.from({ length: Math.max(0, Math.min(10, 300 - from)) }, (_, k) =>
      create(Messages.ResolvedIndexedEventSchema, { event: record("pages", BigInt(from + k)) })),
    result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Success,
    nextEventNumber: BigInt(Math.min(from + 10, 300)),
    lastEventNumber: 299n,
    isEndOfStream: from + 10 >= 300,
    lastCommitPosition: 0n
  })

const streamOf = (pkg: Package.InboundPackage): string =>
  pkg.command === Command.WriteEvents
    ? Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, pkg.payload)).eventStreamId
    : pkg.command === Command.ReadEvent
    ? Result.getOrThrow(Messages.decode(Messages.ReadEventSchema, pkg.payload)).eventStreamId
    : Result.getOrThrow(Messages.decode(Messages.ReadStreamEventsSchema, pkg.payload)).eventStreamId

/** Late replies go out in the order of their keys. */
const byKey = Order.mapInput(Order.Number, (reply: { readonly key: number }) => reply.key)

/**
 * The peer of a case: it answers the operations' requests as their plans say, keeps the late replies
 * for `release`, sends heartbeats of its own, confirms the stalled subscription and pushes events to
 * it, answers the pages of `pages`, and hangs up when told.
 */
const scriptedPeer = (testCase: PeerCase) =>
  Effect.gen(function*() {
    /** The operations whose request arrived, in the order they arrived. */
    const arrived: Array<number> = []
    const late: Array<{ readonly key: number; readonly send: () => void }> = []
    const heartbeats: Array<string> = []
    let socketOf: Net.Socket | undefined
    const heartbeat = (socket: Net.Socket) => {
      const id = Guid.random()
      heartbeats.push(id)
      send(socket, Command.HeartbeatRequest, id)
    }
    const server = yield* peer((pkg, socket) => {
      socketOf = socket
      switch (pkg.command) {
        case Command.Ping:
          return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        case Command.SubscribeToStream: {
          send(socket, Command.SubscriptionConfirmation, pkg.correlationId, confirmation(0n, -1n))
          for (let k = 0; k < testCase.pushes; k++) {
            send(socket, Command.StreamEventAppeared, pkg.correlationId, eventAppeared("stalled", BigInt(k)))
          }
          return heartbeat(socket)
        }
        case Command.UnsubscribeFromStream:
          return send(
            socket,
            Command.SubscriptionDropped,
            pkg.correlationId,
            dropped(Messages.SubscriptionDropped_SubscriptionDropReason.Unsubscribed)
          )
        case Command.ReadStreamEventsForward:
          return send(socket, Command.ReadStreamEventsForwardCompleted, pkg.correlationId, page(Number(
            Result.getOrThrow(Messages.decode(Messages.ReadStreamEventsSchema, pkg.payload)).fromEventNumber
          )))
        case Command.WriteEvents:
        case Command.ReadEvent: {
          const i = Number(streamOf(pkg).slice("op-".length))
          const { command, payload } = replyTo(pkg, i)
          const reply = () => send(socket, command, pkg.correlationId, payload)
          switch (testCase.plans[i]!.reply) {
            case "now":
              reply()
              break
            case "twice":
              reply()
              late.push({ key: testCase.order[i]!, send: reply })
              break
            case "later":
              late.push({ key: testCase.order[i]!, send: reply })
              break
            case "never":
              break
          }
          arrived.push(i)
          if (testCase.heartbeatsAfter.includes(arrived.length)) heartbeat(socket)
          return
        }
      }
    })
    return {
      server,
      arrived,
      heartbeats,
      /** Sends the late replies (second ones included), in the case's order, after a heartbeat. */
      release: () => {
        const socket = socketOf
        if (socket === undefined || socket.destroyed) return
        heartbeat(socket)
        for (const { send } of Arr.sort(late, byKey)) send()
        late.length = 0
      },
      hangUp: () => socketOf?.destroy(),
      answered: () =>
        new Set(server.received.filter((pkg) => pkg.command === Command.HeartbeatResponse).map((pkg) => pkg.correlationId))
    }
  })

/**
 * Checks the exit of an operation against the peer: the value of its own request, or a `Timeout`
 * when it may time out, or the connection's `ConnectionError` when the case ended it, or an
 * interruption when the test interrupted it.
 */
const checkPeerExit = (
  plan: PeerPlan,
  i: number,
  exit: Exit.Exit<unknown, unknown>,
  interrupted: boolean,
  connectionError: EventStoreError.ConnectionError | undefined
) => {
  const what = `op ${i} ${JSON.stringify(plan)}`
  if (Exit.isSuccess(exit)) {
    assert.notStrictEqual(plan.reply, "never", `${what} succeeded, though its request was never answered`)
    const value = exit.value as { readonly firstEventNumber?: bigint; readonly eventNumber?: bigint; readonly stream?: string }
    if (plan.kind === "write") {
      assert.strictEqual(value.firstEventNumber, BigInt(i), `${what} was given another request's reply`)
    } else {
      assert.strictEqual(value.stream, `op-${i}`, `${what} was given another request's reply`)
      assert.strictEqual(value.eventNumber, BigInt(i), `${what} was given another request's reply`)
    }
    return
  }
  const error = typedFailure(exit.cause, interrupted, what)
  if (error === undefined) return
  if (error instanceof EventStoreError.ConnectionError) {
    assert.strictEqual(error, connectionError, `${what} failed with ${error.message}`)
    return
  }
  assert.instanceOf(error, EventStoreError.Timeout, `${what} failed with ${String(error)}`)
  const timeout = error as EventStoreError.Timeout
  assert.strictEqual(timeout.source, "Client")
  // The connection's own timeout is far beyond the hang bound: only a short one can have passed.
  assert.isTrue(plan.hasty || plan.reply === "never", `${what} timed out: ${timeout.message}`)
}

const runPeerCase = (testCase: PeerCase) =>
  Effect.scoped(Effect.gen(function*() {
    const scripted = yield* scriptedPeer(testCase)
    const connectionScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(connectionScope, Exit.void))
    const es = yield* EventStore.connect({
      host: "127.0.0.1",
      port: scripted.server.port,
      operationTimeout: peerOperationTimeout
    }).pipe(Scope.provide(connectionScope))

    // A subscription whose consumer takes one item and stalls, while the peer pushes events to it and
    // sends a heartbeat; and a paged read whose consumer holds its first event.
    const stall = yield* Deferred.make<void>()
    const stalledTaken = yield* Deferred.make<void>()
    const stalledSubscription = yield* es.subscribeTo("stalled", { liveBufferSize: 4 }).pipe(
      Stream.tap(() => Effect.andThen(Deferred.succeed(stalledTaken, undefined), Deferred.await(stall))),
      Stream.runDrain,
      Effect.forkChild
    )
    const readTaken = yield* Deferred.make<void>()
    const stalledRead = yield* es.iter("pages", { batchSize: 10 }).pipe(
      Stream.tap(() => Effect.andThen(Deferred.succeed(readTaken, undefined), Deferred.await(stall))),
      Stream.runCount,
      Effect.forkChild
    )
    yield* Deferred.await(stalledTaken)
    yield* Deferred.await(readTaken)

    const interrupted = testCase.plans.map(() => false)
    const fibers = yield* Effect.forEach(testCase.plans, (plan, i) =>
      Effect.gen(function*() {
        const timeout = plan.hasty ? "1 millis" : plan.reply === "never" ? neverAnsweredTimeout : undefined
        const operation: Effect.Effect<unknown, unknown> = plan.kind === "write"
          ? es.publishEvent(`op-${i}`, "PonyJumped", { body: { i }, timeout })
          : es.getEvent(`op-${i}`, i, { timeout })
        const fiber = yield* Effect.forkChild(operation)
        if (plan.interruptAfter !== undefined) {
          yield* Effect.forkChild(Effect.andThen(turns(plan.interruptAfter), Effect.suspend(() => {
            interrupted[i] = true
            return Fiber.interrupt(fiber)
          })))
        }
        return fiber
      }))
    const inFlight = () => fibers.filter((fiber, i) => !scripted.arrived.includes(i) && fiber.pollUnsafe() === undefined)

    let connectionError: EventStoreError.ConnectionError | undefined
    const end = Effect.gen(function*() {
      if (testCase.ending === "peerHangsUp") {
        scripted.hangUp()
        // A request made once the peer has hung up fails with the error the connection died of.
        connectionError = (yield* Effect.flip(es.ping())) as EventStoreError.ConnectionError
      } else if (testCase.ending === "scopeCloses") {
        // Closing the connection's scope with work in flight ends it promptly: nothing waits for its
        // timeout.
        yield* Scope.close(connectionScope, Exit.void).pipe(
          Effect.timeoutOrElse({
            duration: Duration.millis(hangBoundMillis),
            orElse: () => Effect.die(new Error("closing the connection's scope hangs"))
          })
        )
        yield* eventually(() => scripted.server.sockets.every((socket) => socket.closed), "the socket to close", hangBoundMillis)
        connectionError = (yield* Effect.flip(es.ping())) as EventStoreError.ConnectionError
      }
    })
    const ended = testCase.ending !== "none" && testCase.endAfter < testCase.plans.length
    if (ended) {
      yield* eventually(
        () => scripted.arrived.length >= testCase.endAfter || inFlight().length === 0,
        "the moment to end",
        hangBoundMillis
      )
      yield* end
    } else {
      // Once every request is in (or its operation has ended), the late replies go out, in any order.
      yield* eventually(() => inFlight().length === 0, "every request", hangBoundMillis)
      scripted.release()
      if (testCase.ending !== "none") yield* end
    }
    if (connectionError !== undefined) {
      assert.instanceOf(connectionError, EventStoreError.ConnectionError)
      assert.strictEqual(connectionError.reason, testCase.ending === "peerHangsUp" ? "Closed" : "ClientClosed")
    }

    for (let i = 0; i < fibers.length; i++) {
      const exit = yield* awaitWithin(fibers[i]!, `op ${i} ${JSON.stringify(testCase.plans[i])}`)
      checkPeerExit(testCase.plans[i]!, i, exit, interrupted[i]!, connectionError)
    }
    // The stalled consumers go on: what they get is theirs, or a typed end.
    yield* Deferred.succeed(stall, undefined)
    const read = yield* awaitWithin(stalledRead, "the stalled read")
    if (connectionError === undefined) assert.deepStrictEqual(read, Exit.succeed(300))
    else if (Exit.isFailure(read)) {
      assert.strictEqual(Result.getOrUndefined(Cause.findError(read.cause)), connectionError, Cause.pretty(read.cause))
    }
    if (connectionError === undefined) {
      // Every heartbeat the peer sent was answered, though the consumers stalled; the connection serves.
      yield* eventually(
        () => scripted.heartbeats.every((id) => scripted.answered().has(id)),
        "every heartbeat to be answered",
        hangBoundMillis
      )
      yield* es.ping()
      yield* Fiber.interrupt(stalledSubscription)
    }
    const subscribed = yield* awaitWithin(stalledSubscription, "the stalled subscription")
    if (Exit.isFailure(subscribed) && !Cause.hasInterruptsOnly(subscribed.cause)) {
      const error = Result.getOrUndefined(Cause.findError(subscribed.cause))
      assert.isTrue(
        error instanceof EventStoreError.SubscriptionOverflow || (error !== undefined && error === connectionError),
        `the stalled subscription: ${Cause.pretty(subscribed.cause)}`
      )
    }
  }))

describe("lifecycle against a scripted peer", () => {
  it.live.prop(
    "replies late, twice, in any order or never, heartbeats while consumers stall, a hang-up or a closing scope: each request gets its own outcome",
    [peerCase],
    ([testCase]) => runPeerCase(testCase),
    lifecycleChecks(40, 7)
  )
})

// -----------------------------------------------------------------------------
// examples
// -----------------------------------------------------------------------------

/**
 * A scheduler on which a fiber runs only when the test says: every time the fiber yields, its next
 * step waits in `gate` until `step` runs it, or, once `openUp` is called, goes on at once.
 */
const steppedScheduler = () => {
  const gate: Array<() => void> = []
  let open = false
  const scheduler = new Scheduler.MixedScheduler("async", (task) => {
    if (open) {
      const handle = setImmediate(task)
      return () => clearImmediate(handle)
    }
    gate.push(task)
    return () => {}
  })
  return {
    scheduler,
    /** Runs the fiber's next step; false when it has none (it waits for something else). */
    step: (): boolean => {
      const task = gate.shift()
      task?.()
      return task !== undefined
    },
    parked: () => gate.length === 0,
    openUp: () => {
      open = true
      for (const task of gate.splice(0)) setImmediate(task)
    }
  }
}

/**
 * Runs `effect` on `stepped`, yielding after every step: with an operation budget of 3, a fiber that
 * resumes takes one step (its resumption counts, and the budget is checked before each step) and
 * yields again.
 */
const stepByStep = <A, E>(effect: Effect.Effect<A, E>, stepped: ReturnType<typeof steppedScheduler>) =>
  effect.pipe(
    Effect.provideService(Scheduler.MaxOpsBeforeYield, 3),
    Effect.provideService(References.Scheduler, stepped.scheduler)
  )

/**
 * Runs `k` steps of a fiber on `stepped`, and tells whether it then waits for something else than its
 * next step (it is parked). When it has no step to take, a ping lets in what it waits for (a ping sent
 * after its request is answered after the reply to it), and it goes on if that woke it. Either way,
 * whatever the fiber sent has reached the peer on return.
 */
const runSteps = (es: EventStore.Service, stepped: ReturnType<typeof steppedScheduler>, k: number) =>
  Effect.gen(function*() {
    for (let steps = 0; steps < k;) {
      yield* Effect.yieldNow
      if (stepped.step()) {
        steps++
        continue
      }
      yield* es.ping()
      if (stepped.parked()) return true
    }
    yield* es.ping()
    return stepped.parked()
  })

/**
 * A consumer that yields between looking for news and waiting for it must still be woken by news that
 * came in between. For every `k`, the consumer is run `k` steps, `letItIn` has the peer send what it
 * waits for (once its request is in: `requested`), and then it runs freely: it must end. Stops at the
 * first `k` at which the consumer was waiting already; returns how many were tried.
 */
const wakesUpAfterAnyStep = (
  es: EventStore.Service,
  consumer: Effect.Effect<unknown, unknown>,
  requested: () => boolean,
  letItIn: () => void
) =>
  Effect.gen(function*() {
    for (let k = 0; k < 1000; k++) {
      const stepped = steppedScheduler()
      const fiber = yield* Effect.forkChild(stepByStep(consumer, stepped))
      const parked = yield* runSteps(es, stepped, k)
      if (!requested()) {
        stepped.openUp()
        yield* Fiber.interrupt(fiber)
        continue
      }
      letItIn()
      // And it has been dispatched once a ping sent after it is answered.
      yield* es.ping()
      stepped.openUp()
      const exit = yield* Fiber.await(fiber).pipe(
        Effect.timeoutOrElse({
          duration: Duration.millis(hangBoundMillis),
          orElse: () => Effect.die(new Error(`the consumer, stopped after ${k} steps, lost its wake-up`))
        })
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      if (parked) return k
    }
    return assert.fail("the consumer never waited")
  })

/**
 * A consumer interrupted after any number of steps leaves nothing behind: for every `k`, the consumer
 * is run `k` steps, then interrupted, and `leftBehind` must say nothing is (once a ping sent after the
 * interruption is answered, whatever the consumer sent on its way out has reached the peer). Stops at
 * the first `k` at which the consumer was waiting already; returns how many were tried.
 */
const leavesNothingBehindAfterAnyStep = (
  es: EventStore.Service,
  consumer: Effect.Effect<unknown, unknown>,
  leftBehind: () => string | undefined
) =>
  Effect.gen(function*() {
    for (let k = 0; k < 1000; k++) {
      const stepped = steppedScheduler()
      const fiber = yield* Effect.forkChild(stepByStep(consumer, stepped))
      const parked = yield* runSteps(es, stepped, k)
      stepped.openUp()
      yield* Fiber.interrupt(fiber)
      yield* es.ping()
      const left = leftBehind()
      assert.isUndefined(left, `the consumer, interrupted after ${k} steps, left ${left} behind`)
      if (parked) return k
    }
    return assert.fail("the consumer never waited")
  })

/**
 * A peer that confirms subscriptions (volatile and persistent), drops them when asked, and answers
 * pings; `open` holds the correlation ids of the subscriptions confirmed and not dropped.
 */
const subscribingPeer = () =>
  Effect.gen(function*() {
    const open = new Set<string>()
    const server = yield* peer((pkg, socket) => {
      switch (pkg.command) {
        case Command.Ping:
          return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        case Command.SubscribeToStream:
          open.add(pkg.correlationId)
          return send(socket, Command.SubscriptionConfirmation, pkg.correlationId, confirmation(0n, -1n))
        case Command.ConnectToPersistentSubscription:
          open.add(pkg.correlationId)
          return send(
            socket,
            Command.PersistentSubscriptionConfirmation,
            pkg.correlationId,
            message(Messages.PersistentSubscriptionConfirmationSchema, {
              subscriptionId: "ponies::workers",
              lastCommitPosition: 0n
            })
          )
        case Command.ReadAllEventsForward:
          // `$all` is empty: a catch-up subscription has read its history at once, and subscribes.
          return send(
            socket,
            Command.ReadAllEventsForwardCompleted,
            pkg.correlationId,
            message(Messages.ReadAllEventsCompletedSchema, {
              commitPosition: 0n,
              preparePosition: 0n,
              events: [],
              nextCommitPosition: 0n,
              nextPreparePosition: 0n,
              result: Messages.ReadAllEventsCompleted_ReadAllResult.Success
            })
          )
        case Command.UnsubscribeFromStream:
          open.delete(pkg.correlationId)
          return send(
            socket,
            Command.SubscriptionDropped,
            pkg.correlationId,
            dropped(Messages.SubscriptionDropped_SubscriptionDropReason.Unsubscribed)
          )
      }
    })
    return { server, open }
  })

const inTwentyMillis = (f: () => void) => setTimeout(f, 20)

describe("lifecycle examples", () => {
  it.live("a volatile subscription interrupted at any step of its start unsubscribes", () =>
    Effect.gen(function*() {
      const { open, server } = yield* subscribingPeer()
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const tried = yield* leavesNothingBehindAfterAnyStep(
        es,
        Stream.runDrain(es.subscribeTo("ponies")),
        () => open.size === 0 ? undefined : `${open.size} subscription(s)`
      )
      assert.isAbove(tried, 5)
    }))

  it.live("a persistent subscription's consumer interrupted at any step of its start leaves the group", () =>
    Effect.gen(function*() {
      const { open, server } = yield* subscribingPeer()
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const tried = yield* leavesNothingBehindAfterAnyStep(
        es,
        Stream.runDrain(es.connectSubscription("ponies", "workers")),
        () => open.size === 0 ? undefined : `${open.size} consumer(s)`
      )
      assert.isAbove(tried, 5)
    }))

  it.live("a catch-up subscription interrupted at any step, reading or subscribing, unsubscribes", () =>
    Effect.gen(function*() {
      const { open, server } = yield* subscribingPeer()
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const tried = yield* leavesNothingBehindAfterAnyStep(
        es,
        Stream.runDrain(es.subscribeToAll({ from: "start" })),
        () => open.size === 0 ? undefined : `${open.size} subscription(s)`
      )
      assert.isAbove(tried, 5)
    }))

  it.live("a subscription whose consumer yields between looking for its confirmation and waiting for it still sees it", () =>
    Effect.gen(function*() {
      const confirmations: Array<() => void> = []
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command === Command.SubscribeToStream) {
          confirmations.push(() => send(socket, Command.SubscriptionConfirmation, pkg.correlationId, confirmation(0n, -1n)))
        }
        if (pkg.command === Command.UnsubscribeFromStream) {
          send(socket, Command.SubscriptionDropped, pkg.correlationId, dropped(0))
        }
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const tried = yield* wakesUpAfterAnyStep(
        es,
        Effect.suspend(() => {
          confirmations.length = 0
          return Stream.runHead(es.subscribeTo("ponies"))
        }),
        () => confirmations.length > 0,
        () => confirmations[0]!()
      )
      assert.isAbove(tried, 5)
    }))

  it.live("a paged read whose consumer yields between looking for its page and waiting for it still gets it", () =>
    Effect.gen(function*() {
      const pages: Array<() => void> = []
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command !== Command.ReadStreamEventsForward) return
        const from = Number(Result.getOrThrow(Messages.decode(Messages.ReadStreamEventsSchema, pkg.payload)).fromEventNumber)
        // The whole stream is the first page; the page asked for on a guess is never answered.
        if (from === 0) {
          pages.push(() =>
            send(
              socket,
              Command.ReadStreamEventsForwardCompleted,
              pkg.correlationId,
              message(Messages.ReadStreamEventsCompletedSchema, {
                events: [0n, 1n, 2n].map((n) => create(Messages.ResolvedIndexedEventSchema, { event: record("ponies", n) })),
                result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Success,
                nextEventNumber: 3n,
                lastEventNumber: 2n,
                isEndOfStream: true,
                lastCommitPosition: 0n
              })
            )
          )
        }
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const tried = yield* wakesUpAfterAnyStep(
        es,
        Effect.suspend(() => {
          pages.length = 0
          return Stream.runCollect(es.iter("ponies", { batchSize: 10 }))
        }),
        () => pages.length > 0,
        () => pages[0]!()
      )
      assert.isAbove(tried, 5)
    }))

  it.live("a connection, request or subscription given a month to wait waits, and sets no timer beyond what setTimeout takes", () =>
    Effect.gen(function*() {
      const overflowsBefore = timerOverflows
      // The peer answers after a few milliseconds: a timer that overflowed would have fired after 1.
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) inTwentyMillis(() => send(socket, Command.Pong, pkg.correlationId, pkg.payload))
        if (pkg.command === Command.SubscribeToStream) {
          inTwentyMillis(() => send(socket, Command.SubscriptionConfirmation, pkg.correlationId, confirmation(0n, -1n)))
        }
        if (pkg.command === Command.UnsubscribeFromStream) {
          send(socket, Command.SubscriptionDropped, pkg.correlationId, dropped(0))
        }
      })
      // The handshake's requests, and every request after them, wait a month.
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, operationTimeout: aMonth })
      yield* es.ping()
      const first = yield* Stream.runHead(es.subscribeTo("ponies"))
      assert.isTrue(Option.isSome(first) && Subscription.isCaughtUp(first.value))
      const forever = yield* Stream.runHead(es.subscribeTo("ponies", { timeout: Duration.infinity }))
      assert.isTrue(Option.isSome(forever) && Subscription.isCaughtUp(forever.value))
      assert.strictEqual(timerOverflows, overflowsBefore, "a client timer overflowed (TimeoutOverflowWarning)")
    }))
})
