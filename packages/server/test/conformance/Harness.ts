/**
 * The conformance harness: starts an embedded server for one test file and connects
 * `node-eventstore-client` (a TCP client we did not write, tested by its authors against real
 * EventStoreDB servers) to it, configured to fail fast: no reconnection, no retries, an explicit
 * operation timeout, and a silent logger.
 *
 * Every test names its streams with `streamName`, so the tests of a file share one server and
 * stay independent of each other and of their order.
 */
import { randomUUID } from "node:crypto"
import { afterAll, assert, beforeAll } from "vitest"
import EventStore from "node-eventstore-client"
import { EventStoreServer } from "@photonpump/server"

export { EventStore }

/** The 64-bit integer type node-eventstore-client uses for event numbers and positions. */
export type Long = EventStore.WriteResult["nextExpectedVersion"]

/** A node-eventstore-client connection. */
export type Connection = EventStore.EventStoreNodeConnection

/** The options `EventStoreServer.start` accepts, as far as these tests use them. */
export type ServerOptions = Omit<NonNullable<Parameters<typeof EventStoreServer.start>[0]>, "port">

/** A running embedded server. */
export type Server = Awaited<ReturnType<typeof EventStoreServer.start>>

/** How long any single client operation or wait may take before the test fails. */
export const operationTimeoutMillis = 10_000

/** The built-in users of every server (protocol.md section 4.9). */
export const admin = new EventStore.UserCredentials("admin", "changeit")
export const ops = new EventStore.UserCredentials("ops", "changeit")

/** 2^63-1: the event number of a hard-delete tombstone, the "last event number" of a hard-deleted stream. */
export const deletedStream = "9223372036854775807"

const silentLogger: EventStore.Logger = {
  debug() {},
  info() {},
  error() {}
}

/** Client settings that make a broken server fail a test quickly instead of being retried. */
export const failFastSettings: EventStore.ConnectionSettings = {
  log: silentLogger,
  verboseLogging: false,
  maxReconnections: 0,
  maxRetries: 0,
  reconnectionDelay: 100,
  operationTimeout: operationTimeoutMillis,
  operationTimeoutCheckPeriod: 200,
  failOnNoServerResponse: true,
  // Generous, so a loaded machine does not drop a connection that is merely slow.
  heartbeatInterval: 1_000,
  heartbeatTimeout: 5_000,
  clientConnectionTimeout: 5_000
}

/** A unique stream name, so that tests sharing a server never see each other's events. */
export const streamName = (prefix: string): string => `${prefix}-${randomUUID().replaceAll("-", "")}`

/** A JSON event with a fresh id. */
export const jsonEvent = (type: string, data: object = { at: type }, metadata?: object): EventStore.EventData =>
  EventStore.createJsonEventData(randomUUID(), data, metadata, type)

/** `n` JSON events with fresh ids, of types `prefix-0` … `prefix-(n-1)`. */
export const jsonEvents = (n: number, prefix = "Event"): Array<EventStore.EventData> =>
  Array.from({ length: n }, (_, i) => jsonEvent(`${prefix}-${i}`, { index: i }))

/** A number, from a Long or a number; event numbers and positions in these tests fit in a double. */
export const num = (value: Long | number): number => typeof value === "number" ? value : value.toNumber()

/** The decimal text of a Long or a number, for values that do not fit in a double (2^63-1). */
export const text = (value: Long | number): string => value.toString()

/** Compares two $all positions: commit first, then prepare (protocol.md section 4.3). */
export const comparePositions = (a: EventStore.Position, b: EventStore.Position): number => {
  const commit = a.commitPosition.compare(b.commitPosition)
  return commit !== 0 ? commit : a.preparePosition.compare(b.preparePosition)
}

/** A position as plain numbers, for deep equality. */
export const positionOf = (position: EventStore.Position | undefined | null) =>
  position == null ? null : { commit: num(position.commitPosition), prepare: num(position.preparePosition) }

