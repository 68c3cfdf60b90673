/**
 * Persistent subscriptions ("competing consumers", docs/protocol.md 3.7 and 5.4): groups, their
 * settings, consumers and consumer strategies, in-flight limits, acks and naks, retries, message
 * timeouts, parking, checkpoints and the drops that updates and deletes cause.
 *
 * Like the store, the engine is synchronous and knows nothing about sockets: a consumer is a pair of
 * callbacks, time is a clock the caller ticks, and deferred work (pushing events committed by a writer)
 * goes through a scheduler the caller gives, so that every rule is testable as a plain function. The
 * sessions check permissions before calling it.
 *
 * The store is the group's buffer: a group reads its stream by event number from where it stands, so
 * history and live events are one path, and events written while no consumer has room simply wait in
 * the stream. What a group holds in memory is bounded: the messages in flight (at most the consumers'
 * in-flight limits), the retries, and one read-ahead batch.
 *
 * Behaviour follows the real server's `PersistentSubscription`, `PersistentSubscriptionParams`, the
 * consumer strategies, `PersistentSubscriptionCheckpointWriter` and `PersistentSubscriptionMessageParker`
 * (EventStore 20.10), where protocol.md is silent.
 *
 * @since 0.1.0
 */
import * as Store from "../Store.ts"
import * as Json from "./Json.ts"
import * as StoredEvent from "./StoredEvent.ts"
import * as Wire from "./Wire.ts"

/**
 * The settings of a group, as CreatePersistentSubscription and UpdatePersistentSubscription carry them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly resolveLinkTos: boolean
  /** The event number to start from when there is no checkpoint; -1 starts at the end ("live"). */
  readonly startFrom: number
  /** Milliseconds after which an unacknowledged message is retried. */
  readonly messageTimeout: number
  readonly extraStatistics: boolean
  readonly liveBufferSize: number
  readonly readBatchSize: number
  readonly historyBufferSize: number
  /** Retries after which a message is parked. */
  readonly maxRetryCount: number
  readonly preferRoundRobin: boolean
  /** Milliseconds between checkpoints written by time; 0 writes none by time. */
  readonly checkPointAfter: number
  readonly minCheckPointCount: number
  readonly maxCheckPointCount: number
  /** 0 = unlimited. */
  readonly maxSubscriberCount: number
  /** Empty = RoundRobin if `preferRoundRobin`, else DispatchToSingle. */
  readonly namedConsumerStrategy: string
}

/**
 * The settings of the official clients' `PersistentSubscriptionSettings.Create()`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSettings: Settings = {
  resolveLinkTos: false,
  startFrom: -1,
  messageTimeout: 30_000,
  extraStatistics: false,
  liveBufferSize: 500,
  readBatchSize: 20,
  historyBufferSize: 500,
  maxRetryCount: 10,
  preferRoundRobin: true,
  checkPointAfter: 2_000,
  minCheckPointCount: 10,
  maxCheckPointCount: 1_000,
  maxSubscriberCount: 0,
  namedConsumerStrategy: "RoundRobin"
}

/**
 * The consumer strategies a group may name.
 *
 * @since 0.1.0
 * @category constants
 */
export const consumerStrategies = ["RoundRobin", "DispatchToSingle", "Pinned", "PinnedByCorrelation"] as const

/**
 * The stream that holds the configuration of every group.
 *
 * @since 0.1.0
 * @category constants
 */
export const configStream = "$persistentSubscriptionConfig"

/**
 * The event type of a configuration event (servers up to 22.10; 23.10 renamed it `$PersistentConfig`).
 *
 * @since 0.1.0
 * @category constants
 */
export const configEventType = "PersistentConfig1"

/**
 * The event type of checkpoints.
 *
 * @since 0.1.0
 * @category constants
 */
export const checkpointEventType = "SubscriptionCheckpoint"

/**
 * The id of a group: `"<stream>::<group>"`.
 *
 * @since 0.1.0
 * @category naming
 */
export const subscriptionId = (stream: string, group: string): string => `${stream}::${group}`

