/**
 * Conformance of the server's handling of malformed input on a raw socket (protocol.md section 1.7),
 * plus the liveness commands (Ping, heartbeats; sections 1.5 and 6.1): framing errors get a BadRequest
 * with the all-zero correlation id and the connection is closed; a bad package gets a BadRequest with
 * its own correlation id and the connection stays usable; other connections never notice.
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import { conformanceServer, EventStore, jsonEvent, num, streamName } from "./Harness.ts"
import {
  Command,
  emptyCorrelationId,
  encodeRequest,
  RawConnection,
  rawEvent
} from "./RawConnection.ts"

const { expectedVersion } = EventStore

const es = conformanceServer()

/** A length prefix followed by `body`, the prefix being `length` (which may lie). */
const frameWithLength = (length: number, body: Uint8Array = new Uint8Array(0)): Buffer => {
  const prefix = Buffer.alloc(4)
  prefix.writeInt32LE(length, 0)
  return Buffer.concat([prefix, body])
}

/** Writes an event through node-eventstore-client's connection, to show that other connections still work. */
const writeThroughAnotherConnection = async (): Promise<number> =>
  num((await es.connection.appendToStream(streamName("unaffected"), expectedVersion.any, jsonEvent("E"))).nextExpectedVersion)

const writeEventsPayload = (stream: string, expected: number, events: ReadonlyArray<ReturnType<typeof rawEvent>>) =>
  encodeRequest("WriteEvents", { eventStreamId: stream, expectedVersion: expected, events, requireLeader: false })

describe("liveness commands (protocol.md 1.5, 6.1)", () => {
  it("Ping is answered by Pong with the same correlation id and payload", async () => {
    const raw = await RawConnection.open(es.server)
    try {
      const payload = Buffer.from([0, 1, 2, 3, 254, 255])
      const reply = await raw.request(Command.Ping, payload)
      assert.strictEqual(reply.command, Command.Pong)
      assert.deepStrictEqual([...reply.payload], [...payload])
      const empty = await raw.request(Command.Ping, null)
      assert.strictEqual(empty.command, Command.Pong)
      assert.strictEqual(empty.payload.length, 0)
    } finally {
      await raw.close()
    }
  })

  it("HeartbeatRequest is answered by HeartbeatResponse with the same correlation id", async () => {
    const raw = await RawConnection.open(es.server)
    try {
      const reply = await raw.request(Command.HeartbeatRequest, null)
      assert.strictEqual(reply.command, Command.HeartbeatResponse)
      assert.strictEqual(reply.payload.length, 0)
    } finally {
      await raw.close()
    }
  })

  it("IdentifyClient is answered by ClientIdentified with an empty payload", async () => {
    const raw = await RawConnection.open(es.server, { identify: false })
    try {
      const reply = await raw.request(
        Command.IdentifyClient,
        encodeRequest("IdentifyClient", { version: 1, connectionName: "conformance" })
      )
      assert.strictEqual(reply.command, Command.ClientIdentified)
      assert.strictEqual(reply.payload.length, 0)
    } finally {
      await raw.close()
    }
  })
})

const invalidWriteStream = streamName("invalid-write")

const badPackages: ReadonlyArray<readonly [string, number, Uint8Array]> = [
  ["an unknown command", Command.Unused, Buffer.from([1, 2, 3])],
  ["a WriteEvents payload that does not deserialize", Command.WriteEvents, Buffer.from([0xff, 0xff, 0xff, 0xff])],
  ["a ReadEvent payload that does not deserialize", Command.ReadEvent, Buffer.from([0x0a, 0x7f, 0x01])],
  [
    "a write with an empty stream id",
    Command.WriteEvents,
    writeEventsPayload("", expectedVersion.any, [rawEvent(randomUUID())])
  ],
  [
    "a write with expected version -3",
    Command.WriteEvents,
    writeEventsPayload(invalidWriteStream, -3, [rawEvent(randomUUID())])
  ],
  [
    "a write with expected version -5",
    Command.WriteEvents,
    writeEventsPayload(invalidWriteStream, -5, [rawEvent(randomUUID())])
  ],
  [
    "a write with an empty (all-zero) event id",
    Command.WriteEvents,
    writeEventsPayload(invalidWriteStream, expectedVersion.any, [rawEvent(emptyCorrelationId)])
  ],
  [
    "a write with an empty event type",
    Command.WriteEvents,
    writeEventsPayload(invalidWriteStream, expectedVersion.any, [rawEvent(randomUUID(), "")])
  ],
  [
    "a read of event number -2",
    Command.ReadEvent,
    encodeRequest("ReadEvent", {
      eventStreamId: streamName("invalid-read"),
      eventNumber: -2,
      resolveLinkTos: false,
      requireLeader: false
    })
  ]
]

describe("bad packages: BadRequest with the request's correlation id, connection kept (protocol.md 1.7)", () => {
  it.each(badPackages.map(([name, command, payload]) => ({ name, command, payload })))(
    "$name",
    async ({ command, payload }) => {
      const raw = await RawConnection.open(es.server)
      try {
        const reply = await raw.request(command, payload)
        assert.strictEqual(reply.command, Command.BadRequest)
        const pong = await raw.request(Command.Ping, Buffer.from("still-there"))
        assert.strictEqual(pong.command, Command.Pong, "the connection stays usable")
      } finally {
        await raw.close()
      }
    }
  )

  it("nothing is written by a rejected write", async () => {
    const slice = await es.connection.readStreamEventsForward(invalidWriteStream, 0, 10)
    assert.strictEqual(slice.status, "streamNotFound")
  })
})

const framingErrors: ReadonlyArray<readonly [string, Buffer]> = [
  ["a length prefix of 0", frameWithLength(0)],
  ["a negative length prefix", frameWithLength(-1)],
  ["a length prefix above 64 MiB", frameWithLength(64 * 1024 * 1024 + 1)],
  ["a package shorter than its 18-byte header", frameWithLength(5, Buffer.from([Command.Ping, 0, 1, 2, 3]))]
]

describe("framing errors: connection-wide BadRequest, then the connection is closed (protocol.md 1.7)", () => {
  it.each(framingErrors.map(([name, bytes]) => ({ name, bytes })))("$name", async ({ bytes }) => {
    const raw = await RawConnection.open(es.server)
    raw.writeBytes(bytes)
    const reply = await raw.nextUnmatched()
    assert.strictEqual(reply.command, Command.BadRequest)
    assert.strictEqual(reply.correlationId, emptyCorrelationId)
    await raw.closedByServer()
    assert.isTrue(raw.closed)
    assert.strictEqual(await writeThroughAnotherConnection(), 0)
  })

  it("a package with the TrustedWrite flag", async () => {
    const raw = await RawConnection.open(es.server)
    raw.send(
      Command.WriteEvents,
      randomUUID(),
      writeEventsPayload(streamName("trusted"), expectedVersion.any, [rawEvent(randomUUID())]),
      0x02
    )
    const reply = await raw.nextUnmatched()
    assert.strictEqual(reply.command, Command.BadRequest)
    await raw.closedByServer()
    assert.isTrue(raw.closed)
    assert.strictEqual(await writeThroughAnotherConnection(), 0)
  })
})
