/**
 * The embedded server the client's tests talk to, over a real socket on 127.0.0.1.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Guid } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import { Credentials, EventStore, type Settings } from "@photonpump/client"

/**
 * The options of the embedded server.
 */
export type ServerOptions = NonNullable<Parameters<typeof EventStoreServer.layer>[0]>

/**
 * The built-in administrator.
 */
export const admin = Credentials.make("admin", "changeit")

/**
 * A fresh embedded server (port 0) and a client connected to it; both close with the layer. The
 * client authenticates as `admin` unless the options say otherwise.
 */
export const serverAndClient = (client?: Settings.Options, server?: Partial<ServerOptions>) =>
  Layer.unwrap(
    Effect.map(
      EventStoreServer.EventStoreServer,
      ({ host, port }) => EventStore.layer({ credentials: admin, ...client, host, port })
    )
  ).pipe(Layer.provideMerge(Layer.fresh(EventStoreServer.layer({ ...server, port: 0 }))))

/**
 * The server's address, for tests that open more connections.
 */
export const serverAddress = Effect.map(
  EventStoreServer.EventStoreServer,
  ({ host, port }) => ({ host, port })
)

/**
 * A stream name of its own for each test, so that tests sharing a server stay independent.
 */
export const streamName = (prefix: string): string => `${prefix}-${Guid.random().slice(0, 8)}`