/**
 * The stream of a group's checkpoints.
 *
 * @since 0.1.0
 * @category naming
 */
export const checkpointStreamOf = (id: string): string => `$persistentsubscription-${id}-checkpoint`

/**
 * The stream of a group's parked messages.
 *
 * @since 0.1.0
 * @category naming
 */
export const parkedStreamOf = (id: string): string => `$persistentsubscription-${id}-parked`

/**
 * A message as a consumer gets it: the event (the target of a resolved link, absent when a link
 * cannot be resolved), the link when links are resolved, and the original event (the link if there is
 * one), whose id acks and naks name.
 *
 * @since 0.1.0
 * @category models
 */
export type Message = Wire.Resolved

/**
 * Why a consumer was dropped by the group.
 *
 * @since 0.1.0
 * @category models
 */
export type DropReason = "Unsubscribed"

/**
 * A connected consumer, as the engine sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Consumer {
  /** Delivers a message; `retryCount` is 0 on the first delivery. */
  readonly push: (message: Message, retryCount: number) => void
  /** The group dropped the consumer (an update, a delete, a shutdown). */
  readonly dropped: (reason: DropReason) => void
}

/**
 * What a nak asks for.
 *
 * @since 0.1.0
 * @category models
 */
export type NakAction = "Unknown" | "Park" | "Retry" | "Skip" | "Stop"

/**
 * The outcome of creating a group.
 *
 * @since 0.1.0
 * @category models
 */
export type CreateResult =
  | { readonly status: "Success" }
  | { readonly status: "AlreadyExists"; readonly reason: string }
  | { readonly status: "Fail"; readonly reason: string }

/**
 * The outcome of updating or deleting a group.
 *
 * @since 0.1.0
 * @category models
 */
export type ChangeResult =
  | { readonly status: "Success" }
  | { readonly status: "DoesNotExist"; readonly reason: string }
  | { readonly status: "Fail"; readonly reason: string }

/**
 * The outcome of connecting a consumer.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectResult =
  | {
    readonly status: "Confirmed"
    readonly subscriptionId: string
    readonly lastCommitPosition: number
    readonly lastEventNumber: number
    readonly client: Client
  }
  | { readonly status: "NotFound" }
  | { readonly status: "SubscriberMaxCountReached" }

/**
 * Options of the engine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The clock, in milliseconds; defaults to `Date.now`. */
  readonly now?: (() => number) | undefined
  /**
   * Runs deferred work: the delivery of events committed by a writer, which must not run inside the
   * writer's request. Defaults to `queueMicrotask`.
   */
  readonly schedule?: ((work: () => void) => void) | undefined
}

interface Pending {
  readonly message: Message
  /** The original event's number in the subscribed stream. */
  readonly eventNumber: number
  readonly key: string
  retryCount: number
}

interface InFlight {
  readonly pending: Pending
  readonly client: Client
  readonly deadline: number
}

const encoder = new TextEncoder()
// Link data ("N@stream") keeps a leading U+FEFF: it is part of the stream's name.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true })

/** FNV-1a over UTF-16 code units: a stable hash that picks the bucket of a pinned message. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

const bucketCount = 1024

const strategyOf = (settings: Settings): string =>
  settings.namedConsumerStrategy.length > 0
    ? settings.namedConsumerStrategy
    : settings.preferRoundRobin
    ? "RoundRobin"
    : "DispatchToSingle"

/**
 * A consumer connected to a group.
 *
 * @since 0.1.0
 * @category models
 */
export class Client {
  readonly consumer: Consumer
  readonly maxInFlight: number
  readonly inFlight = new Map<string, InFlight>()
  /** @internal */
  group: Group | undefined

  constructor(consumer: Consumer, maxInFlight: number, group: Group) {
    this.consumer = consumer
    this.maxInFlight = maxInFlight
    this.group = group
  }

  get freeSlots(): number {
    return this.maxInFlight - this.inFlight.size
  }
}

