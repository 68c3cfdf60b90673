/**
 * What the node does with bytes that are not what they should be (docs/protocol.md 1.7): framing
 * errors get a BadRequest with the zero correlation id and a closed connection; a package it cannot
 * unwrap gets a BadRequest with the request's correlation id and the connection stays open.
 */
import { create } from "@bufbuild/protobuf"
import { assert, layer } from "@effect/vitest"
import { Guid, Messages, Package } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { append, C, connect, eventId, newEvent, readForward, type RawClient, streamName, text } from "./RawClient.ts"

const prefix = (length: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setInt32(0, length, true)
  return bytes
}

const frame = (body: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(4 + body.length)
  bytes.set(prefix(body.length), 0)
  bytes.set(body, 4)
  return bytes
}

/** A package body built by hand: command, flags, correlation id and whatever follows. */
const body = (command: number, flags: number, correlationId: string, rest: ReadonlyArray<number> = []) => {
  const bytes = new Uint8Array(18 + rest.length)
  bytes[0] = command
  bytes[1] = flags
  Guid.writeUnsafe(correlationId, bytes, 2)
  bytes.set(rest, 18)
  return bytes
}

/** Expects a BadRequest with the zero correlation id, then the connection closing. */
const closedWithBadRequest = (client: RawClient, startsWith: string) =>
  Effect.gen(function*() {
    const reply = yield* client.take((pkg) => pkg.command === C.BadRequest)
    assert.strictEqual(reply.correlationId, Guid.empty)
    assert.isTrue(text(reply.payload).startsWith(startsWith), text(reply.payload))
    yield* client.closed()
  })

/** Expects the connection to still serve requests. */
const stillServes = (client: RawClient) =>
  Effect.gen(function*() {
    const pong = yield* client.reply(client.send(C.Ping, new Uint8Array([7])))
    assert.strictEqual(pong.command, C.Pong)
    assert.isFalse(client.isClosed)
  })

const Server = EventStoreServer.layer({ port: 0, maxFrameLength: 1024 * 1024 })

