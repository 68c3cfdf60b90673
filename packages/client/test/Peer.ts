/**
 * Raw TCP (and TLS) peers for the connection and subscription tests: they speak the protocol through
 * the protocol package, complete the handshake and answer heartbeats (unless `raw`), and do whatever
 * else a test scripts, including what a well-behaved server never does (drop a subscription with each
 * reason, flood, never confirm, hang up, send garbage).
 */
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { Command as CommandModule, Frame, Guid, Messages, Package } from "@photonpump/protocol"

const Command = CommandModule.Command

/**
 * A running peer.
 */
export interface Peer {
  readonly port: number
  /** Every package received, in order (the handshake included). */
  readonly received: Array<Package.InboundPackage>
  /** The sockets accepted so far. */
  readonly sockets: Array<Net.Socket>
}

/**
 * What a peer does with each package besides the handshake and heartbeats.
 */
export type Handler = (pkg: Package.InboundPackage, socket: Net.Socket, peer: Peer) => void

/**
 * Encodes a frame.
 */
export const frame = (command: number, correlationId: string, payload?: Uint8Array): Uint8Array =>
  Result.getOrThrow(Package.encodeFrame({ command, correlationId, payload }))

/**
 * Sends a package.
 */
export const send = (socket: Net.Socket, command: number, correlationId: string, payload?: Uint8Array): void => {
  socket.write(frame(command, correlationId, payload))
}

/**
 * Encodes a message.
 */
export const message = <Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Uint8Array =>
  Result.getOrThrow(Messages.encode(schema, create(schema, init)))

/**
 * Decodes a message.
 */
export const decode = <Desc extends DescMessage>(schema: Desc, payload: Uint8Array) =>
  Result.getOrThrow(Messages.decode(schema, payload))

const encoder = new TextEncoder()

/**
 * An `EventRecord` of a JSON event `{ n }` at `eventNumber` of `stream`.
 */
export const record = (stream: string, eventNumber: bigint, n: number = Number(eventNumber)) =>
  create(Messages.EventRecordSchema, {
    eventStreamId: stream,
    eventNumber,
    eventId: Result.getOrThrow(Guid.toWire(Guid.random())),
    eventType: "PonyJumped",
    dataContentType: 1,
    metadataContentType: 0,
    data: encoder.encode(JSON.stringify({ n })),
    createdEpoch: BigInt(Date.now())
  })

/**
 * A StreamEventAppeared payload for event `eventNumber` of `stream`, at position (p, p).
 */
export const eventAppeared = (stream: string, eventNumber: bigint, position: bigint = eventNumber * 100n) =>
  message(Messages.StreamEventAppearedSchema, {
    event: { event: record(stream, eventNumber), commitPosition: position, preparePosition: position }
  })

/**
 * A SubscriptionConfirmation payload.
 */
export const confirmation = (lastCommitPosition: bigint, lastEventNumber: bigint) =>
  message(Messages.SubscriptionConfirmationSchema, { lastCommitPosition, lastEventNumber })

/**
 * A SubscriptionDropped payload.
 */
export const dropped = (reason: Messages.SubscriptionDropped_SubscriptionDropReason) =>
  message(Messages.SubscriptionDroppedSchema, { reason })

/** Completes the handshake and answers heartbeats, as a server would; the rest is up to `handler`. */
const politely = (handler: Handler): Handler => (pkg, socket, peer) => {
  switch (pkg.command) {
    case Command.IdentifyClient:
      return send(socket, Command.ClientIdentified, pkg.correlationId)
    case Command.Authenticate:
      return send(socket, Command.Authenticated, pkg.correlationId)
    case Command.HeartbeatRequest:
      return send(socket, Command.HeartbeatResponse, pkg.correlationId)
    case Command.HeartbeatResponse:
      return
    default:
      return handler(pkg, socket, peer)
  }
}

/** A certificate and key for `localhost` / 127.0.0.1, self-signed, made for these tests and nothing else. */
export const testCertificate = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUFHhc+z7oqVhagUEUGibW9NvT+qgwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODE2MTA0NFoYDzIxMjYxMTA0
MTYxMDQ0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASmvhrizVpXYrGpqdvV/m+merJYDJUdFGp1wgRI+jrQoI8UU+MLUZdP
oj7HhpPcfKFJKgSfGFttTCLb5/pRlZ/To28wbTAdBgNVHQ4EFgQUptkuH5ZqwPwu
yXPVTd71gIFtu1gwHwYDVR0jBBgwFoAUptkuH5ZqwPwuyXPVTd71gIFtu1gwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgaGS0HfLyaocZLIlokPrYubwFVN3jNcEJwKiul1+9QZECIQCa
4QeHrjV2QsQNQKMapnLMSdIX9EJ8ct0EWAzkIlgsTA==
-----END CERTIFICATE-----
`
const testKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXXDRuFRj6RJNb0u/
5GsAkrKXKVUm2nKV6DfyDY2umvmhRANCAASmvhrizVpXYrGpqdvV/m+merJYDJUd
FGp1wgRI+jrQoI8UU+MLUZdPoj7HhpPcfKFJKgSfGFttTCLb5/pRlZ/T
-----END PRIVATE KEY-----
`

/**
 * A raw TCP (or, with `tls`, TLS) peer on 127.0.0.1, closed with the scope. It completes the handshake
 * and answers heartbeats (`politely`) unless `raw`, which hands every package to `handler`.
 */
export const peer = (handler: Handler, options?: { readonly tls?: boolean; readonly raw?: boolean }) =>
  Effect.acquireRelease(
    Effect.callback<{ peer: Peer; server: Net.Server }>((resume) => {
      const received: Array<Package.InboundPackage> = []
      const sockets: Array<Net.Socket> = []
      const state = { port: 0 }
      const self: Peer = {
        get port() {
          return state.port
        },
        received,
        sockets
      }
      const handle = options?.raw === true ? handler : politely(handler)
      const serve = (socket: Net.Socket) => {
        sockets.push(socket)
        // Several small writes in a row (pages, pushes, then a pong) would otherwise wait for the
        // client's delayed acknowledgement, some 40 ms each, as a real node's never do.
        socket.setNoDelay(true)
        socket.on("error", () => {})
        const parser = Frame.makeParser()
        socket.on("data", (chunk) => {
          const frames = parser.push(chunk)
          if (Result.isFailure(frames)) {
            socket.destroy()
            return
          }
          for (const body of frames.success) {
            const pkg = Result.getOrThrow(Package.decode(body))
            received.push(pkg)
            handle(pkg, socket, self)
          }
        })
      }
      const server: Net.Server = options?.tls === true
        ? Tls.createServer({ key: testKey, cert: testCertificate }, serve)
        : Net.createServer(serve)
      server.listen(0, "127.0.0.1", () => {
        state.port = (server.address() as Net.AddressInfo).port
        resume(Effect.succeed({ peer: self, server }))
      })
    }),
    ({ peer, server }) =>
      Effect.callback<void>((resume) => {
        for (const socket of peer.sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ peer }) => peer))

/**
 * The packages a peer received with a command.
 */
export const receivedOf = (peer: Peer, command: number): Array<Package.InboundPackage> =>
  peer.received.filter((pkg) => pkg.command === command)
