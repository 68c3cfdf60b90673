/**
 * Conformance of access control and authentication, checked by node-eventstore-client: `$acl` in
 * stream metadata enforced per operation, admin-only system streams, AccessDenied versus
 * NotAuthenticated, connection default credentials, and a server that denies anonymous stream access
 * (protocol.md sections 4.7, 4.13 and 8).
 */
import { describe, it, assert } from "vitest"
import {
  admin,
  conformanceServer,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  ops,
  rejection,
  streamName
} from "./Harness.ts"
import { Command, RawConnection } from "./RawConnection.ts"

const { expectedVersion } = EventStore

const alice = new EventStore.UserCredentials("alice", "alice-password")
const bob = new EventStore.UserCredentials("bob", "bob-password")
const users = [
  { login: "alice", password: "alice-password", groups: [] },
  { login: "bob", password: "bob-password", groups: [] }
]

const es = conformanceServer({ users })

const accessDenied = async (promise: Promise<unknown>) => {
  const error = await rejection(promise)
  assert.instanceOf(error, EventStore.AccessDeniedError)
}

const notAuthenticated = async (promise: Promise<unknown>) => {
  const error = await rejection(promise)
  assert.strictEqual(error.message, "Authentication error: Not Authenticated")
}

/** A stream of two events whose metadata holds `acl`, set by admin. */
const streamWithAcl = async (prefix: string, acl: Record<string, string | Array<string>>) => {
  const stream = streamName(prefix)
  await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(2), admin)
  await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $acl: acl }, admin)
  return stream
}

describe("$acl enforcement (protocol.md 4.7, 4.13)", () => {
  it("$r limits reads to the roles named; others get AccessDenied, admins may always read", async () => {
    const stream = await streamWithAcl("acl-read", { $r: "alice" })
    await accessDenied(es.connection.readStreamEventsForward(stream, 0, 10, false, bob))
    await accessDenied(es.connection.readStreamEventsBackward(stream, -1, 10, false, bob))
    await accessDenied(es.connection.readEvent(stream, 0, false, bob))
    await accessDenied(es.connection.readStreamEventsForward(stream, 0, 10))
    await accessDenied(es.connection.readEvent(stream, -1))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10, false, alice)).events.length, 2)
    assert.strictEqual((await es.connection.readEvent(stream, 1, false, alice)).status, "success")
    assert.strictEqual((await es.connection.readStreamEventsBackward(stream, -1, 10, false, admin)).events.length, 2)
  })

  it("$w limits writes to the roles named", async () => {
    const stream = await streamWithAcl("acl-write", { $w: "alice" })
    await accessDenied(es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("ByBob"), bob))
    await accessDenied(es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("ByAnonymous")))
    const byAlice = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("ByAlice"), alice)
    assert.strictEqual(num(byAlice.nextExpectedVersion), 2)
    const byAdmin = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("ByAdmin"), admin)
    assert.strictEqual(num(byAdmin.nextExpectedVersion), 3)
    const slice = await es.connection.readStreamEventsForward(stream, 0, 10, false, admin)
    assert.deepStrictEqual(slice.events.map((e) => e.event!.eventType), ["Event-0", "Event-1", "ByAlice", "ByAdmin"])
  })

  it("$d limits deletes to the roles named", async () => {
    const stream = await streamWithAcl("acl-delete", { $d: "alice" })
    await accessDenied(es.connection.deleteStream(stream, expectedVersion.any, false, bob))
    await accessDenied(es.connection.deleteStream(stream, expectedVersion.any, true))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10, false, admin)).status, "success")
    await es.connection.deleteStream(stream, expectedVersion.any, false, alice)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10, false, admin)).status, "streamNotFound")
  })

  it("$mr and $mw limit metadata reads and writes to the roles named", async () => {
    const stream = await streamWithAcl("acl-metadata", { $mr: "alice", $mw: "alice" })
    await accessDenied(es.connection.getStreamMetadataRaw(stream, bob))
    await accessDenied(es.connection.setStreamMetadataRaw(stream, expectedVersion.any, { $acl: {} }, bob))
    await accessDenied(es.connection.getStreamMetadataRaw(stream))
    const read = await es.connection.getStreamMetadataRaw(stream, alice)
    assert.deepStrictEqual(read.streamMetadata, { $acl: { $mr: "alice", $mw: "alice" } })
    const written = await es.connection.setStreamMetadataRaw(
      stream,
      0,
      { $acl: { $mr: "alice", $mw: "alice" }, custom: 1 },
      alice
    )
    assert.strictEqual(num(written.nextExpectedVersion), 1)
  })

  it("a role list allows every role in it, and nobody else", async () => {
    const stream = await streamWithAcl("acl-list", { $r: ["alice", "bob"] })
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10, false, alice)).events.length, 2)
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10, false, bob)).events.length, 2)
    await accessDenied(es.connection.readStreamEventsForward(stream, 0, 10, false, ops))
    await accessDenied(es.connection.readStreamEventsForward(stream, 0, 10))
  })

  it("a group role allows the group's members", async () => {
    const stream = await streamWithAcl("acl-group", { $r: "$ops" })
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10, false, ops)).events.length, 2)
    await accessDenied(es.connection.readStreamEventsForward(stream, 0, 10, false, alice))
  })

  it("the $all role allows everyone, anonymous included", async () => {
    const stream = await streamWithAcl("acl-everyone", { $r: "$all", $w: "$all" })
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).events.length, 2)
    const result = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("ByAnonymous"))
    assert.strictEqual(num(result.nextExpectedVersion), 2)
  })

  it("a connection's default credentials are the user its requests run as", async () => {
    const stream = await streamWithAcl("acl-default-user", { $r: "alice" })
    const asAlice = await es.connect({ defaultUserCredentials: alice })
    const asBob = await es.connect({ defaultUserCredentials: bob })
    assert.strictEqual((await asAlice.readStreamEventsForward(stream, 0, 10)).events.length, 2)
    await accessDenied(asBob.readStreamEventsForward(stream, 0, 10))
    // Per-request credentials override the connection's.
    assert.strictEqual((await asBob.readStreamEventsForward(stream, 0, 10, false, alice)).events.length, 2)
  })
})