/** Chooses the consumer of each message (the real server's ConsumerStrategy/*). */
interface Strategy {
  /** Whether a message this strategy cannot place now may be passed over for the next one. */
  readonly skips: boolean
  readonly pick: (pending: Pending, clients: ReadonlyArray<Client>) => Client | undefined
  readonly clientsChanged: (clients: ReadonlyArray<Client>) => void
}

const roundRobin = (): Strategy => {
  let next = 0
  return {
    skips: false,
    pick: (_pending, clients) => {
      for (let k = 0; k < clients.length; k++) {
        const index = (next + k) % clients.length
        const client = clients[index]!
        if (client.freeSlots > 0) {
          next = (index + 1) % clients.length
          return client
        }
      }
      return undefined
    },
    clientsChanged: (clients) => {
      if (next >= clients.length) next = 0
    }
  }
}

const dispatchToSingle = (): Strategy => ({
  skips: false,
  pick: (_pending, clients) => clients.find((client) => client.freeSlots > 0),
  clientsChanged: () => {}
})

/** The stream a message comes from: the linked event's stream for a link. */
const sourceStreamOf = (message: Message): string => {
  const record = message.event ?? message.link!
  if (record.eventType === "$>") {
    const text = decoder.decode(record.data)
    const at = text.indexOf("@")
    if (at >= 0) return text.slice(at + 1)
  }
  return record.streamId
}

const correlationIdOf = (message: Message): string => {
  const record = message.event ?? message.link!
  const metadata = Json.parseBytes(record.metadata)
  if (Json.isObject(metadata)) {
    const value = metadata.get("$correlationId")
    if (typeof value === "string") return value
    if (Json.isNumber(value)) return value.text
  }
  return sourceStreamOf(message)
}

const pinned = (keyOf: (message: Message) => string): Strategy => {
  let buckets: Array<Client> = []
  return {
    skips: true,
    pick: (pending) => {
      if (buckets.length === 0) return undefined
      const client = buckets[hash(keyOf(pending.message)) % bucketCount]!
      return client.freeSlots > 0 ? client : undefined
    },
    clientsChanged: (clients) => {
      buckets = clients.length === 0 ? [] : Array.from({ length: bucketCount }, (_, i) => clients[i % clients.length]!)
    }
  }
}

const makeStrategy = (name: string): Strategy => {
  switch (name) {
    case "DispatchToSingle":
      return dispatchToSingle()
    case "Pinned":
      return pinned(sourceStreamOf)
    case "PinnedByCorrelation":
      return pinned(correlationIdOf)
    default:
      return roundRobin()
  }
}

/** The configuration of one group as `$persistentSubscriptionConfig` holds it. */
const configEntry = (stream: string, group: string, settings: Settings): Record<string, unknown> => {
  // The server's JSON settings leave out default values (false, 0).
  const entry: Record<string, unknown> = {}
  const put = (key: string, value: unknown) => {
    if (value !== false && value !== 0) entry[key] = value
  }
  put("stream", stream)
  put("group", group)
  put("resolveLinkTos", settings.resolveLinkTos)
  put("extraStatistics", settings.extraStatistics)
  put("messageTimeout", settings.messageTimeout)
  put("startFrom", settings.startFrom)
  put("liveBufferSize", settings.liveBufferSize)
  put("historyBufferSize", settings.historyBufferSize)
  put("maxRetryCount", settings.maxRetryCount)
  put("readBatchSize", settings.readBatchSize)
  put("preferRoundRobin", settings.preferRoundRobin)
  put("checkPointAfter", settings.checkPointAfter)
  put("minCheckPointCount", settings.minCheckPointCount)
  put("maxCheckPointCount", settings.maxCheckPointCount)
  put("maxSubscriberCount", settings.maxSubscriberCount)
  put("namedConsumerStrategy", strategyOf(settings))
  return entry
}

const adminsOnly = (metaRead: string) =>
  `{"$acl":{"$r":"$admins","$w":"$admins","$d":"$admins","$mr":"${metaRead}","$mw":"$admins"}}`

