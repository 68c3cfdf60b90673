/**
 * A model-based property test of persistent subscriptions with several consumers. A random group on a
 * fresh stream (strategy, subscriber limit, start point, resolve links, retry limit, checkpoint counts,
 * read batch size) and one to three consumer connections run random sequences of operations against a
 * running node over real sockets, and a reference model written from docs/protocol.md alone predicts
 * every reply, push and drop:
 *
 * - writes of plain events and of links to events in other streams, each with a `$correlationId`;
 * - ConnectToPersistentSubscription with a random in-flight allowance on a random connection: the
 *   confirmation (`stream::group` id, last event number), or Dropped NotFound / SubscriberMaxCountReached
 *   (5.4 connect flow, 3.7);
 * - acks and naks of some of a consumer's messages with every action: Unknown and Retry redeliver with
 *   retryCount + 1 or park past MaxRetryCount, Park parks, Skip forgets (5.4 step 6);
 * - UnsubscribeFromStream and closing a connection that holds one or more consumers: their messages
 *   are retried, once, to the others (5.4 steps 7 and 8);
 * - the clock moving by half the message timeout or all of it: the messages whose timeout passed are
 *   retried (5.4 step 9). The node's clock (`Date`) and the timer of its tick are faked, so a timeout
 *   fires exactly when a step says, and the runs are the same every time;
 * - Update and Delete while consumers are connected: Dropped(Unsubscribed) for each, a restart from the
 *   checkpoint + 1 or from StartFrom, the checkpoint and parked streams deleted (5.4 results table);
 * - Create again after a delete, and Create / Update answering AlreadyExists / DoesNotExist, or Fail
 *   for an unknown strategy, which leaves the group and its consumers alone.
 *
 * After every operation the test waits until the node has handled it (a Ping on the acting connection,
 * then on every other one, so that every push it caused has arrived), then compares:
 * - every push: a message the group holds and no consumer has in flight, with the predicted retryCount,
 *   the right event / link pair for `resolve_link_tos` (4.8), never beyond the consumer's allowance;
 * - who gets the pushes: RoundRobin cycles through the consumers, giving each message to the next one
 *   with a free slot; DispatchToSingle fills the first consumer before the next (5.4 strategies). The
 *   order of the consumers, where a newcomer enters it and where the cycle resumes after a consumer
 *   leaves are not said, so the model keeps every order that explains what it saw and fails when none
 *   does. Pinned and PinnedByCorrelation keep each source stream / correlation id on one consumer as
 *   long as the consumers do not change;
 * - nothing left waiting while a consumer it could go to has a free slot;
 * - the drops, the parked stream's links, reasons and `subscriptionEventNumber`, and each checkpoint:
 *   never past a message that is not processed (5.4 checkpoints and parking).
 * At the end every consumer acks what it holds until the group is drained: every event from the start
 * point on was delivered until acked, parked or skipped.
 *
 * Unspecified in protocol.md, so not compared:
 * - nak Stop: 5.4 says "Stop the subscription" but not how that looks on the wire (a drop? which
 *   reason?) nor what becomes of the message (the node, like 20.10, forgets it and keeps the consumer).
 *   The model lets the stopped message come back or not, with any retryCount, parked or not, accepts a
 *   drop of any reason, and then unsubscribes the consumer itself; the pushes in between are not
 *   checked against the strategy;
 * - which waiting message goes first (retries before new events, stream order);
 * - the retryCount of a message a restarted group (after Update) delivers again;
 * - where an Update of a group that starts live (-1) and has no checkpoint restarts: anything from the
 *   old start may come again;
 * - when a checkpoint is written (5.4 counts "processed" events without saying how): only that it never
 *   passes an unprocessed message, never goes back, and is where an update restarts;
 * - the parked reason of a nak Retry past the retry limit (the retry-count one or the client's), and
 *   for a link which of the link and its target the parked link points at;
 * - `subscriptionEventNumber` of a parked event 0: the list of keys in 5.4 says nothing of the server's
 *   JSON leaving out default values, so it may be absent then;
 * - in-flight allowances of 0, and buffer sizes: 5.4 gives their defaults but not what they bound, so
 *   the history buffer stays larger than any stream here;
 * - acks and naks of another consumer's messages, or of messages no longer in flight: not generated.
 *
 * The property runs with a fixed seed, so that CI runs the same cases. To hunt, set another seed and
 * more runs: `PROPERTY_SEED=7 PROPERTY_RUNS=5 npx vitest run packages/server/test/PersistentModel.test.ts`.
 */
import type { MessageInitShape } from "@bufbuild/protobuf"
import { afterAll, assert, layer, vi } from "@effect/vitest"
import { Command, Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { checks, intBetween } from "./FuzzInputs.ts"
import {
  admin,
  append,
  C,
  connect,
  eventId,
  persistentSettings,
  type RawClient,
  readForward,
  text
} from "./RawClient.ts"

// The node's persistent-subscription clock is `Date.now` (message deadlines), and its tick, which retries
// the messages whose timeout passed (and may write a checkpoint), sleeps with `setTimeout`. Faking both
// makes the tick run only when a step fires it, at a time the step chose: the runs are the same every
// time. Sockets and Effect's scheduler do not use them; the test's own waits keep the real timers.
const realSetTimeout = globalThis.setTimeout
const realClearTimeout = globalThis.clearTimeout
vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] })
afterAll(() => {
  vi.useRealTimers()
})

const Dropped = Messages.SubscriptionDropped_SubscriptionDropReason
const NakAction = Messages.PersistentSubscriptionNakEvents_NakAction
const CreateResult = Messages.CreatePersistentSubscriptionCompleted_CreatePersistentSubscriptionResult
const UpdateResult = Messages.UpdatePersistentSubscriptionCompleted_UpdatePersistentSubscriptionResult
const DeleteResult = Messages.DeletePersistentSubscriptionCompleted_DeletePersistentSubscriptionResult
const ReadStreamResult = Messages.ReadStreamEventsCompleted_ReadStreamResult

const group = "workers"
/** More consumers than this at once make the search over consumer orders slow and add little. */
const maxConsumers = 4

const encoder = new TextEncoder()

/** Numbers the scenarios, which share one node, so that each has its own streams. */
let scenarioCount = 0

/** The numbers in ascending order, in a new array. */
const ascending = (numbers: Iterable<number>): Array<number> => {
  const sorted = Array.from(numbers)
  sorted.sort((a, b) => a - b)
  return sorted
}

const key = (id: Uint8Array): string => Array.from(id, (byte) => byte.toString(16).padStart(2, "0")).join("")

// ---------------------------------------------------------------------------------------------------
// Settings

type Strategy = "RoundRobin" | "DispatchToSingle" | "Pinned" | "PinnedByCorrelation"

