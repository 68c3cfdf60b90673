/**
 * The connection as a client sees it on the wire: handshake, authentication, ping and heartbeats,
 * checked with raw frames.
 */
import { assert, layer } from "@effect/vitest"
import { Guid, Messages, Package } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import { admin, append, C, connect, newEvent, readForward, streamName, text } from "./RawClient.ts"

const Server = EventStoreServer.layer({ port: 0, users: [{ login: "alice", password: "wonderland", groups: [] }] })

layer(Server, { excludeTestServices: true })("Session", (it) => {
  it.effect("answers IdentifyClient with ClientIdentified and an empty payload", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = client.sendMessage(C.IdentifyClient, Messages.IdentifyClientSchema, {
        version: 1,
        connectionName: "ES-test"
      })
      const reply = yield* client.reply(id)
      assert.strictEqual(reply.command, C.ClientIdentified)
      assert.strictEqual(reply.payload.length, 0)
      assert.strictEqual(reply.flags, Package.Flags.None)
    }))

  it.effect("sends no reply to an IdentifyClient it cannot read, and keeps the connection", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const bad = client.send(C.IdentifyClient, new Uint8Array([0x08]))
      const ping = client.send(C.Ping, new Uint8Array([1, 2, 3]))
      const pong = yield* client.reply(ping)
      assert.strictEqual(pong.command, C.Pong)
      assert.isFalse(client.inbox.some((pkg) => pkg.correlationId === bad))
    }))

  it.effect("echoes a Ping's payload and correlation id in its Pong", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const payload = new Uint8Array([0, 1, 2, 250, 255])
      const id = client.send(C.Ping, payload)
      const pong = yield* client.reply(id)
      assert.strictEqual(pong.command, C.Pong)
      assert.deepStrictEqual([...pong.payload], [...payload])
    }))

  it.effect("answers a HeartbeatRequest with a HeartbeatResponse of the same id", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = client.send(C.HeartbeatRequest)
      const reply = yield* client.reply(id)
      assert.strictEqual(reply.command, C.HeartbeatResponse)
      assert.strictEqual(reply.payload.length, 0)
    }))

  it.effect("ignores HeartbeatResponses", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const response = client.send(C.HeartbeatResponse)
      const ping = client.send(C.Ping)
      yield* client.reply(ping)
      assert.isFalse(client.inbox.some((pkg) => pkg.correlationId === response))
    }))

  it.effect("authenticates good credentials and refuses bad ones", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const good = yield* client.reply(client.send(C.Authenticate, undefined, { credentials: admin }))
      assert.strictEqual(good.command, C.Authenticated)
      assert.strictEqual(good.payload.length, 0)
      const extra = yield* client.reply(
        client.send(C.Authenticate, undefined, { credentials: { login: "alice", password: "wonderland" } })
      )
      assert.strictEqual(extra.command, C.Authenticated)
      const ops = yield* client.reply(
        client.send(C.Authenticate, undefined, { credentials: { login: "ops", password: "changeit" } })
      )
      assert.strictEqual(ops.command, C.Authenticated)
      const bad = yield* client.reply(
        client.send(C.Authenticate, undefined, { credentials: { login: "admin", password: "wrong" } })
      )
      assert.strictEqual(bad.command, C.NotAuthenticated)
      assert.strictEqual(text(bad.payload), "Unauthorized")
    }))

  it.effect("answers Authenticate without credentials with NotAuthenticated", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const reply = yield* client.reply(client.send(C.Authenticate))
      assert.strictEqual(reply.command, C.NotAuthenticated)
      assert.strictEqual(text(reply.payload), "No user credentials provided.")
    }))

  it.effect("refuses a request whose own credentials are wrong, and serves the next one", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const id = client.sendMessage(
        C.WriteEvents,
        Messages.WriteEventsSchema,
        { eventStreamId: stream, expectedVersion: -2n, events: [newEvent()], requireLeader: true },
        { credentials: { login: "admin", password: "nope" } }
      )
      const refused = yield* client.reply(id)
      assert.strictEqual(refused.command, C.NotAuthenticated)
      assert.strictEqual(text(refused.payload), "Not Authenticated")
      const written = yield* append(client, stream, -2n, [newEvent()], { credentials: admin })
      assert.strictEqual(written.result, Messages.OperationResult.Success)
      assert.strictEqual(written.firstEventNumber, 0n)
    }))

  it.effect("refuses even a Ping that carries wrong credentials", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const reply = yield* client.reply(client.send(C.Ping, undefined, { credentials: { login: "x", password: "y" } }))
      assert.strictEqual(reply.command, C.NotAuthenticated)
    }))

  it.effect("uses the credentials of a successful Authenticate for later packages", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = "$system-" + Guid.random()
      const anonymous = yield* append(client, stream, -2n, [newEvent()])
      assert.strictEqual(anonymous.result, Messages.OperationResult.AccessDenied)
      yield* client.reply(client.send(C.Authenticate, undefined, { credentials: admin }))
      const authenticated = yield* append(client, stream, -2n, [newEvent()])
      assert.strictEqual(authenticated.result, Messages.OperationResult.Success)
    }))

  it.effect("answers every later package with NotAuthenticated after a failed Authenticate", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      yield* client.reply(client.send(C.Authenticate, undefined, { credentials: { login: "admin", password: "x" } }))
      const reply = yield* client.reply(client.send(C.Ping))
      assert.strictEqual(reply.command, C.NotAuthenticated)
      assert.strictEqual(text(reply.payload), "Not Authenticated")
      // A package with its own good credentials still goes through.
      const own = yield* client.reply(client.send(C.Ping, undefined, { credentials: admin }))
      assert.strictEqual(own.command, C.Pong)
      // Heartbeats are not subject to credentials.
      const heartbeat = yield* client.reply(client.send(C.HeartbeatRequest))
      assert.strictEqual(heartbeat.command, C.HeartbeatResponse)
    }))

  it.effect("refuses bearer tokens, which need a plugin this node does not have", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const token = new TextEncoder().encode("header.payload.signature")
      const id = Guid.random()
      const body = new Uint8Array(18 + 2 + token.length)
      body[0] = C.Ping
      body[1] = Package.Flags.Authenticated
      Guid.writeUnsafe(id, body, 2)
      new DataView(body.buffer).setInt16(18, -token.length, true)
      body.set(token, 20)
      const frame = new Uint8Array(4 + body.length)
      new DataView(frame.buffer).setInt32(0, body.length, true)
      frame.set(body, 4)
      client.sendBytes(frame)
      const reply = yield* client.reply(id)
      assert.strictEqual(reply.command, C.NotAuthenticated)
    }))

  it.effect("serves many requests sent in one chunk, replying to each by correlation id", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const ids: Array<string> = []
      client.socket.cork()
      for (let i = 0; i < 50; i++) {
        ids.push(
          client.sendMessage(C.WriteEvents, Messages.WriteEventsSchema, {
            eventStreamId: stream,
            expectedVersion: BigInt(i - 1),
            events: [newEvent()],
            requireLeader: true
          })
        )
      }
      client.socket.uncork()
      for (let i = 0; i < ids.length; i++) {
        const reply = yield* client.reply(ids[i]!)
        assert.strictEqual(reply.command, C.WriteEventsCompleted)
      }
      const read = yield* readForward(client, stream, 0n, 100)
      assert.strictEqual(read.events.length, 50)
    }))
})
