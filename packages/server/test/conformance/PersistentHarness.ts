/**
 * Helpers of the persistent-subscription conformance tests: group settings built from
 * node-eventstore-client's defaults with the few fields a test cares about overridden, consumers
 * whose deliveries and drops are collected, and the names and reads of the streams the server keeps
 * for a group (protocol.md section 5.4).
 *
 * node-eventstore-client quirks worked around here:
 * - `PersistentSubscriptionSettings.create()` differs from the .NET defaults (maxRetryCount 500,
 *   readBatchSize 10, historyBufferSize 20) and its constructor is positional, so settings are built
 *   from named fields;
 * - it drops the `retryCount` of each delivery, so retry counts are checked on raw packages;
 * - it reports a server's SubscriptionDropped(Unsubscribed) as `userInitiated`, and a drop before
 *   the confirmation (NotFound, SubscriberMaxCountReached, AccessDenied) as a rejected connect.
 */
import { Collector, eventually } from "./Collector.ts"
import { admin, type Connection, EventStore, num, reversed } from "./Harness.ts"

/** The settings of a group, by name (protocol.md section 5.4). */
export interface GroupSettings {
  readonly resolveLinkTos: boolean
  readonly startFrom: number
  readonly extraStatistics: boolean
  readonly messageTimeout: number
  readonly maxRetryCount: number
  readonly liveBufferSize: number
  readonly readBatchSize: number
  readonly historyBufferSize: number
  readonly checkPointAfter: number
  readonly minCheckPointCount: number
  readonly maxCheckPointCount: number
  readonly maxSubscriberCount: number
  readonly namedConsumerStrategy: string
}

/**
 * Settings for tests: from the start of the stream, a message timeout long enough that no test sees
 * one unless it asks for it, and otherwise node-eventstore-client's defaults.
 */
export const testSettings: GroupSettings = {
  resolveLinkTos: false,
  startFrom: 0,
  extraStatistics: false,
  messageTimeout: 30_000,
  maxRetryCount: 10,
  liveBufferSize: 500,
  readBatchSize: 10,
  historyBufferSize: 20,
  checkPointAfter: 2_000,
  minCheckPointCount: 10,
  maxCheckPointCount: 1_000,
  maxSubscriberCount: 0,
  namedConsumerStrategy: EventStore.SystemConsumerStrategies.RoundRobin
}

/** node-eventstore-client settings from `testSettings` with `overrides`. */
export const settings = (overrides: Partial<GroupSettings> = {}): EventStore.PersistentSubscriptionSettings => {
  const s = { ...testSettings, ...overrides }
  return new EventStore.PersistentSubscriptionSettings(
    s.resolveLinkTos,
    s.startFrom,
    s.extraStatistics,
    s.messageTimeout,
    s.maxRetryCount,
    s.liveBufferSize,
    s.readBatchSize,
    s.historyBufferSize,
    s.checkPointAfter,
    s.minCheckPointCount,
    s.maxCheckPointCount,
    s.maxSubscriberCount,
    s.namedConsumerStrategy
  )
}

/** A unique group name. */
export const groupName = (prefix = "group"): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`

/** Creates a group as admin. */
export const createGroup = async (
  connection: Connection,
  stream: string,
  group: string,
  overrides: Partial<GroupSettings> = {}
): Promise<void> => {
  await connection.createPersistentSubscription(stream, group, settings(overrides), admin)
}

/** A drop as node-eventstore-client reports it. */
export interface Drop {
  readonly reason: string
  readonly error: Error | undefined
}

/** A connected consumer, with what it was given and its drop collected. */
export interface Consumer {
  readonly subscription: EventStore.EventStorePersistentSubscription
  readonly events: Collector<EventStore.ResolvedEvent>
  readonly drops: Collector<Drop>
}

/** Options of `connectConsumer`. */
export interface ConsumerOptions {
  /** The in-flight limit (allowed_in_flight_messages). Default 10, the client's. */
  readonly bufferSize?: number
  /** Whether the client acks each event after the handler returns. Default true, the client's. */
  readonly autoAck?: boolean
  readonly credentials?: EventStore.UserCredentials
  /** Called for each event after it is collected; manual acks and naks go here. */
  readonly onEvent?: (subscription: EventStore.EventStorePersistentSubscription, event: EventStore.ResolvedEvent) => void
}

/** Connects a consumer to a group through node-eventstore-client. */
export const connectConsumer = async (
  connection: Connection,
  stream: string,
  group: string,
  options: ConsumerOptions = {}
): Promise<Consumer> => {
  const events = new Collector<EventStore.ResolvedEvent>()
  const drops = new Collector<Drop>()
  const subscription = await connection.connectToPersistentSubscription(
    stream,
    group,
    (subscription, event) => {
      events.push(event)
      options.onEvent?.(subscription, event)
    },
    (_, reason, error) => drops.push({ reason, error }),
    options.credentials,
    options.bufferSize ?? 10,
    options.autoAck ?? true
  )
  return { subscription, events, drops }
}

/** The id of a group as the server names it: `<stream>::<group>` (protocol.md section 5.4). */
export const subscriptionId = (stream: string, group: string): string => `${stream}::${group}`

/** The stream a group's checkpoints are written to (protocol.md section 5.4). */
export const checkpointStream = (stream: string, group: string): string =>
  `$persistentsubscription-${stream}::${group}-checkpoint`

/** The stream a group's parked messages are written to (protocol.md section 5.4). */
export const parkedStream = (stream: string, group: string): string =>
  `$persistentsubscription-${stream}::${group}-parked`

/** The events of a stream as admin, in order, without resolving links; none if it does not exist. */
export const readAsAdmin = async (connection: Connection, stream: string): Promise<Array<EventStore.RecordedEvent>> => {
  const slice = await connection.readStreamEventsForward(stream, 0, 4_096, false, admin)
  return slice.events.map((e) => e.event!)
}

/** A checkpoint event's value: the JSON number of the last processed event. */
export const checkpointValue = (event: EventStore.RecordedEvent): number =>
  JSON.parse(event.data!.toString("utf8")) as number

/**
 * Waits until the group's last checkpoint is `value`, and gives back the checkpoint stream's events
 * (the stream keeps the last two: `$maxCount` 2) and its last event number.
 */
export const checkpointReaching = async (connection: Connection, stream: string, group: string, value: number) =>
  eventually(async () => {
    const slice = await connection.readStreamEventsBackward(checkpointStream(stream, group), -1, 10, false, admin)
    const last = slice.events[0]?.event
    if (last == null || checkpointValue(last) !== value) return undefined
    return { events: reversed(slice.events).map((e) => e.event!), lastEventNumber: num(slice.lastEventNumber) }
  }, `the checkpoint of ${group} to reach ${value}`)

/** The event ids of deliveries, in order. */
export const idsOf = (events: ReadonlyArray<EventStore.ResolvedEvent>): Array<string> =>
  events.map((e) => e.originalEvent!.eventId)

/** The event numbers of deliveries, in order. */
export const numbersOf = (events: ReadonlyArray<EventStore.ResolvedEvent>): Array<number> =>
  events.map((e) => num(e.originalEventNumber))