interface GroupSettings {
  /** What CreatePersistentSubscription carries in field 16 (empty: field 11 decides, 5.4). */
  readonly namedConsumerStrategy: string
  readonly preferRoundRobin: boolean
  /** The strategy the group runs. */
  readonly strategy: Strategy
  readonly maxSubscriberCount: number
  readonly startFrom: number
  readonly resolveLinkTos: boolean
  readonly maxRetryCount: number
  readonly messageTimeout: number
  readonly readBatchSize: number
  readonly checkpointMaxCount: number
  readonly checkpointMinCount: number
}

const settingsChoice = Arbitrary.all({
  strategy: intBetween(0, 5),
  maxSubscriberCount: intBetween(0, 4),
  startFrom: intBetween(0, 4),
  resolveLinkTos: intBetween(0, 1),
  maxRetryCount: intBetween(0, 3),
  messageTimeout: intBetween(1, 30),
  readBatchSize: intBetween(1, 5),
  checkpointMaxCount: intBetween(1, 6),
  checkpointMinCount: intBetween(0, 6)
})

type SettingsChoice = typeof settingsChoice extends Arbitrary.Arbitrary<infer A> ? A : never

const strategies: ReadonlyArray<readonly [string, boolean, Strategy]> = [
  ["RoundRobin", true, "RoundRobin"],
  ["DispatchToSingle", false, "DispatchToSingle"],
  ["Pinned", false, "Pinned"],
  ["PinnedByCorrelation", false, "PinnedByCorrelation"],
  // An empty name leaves the choice to prefer_round_robin (5.4 settings table).
  ["", true, "RoundRobin"],
  ["", false, "DispatchToSingle"]
]

const settingsOf = (choice: SettingsChoice): GroupSettings => {
  const [namedConsumerStrategy, preferRoundRobin, strategy] = strategies[choice.strategy]!
  return {
    namedConsumerStrategy,
    preferRoundRobin,
    strategy,
    // Unlimited half the time.
    maxSubscriberCount: choice.maxSubscriberCount === 4 ? 0 : choice.maxSubscriberCount,
    startFrom: [-1, 0, 1, 2, 5][choice.startFrom]!,
    resolveLinkTos: choice.resolveLinkTos === 1,
    maxRetryCount: choice.maxRetryCount,
    messageTimeout: choice.messageTimeout * 1000,
    readBatchSize: choice.readBatchSize,
    checkpointMaxCount: choice.checkpointMaxCount,
    checkpointMinCount: choice.checkpointMinCount % (choice.checkpointMaxCount + 1)
  }
}

const describeSettings = (settings: GroupSettings): string =>
  `${settings.strategy}${settings.namedConsumerStrategy === "" ? " (by prefer_round_robin)" : ""}, ` +
  `max subscribers ${settings.maxSubscriberCount}, start ${settings.startFrom}, ` +
  `resolve ${settings.resolveLinkTos}, max retries ${settings.maxRetryCount}, ` +
  `checkpoint counts ${settings.checkpointMinCount}..${settings.checkpointMaxCount}`

const wireSettings = (
  stream: string,
  settings: GroupSettings
): MessageInitShape<typeof Messages.CreatePersistentSubscriptionSchema> =>
  persistentSettings(stream, group, {
    resolveLinkTos: settings.resolveLinkTos,
    startFrom: BigInt(settings.startFrom),
    messageTimeoutMilliseconds: settings.messageTimeout,
    readBatchSize: settings.readBatchSize,
    maxRetryCount: settings.maxRetryCount,
    preferRoundRobin: settings.preferRoundRobin,
    // 0 = no checkpoints by time (5.4): when one is written then depends on the operations alone.
    checkpointAfterTime: 0,
    checkpointMaxCount: settings.checkpointMaxCount,
    checkpointMinCount: settings.checkpointMinCount,
    subscriberMaxCount: settings.maxSubscriberCount,
    namedConsumerStrategy: settings.namedConsumerStrategy
  })

// ---------------------------------------------------------------------------------------------------
// The reference model (docs/protocol.md 5.4)

interface StreamEvent {
  readonly number: number
  /** The id acks and naks name: the event's own, the link's for a link (4.8). */
  readonly id: Uint8Array
  readonly key: string
  readonly correlationId: string
  /** For a link: the event it points at. */
  readonly target?: { readonly stream: string; readonly number: number; readonly id: Uint8Array } | undefined
}

interface Consumer {
  readonly name: string
  readonly connection: number
  readonly correlationId: string
  readonly allowed: number
  readonly subscriptionId: string
  /** The event numbers it holds. */
  readonly inFlight: Set<number>
  active: boolean
}

/** Where a message of the current group stands; an event without one has not been delivered yet. */
type Fate =
  | {
    readonly kind: "inFlight"
    readonly consumer: Consumer
    readonly retryCount: number
    /** When its message timeout passes, on the node's (faked) clock. */
    readonly deadline: number
  }
  | { readonly kind: "retry"; readonly retryCount: number }
  | { readonly kind: "done" }
  /** After a nak Stop, whose effect protocol.md does not give: it may come back or not. */
  | { readonly kind: "limbo" }

/** One run of a group: from its creation, or from an update, which restarts it (5.4). */
interface Generation {
  readonly settings: GroupSettings
  /** Every event from here on must be delivered. */
  readonly start: number
  /** Events from here to `start` - 1 may be delivered or not (an update of a live group, unspecified). */
  readonly optionalFrom: number
  readonly fates: Map<number, Fate>
  /** Events an earlier run of the group delivered: their retryCount here is unspecified. */
  readonly deliveredBefore: ReadonlySet<number>
}

interface ExpectedPark {
  /** The step that parked it: parks of one step may come in any order, those of later steps after. */
  readonly step: number
  readonly number: number
  readonly reasons: ReadonlyArray<string>
}

const retryLimitReason = (settings: GroupSettings) => `Reached retry count of ${settings.maxRetryCount}`
const nakReason = (message: string) => `Client explicitly NAK'ed message.\n${message}`

/** Every order of the items. */
const permutations = <A>(items: ReadonlyArray<A>): Array<Array<A>> =>
  items.length <= 1
    ? [[...items]]
    : items.flatMap((item, i) =>
      permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
    )

const rotations = <A>(items: ReadonlyArray<A>): Array<Array<A>> =>
  items.length === 0 ? [[]] : items.map((_, i) => [...items.slice(i), ...items.slice(0, i)])

/**
 * Who the strategy gives messages to (5.4 consumer strategies). RoundRobin and DispatchToSingle keep
 * every order of the consumers that explains the pushes seen so far (for RoundRobin, first = the next
 * one to try); Pinned keeps the consumer each key went to while the consumers stay the same.
 */
class Allocation {
  readonly strategy: Strategy
  #orders: Array<ReadonlyArray<Consumer>> = [[]]
  readonly #owners = new Map<string, Consumer>()

  constructor(strategy: Strategy) {
    this.strategy = strategy
  }

  get isPinned(): boolean {
    return this.strategy === "Pinned" || this.strategy === "PinnedByCorrelation"
  }

