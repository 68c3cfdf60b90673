/**
 * Conformance of $all reads, checked by node-eventstore-client: both directions, strictly ordered
 * positions, paging with the next position, reads from a write's own position (protocol.md sections
 * 4.3 and 4.5), and the default ACL of $all: admins only, AccessDenied for anonymous and other users,
 * NotAuthenticated for wrong credentials (sections 4.13 and 8).
 */
import { randomUUID } from "node:crypto"
import { describe, it, assert } from "vitest"
import {
  admin,
  comparePositions,
  conformanceServer,
  type Connection,
  EventStore,
  jsonEvent,
  jsonEvents,
  num,
  positionOf,
  rejection,
  reversed,
  streamName
} from "./Harness.ts"

const { expectedVersion, positions } = EventStore

const alice = new EventStore.UserCredentials("alice", "alice-password")
const carol = new EventStore.UserCredentials("carol", "carol-password")

const es = conformanceServer({
  users: [
    { login: "alice", password: "alice-password", groups: [] },
    { login: "carol", password: "carol-password", groups: ["$admins"] }
  ]
})

/** Every event in $all, paged in `direction` with pages of `pageSize`, as admin. */
const everything = async (connection: Connection, direction: "forward" | "backward", pageSize: number) => {
  const events: Array<EventStore.ResolvedEvent> = []
  let position = direction === "forward" ? positions.start : positions.end
  for (;;) {
    const slice = direction === "forward"
      ? await connection.readAllEventsForward(position, pageSize, false, admin)
      : await connection.readAllEventsBackward(position, pageSize, false, admin)
    events.push(...slice.events)
    if (slice.isEndOfStream) return events
    position = slice.nextPosition
  }
}

const idOf = (event: EventStore.ResolvedEvent) => event.originalEvent!.eventId

describe("$all forward (protocol.md 4.5)", () => {
  it("visits every event once, in strictly increasing positions, with writes in their order", async () => {
    const first = streamName("all-a")
    const second = streamName("all-b")
    const written: Array<string> = []
    for (const stream of [first, second, first, second, first]) {
      const events = jsonEvents(2)
      await es.connection.appendToStream(stream, expectedVersion.any, events)
      written.push(...events.map((e) => e.eventId))
    }
    const events = await everything(es.connection, "forward", 3)
    for (let i = 1; i < events.length; i++) {
      assert.isBelow(comparePositions(events[i - 1]!.originalPosition!, events[i]!.originalPosition!), 0, `at ${i}`)
    }
    const ids = events.map(idOf)
    assert.strictEqual(new Set(ids).size, ids.length, "no event is read twice")
    assert.deepStrictEqual(
      events.filter((e) => e.originalStreamId === first || e.originalStreamId === second).map(idOf),
      written
    )
  })

  it("echoes the requested position and gives a next position after the last event returned", async () => {
    const stream = streamName("all-next")
    await es.connection.appendToStream(stream, expectedVersion.any, jsonEvents(4))
    const slice = await es.connection.readAllEventsForward(positions.start, 2, false, admin)
    assert.deepStrictEqual(positionOf(slice.fromPosition), { commit: 0, prepare: 0 })
    assert.strictEqual(slice.events.length, 2)
    assert.isAbove(comparePositions(slice.nextPosition, slice.events[1]!.originalPosition!), 0)
    const next = await es.connection.readAllEventsForward(slice.nextPosition, 1, false, admin)
    assert.deepStrictEqual(positionOf(next.fromPosition), positionOf(slice.nextPosition))
    assert.isAbove(comparePositions(next.events[0]!.originalPosition!, slice.events[1]!.originalPosition!), 0)
  })

  it("reading forward from a write's position starts with that write's last event", async () => {
    const stream = streamName("all-from-write")
    const events = jsonEvents(2)
    const result = await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    await es.connection.appendToStream(stream, expectedVersion.any, jsonEvent("After"))
    const slice = await es.connection.readAllEventsForward(result.logPosition, 2, false, admin)
    assert.strictEqual(idOf(slice.events[0]!), events[1]!.eventId)
    assert.deepStrictEqual(positionOf(slice.events[0]!.originalPosition), positionOf(result.logPosition))
    assert.strictEqual(slice.events[1]!.originalEvent!.eventType, "After")
  })

  it("carries each event's stream, number, type and data", async () => {
    const stream = streamName("all-records")
    const event = EventStore.createJsonEventData(randomUUID(), { pony: true }, null, "Carried")
    const result = await es.connection.appendToStream(stream, expectedVersion.noStream, event)
    const slice = await es.connection.readAllEventsForward(result.logPosition, 1, false, admin)
    const record = slice.events[0]!.event!
    assert.strictEqual(record.eventStreamId, stream)
    assert.strictEqual(num(record.eventNumber), 0)
    assert.strictEqual(record.eventId, event.eventId)
    assert.strictEqual(record.eventType, "Carried")
    assert.isTrue(record.isJson)
    assert.deepStrictEqual(JSON.parse(record.data!.toString("utf8")), { pony: true })
  })

  it("reading forward from the end returns no events", async () => {
    await es.connection.appendToStream(streamName("all-end"), expectedVersion.any, jsonEvent("E"))
    const slice = await es.connection.readAllEventsForward(positions.end, 10, false, admin)
    assert.deepStrictEqual(slice.events, [])
    assert.isTrue(slice.isEndOfStream)
  })
})

