/**
 * The embedded EventStore node: an in-memory server that speaks EventStore's TCP protocol with the
 * semantics of a real single node (docs/protocol.md). Start it as a scoped `Layer`, as a scoped
 * `Effect` (`make`), or from code that does not use Effect (`start`).
 *
 * ```ts
 * import { EventStoreServer } from "@photonpump/server"
 *
 * const TestServer = EventStoreServer.layer({ port: 0 }) // an ephemeral port on 127.0.0.1
 * // yield* EventStoreServer.EventStoreServer gives { host, port }
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import type * as Redacted from "effect/Redacted"
import * as Net from "node:net"
import { Frame } from "@photonpump/protocol"
import * as Node from "./internal/Node.ts"
import { Session } from "./internal/Session.ts"
import { ServerError } from "./ServerError.ts"
import * as Store from "./Store.ts"
import * as Users from "./Users.ts"

/**
 * Options of a node. Every one has the default of a real EventStoreDB node.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The address to listen on. Default `"127.0.0.1"`. */
  readonly host?: string | undefined
  /** The port to listen on; 0 picks a free one. Default 1113. */
  readonly port?: number | undefined
  /**
   * Users besides `admin`/`changeit` (in `$admins`) and `ops`/`changeit` (in `$ops`), which always
   * exist. A user with the login of one of those replaces it.
   */
  readonly users?: ReadonlyArray<{
    readonly login: string
    readonly password: string | Redacted.Redacted<string>
    readonly groups?: ReadonlyArray<string> | undefined
  }> | undefined
  /**
   * Whether anonymous callers may use streams as their ACLs allow: true is the behaviour up to 22.10
   * (and 23.10 with `AllowAnonymousStreamAccess`), false that of 23.10, where anonymous callers are
   * denied every stream operation. Default true.
   */
  readonly allowAnonymousStreamAccess?: boolean | undefined
  /**
   * Encode replies as servers from 22.6 do, leaving out fields that hold their default value, instead
   * of writing every field proto2 requires. Default false.
   */
  readonly omitDefaultValues?: boolean | undefined
  /** Silence after which a connection is probed with a HeartbeatRequest. Default 2 seconds. */
  readonly heartbeatInterval?: Duration.Input | undefined
  /** How long a probed connection has to answer before it is dropped. Default 1 second. */
  readonly heartbeatTimeout?: Duration.Input | undefined
  /** The largest frame accepted, in bytes. Default 64 MiB. */
  readonly maxFrameLength?: number | undefined
  /**
   * The unsent bytes a connection may hold; a client that reads its replies more slowly than that is
   * dropped. Default 10 MiB, like the real server's pending-send threshold.
   */
  readonly maxSendQueueBytes?: number | undefined
  /** How long a write to an unknown transaction waits before failing with PrepareTimeout. Default 2 seconds. */
  readonly prepareTimeout?: Duration.Input | undefined
  /**
   * How often the persistent subscriptions' clock ticks: on each tick, messages whose timeout passed
   * are retried and checkpoints that are due by time are written, so this is the resolution of
   * `message_timeout_milliseconds` and `checkpoint_after_time`. Default 1 second, like the real server.
   */
  readonly persistentSubscriptionTick?: Duration.Input | undefined
}

/**
 * A running node.
 *
 * @since 0.1.0
 * @category services
 */
export class EventStoreServer extends Context.Service<EventStoreServer, {
  /** The address the node listens on. */
  readonly host: string
  /** The port the node listens on (the one picked, when the options said 0). */
  readonly port: number
  /** The node's store, for inspection or seeding without going through the wire. */
  readonly store: Store.Store
  /** The number of client connections open right now. */
  readonly connections: () => number
  /** The number of subscriptions open right now: volatile ones and persistent-subscription consumers. */
  readonly subscriptions: () => number
}>()("@photonpump/server/EventStoreServer") {}

const millis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

const resolveSettings = (options: Options | undefined): Node.Settings => ({
  allowAnonymousStreamAccess: options?.allowAnonymousStreamAccess ?? true,
  omitDefaultValues: options?.omitDefaultValues ?? false,
  heartbeatInterval: millis(options?.heartbeatInterval, 2000),
  heartbeatTimeout: millis(options?.heartbeatTimeout, 1000),
  maxFrameLength: options?.maxFrameLength ?? Frame.defaultMaxLength,
  maxSendQueueBytes: options?.maxSendQueueBytes ?? 10 * 1024 * 1024,
  prepareTimeout: millis(options?.prepareTimeout, 2000),
  persistentSubscriptionTick: millis(options?.persistentSubscriptionTick, 1000)
})

