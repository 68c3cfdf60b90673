/**
 * Connection lifecycle: heartbeats in both directions (docs/protocol.md 6.1), slow readers dropped
 * before their queue grows without bound, floods isolated to their own connection, and every
 * connection closed with the node.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Guid, Messages } from "@photonpump/protocol"
import { EventStoreServer, ServerError } from "@photonpump/server"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Net from "node:net"
import { append, C, connect, eventId, eventually, newEvent, streamName } from "./RawClient.ts"

const yieldToIo = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

// A short interval keeps the tests quick; a generous timeout keeps them steady on a loaded machine, where
// the event loop (shared here by server and clients) can stall.
const Fast = EventStoreServer.layer({ port: 0, heartbeatInterval: "200 millis", heartbeatTimeout: "1 second" })

layer(Fast, { excludeTestServices: true })("Heartbeats", (it) => {
  it.effect("probes a silent client with a HeartbeatRequest and drops it when it never answers", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const opened = Date.now()
      const probe = yield* client.take((pkg) => pkg.command === C.HeartbeatRequest)
      assert.strictEqual(probe.payload.length, 0)
      assert.notStrictEqual(probe.correlationId, Guid.empty)
      yield* client.closed()
      assert.isTrue(Date.now() - opened >= 200 + 1000 - 50)
    }))

  it.effect("keeps a client that answers its heartbeats", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      for (let i = 0; i < 4; i++) {
        const probe = yield* client.take((pkg) => pkg.command === C.HeartbeatRequest)
        client.send(C.HeartbeatResponse, undefined, { correlationId: probe.correlationId })
      }
      const pong = yield* client.reply(client.send(C.Ping))
      assert.strictEqual(pong.command, C.Pong)
      assert.isFalse(client.isClosed)
    }))

  it.effect("counts any package, not only a heartbeat response, as a sign of life", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      // The client keeps talking but never answers a heartbeat: the server has nothing to send, so it
      // sends proactive HeartbeatRequests, and keeps the connection because data keeps arriving.
      let requests = 0
      while (requests < 3) {
        client.send(C.HeartbeatResponse)
        yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))
        requests = client.inbox.filter((pkg) => pkg.command === C.HeartbeatRequest).length
      }
      assert.isFalse(client.isClosed)
      assert.strictEqual((yield* client.reply(client.send(C.Ping))).command, C.Pong)
    }))
})

const Bounded = EventStoreServer.layer({ port: 0, maxSendQueueBytes: 256 * 1024 })

layer(Bounded, { excludeTestServices: true })("Slow readers and floods", (it) => {
  it.effect("drops a client that stops reading before its unsent replies grow without bound", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const bystander = yield* connect(server.port)
      const slow = yield* connect(server.port)
      const stream = streamName("big")
      const written = yield* append(slow, stream, -1n, [{ ...newEvent(), data: new Uint8Array(512 * 1024) }])
      assert.strictEqual(written.result, Messages.OperationResult.Success)
      const before = server.connections()
      slow.socket.pause()
      let sent = 0
      // One read per chunk; each reply is half a MiB that the client never reads.
      while (server.connections() === before && sent < 2000) {
        slow.sendMessage(C.ReadEvent, Messages.ReadEventSchema, {
          eventStreamId: stream,
          eventNumber: 0n,
          resolveLinkTos: false,
          requireLeader: true
        })
        sent++
        yield* yieldToIo
      }
      yield* eventually(() => server.connections() === before - 1)
      slow.socket.resume()
      yield* slow.closed()
      const replies = slow.inbox.filter((pkg) => pkg.command === C.ReadEventCompleted).length
      assert.isTrue(replies < sent, `${replies} of ${sent} replies arrived`)
      // Nobody else noticed.
      assert.strictEqual((yield* bystander.reply(bystander.send(C.Ping))).command, C.Pong)
    }))

  it.effect("keeps answering other connections promptly while one floods the node", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const flooder = yield* connect(server.port)
      const calm = yield* connect(server.port)
      const stream = streamName("flood")
      const state = { flooding: true }
      const flood = Effect.gen(function*() {
        while (state.flooding) {
          flooder.socket.cork()
          for (let i = 0; i < 200; i++) {
            flooder.sendMessage(C.WriteEvents, Messages.WriteEventsSchema, {
              eventStreamId: stream,
              expectedVersion: -2n,
              events: [newEvent()],
              requireLeader: true
            })
          }
          flooder.socket.uncork()
          flooder.inbox.length = 0
          yield* yieldToIo
        }
      })
      yield* Effect.forkChild(flood)
      for (let i = 0; i < 20; i++) {
        const started = Date.now()
        const pong = yield* calm.reply(calm.send(C.Ping), 2000)
        assert.strictEqual(pong.command, C.Pong)
        assert.isBelow(Date.now() - started, 2000)
      }
      state.flooding = false
      const written = yield* append(calm, streamName(), -1n, [newEvent()])
      assert.strictEqual(written.result, Messages.OperationResult.Success)
    }))
})

describe("Lifecycle", () => {
  it.live("closing the layer's scope closes every connection and the listener", () =>
    Effect.gen(function*() {
      const { client, port } = yield* Effect.scoped(
        Effect.gen(function*() {
          const server = yield* EventStoreServer.make({ port: 0 })
          const client = yield* connect(server.port)
          yield* client.reply(client.send(C.Ping))
          return { client, port: server.port }
        })
      )
      yield* client.closed()
      const refused = yield* Effect.callback<boolean>((resume) => {
        const socket = Net.connect({ port, host: "127.0.0.1" })
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.succeed(false))
        })
        socket.once("error", () => resume(Effect.succeed(true)))
      })
      assert.isTrue(refused)
    }))

  it.live("start() serves from code without Effect and close() stops it", () =>
    Effect.gen(function*() {
      const started = yield* Effect.promise(() => EventStoreServer.start({ port: 0 }))
      assert.strictEqual(started.host, "127.0.0.1")
      const client = yield* connect(started.port)
      const written = yield* append(client, streamName(), -1n, [newEvent()])
      assert.strictEqual(written.result, Messages.OperationResult.Success)
      assert.strictEqual(started.connections(), 1)
      yield* Effect.promise(() => started.close())
      yield* client.closed()
    }))

  it.live("start() rejects with a ServerError when the port is taken", () =>
    Effect.gen(function*() {
      const first = yield* Effect.promise(() => EventStoreServer.start({ port: 0 }))
      const error = yield* Effect.promise(() =>
        EventStoreServer.start({ port: first.port }).then(
          () => undefined,
          (error: unknown) => error
        )
      )
      yield* Effect.promise(() => first.close())
      assert.instanceOf(error, Error)
      assert.instanceOf(error, ServerError.ServerError)
      assert.include((error as Error).message, `127.0.0.1:${first.port}`)
    }))

  it.live("the layer fails with a ServerError when the port is taken", () =>
    Effect.gen(function*() {
      const first = yield* EventStoreServer.make({ port: 0 })
      const error = yield* Effect.flip(Effect.scoped(EventStoreServer.make({ port: first.port })))
      assert.strictEqual(error.port, first.port)
      assert.strictEqual(error.host, "127.0.0.1")
    }))
})

const Roomy = EventStoreServer.layer({ port: 0, maxSendQueueBytes: 64 * 1024 * 1024 })

layer(Roomy, { excludeTestServices: true })("Replies the socket has not sent yet", (it) => {
  it.effect("stay intact while the client reads nothing, and after", () =>
    Effect.gen(function*() {
      const server = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(server.port)
      const stream = streamName("unsent")
      const events = 32
      const size = 32 * 1024
      // Every event's data is one byte value, its own: a reply overwritten by a later one shows.
      const written = yield* append(
        client,
        stream,
        -1n,
        Array.from({ length: events }, (_, i) => ({
          eventId: eventId(),
          eventType: "blob",
          dataContentType: 0,
          metadataContentType: 0,
          data: new Uint8Array(size).fill(i + 1)
        }))
      )
      assert.strictEqual(written.result, Messages.OperationResult.Success)
      client.socket.pause()
      // 16 MiB of replies, each read in a batch of its own: the first ones the kernel takes at once,
      // the later ones wait in the server's socket.
      const expected = new Map<string, number>()
      for (let i = 0; i < 512; i++) {
        const eventNumber = i % events
        const correlationId = client.sendMessage(C.ReadEvent, Messages.ReadEventSchema, {
          eventStreamId: stream,
          eventNumber: BigInt(eventNumber),
          resolveLinkTos: false,
          requireLeader: false
        })
        expected.set(correlationId, eventNumber)
        yield* yieldToIo
      }
      client.socket.resume()
      yield* eventually(() => client.inbox.length >= expected.size, 30_000)
      for (const pkg of client.inbox) {
        assert.strictEqual(pkg.command, C.ReadEventCompleted)
        const eventNumber = expected.get(pkg.correlationId)!
        const reply = Result.getOrThrow(Messages.decode(Messages.ReadEventCompletedSchema, pkg.payload))
        const data = reply.event!.event!.data
        assert.strictEqual(data.length, size)
        assert.isTrue(data.every((byte) => byte === eventNumber + 1), `the reply to a read of event ${eventNumber}`)
      }
    }))
})