/** The event numbers of a slice's events (the resolved event's, or the link's when unresolved). */
export const eventNumbers = (slice: { readonly events: ReadonlyArray<EventStore.ResolvedEvent> }): Array<number> =>
  slice.events.map((e) => num(e.originalEventNumber))

/** The slice fields protocol.md section 4.4 specifies, as plain values. */
export const sliceFields = (slice: EventStore.StreamEventsSlice) => ({
  status: slice.status,
  events: eventNumbers(slice),
  nextEventNumber: num(slice.nextEventNumber),
  lastEventNumber: num(slice.lastEventNumber),
  isEndOfStream: slice.isEndOfStream
})

/** A reversed copy of `items`. */
export const reversed = <A>(items: ReadonlyArray<A>): Array<A> => items.map((_, i) => items[items.length - 1 - i]!)

/** Waits for a promise that must reject, and gives back what it rejected with. */
export const rejection = async (promise: Promise<unknown>): Promise<Error> => {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error })
  )
  if (outcome.ok) assert.fail(`expected a failure, got ${JSON.stringify(outcome.value)}`)
  assert.instanceOf(outcome.error, Error)
  return outcome.error as Error
}

/** Connections that have closed, whoever closed them. */
const closedConnections = new WeakSet<Connection>()

/** Waits for `emitter` to emit `event`, failing after the operation timeout. */
const once = (emitter: Connection, event: "connected" | "closed", what: string): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), operationTimeoutMillis)
    emitter.once(event, () => {
      clearTimeout(timer)
      resolve()
    })
  })

/** Connects a client and waits until it has identified itself to the server (the "connected" event). */
export const connectTo = async (
  server: Server,
  settings: EventStore.ConnectionSettings = {}
): Promise<Connection> => {
  const connection = EventStore.createConnection(
    { ...failFastSettings, ...settings },
    `tcp://${server.host}:${server.port}`
  )
  // A closed connection emits "error" for its reason; without a listener Node would throw it.
  connection.on("error", () => {})
  connection.once("closed", () => closedConnections.add(connection))
  const connected = once(connection, "connected", "the client to connect")
  await connection.connect()
  await connected
  return connection
}

/** Closes a client connection and waits until it reports itself closed. */
export const disconnect = async (connection: Connection): Promise<void> => {
  if (closedConnections.has(connection)) return
  const closed = once(connection, "closed", "the client to close")
  connection.close()
  await closed
}

/** One server per test file, with its default connection and any extra connections a test opens. */
export interface ConformanceServer {
  /** The running server. */
  readonly server: Server
  /** An anonymous connection (no default credentials). */
  readonly connection: Connection
  /** Opens another connection, closed with the server after the file's tests. */
  readonly connect: (settings?: EventStore.ConnectionSettings) => Promise<Connection>
}

/**
 * Starts a server before the file's tests and stops it (and every connection opened through it) after
 * them. Use the returned object's fields inside tests only.
 */
export const conformanceServer = (options: ServerOptions = {}): ConformanceServer => {
  const state: { server: Server | undefined; connection: Connection | undefined } = {
    server: undefined,
    connection: undefined
  }
  const connections: Array<Connection> = []
  const connect = async (settings?: EventStore.ConnectionSettings) => {
    if (state.server === undefined) throw new Error("the server is not started yet")
    const connection = await connectTo(state.server, settings)
    connections.push(connection)
    return connection
  }
  beforeAll(async () => {
    state.server = await EventStoreServer.start({ ...options, port: 0 })
    state.connection = await connect()
  })
  afterAll(async () => {
    // Close the server even if a connection fails to close, so a failed test leaves nothing behind.
    await Promise.allSettled(connections.map(disconnect))
    await state.server?.close()
  })
  return {
    get server() {
      if (state.server === undefined) throw new Error("the server is not started yet")
      return state.server
    },
    get connection() {
      if (state.connection === undefined) throw new Error("the server is not started yet")
      return state.connection
    },
    connect
  }
}