describe("system streams (protocol.md 4.1, 4.13)", () => {
  it("are admin-only by default, for writes and reads", async () => {
    const stream = `$${streamName("system")}`
    await accessDenied(es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E")))
    await accessDenied(es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E"), alice))
    const written = await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E"), admin)
    assert.strictEqual(num(written.nextExpectedVersion), 0)
    await accessDenied(es.connection.readStreamEventsForward(stream, 0, 10))
    await accessDenied(es.connection.readEvent(stream, 0, false, alice))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10, false, admin)).events.length, 1)
  })
})

describe("authentication (protocol.md 4.13, 8)", () => {
  it("wrong per-request credentials are answered NotAuthenticated, for writes and reads", async () => {
    const stream = streamName("wrong-password")
    const wrongPassword = new EventStore.UserCredentials("alice", "not-her-password")
    const unknownUser = new EventStore.UserCredentials("mallory", "whatever")
    for (const credentials of [wrongPassword, unknownUser]) {
      await notAuthenticated(es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E"), credentials))
      await notAuthenticated(es.connection.readStreamEventsForward(stream, 0, 10, false, credentials))
      await notAuthenticated(es.connection.readEvent(stream, 0, false, credentials))
    }
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
  })

  it("a connection whose default credentials are wrong gets NotAuthenticated for its requests", async () => {
    const connection = await es.connect({ defaultUserCredentials: new EventStore.UserCredentials("alice", "wrong") })
    const stream = streamName("wrong-default")
    await notAuthenticated(connection.appendToStream(stream, expectedVersion.any, jsonEvent("E")))
    await notAuthenticated(connection.readStreamEventsForward(stream, 0, 10))
    assert.strictEqual((await es.connection.readStreamEventsForward(stream, 0, 10)).status, "streamNotFound")
  })

  it("Authenticate answers Authenticated for valid credentials and NotAuthenticated otherwise", async () => {
    const raw = await RawConnection.open(es.server, { identify: false })
    try {
      const valid = await raw.request(Command.Authenticate, null, { username: "alice", password: "alice-password" })
      assert.strictEqual(valid.command, Command.Authenticated)
      const invalid = await raw.request(Command.Authenticate, null, { username: "alice", password: "nope" })
      assert.strictEqual(invalid.command, Command.NotAuthenticated)
      const none = await raw.request(Command.Authenticate, null)
      assert.strictEqual(none.command, Command.NotAuthenticated)
    } finally {
      await raw.close()
    }
  })
})

describe("a server that denies anonymous stream access (protocol.md 4.13, 23.10 default)", () => {
  const closed = conformanceServer({ users, allowAnonymousStreamAccess: false })

  it("denies anonymous reads and writes of user streams, and allows authenticated users", async () => {
    const stream = streamName("closed")
    await accessDenied(closed.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E")))
    const written = await closed.connection.appendToStream(stream, expectedVersion.any, jsonEvent("E"), alice)
    assert.strictEqual(num(written.nextExpectedVersion), 0)
    await accessDenied(closed.connection.readStreamEventsForward(stream, 0, 10))
    await accessDenied(closed.connection.readEvent(stream, 0))
    assert.strictEqual((await closed.connection.readStreamEventsForward(stream, 0, 10, false, bob)).events.length, 1)
  })
})
