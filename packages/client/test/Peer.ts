/**
 * Raw TCP peers for the subscription tests: they speak the protocol through the protocol package,
 * complete the handshake and answer heartbeats, and do whatever else a test scripts, including what a
 * well-behaved server never does (drop a subscription with each reason, flood, never confirm).
 */
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Net from "node:net"
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

/**
 * A raw TCP peer on 127.0.0.1, closed with the scope.
 */
export const peer = (handler: Handler) =>
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
      const serve = politely(handler)
      const server = Net.createServer((socket) => {
        sockets.push(socket)
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
            serve(pkg, socket, self)
          }
        })
      })
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