layer(Server, { excludeTestServices: true })("Malformed input", (it) => {
  for (const [name, length] of [["zero", 0], ["negative", -5], ["over the maximum", 1024 * 1024 + 1]] as const) {
    it.effect(`closes the connection after a ${name} length prefix, with BadRequest and the zero id`, () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        client.sendBytes(prefix(length))
        yield* closedWithBadRequest(client, "Invalid TCP frame received.")
      }))
  }

  it.effect("closes the connection at an oversize prefix without waiting for its body", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      // 0x7fffffff bytes are announced; nothing more is sent.
      client.sendBytes(new Uint8Array([0xff, 0xff, 0xff, 0x7f]))
      yield* closedWithBadRequest(client, "Invalid TCP frame received.")
    }))

  it.effect("serves the packages before a bad length prefix in the same chunk, then sends BadRequest and closes", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const stream = streamName()
      const writeId = Guid.random()
      const pingId = Guid.random()
      const write = Result.getOrThrow(Package.encodeFrame({
        command: C.WriteEvents,
        correlationId: writeId,
        payload: Result.getOrThrow(Messages.encode(
          Messages.WriteEventsSchema,
          create(Messages.WriteEventsSchema, {
            eventStreamId: stream,
            expectedVersion: -2n,
            events: [newEvent("t", { before: "the bad prefix" })],
            requireLeader: true
          })
        ))
      }))
      const ping = Result.getOrThrow(Package.encodeFrame({ command: C.Ping, correlationId: pingId }))
      // One chunk: two good frames, then a zero length prefix and some bytes after it.
      const chunk = new Uint8Array(write.length + ping.length + 8)
      chunk.set(write, 0)
      chunk.set(ping, write.length)
      chunk.set(prefix(0), write.length + ping.length)
      chunk.set([1, 2, 3, 4], write.length + ping.length + 4)
      client.sendBytes(chunk)
      yield* client.closed()
      // Every reply arrived before the close, in order: the two replies, then the BadRequest.
      assert.deepStrictEqual(
        client.inbox.map((pkg) => [pkg.command, pkg.correlationId]),
        [[C.WriteEventsCompleted, writeId], [C.Pong, pingId], [C.BadRequest, Guid.empty]]
      )
      const written = Result.getOrThrow(Messages.decode(Messages.WriteEventsCompletedSchema, client.inbox[0]!.payload))
      assert.strictEqual(written.result, Messages.OperationResult.Success)
      assert.isTrue(text(client.inbox[2]!.payload).startsWith("Invalid TCP frame received."))
      // The write happened.
      const other = yield* connect(port)
      const read = yield* readForward(other, stream, 0n, 10)
      assert.strictEqual(read.result, Messages.ReadStreamEventsCompleted_ReadStreamResult.Success)
      assert.strictEqual(read.events.length, 1)
    }))

  it.effect("closes the connection after a package shorter than its 18-byte header", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      client.sendBytes(frame(new Uint8Array([C.Ping, 0, 1, 2, 3])))
      yield* closedWithBadRequest(client, "Received bad network package.")
    }))

  it.effect("closes the connection after an auth block that runs past the package", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      client.sendBytes(frame(body(C.Ping, Package.Flags.Authenticated, Guid.random(), [5, 0x61, 0x64])))
      yield* closedWithBadRequest(client, "Received bad network package.")
    }))

  it.effect("refuses a TrustedWrite package with BadRequest carrying its id, and closes", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = Guid.random()
      client.sendBytes(frame(body(C.Ping, Package.Flags.TrustedWrite, id)))
      const reply = yield* client.reply(id)
      assert.strictEqual(reply.command, C.BadRequest)
      assert.strictEqual(text(reply.payload), "Trusted writes aren't accepted over the external TCP interface")
      yield* client.closed()
    }))

  for (const [name, command] of [["an unknown command", 0x99], ["a replication command", 0x17], ["a reply command", C.WriteEventsCompleted]] as const) {
    it.effect(`answers ${name} with BadRequest carrying its id, and keeps the connection`, () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const id = client.send(command, new Uint8Array([1, 2, 3]))
        const reply = yield* client.reply(id)
        assert.strictEqual(reply.command, C.BadRequest)
        assert.isTrue(text(reply.payload).startsWith("Could not unwrap network package for command"))
        yield* stillServes(client)
      }))
  }

  for (
    const [name, command] of [
      ["WriteEvents", C.WriteEvents],
      ["ReadEvent", C.ReadEvent],
      ["ReadStreamEventsForward", C.ReadStreamEventsForward],
      ["ReadAllEventsBackward", C.ReadAllEventsBackward],
      ["DeleteStream", C.DeleteStream],
      ["TransactionStart", C.TransactionStart]
    ] as const
  ) {
    it.effect(`answers a ${name} payload that is not protobuf with BadRequest, and keeps the connection`, () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        // Field 1 as a length-delimited value that runs past the end of the payload.
        const id = client.send(command, new Uint8Array([0x0a, 0x7f, 0x01]))
        const reply = yield* client.reply(id)
        assert.strictEqual(reply.command, C.BadRequest)
        assert.isTrue(text(reply.payload).startsWith(`Could not unwrap network package for command ${name}.\n`))
        yield* stillServes(client)
      }))
  }

  for (
    const [name, id] of [
      ["an empty (all-zero) event id", new Uint8Array(16)],
      ["an event id that is not a GUID (3 bytes)", new Uint8Array([1, 2, 3])],
      ["an event id of 17 bytes", new Uint8Array(17).fill(9)]
    ] as const
  ) {
    it.effect(`answers a write with ${name} with BadRequest, writing nothing`, () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const stream = streamName()
        const correlationId = client.sendMessage(C.WriteEvents, Messages.WriteEventsSchema, {
          eventStreamId: stream,
          expectedVersion: -2n,
          events: [newEvent("t", {}, eventId()), newEvent("t", {}, id)],
          requireLeader: true
        })
        const reply = yield* client.reply(correlationId)
        assert.strictEqual(reply.command, C.BadRequest)
        const read = yield* readForward(client, stream, 0n, 10)
        assert.strictEqual(read.result, Messages.ReadStreamEventsCompleted_ReadStreamResult.NoStream)
      }))
  }

  it.effect("answers a wrong password with NotAuthenticated and keeps the connection", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      // A leading U+FEFF is part of the password, not a byte order mark to drop.
      for (const password of ["letmein", "\uFEFFchangeit"]) {
        const id = client.send(C.Ping, undefined, { credentials: { login: "admin", password } })
        const reply = yield* client.reply(id)
        assert.strictEqual(reply.command, C.NotAuthenticated)
        assert.strictEqual(text(reply.payload), "Not Authenticated")
      }
      yield* stillServes(client)
    }))

  it.effect("reassembles packages sent one byte at a time", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const id = Guid.random()
      const bytes = Result.getOrThrow(Package.encodeFrame({ command: C.Ping, correlationId: id, payload: new Uint8Array([42]) }))
      for (const byte of bytes) {
        client.sendBytes(new Uint8Array([byte]))
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      }
      const pong = yield* client.reply(id)
      assert.deepStrictEqual([...pong.payload], [42])
    }))

  it.effect("serves every package of a chunk that holds many", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const client = yield* connect(port)
      const ids = Array.from({ length: 20 }, () => Guid.random())
      const frames = ids.map((correlationId) =>
        Result.getOrThrow(Package.encodeFrame({ command: C.Ping, correlationId }))
      )
      const chunk = new Uint8Array(frames.reduce((n, f) => n + f.length, 0))
      let offset = 0
      for (const f of frames) {
        chunk.set(f, offset)
        offset += f.length
      }
      client.sendBytes(chunk)
      for (const id of ids) assert.strictEqual((yield* client.reply(id)).command, C.Pong)
    }))

  it.effect("keeps serving other connections when one is closed for a framing error", () =>
    Effect.gen(function*() {
      const { port } = yield* EventStoreServer.EventStoreServer
      const good = yield* connect(port)
      const bad = yield* connect(port)
      bad.sendBytes(prefix(0))
      yield* bad.closed()
      const written = yield* append(good, streamName(), -1n, [newEvent()])
      assert.strictEqual(written.result, Messages.OperationResult.Success)
    }))
})