const checkpointMetadata = encoder.encode(
  `{"$maxCount":2,${adminsOnly("$all").slice(1)}`
)
const parkedMetadata = encoder.encode(adminsOnly("$admins"))

const randomId = (): Uint8Array => {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes)
  // A version-4 GUID in .NET byte order: the version nibble sits in byte 7, the variant in byte 8.
  bytes[7] = (bytes[7]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  return bytes
}

const systemEvent = (eventType: string, data: Uint8Array, isJson: boolean, metadata = new Uint8Array(0)) => ({
  eventId: randomId(),
  eventType,
  isJson,
  data,
  metadata
})

/**
 * A group: its settings, consumers, messages in flight, retries and checkpoint.
 *
 * @since 0.1.0
 * @category models
 */
export class Group {
  readonly stream: string
  readonly name: string
  readonly id: string
  readonly settings: Settings
  readonly clients: Array<Client> = []
  readonly #engine: PersistentSubscriptions
  readonly #strategy: Strategy
  readonly #inFlight = new Map<string, InFlight>()
  /** Messages to deliver again, by event number. */
  readonly #retries: Array<Pending> = []
  /** Messages read from the stream and not delivered yet. */
  #fresh: Array<Pending> = []
  #nextEventNumber: number
  #lastKnownEventNumber = -1
  #lastCheckpoint: number
  #lastCheckpointTime = Number.NEGATIVE_INFINITY
  #checkpointMetadataWritten = false
  #parkedMetadataWritten = false

  constructor(engine: PersistentSubscriptions, stream: string, name: string, settings: Settings) {
    this.#engine = engine
    this.stream = stream
    this.name = name
    this.id = subscriptionId(stream, name)
    this.settings = settings
    this.#strategy = makeStrategy(strategyOf(settings))
    const store = engine.store
    const checkpoint = store.readIndexedEvent(this.checkpointStream, -1)
    const saved = checkpoint.status === "Success" && checkpoint.event !== undefined
      ? Json.parseBytes(checkpoint.event.data)
      : undefined
    const savedNumber = Json.isNumber(saved) ? Number(saved.text) : Number.NaN
    if (Number.isInteger(savedNumber)) {
      this.#lastCheckpoint = savedNumber
      this.#nextEventNumber = savedNumber + 1
      this.#checkpointMetadataWritten = true
    } else {
      this.#lastCheckpoint = -1
      this.#nextEventNumber = settings.startFrom >= 0 ? settings.startFrom : store.lastEventNumber(stream) + 1
    }
  }

  get checkpointStream(): string {
    return checkpointStreamOf(this.id)
  }

  get parkedStream(): string {
    return parkedStreamOf(this.id)
  }

  /** The number of messages in flight. */
  get inFlightCount(): number {
    return this.#inFlight.size
  }

  /** @internal */
  add(client: Client): void {
    this.clients.push(client)
    this.#strategy.clientsChanged(this.clients)
    this.pump()
  }

  /** @internal Removes a consumer and queues what it had in flight for a retry; the caller pumps. */
  remove(client: Client): void {
    const index = this.clients.indexOf(client)
    if (index < 0) return
    this.clients.splice(index, 1)
    client.group = undefined
    this.#strategy.clientsChanged(this.clients)
    const lost = Array.from(client.inFlight.values())
    lost.sort((a, b) => a.pending.eventNumber - b.pending.eventNumber)
    for (const inFlight of lost) {
      this.#release(inFlight)
      this.#retry(inFlight.pending)
    }
  }

  /** @internal Drops every consumer, telling each. */
  dropAll(reason: DropReason): void {
    const clients = this.clients.splice(0)
    for (const client of clients) {
      client.group = undefined
      client.inFlight.clear()
      client.consumer.dropped(reason)
    }
    this.#inFlight.clear()
  }

  /** @internal */
  ack(ids: ReadonlyArray<Uint8Array>): void {
    for (const id of ids) {
      const inFlight = this.#inFlight.get(StoredEvent.idKey(id))
      if (inFlight !== undefined) this.#release(inFlight)
    }
    this.#tryCheckpoint(false)
    this.pump()
  }

