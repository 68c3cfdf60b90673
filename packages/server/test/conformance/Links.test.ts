/**
 * Conformance of link events (`$>`) and `resolveLinkTos`, checked by node-eventstore-client
 * (protocol.md section 4.8): resolved links carry the target as `event` and the link as `link`;
 * links whose target is gone carry only the link; without resolution the link is the event; in
 * $all the position is the link's.
 */
import { randomUUID } from "node:crypto"
import { beforeAll, describe, it, assert } from "vitest"
import {
  admin,
  conformanceServer,
  EventStore,
  jsonEvents,
  num,
  positionOf,
  streamName
} from "./Harness.ts"

const { expectedVersion } = EventStore

const es = conformanceServer()

/** A link event pointing at event `number` of `stream`. */
const linkTo = (number: number, stream: string) =>
  EventStore.createEventData(randomUUID(), "$>", false, Buffer.from(`${number}@${stream}`))

const target = streamName("target")
const targetEvents = jsonEvents(3, "Target")

beforeAll(async () => {
  await es.connection.appendToStream(target, expectedVersion.noStream, targetEvents)
})

describe("links (protocol.md 4.8)", () => {
  it("with resolveLinkTos, ReadEvent gives the target as event and the link as link", async () => {
    const links = streamName("links")
    const link = linkTo(1, target)
    await es.connection.appendToStream(links, expectedVersion.noStream, link)
    const result = await es.connection.readEvent(links, 0, true)
    assert.strictEqual(result.status, "success")
    const resolved = result.event!
    assert.isTrue(resolved.isResolved)
    assert.strictEqual(resolved.event!.eventStreamId, target)
    assert.strictEqual(num(resolved.event!.eventNumber), 1)
    assert.strictEqual(resolved.event!.eventId, targetEvents[1]!.eventId)
    assert.strictEqual(resolved.event!.eventType, "Target-1")
    assert.strictEqual(resolved.link!.eventStreamId, links)
    assert.strictEqual(num(resolved.link!.eventNumber), 0)
    assert.strictEqual(resolved.link!.eventId, link.eventId)
    assert.strictEqual(resolved.link!.eventType, "$>")
    assert.strictEqual(resolved.link!.data!.toString("utf8"), `1@${target}`)
    assert.strictEqual(resolved.originalStreamId, links)
    assert.strictEqual(num(resolved.originalEventNumber), 0)
  })

  it("without resolveLinkTos, the link itself is the event and there is no link", async () => {
    const links = streamName("links-unresolved")
    const link = linkTo(2, target)
    await es.connection.appendToStream(links, expectedVersion.noStream, link)
    const resolved = (await es.connection.readEvent(links, 0, false)).event!
    assert.isNull(resolved.link)
    assert.isFalse(resolved.isResolved)
    assert.strictEqual(resolved.event!.eventId, link.eventId)
    assert.strictEqual(resolved.event!.eventType, "$>")
    assert.strictEqual(resolved.event!.eventStreamId, links)
  })

  it("stream reads resolve links in both directions", async () => {
    const links = streamName("links-stream")
    await es.connection.appendToStream(links, expectedVersion.noStream, [linkTo(2, target), linkTo(0, target)])
    const forward = await es.connection.readStreamEventsForward(links, 0, 10, true)
    assert.deepStrictEqual(
      forward.events.map((e) => ({ event: e.event!.eventType, link: num(e.link!.eventNumber) })),
      [{ event: "Target-2", link: 0 }, { event: "Target-0", link: 1 }]
    )
    const backward = await es.connection.readStreamEventsBackward(links, -1, 10, true)
    assert.deepStrictEqual(backward.events.map((e) => e.event!.eventType), ["Target-0", "Target-2"])
    const unresolved = await es.connection.readStreamEventsForward(links, 0, 10, false)
    assert.deepStrictEqual(unresolved.events.map((e) => e.event!.eventType), ["$>", "$>"])
    assert.isTrue(unresolved.events.every((e) => e.link === null))
  })

  it("a link to an event that does not exist carries only the link", async () => {
    const links = streamName("links-missing")
    await es.connection.appendToStream(links, expectedVersion.noStream, [linkTo(99, target), linkTo(0, streamName("nowhere"))])
    const slice = await es.connection.readStreamEventsForward(links, 0, 10, true)
    assert.strictEqual(slice.events.length, 2)
    for (const resolved of slice.events) {
      assert.isNull(resolved.event)
      assert.isFalse(resolved.isResolved)
      assert.strictEqual(resolved.link!.eventType, "$>")
      assert.strictEqual(resolved.originalStreamId, links)
    }
    const single = await es.connection.readEvent(links, 0, true)
    assert.strictEqual(single.status, "success")
    assert.isNull(single.event!.event)
    assert.strictEqual(num(single.event!.link!.eventNumber), 0)
  })

  it("a link whose target stream was hard-deleted carries only the link", async () => {
    const doomed = streamName("doomed")
    await es.connection.appendToStream(doomed, expectedVersion.noStream, jsonEvents(1))
    const links = streamName("links-deleted")
    await es.connection.appendToStream(links, expectedVersion.noStream, linkTo(0, doomed))
    assert.isTrue((await es.connection.readEvent(links, 0, true)).event!.isResolved)
    await es.connection.deleteStream(doomed, expectedVersion.any, true)
    const resolved = (await es.connection.readEvent(links, 0, true)).event!
    assert.isNull(resolved.event)
    assert.strictEqual(resolved.link!.data!.toString("utf8"), `0@${doomed}`)
  })

  it("a link whose target was truncated away carries only the link", async () => {
    const truncated = streamName("truncated")
    await es.connection.appendToStream(truncated, expectedVersion.noStream, jsonEvents(3))
    const links = streamName("links-truncated")
    await es.connection.appendToStream(links, expectedVersion.noStream, [linkTo(0, truncated), linkTo(2, truncated)])
    await es.connection.setStreamMetadataRaw(truncated, expectedVersion.noStream, { $tb: 1 })
    const slice = await es.connection.readStreamEventsForward(links, 0, 10, true)
    assert.isNull(slice.events[0]!.event)
    assert.strictEqual(num(slice.events[1]!.event!.eventNumber), 2)
  })

  it("a link with data that is not a link carries only the link", async () => {
    const links = streamName("links-garbage")
    const garbage = EventStore.createEventData(randomUUID(), "$>", false, Buffer.from("not a link"))
    await es.connection.appendToStream(links, expectedVersion.noStream, garbage)
    const resolved = (await es.connection.readEvent(links, 0, true)).event!
    assert.isNull(resolved.event)
    assert.strictEqual(resolved.link!.eventId, garbage.eventId)
  })

  it("in $all, a resolved link has the target as event and the link's position", async () => {
    const links = streamName("links-all")
    const link = linkTo(1, target)
    const written = await es.connection.appendToStream(links, expectedVersion.noStream, link)
    const resolved = await es.connection.readAllEventsForward(written.logPosition, 1, true, admin)
    const event = resolved.events[0]!
    assert.strictEqual(event.event!.eventId, targetEvents[1]!.eventId)
    assert.strictEqual(event.link!.eventId, link.eventId)
    assert.deepStrictEqual(positionOf(event.originalPosition), positionOf(written.logPosition))
    const unresolved = await es.connection.readAllEventsForward(written.logPosition, 1, false, admin)
    assert.strictEqual(unresolved.events[0]!.event!.eventId, link.eventId)
    assert.isNull(unresolved.events[0]!.link)
  })
})