describe("$all backward (protocol.md 4.5)", () => {
  it("starts at the newest event and goes down in strictly decreasing positions", async () => {
    const stream = streamName("all-backward")
    const events = jsonEvents(3)
    await es.connection.appendToStream(stream, expectedVersion.noStream, events)
    const slice = await es.connection.readAllEventsBackward(positions.end, 3, false, admin)
    assert.deepStrictEqual(slice.events.map(idOf), reversed(events.map((e) => e.eventId)))
    for (let i = 1; i < slice.events.length; i++) {
      assert.isAbove(comparePositions(slice.events[i - 1]!.originalPosition!, slice.events[i]!.originalPosition!), 0)
    }
  })

  it("paging backward visits the same events as paging forward, in reverse", async () => {
    await es.connection.appendToStream(streamName("all-both-ways"), expectedVersion.any, jsonEvents(7))
    const forward = await everything(es.connection, "forward", 4)
    const backward = await everything(es.connection, "backward", 4)
    assert.deepStrictEqual(backward.map(idOf), reversed(forward.map(idOf)))
    assert.deepStrictEqual(
      backward.map((e) => positionOf(e.originalPosition)),
      reversed(forward.map((e) => positionOf(e.originalPosition)))
    )
  })

  it("reading backward from an event's position starts with the event before it", async () => {
    const stream = streamName("all-backward-from")
    const before = jsonEvent("Before")
    await es.connection.appendToStream(stream, expectedVersion.noStream, before)
    const result = await es.connection.appendToStream(stream, 0, jsonEvent("At"))
    const slice = await es.connection.readAllEventsBackward(result.logPosition, 1, false, admin)
    assert.strictEqual(idOf(slice.events[0]!), before.eventId)
  })
})

describe("$all access control (protocol.md 4.5, 4.13, 8)", () => {
  it("is denied to anonymous users, in both directions", async () => {
    await es.connection.appendToStream(streamName("all-acl"), expectedVersion.any, jsonEvent("E"))
    const forward = await rejection(es.connection.readAllEventsForward(positions.start, 10))
    assert.instanceOf(forward, EventStore.AccessDeniedError)
    const backward = await rejection(es.connection.readAllEventsBackward(positions.end, 10))
    assert.instanceOf(backward, EventStore.AccessDeniedError)
  })

  it("is denied to a user who is not an admin", async () => {
    const error = await rejection(es.connection.readAllEventsForward(positions.start, 10, false, alice))
    assert.instanceOf(error, EventStore.AccessDeniedError)
  })

  it("is allowed to a user in the $admins group", async () => {
    await es.connection.appendToStream(streamName("all-carol"), expectedVersion.any, jsonEvent("E"))
    const slice = await es.connection.readAllEventsForward(positions.start, 10, false, carol)
    assert.isAbove(slice.events.length, 0)
  })

  it("is allowed to a connection whose default credentials are an admin's", async () => {
    const connection = await es.connect({ defaultUserCredentials: admin })
    const slice = await connection.readAllEventsBackward(positions.end, 1)
    assert.strictEqual(slice.events.length, 1)
  })

  it("answers wrong credentials with NotAuthenticated", async () => {
    const wrong = new EventStore.UserCredentials("admin", "not-the-password")
    const error = await rejection(es.connection.readAllEventsForward(positions.start, 10, false, wrong))
    assert.strictEqual(error.message, "Authentication error: Not Authenticated")
  })
})