const listen = (server: Net.Server, host: string, port: number) =>
  Effect.callback<void, ServerError>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(new ServerError({ host, port, cause })))
    server.once("error", onError)
    try {
      server.listen(port, host, () => {
        server.off("error", onError)
        resume(Effect.void)
      })
    } catch (cause) {
      // An invalid port or host is refused synchronously.
      server.off("error", onError)
      resume(Effect.fail(new ServerError({ host, port, cause })))
    }
  })

/**
 * Starts a node in the current scope: it listens once this succeeds, and closing the scope closes
 * every connection and the listener.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("EventStoreServer.make")(function*(options?: Options) {
  const host = options?.host ?? "127.0.0.1"
  const requestedPort = options?.port ?? 1113
  const settings = resolveSettings(options)
  const services = yield* Effect.context<never>()
  const logDebug = (message: string) => {
    Effect.runForkWith(services)(Effect.logDebug(message))
  }
  const store = Store.make({
    onListenerError: (error) => {
      Effect.runForkWith(services)(Effect.logError("A listener of committed events failed", error))
    }
  })
  const node = Node.make({ store, users: Users.make(options?.users), settings, logDebug })
  const sessions = new Set<Session>()

  const server = yield* Effect.acquireRelease(
    Effect.suspend(() => {
      const server = Net.createServer((socket) => {
        const session = new Session(socket, node, (closed) => sessions.delete(closed))
        sessions.add(session)
      })
      return listen(server, host, requestedPort).pipe(
        Effect.as(server),
        Effect.onInterrupt(() => Effect.sync(() => server.close()))
      )
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        node.shutdown()
        for (const session of sessions) session.close()
        sessions.clear()
        server.close(() => resume(Effect.void))
      })
  )
  server.on("error", (error) => logDebug(`Listener error: ${error.message}`))
  const port = (server.address() as Net.AddressInfo).port

  // One timer serves every connection's heartbeats; it ticks often enough to honour the timeout.
  const tick = Math.max(10, Math.min(settings.heartbeatInterval, settings.heartbeatTimeout) / 4)
  yield* Effect.sync(() => {
    const now = Date.now()
    for (const session of sessions) session.checkHeartbeat(now)
  }).pipe(Effect.andThen(Effect.sleep(tick)), Effect.forever, Effect.forkScoped)

  // The persistent subscriptions' clock: message timeouts and checkpoints by time.
  yield* Effect.sync(() => {
    try {
      node.persistent.tick()
    } catch (error) {
      logDebug(`Persistent subscriptions: error on a tick: ${String(error)}`)
    }
  }).pipe(
    Effect.andThen(Effect.sleep(settings.persistentSubscriptionTick)),
    Effect.forever,
    Effect.forkScoped
  )

  yield* Effect.logDebug(`EventStore node listening on ${host}:${port}`)
  return EventStoreServer.of({
    host,
    port,
    store,
    connections: () => sessions.size,
    subscriptions: node.subscriptionCount
  })
})

/**
 * A node as a scoped layer: it listens when the layer is built and closes with the layer's scope.
 * `layer({ port: 0 })` listens on a free port of 127.0.0.1, which the service tells.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<EventStoreServer, ServerError> =>
  Layer.effect(EventStoreServer, make(options))

/**
 * A running node started from code that does not use Effect.
 *
 * @since 0.1.0
 * @category models
 */
export interface Started {
  readonly host: string
  readonly port: number
  readonly store: Store.Store
  /** The number of client connections open right now. */
  readonly connections: () => number
  /** The number of subscriptions open right now: volatile ones and persistent-subscription consumers. */
  readonly subscriptions: () => number
  /** Closes every connection and the listener. */
  readonly close: () => Promise<void>
}

/**
 * Starts a node from code that does not use Effect. The promise resolves once the node listens, and
 * rejects with a `ServerError` if it cannot.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = async (options?: Options): Promise<Started> => {
  const scope = Scope.makeUnsafe()
  const exit = await Effect.runPromiseExit(Scope.provide(scope)(make(options)))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw errorOf(exit.cause)
  }
  const { connections, host, port, store, subscriptions } = exit.value
  let closed: Promise<void> | undefined
  return {
    host,
    port,
    store,
    connections,
    subscriptions,
    close: () => (closed ??= Effect.runPromise(Scope.close(scope, Exit.void)))
  }
}

const errorOf = (cause: Cause.Cause<ServerError>): unknown => {
  const error = Cause.findError(cause)
  return Result.isSuccess(error) ? error.success : Cause.squash(cause)
}