  /** The consumer a key is known to go to. */
  ownerOf(pinnedKey: string): Consumer | undefined {
    return this.#owners.get(pinnedKey)
  }

  /** Where a newcomer enters the order, and where a cycle resumes, are not said: any place. */
  joined(consumer: Consumer): void {
    this.#owners.clear()
    this.#setOrders(this.#orders.flatMap((order) =>
      Array.from({ length: order.length + 1 }, (_, at) => [...order.slice(0, at), consumer, ...order.slice(at)])
    ))
  }

  left(consumers: ReadonlyArray<Consumer>): void {
    if (consumers.length === 0) return
    this.#owners.clear()
    this.#setOrders(this.#orders.map((order) => order.filter((consumer) => !consumers.includes(consumer))))
  }

  /** After pushes that were not checked: any order of the consumers left. */
  forget(active: ReadonlyArray<Consumer>): void {
    this.#owners.clear()
    this.#orders = permutations(active)
  }

  #setOrders(orders: Array<ReadonlyArray<Consumer>>): void {
    const all = this.strategy === "RoundRobin" ? orders.flatMap(rotations) : orders
    const unique = new Map<string, ReadonlyArray<Consumer>>()
    for (const order of all) unique.set(order.map((consumer) => consumer.name).join(","), order)
    this.#orders = Array.from(unique.values())
  }

  /**
   * Checks the pushes of one step: `free` is each consumer's free slots before them, `counts` how many
   * each got. Returns why no order explains them, if none does.
   */
  check(free: ReadonlyMap<Consumer, number>, counts: ReadonlyMap<Consumer, number>): string | undefined {
    if (this.isPinned) return undefined
    const total = Array.from(counts.values()).reduce((sum, count) => sum + count, 0)
    const survivors: Array<ReadonlyArray<Consumer>> = []
    for (const start of this.#orders) {
      let order = start
      const slots = new Map(free)
      const given = new Map<Consumer, number>()
      let consistent = true
      for (let i = 0; i < total && consistent; i++) {
        const at = order.findIndex((consumer) => (slots.get(consumer) ?? 0) > 0)
        if (at < 0) {
          consistent = false
          break
        }
        const consumer = order[at]!
        slots.set(consumer, slots.get(consumer)! - 1)
        given.set(consumer, (given.get(consumer) ?? 0) + 1)
        if (this.strategy === "RoundRobin") order = [...order.slice(at + 1), ...order.slice(0, at + 1)]
      }
      for (const consumer of new Set([...given.keys(), ...counts.keys()])) {
        if ((given.get(consumer) ?? 0) !== (counts.get(consumer) ?? 0)) consistent = false
      }
      if (consistent) survivors.push(order)
    }
    if (survivors.length === 0) {
      const seen = Array.from(counts, ([consumer, count]) => `${consumer.name}: ${count}`).join(", ")
      const slots = Array.from(free, ([consumer, count]) => `${consumer.name}: ${count}`).join(", ")
      return `${this.strategy}: no order of the consumers gives these pushes (${seen}; free slots ${slots})`
    }
    this.#setOrders(survivors)
    return undefined
  }

  /** Pinned: a key stays on one consumer. Returns the conflict, if any. */
  pin(pinnedKey: string, consumer: Consumer): string | undefined {
    if (!this.isPinned) return undefined
    const owner = this.#owners.get(pinnedKey)
    if (owner !== undefined && owner !== consumer) {
      return `${this.strategy}: key ${pinnedKey} went to ${consumer.name}, but it is pinned to ${owner.name}`
    }
    this.#owners.set(pinnedKey, consumer)
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------------
// Operations: raw choices, given meaning by the model's state when they run.

const operation = Arbitrary.all({
  kind: intBetween(0, 99),
  who: intBetween(0, 99),
  count: intBetween(0, 99),
  extra: intBetween(0, 99),
  settings: settingsChoice
})

type Operation = typeof operation extends Arbitrary.Arbitrary<infer A> ? A : never

const scenario = Arbitrary.all({
  settings: settingsChoice,
  initialEvents: intBetween(0, 3),
  connections: intBetween(1, 3),
  operations: Arbitrary.array(operation, { minLength: 10, maxLength: 28 })
})

// ---------------------------------------------------------------------------------------------------
// Requests

const createGroup = (client: RawClient, stream: string, settings: GroupSettings) =>
  client.request(
    C.CreatePersistentSubscription,
    Messages.CreatePersistentSubscriptionSchema,
    wireSettings(stream, settings),
    C.CreatePersistentSubscriptionCompleted,
    Messages.CreatePersistentSubscriptionCompletedSchema,
    { credentials: admin }
  )

const updateGroup = (client: RawClient, stream: string, settings: GroupSettings) =>
  client.request(
    C.UpdatePersistentSubscription,
    Messages.UpdatePersistentSubscriptionSchema,
    // The two messages have the same fields (3.7).
    wireSettings(stream, settings) as unknown as MessageInitShape<typeof Messages.UpdatePersistentSubscriptionSchema>,
    C.UpdatePersistentSubscriptionCompleted,
    Messages.UpdatePersistentSubscriptionCompletedSchema,
    { credentials: admin }
  )

const deleteGroup = (client: RawClient, stream: string) =>
  client.request(
    C.DeletePersistentSubscription,
    Messages.DeletePersistentSubscriptionSchema,
    { subscriptionGroupName: group, eventStreamId: stream },
    C.DeletePersistentSubscriptionCompleted,
    Messages.DeletePersistentSubscriptionCompletedSchema,
    { credentials: admin }
  )

/** Answered by Pong once the node has handled everything sent before on this connection. */
const ping = (client: RawClient) =>
  Effect.gen(function*() {
    const id = client.send(C.Ping, new Uint8Array(0))
    yield* client.take((pkg) => pkg.correlationId === id && pkg.command === C.Pong)
  })

/** Waits, on real timers, until a condition holds. */
const waitUntil = (condition: () => boolean, what: string, timeout = 5_000) =>
  Effect.callback<void, Error>((resume) => {
    let waited = 0
    const check = () => {
      if (condition()) return resume(Effect.void)
      if (waited >= timeout) return resume(Effect.fail(new Error(`Waited ${timeout} ms for ${what}`)))
      waited += 5
      timer = realSetTimeout(check, 5)
    }
    let timer = realSetTimeout(check, 0)
    return Effect.sync(() => realClearTimeout(timer))
  })

const decodeOrThrow = <A>(result: Result.Result<A, Error>): A => Result.getOrThrow(result)

// ---------------------------------------------------------------------------------------------------

layer(
  EventStoreServer.layer({
    port: 0,
    persistentSubscriptionTick: "10 millis",
    // The frozen clock must not make connections look idle when a step moves it.
    heartbeatInterval: "1000 days",
    heartbeatTimeout: "1000 days"
  }),
  { excludeTestServices: true }
)("Persistent subscriptions with several consumers against a model", (it) => {
  it.effect.prop(
    "pushes, acks, naks, disconnects, timeouts, updates and deletes do what docs/protocol.md 5.4 says",
    [scenario],
    ([{ connections: connectionCount, initialEvents, operations, settings: initialSettings }]) =>
      Effect.gen(function*() {
        const server = yield* EventStoreServer.EventStoreServer
        const writer = yield* connect(server.port)
        const connections: Array<RawClient> = []
        for (let i = 0; i < connectionCount; i++) connections.push(yield* connect(server.port))
        // Pinned hashes stream names: the same names every time keep the runs the same.
        const stream = `persistent-model-${++scenarioCount}`
        const subscriptionId = `${stream}::${group}`
        const parkedStream = `$persistentsubscription-${subscriptionId}-parked`
        const checkpointStream = `$persistentsubscription-${subscriptionId}-checkpoint`
        const sources = [0, 1, 2].map((i) => `${stream}-source${i}`)

        const history: Array<string> = []
        const context = () => `after:\n  ${history.join("\n  ")}`
        let step = 0

        const events: Array<StreamEvent> = []
        const consumers: Array<Consumer> = []
        const byCorrelation = new Map<string, Consumer>()
        let generation: Generation | undefined
        let allocation = new Allocation("RoundRobin")
        let parks: Array<ExpectedPark> = []
        /** Events whose parking is unspecified (they went through a nak Stop) since the last delete. */
        let mayBeParked = new Set<number>()
        /** The last checkpoint read: its number in the checkpoint stream and its value. */
        let checkpoint: { readonly eventNumber: number; readonly value: number } | undefined
        let lastPosition = 0n

        const active = () => consumers.filter((consumer) => consumer.active)
        const lastEventNumber = () => events.length - 1

        // -------------------------------------------------------------------------------------------
        // The model's rules

        const fateOf = (n: number) => generation!.fates.get(n)

        /** Whether a message must still be delivered: not yet delivered from the start on, or waiting for a retry. */
        const isWaiting = (n: number): boolean => {
          const fate = fateOf(n)
          return fate === undefined ? n >= generation!.start : fate.kind === "retry"
        }

        const waiting = (): Array<number> => {
          if (generation === undefined) return []
          const numbers: Array<number> = []
          for (let n = Math.min(generation.start, generation.optionalFrom); n <= lastEventNumber(); n++) {
            if (isWaiting(n)) numbers.push(n)
          }
          return numbers
        }

        const pinnedKeyOf = (event: StreamEvent): string =>
          allocation.strategy === "PinnedByCorrelation" ? event.correlationId : event.target?.stream ?? stream

        /** Retries a message, or parks it once it used its retries (5.4 step 6, Unknown / Retry). */
        const retryOrPark = (n: number, retryCount: number, reasons: ReadonlyArray<string>) => {
          if (retryCount >= generation!.settings.maxRetryCount) {
            generation!.fates.set(n, { kind: "done" })
            parks.push({ step, number: n, reasons })
          } else {
            generation!.fates.set(n, { kind: "retry", retryCount: retryCount + 1 })
          }
        }

        /** A consumer leaves: what it holds is retried to the others (5.4 steps 7 and 8). */
        const release = (consumer: Consumer) => {
          consumer.active = false
          for (const n of ascending(consumer.inFlight)) {
            const fate = fateOf(n)
            if (fate?.kind === "inFlight") retryOrPark(n, fate.retryCount, [retryLimitReason(generation!.settings)])
          }
          consumer.inFlight.clear()
        }

        /** The group restarts (update) or stops (delete): every consumer is dropped, nothing is retried. */
        const dropAll = () => {
          const dropped = active()
          for (const consumer of dropped) {
            consumer.active = false
            consumer.inFlight.clear()
          }
          return dropped
        }

        const startGeneration = (
          settings: GroupSettings,
          start: number,
          optionalFrom: number,
          deliveredBefore: ReadonlySet<number>
        ) => {
          generation = { settings, start, optionalFrom, fates: new Map(), deliveredBefore }
          allocation = new Allocation(settings.strategy)
        }

        // -------------------------------------------------------------------------------------------
        // Waiting for the node and reading what it sent

        const allClients = () => [writer, ...connections]

        /** Every push the acting connection's request caused has arrived once each connection answered a Ping. */
        const barrier = (acting: RawClient) =>
          Effect.gen(function*() {
            yield* ping(acting)
            const others = allClients().filter((client) => client !== acting)
            yield* Effect.forEach(others, ping, { concurrency: "unbounded" })
          })

        interface Observed {
          readonly pushes: Array<Messages.PersistentSubscriptionStreamEventAppeared>
          readonly drops: Array<number>
        }

        const takeObserved = (): Map<Consumer, Observed> => {
          const observed = new Map<Consumer, Observed>()
          assert.deepStrictEqual(writer.inbox.map((pkg) => Command.name(pkg.command)), [], `writer: ${context()}`)
          for (const client of connections) {
            for (const pkg of client.inbox.splice(0)) {
              const consumer = byCorrelation.get(pkg.correlationId)
              assert.isDefined(consumer, `a ${Command.name(pkg.command)} for no consumer, ${context()}`)
              let seen = observed.get(consumer!)
              if (seen === undefined) {
                seen = { pushes: [], drops: [] }
                observed.set(consumer!, seen)
              }
              if (pkg.command === C.PersistentSubscriptionStreamEventAppeared) {
                const schema = Messages.PersistentSubscriptionStreamEventAppearedSchema
                seen.pushes.push(decodeOrThrow(Messages.decode(schema, pkg.payload)))
              } else if (pkg.command === C.SubscriptionDropped) {
                seen.drops.push(decodeOrThrow(Messages.decode(Messages.SubscriptionDroppedSchema, pkg.payload)).reason)
              } else {
                assert.fail(`${consumer!.name} got ${Command.name(pkg.command)}: ${text(pkg.payload)}, ${context()}`)
              }
            }
          }
          return observed
        }

        /** Checks one push to a consumer and records it; returns its event number. */
        const acceptPush = (consumer: Consumer, message: Messages.PersistentSubscriptionStreamEventAppeared) => {
          const settings = generation!.settings
          const resolved = message.event
          const original = resolved?.link ?? resolved?.event
          assert.isDefined(original, `${consumer.name} got a push without an event, ${context()}`)
          const n = Number(original!.eventNumber)
          const event = events[n]
          const what = `${consumer.name} got event ${n} (retry ${message.retryCount})`
          history.push(`  -> ${what}`)
          assert.isDefined(event, `${what}: no such event, ${context()}`)
          assert.strictEqual(original!.eventStreamId, stream, `${what}: stream, ${context()}`)
          assert.strictEqual(key(original!.eventId), event!.key, `${what}: id, ${context()}`)
          // 4.8: with resolve_link_tos a link comes as its target plus the link; without, as the link alone.
          if (event!.target !== undefined && settings.resolveLinkTos) {
            assert.deepStrictEqual(
              {
                stream: resolved!.event?.eventStreamId,
                number: resolved!.event?.eventNumber,
                id: resolved!.event === undefined ? undefined : key(resolved!.event.eventId),
                linkType: resolved!.link?.eventType
              },
              {
                stream: event!.target.stream,
                number: BigInt(event!.target.number),
                id: key(event!.target.id),
                linkType: "$>"
              },
              `${what}: resolved link, ${context()}`
            )
          } else {
            assert.isUndefined(resolved!.link, `${what}: a link without resolve_link_tos, ${context()}`)
          }
          assert.isTrue(consumer.active, `${what} after it was dropped, ${context()}`)
          assert.isBelow(consumer.inFlight.size, consumer.allowed, `${what} beyond its allowance, ${context()}`)
          const fate = fateOf(n)
          const optional = n >= generation!.optionalFrom && n < generation!.start
          if (fate === undefined) {
            assert.isTrue(n >= generation!.start || optional, `${what}: before the start point, ${context()}`)
            // §3.7: 0 on the first delivery; a restarted group's is unspecified.
            if (!generation!.deliveredBefore.has(n) && !optional) {
              assert.strictEqual(message.retryCount, 0, `${what}: first delivery, ${context()}`)
            }
          } else if (fate.kind === "retry") {
            assert.strictEqual(message.retryCount, fate.retryCount, `${what}: retryCount, ${context()}`)
          } else if (fate.kind === "inFlight") {
            assert.fail(`${what}, which ${fate.consumer.name} holds, ${context()}`)
          } else if (fate.kind === "done") {
            assert.fail(`${what}, which was acked, skipped or parked, ${context()}`)
          }
          const conflict = allocation.pin(pinnedKeyOf(event!), consumer)
          if (conflict !== undefined) assert.fail(`${conflict}, ${context()}`)
          const deadline = Date.now() + generation!.settings.messageTimeout
          generation!.fates.set(n, { kind: "inFlight", consumer, retryCount: message.retryCount, deadline })
          consumer.inFlight.add(n)
          return n
        }

        /** Checks a checkpoint never passes a message that is not processed, nor goes back (5.4). */
        const checkCheckpoints = () => {
          const last = server.store.lastEventNumber(checkpointStream)
          if (last < 0 || (checkpoint !== undefined && last === checkpoint.eventNumber)) return
          const slice = server.store.readStreamForward(checkpointStream, (checkpoint?.eventNumber ?? -1) + 1, 100)
          if (slice.status !== "Success") return
          for (const written of slice.events) {
            const value = JSON.parse(text(written.data)) as unknown
            const what = `checkpoint ${String(value)}`
            history.push(`  -> ${what}`)
            assert.strictEqual(written.eventType, "SubscriptionCheckpoint", `${what}: type, ${context()}`)
            assert.isTrue(Number.isInteger(value), `${what}: not an event number, ${context()}`)
            const number = value as number
            if (checkpoint !== undefined) assert.isAtLeast(number, checkpoint.value, `${what}: went back, ${context()}`)
            assert.isAtMost(number, lastEventNumber(), `${what}: past the stream's end, ${context()}`)
            if (generation !== undefined) {
              for (let n = generation.start; n <= number; n++) {
                const fate = fateOf(n)
                assert.isTrue(
                  fate?.kind === "done" || fate?.kind === "limbo",
                  `${what} passes event ${n}, which is ${fate?.kind ?? "not delivered"}, ${context()}`
                )
              }
            }
            checkpoint = { eventNumber: written.eventNumber, value: number }
          }
        }

        interface SettleOptions {
          /** The consumers the step drops: the reason each must get, or "maybe" (a nak Stop). */
          readonly drops?: ReadonlyMap<Consumer, number | "maybe">
          /** Whether the strategy and "nothing left waiting" are checked (not after a nak Stop). */
          readonly checked?: boolean
        }

        /**
         * Waits until the node has handled the step, then checks every push and drop it caused against the
         * model, applies them, and checks what the strategy allows. Returns the consumers dropped.
         */
        const settle = (acting: RawClient, options: SettleOptions = {}) =>
          Effect.gen(function*() {
            yield* barrier(acting)
            const observed = takeObserved()
            const expectedDrops = options.drops ?? new Map<Consumer, number | "maybe">()
            const free = new Map(active().map((consumer) => [consumer, consumer.allowed - consumer.inFlight.size]))
            const counts = new Map<Consumer, number>()
            const droppedNow: Array<Consumer> = []
            // Consumers dropped in this step first: their pushes came before their drop.
            const order = Array.from(observed.keys())
            order.sort((a, b) => Number(expectedDrops.has(b)) - Number(expectedDrops.has(a)))
            for (const consumer of order) {
              const { drops, pushes } = observed.get(consumer)!
              const expected = expectedDrops.get(consumer)
              if (pushes.length > 0) {
                assert.isTrue(consumer.active, `${consumer.name} got pushes after it was dropped, ${context()}`)
                for (const message of pushes) acceptPush(consumer, message)
                counts.set(consumer, pushes.length)
              }
              if (drops.length > 0) {
                history.push(`  -> ${consumer.name} dropped (${drops.join(", ")})`)
                assert.isDefined(expected, `${consumer.name} was dropped, ${context()}`)
                assert.strictEqual(drops.length, 1, `${consumer.name} dropped twice, ${context()}`)
                if (expected !== "maybe") {
                  assert.strictEqual(drops[0], expected, `${consumer.name}'s drop reason, ${context()}`)
                } else if (consumer.active) {
                  // Stopped by the node: what it held may come back or not.
                  for (const n of consumer.inFlight) {
                    generation!.fates.set(n, { kind: "limbo" })
                    mayBeParked.add(n)
                  }
                  consumer.inFlight.clear()
                  consumer.active = false
                  allocation.left([consumer])
                }
                droppedNow.push(consumer)
              }
            }
            for (const [consumer, expected] of expectedDrops) {
              if (expected !== "maybe") {
                assert.isTrue(droppedNow.includes(consumer), `${consumer.name} was not dropped, ${context()}`)
              }
            }
            if (options.checked !== false) {
              const reason = allocation.check(free, counts)
              if (reason !== undefined) assert.fail(`${reason}, ${context()}`)
              // Nothing waits while a consumer it could go to has room (5.4 step 4).
              const left = waiting()
              const full = (consumer: Consumer) => consumer.inFlight.size >= consumer.allowed
              for (const n of left) {
                const owner = allocation.isPinned ? allocation.ownerOf(pinnedKeyOf(events[n]!)) : undefined
                const couldTake = owner !== undefined
                  ? (full(owner) ? [] : [owner])
                  : allocation.isPinned
                  ? (active().some(full) ? [] : active())
                  : active().filter((consumer) => !full(consumer))
                assert.deepStrictEqual(
                  couldTake.map((consumer) => consumer.name),
                  [],
                  `event ${n} waits while these consumers have room, ${context()}`
                )
              }
            }
            checkCheckpoints()
            return droppedNow
          })

        /** Compares the parked stream with the parks the model expects, step by step (5.4 parking). */
        const checkParked = Effect.gen(function*() {
          const reply = yield* readForward(writer, parkedStream, 0n, 4096, { credentials: admin })
          const entries = reply.result === ReadStreamResult.Success
            ? reply.events.map((resolved) => resolved.event!)
            : []
          if (reply.result !== ReadStreamResult.Success) {
            assert.oneOf(reply.result, [ReadStreamResult.NoStream, ReadStreamResult.StreamDeleted], context())
          }
          const remaining = [...parks]
          const described = () =>
            `expected ${JSON.stringify(parks.map((park) => [park.step, park.number]))}, got ${
              JSON.stringify(entries.map((entry) => text(entry.data)))
            }, ${context()}`
          for (const entry of entries) {
            assert.strictEqual(entry.eventType, "$>", `parked entry type, ${described()}`)
            assert.strictEqual(entry.dataContentType, 0, `a parked link is not JSON, ${described()}`)
            const metadata = JSON.parse(text(entry.metadata)) as Record<string, unknown>
            assert.isString(metadata["added"], `parked 'added', ${described()}`)
            assert.isFalse(Number.isNaN(Date.parse(metadata["added"] as string)), `parked 'added', ${described()}`)
            const data = text(entry.data)
            const targetsOf = (n: number) => {
              const event = events[n]!
              // For a link, which of the two the parked link names is not said.
              return event.target === undefined
                ? [`${n}@${stream}`]
                : [`${n}@${stream}`, `${event.target.number}@${event.target.stream}`]
            }
            const matches = (park: ExpectedPark) =>
              targetsOf(park.number).includes(data) && park.reasons.includes(metadata["reason"] as string) &&
              (metadata["subscriptionEventNumber"] === park.number ||
                (park.number === 0 && metadata["subscriptionEventNumber"] === undefined))
            // Only the parks of the earliest step not yet seen may come now.
            const earliest = remaining.length === 0 ? undefined : Math.min(...remaining.map((park) => park.step))
            const at = remaining.findIndex((park) => park.step === earliest && matches(park))
            if (at >= 0) {
              remaining.splice(at, 1)
              continue
            }
            const number = Number(data.slice(0, data.indexOf("@")))
            const optional = [...mayBeParked].some((n) => targetsOf(n).includes(data)) || mayBeParked.has(number)
            assert.isTrue(optional, `unexpected parked ${data} (${String(metadata["reason"])}), ${described()}`)
          }
          assert.deepStrictEqual(remaining.map((park) => park.number), [], `parks missing, ${described()}`)
        })

        // -------------------------------------------------------------------------------------------
        // Operations

        const writeEvents = (count: number, shape: number, sourceChoice: number) =>
          Effect.gen(function*() {
            const batch: Array<MessageInitShape<typeof Messages.NewEventSchema>> = []
            const written: Array<Omit<StreamEvent, "number">> = []
            for (let i = 0; i < count; i++) {
              const correlationId = `correlation-${(shape + i * 7) % 4}`
              const metadata = encoder.encode(JSON.stringify({ $correlationId: correlationId }))
              const id = eventId()
              if ((shape + i * 37) % 5 < 2) {
                // A link to a fresh event in one of the source streams, with the same correlation id.
                const source = sources[(sourceChoice + i) % sources.length]!
                const targetId = eventId()
                const target = yield* append(writer, source, -2n, [{
                  eventId: targetId,
                  eventType: "target",
                  dataContentType: 1,
                  metadataContentType: 0,
                  data: encoder.encode("{}"),
                  metadata
                }])
                const number = Number(target.firstEventNumber)
                lastPosition = target.commitPosition
                batch.push({
                  eventId: id,
                  eventType: "$>",
                  dataContentType: 0,
                  metadataContentType: 0,
                  data: encoder.encode(`${number}@${source}`),
                  metadata
                })
                written.push({ id, key: key(id), correlationId, target: { stream: source, number, id: targetId } })
              } else {
                const data = encoder.encode("{}")
                batch.push({ eventId: id, eventType: "event", dataContentType: 1, metadataContentType: 0, data, metadata })
                written.push({ id, key: key(id), correlationId })
              }
            }
            const reply = yield* append(writer, stream, -2n, batch)
            assert.strictEqual(Number(reply.firstEventNumber), events.length, `the write's first number, ${context()}`)
            lastPosition = reply.commitPosition
            for (const event of written) events.push({ ...event, number: events.length })
          })

        const runWrite = (op: Operation) =>
          Effect.gen(function*() {
            const count = 1 + (op.count % 3)
            history.push(`${++step}. write ${count} events from ${events.length}`)
            yield* writeEvents(count, op.extra, op.who)
            yield* settle(writer)
          })

        const runConnect = (op: Operation) =>
          Effect.gen(function*() {
            const connection = op.who % connections.length
            const client = connections[connection]!
            const allowed = 1 + (op.count % 4)
            const name = `c${consumers.length}`
            history.push(`${++step}. connect ${name} on connection ${connection}, ${allowed} in flight`)
            const correlationId = client.sendMessage(
              C.ConnectToPersistentSubscription,
              Messages.ConnectToPersistentSubscriptionSchema,
              { subscriptionId: group, eventStreamId: stream, allowedInFlightMessages: allowed }
            )
            const reply = yield* client.take((pkg) =>
              pkg.correlationId === correlationId &&
              (pkg.command === C.PersistentSubscriptionConfirmation || pkg.command === C.SubscriptionDropped)
            )
            const consumer: Consumer = {
              name,
              connection,
              correlationId,
              allowed,
              subscriptionId,
              inFlight: new Set(),
              active: false
            }
            consumers.push(consumer)
            byCorrelation.set(correlationId, consumer)
            const max = generation?.settings.maxSubscriberCount ?? 0
            if (generation === undefined || (max > 0 && active().length >= max)) {
              const expected = generation === undefined ? Dropped.NotFound : Dropped.SubscriberMaxCountReached
              history.push(`  -> dropped`)
              assert.strictEqual(reply.command, C.SubscriptionDropped, `connect's reply, ${context()}`)
              const reason = decodeOrThrow(Messages.decode(Messages.SubscriptionDroppedSchema, reply.payload)).reason
              assert.strictEqual(reason, expected, `connect's drop reason, ${context()}`)
              yield* settle(client)
              return
            }
            assert.strictEqual(reply.command, C.PersistentSubscriptionConfirmation, `${text(reply.payload)}, ${context()}`)
            const schema = Messages.PersistentSubscriptionConfirmationSchema
            const confirmation = decodeOrThrow(Messages.decode(schema, reply.payload))
            assert.deepStrictEqual(
              {
                subscriptionId: confirmation.subscriptionId,
                lastEventNumber: Number(confirmation.lastEventNumber),
                // The last indexed position: at least that of the last write seen.
                positionAtLeastLastWrite: confirmation.lastCommitPosition >= lastPosition
              },
              { subscriptionId, lastEventNumber: lastEventNumber(), positionAtLeastLastWrite: true },
              `confirmation, ${context()}`
            )
            consumer.active = true
            allocation.joined(consumer)
            yield* settle(client)
          })

        /** A consumer holding messages and some of them: a count and a rotation of the sorted numbers. */
        const pickHeld = (op: Operation, single: boolean) => {
          const holders = active().filter((consumer) => consumer.inFlight.size > 0)
          if (holders.length === 0) return undefined
          const consumer = holders[op.who % holders.length]!
          const held = ascending(consumer.inFlight)
          const size = single ? 1 : 1 + (op.count % held.length)
          const numbers = Array.from({ length: size }, (_, i) => held[(op.extra + i) % held.length]!)
          return { consumer, numbers }
        }

        const runAck = (consumer: Consumer, numbers: ReadonlyArray<number>) =>
          Effect.gen(function*() {
            history.push(`${++step}. ${consumer.name} acks ${numbers.join(", ")}`)
            const client = connections[consumer.connection]!
            for (const n of numbers) {
              generation!.fates.set(n, { kind: "done" })
              consumer.inFlight.delete(n)
            }
            client.sendMessage(
              C.PersistentSubscriptionAckEvents,
              Messages.PersistentSubscriptionAckEventsSchema,
              { subscriptionId: consumer.subscriptionId, processedEventIds: numbers.map((n) => events[n]!.id) },
              { correlationId: consumer.correlationId }
            )
            yield* settle(client)
          })

        const sendNak = (
          consumer: Consumer,
          numbers: ReadonlyArray<number>,
          action: Messages.PersistentSubscriptionNakEvents_NakAction,
          message: string
        ) =>
          connections[consumer.connection]!.sendMessage(
            C.PersistentSubscriptionNakEvents,
            Messages.PersistentSubscriptionNakEventsSchema,
            {
              subscriptionId: consumer.subscriptionId,
              processedEventIds: numbers.map((n) => events[n]!.id),
              message,
              action
            },
            { correlationId: consumer.correlationId }
          )

        const runUnsubscribe = (consumer: Consumer) =>
          Effect.gen(function*() {
            history.push(`${++step}. ${consumer.name} unsubscribes`)
            const client = connections[consumer.connection]!
            release(consumer)
            allocation.left([consumer])
            client.send(C.UnsubscribeFromStream, new Uint8Array(0), { correlationId: consumer.correlationId })
            yield* settle(client, { drops: new Map([[consumer, Dropped.Unsubscribed]]) })
          })

        const runNak = (op: Operation) =>
          Effect.gen(function*() {
            const choice = op.extra % 10
            const picked = pickHeld(op, choice === 8)
            if (picked === undefined) return yield* runWrite(op)
            const { consumer, numbers } = picked
            const client = connections[consumer.connection]!
            const settings = generation!.settings
            const message = `reason ${step + 1}`
            const action = [
              NakAction.Unknown,
              NakAction.Unknown,
              NakAction.Retry,
              NakAction.Retry,
              NakAction.Park,
              NakAction.Park,
              NakAction.Skip,
              NakAction.Skip,
              NakAction.Stop,
              NakAction.Retry
            ][choice]!
            const actionName = ["Unknown", "Park", "Retry", "Skip", "Stop"][action]
            history.push(`${++step}. ${consumer.name} naks ${numbers.join(", ")} with ${actionName}`)
            for (const n of numbers) {
              const fate = fateOf(n) as Extract<Fate, { kind: "inFlight" }>
              consumer.inFlight.delete(n)
              switch (action) {
                case NakAction.Unknown:
                case NakAction.Retry:
                  // Past the limit it is parked; with which of the two reasons is not said.
                  retryOrPark(n, fate.retryCount, [retryLimitReason(settings), nakReason(message)])
                  break
                case NakAction.Park:
                  generation!.fates.set(n, { kind: "done" })
                  parks.push({ step, number: n, reasons: [nakReason(message)] })
                  break
                case NakAction.Skip:
                  generation!.fates.set(n, { kind: "done" })
                  break
                case NakAction.Stop:
                  generation!.fates.set(n, { kind: "limbo" })
                  mayBeParked.add(n)
                  break
              }
            }
            sendNak(consumer, numbers, action, message)
            if (action !== NakAction.Stop) {
              yield* settle(client)
              return
            }
            // What Stop does is not said: the node may drop the consumer (any reason) or not, and what it
            // pushes meanwhile is not checked against the strategy. Then the consumer leaves for good.
            const dropped = yield* settle(client, { drops: new Map([[consumer, "maybe"]]), checked: false })
            allocation.forget(active())
            if (!dropped.includes(consumer)) yield* runUnsubscribe(consumer)
          })

        const runClose = (op: Operation) =>
          Effect.gen(function*() {
            // Mostly a connection that holds consumers, to see their messages go to the others.
            const holders = [...new Set(active().map((consumer) => consumer.connection))]
            const connection = holders.length > 0 && op.count >= 20
              ? holders[op.who % holders.length]!
              : op.who % connections.length
            const leaving = active().filter((consumer) => consumer.connection === connection)
            const names = leaving.map((consumer) => consumer.name).join(", ")
            history.push(`${++step}. connection ${connection} closes (${names})`)
            for (const consumer of leaving) release(consumer)
            allocation.left(leaving)
            const before = server.connections()
            connections[connection]!.socket.destroy()
            yield* waitUntil(() => server.connections() === before - 1, "the node to see the connection close")
            connections[connection] = yield* connect(server.port)
            yield* settle(writer)
          })

        /**
         * Moves the clock by half the message timeout or by all of it (plus 1 ms), then lets the node's
         * tick run once: the messages whose timeout passed are retried (5.4 step 9). A deadline is never
         * exactly the tick's time, so "passed" needs no reading.
         */
        const runTimeout = (op: Operation) =>
          Effect.gen(function*() {
            const settings = generation!.settings
            const advance = (op.count < 50 ? settings.messageTimeout / 2 : settings.messageTimeout) + 1
            const timers = vi.getTimerCount()
            vi.setSystemTime(Date.now() + advance)
            // The tick's sleep is the next timer due (the heartbeats' is days away): the tick runs, then
            // sleeps again, and the timer count is back.
            vi.advanceTimersToNextTimer()
            const now = Date.now()
            const expired: Array<number> = []
            for (const consumer of active()) {
              for (const n of consumer.inFlight) {
                if ((fateOf(n) as Extract<Fate, { kind: "inFlight" }>).deadline < now) expired.push(n)
              }
            }
            expired.sort((a, b) => a - b)
            history.push(`${++step}. the clock moves ${advance} ms: ${expired.join(", ")} time out`)
            for (const n of expired) {
              const fate = fateOf(n) as Extract<Fate, { kind: "inFlight" }>
              fate.consumer.inFlight.delete(n)
              retryOrPark(n, fate.retryCount, [retryLimitReason(settings)])
            }
            yield* waitUntil(() => vi.getTimerCount() === timers, "the node's tick")
            yield* settle(writer)
          })

        const runUpdate = (op: Operation) =>
          Effect.gen(function*() {
            const settings = settingsOf(op.settings)
            history.push(`${++step}. update: ${describeSettings(settings)}`)
            if (generation === undefined) {
              const reply = yield* updateGroup(writer, stream, settings)
              const expected = [UpdateResult.DoesNotExist, `Group '${group}' does not exist.`]
              assert.deepStrictEqual([reply.result, reply.reason], expected, context())
              yield* settle(writer)
              return
            }
            if (op.extra < 8) {
              // An unknown strategy fails the update, which leaves the group and its consumers alone.
              history.push(`  with strategy Nope`)
              const failed = yield* updateGroup(writer, stream, { ...settings, namedConsumerStrategy: "Nope" })
              const expected = [UpdateResult.Fail, "Consumer strategy Nope does not exist."]
              assert.deepStrictEqual([failed.result, failed.reason], expected, context())
              yield* settle(writer)
              return
            }
            const dropped = dropAll()
            const reply = yield* updateGroup(writer, stream, settings)
            assert.strictEqual(reply.result, UpdateResult.Success, context())
            // What the old run wrote is the checkpoint the new one starts from.
            checkCheckpoints()
            const old = generation
            const deliveredBefore = new Set(old.deliveredBefore)
            for (const n of old.fates.keys()) deliveredBefore.add(n)
            const restartLive = lastEventNumber() + 1
            if (checkpoint !== undefined) {
              startGeneration(settings, checkpoint.value + 1, checkpoint.value + 1, deliveredBefore)
            } else if (settings.startFrom >= 0) {
              startGeneration(settings, settings.startFrom, settings.startFrom, deliveredBefore)
            } else {
              // Live again from now, or from where the old run started: not said.
              startGeneration(settings, restartLive, Math.min(old.start, old.optionalFrom), deliveredBefore)
            }
            yield* settle(writer, { drops: new Map(dropped.map((consumer) => [consumer, Dropped.Unsubscribed])) })
          })

        const runDelete = () =>
          Effect.gen(function*() {
            history.push(`${++step}. delete the group`)
            // The parked stream goes with the group: compare it first.
            yield* checkParked
            const dropped = dropAll()
            const reply = yield* deleteGroup(writer, stream)
            assert.strictEqual(reply.result, DeleteResult.Success, context())
            generation = undefined
            parks = []
            mayBeParked = new Set()
            checkpoint = undefined
            allocation = new Allocation("RoundRobin")
            yield* settle(writer, { drops: new Map(dropped.map((consumer) => [consumer, Dropped.Unsubscribed])) })
            for (const deleted of [parkedStream, checkpointStream]) {
              const read = yield* readForward(writer, deleted, 0n, 10, { credentials: admin })
              const gone = [ReadStreamResult.NoStream, ReadStreamResult.StreamDeleted]
              assert.oneOf(read.result, gone, `${deleted} after the delete, ${context()}`)
            }
          })

        const runCreate = (settings: GroupSettings) =>
          Effect.gen(function*() {
            history.push(`${++step}. create: ${describeSettings(settings)}`)
            const reply = yield* createGroup(writer, stream, settings)
            if (generation !== undefined) {
              const expected = [CreateResult.AlreadyExists, `Group '${group}' already exists.`]
              assert.deepStrictEqual([reply.result, reply.reason], expected, context())
              yield* settle(writer)
              return
            }
            assert.deepStrictEqual([reply.result, reply.reason], [CreateResult.Success, ""], context())
            // -1: only events written after the group is created (5.4 StartFrom).
            const start = settings.startFrom >= 0 ? settings.startFrom : lastEventNumber() + 1
            startGeneration(settings, start, start, new Set())
            yield* settle(writer)
          })

        // -------------------------------------------------------------------------------------------
        // The scenario

        if (initialEvents > 0) yield* writeEvents(initialEvents, initialEvents, 0)
        yield* runCreate(settingsOf(initialSettings))

        for (const op of operations) {
          // Small and large raw values come more often than others: spread them over the kinds.
          const kind = (op.kind * 53 + 17) % 100
          const canConnect = generation === undefined || generation.settings.maxSubscriberCount > 0 ||
            active().length < maxConsumers
          const holding = active().some((consumer) => consumer.inFlight.size > 0)
          // Acks, naks and timeouts need messages in flight: without, write some, or connect a consumer.
          const needsMessages = kind >= 20 && kind < 58 || kind >= 78 && kind < 84
          if (needsMessages && !holding) {
            if (active().length > 0 || generation === undefined) yield* runWrite(op)
            else yield* runConnect(op)
          } else if (kind < 20) yield* runWrite(op)
          else if (kind < 38) {
            const picked = pickHeld(op, false)!
            yield* runAck(picked.consumer, picked.numbers)
          } else if (kind < 58) yield* runNak(op)
          else if (kind < 70 || (kind < 74 && active().length === 0)) {
            if (canConnect) yield* runConnect(op)
            else yield* runUnsubscribe(active()[op.who % active().length]!)
          } else if (kind < 74) yield* runUnsubscribe(active()[op.who % active().length]!)
          else if (kind < 78) yield* runClose(op)
          else if (kind < 84) yield* runTimeout(op)
          else if (kind < 90) yield* runUpdate(op)
          else if (kind < 96) {
            if (generation !== undefined && op.extra >= 15) yield* runDelete()
            else yield* runCreate(settingsOf(op.settings))
          } else {
            history.push(`${++step}. read the parked stream`)
            yield* checkParked
          }
        }

        // Drain: every consumer acks all it holds until nothing is left. Every event from the start on
        // must have been delivered until acked, parked or skipped.
        if (generation !== undefined) {
          if (active().length === 0) {
            yield* runConnect({ kind: 0, who: 0, count: 3, extra: 0, settings: initialSettings })
          }
          for (let round = 0; round < 100; round++) {
            const holders = active().filter((consumer) => consumer.inFlight.size > 0)
            if (holders.length === 0) break
            for (const consumer of holders) {
              if (consumer.active && consumer.inFlight.size > 0) {
                yield* runAck(consumer, ascending(consumer.inFlight))
              }
            }
          }
          if (active().length > 0) {
            assert.deepStrictEqual(waiting(), [], `events never delivered, ${context()}`)
          }
        }
        yield* checkParked
      }),
    { ...checks(80, 20_260_517, 28), timeout: 120_000 }
  )
})