  /** @internal */
  nak(ids: ReadonlyArray<Uint8Array>, action: NakAction, reason: string): void {
    for (const id of ids) {
      const inFlight = this.#inFlight.get(StoredEvent.idKey(id))
      if (inFlight === undefined) continue
      switch (action) {
        case "Unknown":
        case "Retry":
          this.#release(inFlight)
          this.#retry(inFlight.pending)
          break
        case "Park":
          this.#release(inFlight)
          this.#park(inFlight.pending, `Client explicitly NAK'ed message.\n${reason}`)
          break
        case "Skip":
        case "Stop":
          // 20.10's NotAcknowledgeMessagesProcessed handles Stop with StopSubscription(), an empty
          // TODO, then RemoveProcessingMessages: the consumer's slot is freed and the message leaves
          // the outstanding set. So a stopped message is forgotten like a skipped one: never retried,
          // never parked, and the checkpoint may move past it.
          this.#release(inFlight)
          break
      }
    }
    this.#tryCheckpoint(false)
    this.pump()
  }

  /** @internal Retries messages whose timeout passed and writes a checkpoint that is due. */
  tick(now: number): void {
    const expired: Array<InFlight> = []
    for (const inFlight of this.#inFlight.values()) if (inFlight.deadline <= now) expired.push(inFlight)
    expired.sort((a, b) => a.pending.eventNumber - b.pending.eventNumber)
    for (const inFlight of expired) {
      this.#release(inFlight)
      this.#retry(inFlight.pending)
    }
    this.#tryCheckpoint(true)
    this.pump()
  }

  /** @internal Delivers what the consumers have room for: retries first, then the stream onwards. */
  pump(): void {
    if (this.clients.length === 0) return
    const strategy = this.#strategy
    for (let i = 0; i < this.#retries.length;) {
      const pending = this.#retries[i]!
      const client = strategy.pick(pending, this.clients)
      if (client === undefined) {
        if (!strategy.skips || !this.#hasRoom()) return
        i++
        continue
      }
      this.#retries.splice(i, 1)
      this.#deliver(pending, client)
    }
    // Delivered messages leave a hole in the read-ahead, which is compacted once the pass reaches its end.
    const limit = strategy.skips ? Math.max(this.settings.historyBufferSize, this.settings.readBatchSize, 1) : 1
    let fresh = this.#fresh
    let index = 0
    let delivered = false
    for (;;) {
      if (index >= fresh.length) {
        if (delivered) {
          fresh = fresh.filter((entry) => entry !== undefined)
          this.#fresh = fresh
          delivered = false
        }
        // Messages a skipping strategy passed over stay, walked once per pass.
        index = fresh.length
        if (!this.#read(limit)) break
        fresh = this.#fresh
        continue
      }
      const pending = fresh[index]!
      const client = strategy.pick(pending, this.clients)
      if (client === undefined) {
        if (!strategy.skips || !this.#hasRoom()) break
        index++
        continue
      }
      fresh[index++] = undefined as unknown as Pending
      delivered = true
      this.#deliver(pending, client)
    }
    if (delivered) this.#fresh = fresh.filter((entry) => entry !== undefined)
  }

  #hasRoom(): boolean {
    for (const client of this.clients) if (client.freeSlots > 0) return true
    return false
  }

  /** Reads the next batch of the stream into the read-ahead (up to `limit` held); false when nothing came. */
  #read(limit: number): boolean {
    const store = this.#engine.store
    const batch = Math.max(1, Math.min(this.settings.readBatchSize, 4096))
    while (this.#fresh.length < limit) {
      const last = store.lastEventNumber(this.stream)
      if (last === Store.deletedStream || this.#nextEventNumber > last) return false
      const slice = store.readStreamForward(this.stream, this.#nextEventNumber, batch)
      if (slice.status !== "Success") return false
      for (const event of slice.events) {
        const message = Wire.resolve(store, event, this.settings.resolveLinkTos)
        this.#fresh.push({ message, eventNumber: event.eventNumber, key: StoredEvent.idKey(message.original.eventId), retryCount: 0 })
      }
      if (slice.nextEventNumber <= this.#nextEventNumber) return slice.events.length > 0
      this.#nextEventNumber = slice.nextEventNumber
      if (slice.events.length > 0) return true
    }
    return false
  }

  #deliver(pending: Pending, client: Client): void {
    const inFlight: InFlight = { pending, client, deadline: this.#engine.now() + this.settings.messageTimeout }
    this.#inFlight.set(pending.key, inFlight)
    client.inFlight.set(pending.key, inFlight)
    if (pending.eventNumber > this.#lastKnownEventNumber) this.#lastKnownEventNumber = pending.eventNumber
    client.consumer.push(pending.message, pending.retryCount)
  }

  #release(inFlight: InFlight): void {
    this.#inFlight.delete(inFlight.pending.key)
    inFlight.client.inFlight.delete(inFlight.pending.key)
  }

  /** Queues a message for another delivery, or parks it once it has used its retries. */
  #retry(pending: Pending): void {
    if (pending.retryCount >= this.settings.maxRetryCount) {
      return this.#park(pending, `Reached retry count of ${this.settings.maxRetryCount}`)
    }
    pending.retryCount++
    const retries = this.#retries
    let at = retries.length
    while (at > 0 && retries[at - 1]!.eventNumber > pending.eventNumber) at--
    retries.splice(at, 0, pending)
  }

  /** Writes a link to the message into the parked stream, with the reason in its metadata. */
  #park(pending: Pending, reason: string): void {
    const store = this.#engine.store
    if (!this.#parkedMetadataWritten) {
      store.append(
        `$$${this.parkedStream}`,
        Store.ExpectedVersion.Any,
        [systemEvent("$metadata", parkedMetadata, true)]
      )
      this.#parkedMetadataWritten = true
    }
    const { event, link } = pending.message
    const target = event === undefined
      ? decoder.decode(link!.data)
      : `${Wire.eventNumber(event.eventNumber)}@${event.streamId}`
    const metadata: Record<string, unknown> = { added: new Date(this.#engine.now()).toISOString(), reason }
    // The server's JSON settings leave out a subscription event number of 0.
    if (pending.eventNumber !== 0) metadata["subscriptionEventNumber"] = pending.eventNumber
    store.append(this.parkedStream, Store.ExpectedVersion.Any, [
      systemEvent("$>", encoder.encode(target), false, encoder.encode(JSON.stringify(metadata, null, 2)))
    ])
  }

  /**
   * Writes a checkpoint when one is due (the real server's TryMarkCheckpoint): on a tick, once
   * `checkPointAfter` has passed and at least `minCheckPointCount` events were processed since the
   * last one; at any time once `maxCheckPointCount` were. The checkpoint is the event before the lowest
   * one still in flight, waiting for a retry or held back in the read-ahead, or the last one delivered
   * when none is.
   */
  #tryCheckpoint(isTick: boolean): void {
    const { checkPointAfter, maxCheckPointCount, minCheckPointCount } = this.settings
    // The checkpoint never passes the last event delivered: skip the search when that is not far enough.
    if (!isTick && this.#lastKnownEventNumber - this.#lastCheckpoint < maxCheckPointCount) return
    let lowest = Number.POSITIVE_INFINITY
    for (const inFlight of this.#inFlight.values()) {
      if (inFlight.pending.eventNumber < lowest) lowest = inFlight.pending.eventNumber
    }
    if (this.#retries.length > 0) lowest = Math.min(lowest, this.#retries[0]!.eventNumber)
    // A pinned strategy passes over messages whose consumer is full: they wait in the read-ahead, below
    // messages already delivered, and are outstanding too.
    if (this.#fresh.length > 0) lowest = Math.min(lowest, this.#fresh[0]!.eventNumber)
    const checkpoint = lowest === Number.POSITIVE_INFINITY ? this.#lastKnownEventNumber : lowest - 1
    if (checkpoint < 0) return
    const difference = checkpoint - this.#lastCheckpoint
    const now = this.#engine.now()
    const byTime = isTick && checkPointAfter > 0 && now - this.#lastCheckpointTime >= checkPointAfter &&
      difference >= minCheckPointCount && difference > 0
    if (!byTime && difference < maxCheckPointCount) return
    this.#lastCheckpoint = checkpoint
    this.#lastCheckpointTime = now
    const store = this.#engine.store
    if (!this.#checkpointMetadataWritten) {
      store.append(
        `$$${this.checkpointStream}`,
        Store.ExpectedVersion.Any,
        [systemEvent("$metadata", checkpointMetadata, true)]
      )
      this.#checkpointMetadataWritten = true
    }
    store.append(this.checkpointStream, Store.ExpectedVersion.Any, [
      systemEvent(checkpointEventType, encoder.encode(String(checkpoint)), true)
    ])
  }
}

/**
 * The persistent subscriptions of a node.
 *
 * @since 0.1.0
 * @category models
 */
export class PersistentSubscriptions {
  readonly store: Store.Store
  readonly now: () => number
  readonly #schedule: (work: () => void) => void
  readonly #groups = new Map<string, Group>()
  readonly #byStream = new Map<string, Set<Group>>()
  readonly #dirty = new Set<Group>()
  readonly #stopListening: () => void

  constructor(store: Store.Store, options?: Options) {
    this.store = store
    this.now = options?.now ?? Date.now
    this.#schedule = options?.schedule ?? queueMicrotask
    this.#stopListening = store.subscribe((event) => {
      const groups = this.#byStream.get(event.streamId)
      if (groups === undefined) return
      const wasIdle = this.#dirty.size === 0
      for (const group of groups) if (group.clients.length > 0) this.#dirty.add(group)
      if (wasIdle && this.#dirty.size > 0) this.#schedule(() => this.#pumpDirty())
    })
  }

  /** The group with this stream and name, if any. */
  group(stream: string, name: string): Group | undefined {
    return this.#groups.get(subscriptionId(stream, name))
  }

  /** Every group. */
  get groups(): ReadonlyArray<Group> {
    return Array.from(this.#groups.values())
  }

  /** The number of connected consumers. */
  get consumerCount(): number {
    let count = 0
    for (const group of this.#groups.values()) count += group.clients.length
    return count
  }

  /**
   * Creates a group. Its settings go to `$persistentSubscriptionConfig`; `updatedBy` names the caller.
   */
  create(stream: string, name: string, settings: Settings, updatedBy: string): CreateResult {
    const strategy = strategyOf(settings)
    if (!(consumerStrategies as ReadonlyArray<string>).includes(strategy)) {
      return { status: "Fail", reason: `Consumer strategy ${strategy} does not exist.` }
    }
    const id = subscriptionId(stream, name)
    if (this.#groups.has(id)) return { status: "AlreadyExists", reason: `Group '${name}' already exists.` }
    if (stream.length === 0 || stream === "$all") return { status: "Fail", reason: "Bad stream name." }
    this.#start(new Group(this, stream, name, settings))
    this.#saveConfig(updatedBy)
    return { status: "Success" }
  }

  /**
   * Updates a group: its consumers are dropped with Unsubscribed and it starts again with the new
   * settings, from its checkpoint if it has one.
   */
  update(stream: string, name: string, settings: Settings, updatedBy: string): ChangeResult {
    const strategy = strategyOf(settings)
    if (!(consumerStrategies as ReadonlyArray<string>).includes(strategy)) {
      return { status: "Fail", reason: `Consumer strategy ${strategy} does not exist.` }
    }
    const existing = this.group(stream, name)
    if (existing === undefined) return { status: "DoesNotExist", reason: `Group '${name}' does not exist.` }
    this.#stop(existing)
    existing.dropAll("Unsubscribed")
    this.#start(new Group(this, stream, name, settings))
    this.#saveConfig(updatedBy)
    return { status: "Success" }
  }

  /**
   * Deletes a group: its consumers are dropped with Unsubscribed and its checkpoint and parked streams
   * are deleted.
   */
  delete(stream: string, name: string, updatedBy: string): ChangeResult {
    const existing = this.group(stream, name)
    if (existing === undefined) return { status: "DoesNotExist", reason: `Group '${name}' does not exist.` }
    this.#stop(existing)
    existing.dropAll("Unsubscribed")
    for (const streamId of [existing.checkpointStream, existing.parkedStream]) {
      const last = this.store.lastEventNumber(streamId)
      if (last >= 0 && last !== Store.deletedStream) this.store.deleteStream(streamId, Store.ExpectedVersion.Any, false)
    }
    this.#saveConfig(updatedBy)
    return { status: "Success" }
  }

  /** Connects a consumer that may hold up to `allowedInFlight` messages at once. */
  connect(stream: string, name: string, consumer: Consumer, allowedInFlight: number): ConnectResult {
    const group = this.group(stream, name)
    if (group === undefined) return { status: "NotFound" }
    const max = group.settings.maxSubscriberCount
    if (max > 0 && group.clients.length >= max) return { status: "SubscriberMaxCountReached" }
    const client = new Client(consumer, Math.max(0, allowedInFlight), group)
    const confirmation: ConnectResult = {
      status: "Confirmed",
      subscriptionId: group.id,
      lastCommitPosition: this.store.lastCommitPosition,
      lastEventNumber: this.store.lastEventNumber(stream),
      client
    }
    // The consumer is confirmed before its first message, so the caller adds it right after replying.
    return confirmation
  }

  /** Starts deliveries to a connected consumer (after its confirmation went out). */
  start(client: Client): void {
    client.group?.add(client)
  }

  /**
   * Consumers unsubscribed or their connection closed: what they had in flight goes to the others. They
   * all leave before anything is delivered again, so that none of them is given what another one held
   * (and retried once more when it leaves in turn).
   */
  disconnect(...clients: ReadonlyArray<Client>): void {
    const groups = new Set<Group>()
    for (const client of clients) {
      const group = client.group
      if (group === undefined) continue
      group.remove(client)
      groups.add(group)
    }
    for (const group of groups) group.pump()
  }

  /** Acknowledges messages by their original event ids. */
  ack(client: Client, ids: ReadonlyArray<Uint8Array>): void {
    client.group?.ack(ids)
  }

  /** Naks messages by their original event ids. */
  nak(client: Client, ids: ReadonlyArray<Uint8Array>, action: NakAction, reason: string): void {
    client.group?.nak(ids, action, reason)
  }

  /** Retries the messages whose timeout passed and writes the checkpoints that are due. */
  tick(): void {
    const now = this.now()
    for (const group of this.#groups.values()) group.tick(now)
  }

  /** Drops every consumer with Unsubscribed, as a node that shuts down does. */
  shutdown(): void {
    this.#stopListening()
    for (const group of this.#groups.values()) group.dropAll("Unsubscribed")
  }

  #start(group: Group): void {
    this.#groups.set(group.id, group)
    let groups = this.#byStream.get(group.stream)
    if (groups === undefined) {
      groups = new Set()
      this.#byStream.set(group.stream, groups)
    }
    groups.add(group)
  }

  #stop(group: Group): void {
    this.#groups.delete(group.id)
    this.#dirty.delete(group)
    const groups = this.#byStream.get(group.stream)
    groups?.delete(group)
    if (groups?.size === 0) this.#byStream.delete(group.stream)
  }

  #pumpDirty(): void {
    const groups = Array.from(this.#dirty)
    this.#dirty.clear()
    for (const group of groups) group.pump()
  }

  /** Writes the configuration of every group, as the server does after each change. */
  #saveConfig(updatedBy: string): void {
    const config = {
      version: "2",
      updated: new Date(this.now()).toISOString(),
      updatedBy,
      entries: Array.from(this.#groups.values()).map((group) => configEntry(group.stream, group.name, group.settings))
    }
    this.store.append(configStream, Store.ExpectedVersion.Any, [
      systemEvent(configEventType, encoder.encode(JSON.stringify(config, null, 2)), true)
    ])
  }
}
