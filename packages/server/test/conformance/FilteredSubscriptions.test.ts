/**
 * Conformance of filtered $all subscriptions (protocol.md sections 3.5, 3.6 and 5.2), on raw
 * FilteredSubscribeToStream packages encoded with node-eventstore-client's messages: the client has
 * no filtered subscriptions of its own. Only matching events are pushed; every event considered,
 * matching or not, counts towards `checkpoint_interval`, and reaching it sends CheckpointReached with
 * the position of the event that reached it.
 */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, it, assert } from "vitest"
import { conformanceServer, num, streamName } from "./Harness.ts"
import { Command, RawConnection, readStreamEvents, type RawReply } from "./RawConnection.ts"
import {
  decodeCheckpoint,
  decodeDropped,
  decodeEventAppeared,
  DropReason,
  eventIdOf,
  FilterContext,
  filteredSubscribeToStream,
  FilterType,
  rawAdmin,
  type RawFilter,
  type RawSubscription,
  writeEvent
} from "./RawSubscriptions.ts"

const es = conformanceServer()

let raw: RawConnection
beforeAll(async () => {
  raw = await RawConnection.open(es.server)
})
afterAll(async () => {
  await raw.close()
})

/** Writes one event of `type` to `stream`. */
const write = (stream: string, type: string) => writeEvent(raw, stream, type)

/** A filtered $all subscription as admin, confirmed. */
const subscribe = async (filter: RawFilter, checkpointInterval: number): Promise<RawSubscription> => {
  const subscription = filteredSubscribeToStream(raw, "", filter, checkpointInterval, rawAdmin)
  await subscription.confirmation()
  return subscription
}

/** What a package says, for comparing sequences: the event id pushed, or the checkpoint's commit position. */
const describePackage = (reply: RawReply) => {
  switch (reply.command) {
    case Command.StreamEventAppeared:
      return { event: eventIdOf(decodeEventAppeared(reply).event!) }
    case Command.CheckpointReached:
      return { checkpoint: num(decodeCheckpoint(reply).commitPosition) }
    default:
      return { command: reply.command }
  }
}

/** Waits until the subscription has received `count` packages after its confirmation, and describes them. */
const packagesAfterConfirmation = async (subscription: RawSubscription, count: number) => {
  const items = await subscription.packages.atLeast(count + 1, `${count} packages after the confirmation`)
  return items.slice(1).map(describePackage)
}

describe("filtered $all subscription (protocol.md 5.2)", () => {
  it("is confirmed like SubscribeToStream, with the server's last commit position", async () => {
    await write(streamName("filtered-confirm"), "E")
    const expected = num((await readStreamEvents(raw, "forward", streamName("probe"), 0, 1)).lastCommitPosition)
    const subscription = filteredSubscribeToStream(
      raw,
      "",
      { context: FilterContext.StreamId, type: FilterType.Prefix, data: ["nothing-"] },
      1_000,
      rawAdmin
    )
    assert.strictEqual(num((await subscription.confirmation()).lastCommitPosition), expected)
    subscription.unsubscribe()
    assert.strictEqual(await subscription.dropped(), DropReason.Unsubscribed)
  })

  it("with a stream-id prefix filter pushes only events of matching streams, in order", async () => {
    const prefix = `pfx${randomUUID().slice(0, 8)}-`
    const subscription = await subscribe({ context: FilterContext.StreamId, type: FilterType.Prefix, data: [prefix] }, 1_000)
    const a = await write(`${prefix}a`, "E")
    await write(streamName("other"), "E")
    const b = await write(`${prefix}b`, "E")
    await write(`x${prefix}c`, "E")
    const c = await write(`${prefix}a`, "E")
    assert.deepStrictEqual(await packagesAfterConfirmation(subscription, 3), [
      { event: a.id },
      { event: b.id },
      { event: c.id }
    ])
    // A marker that matches arrives right after: nothing else was pushed in between.
    const marker = await write(`${prefix}marker`, "E")
    assert.deepStrictEqual((await packagesAfterConfirmation(subscription, 4)).at(-1), { event: marker.id })
    assert.strictEqual(subscription.all.length, 5)
    subscription.unsubscribe()
  })

  it("with several prefixes matches any of them", async () => {
    const tag = randomUUID().slice(0, 8)
    const subscription = await subscribe(
      { context: FilterContext.StreamId, type: FilterType.Prefix, data: [`one${tag}`, `two${tag}`] },
      1_000
    )
    const one = await write(`one${tag}-s`, "E")
    await write(`three${tag}-s`, "E")
    const two = await write(`two${tag}-s`, "E")
    assert.deepStrictEqual(await packagesAfterConfirmation(subscription, 2), [{ event: one.id }, { event: two.id }])
    subscription.unsubscribe()
  })

  it("with an event-type prefix filter pushes only events of matching types", async () => {
    const tag = randomUUID().slice(0, 8)
    const subscription = await subscribe(
      { context: FilterContext.EventType, type: FilterType.Prefix, data: [`Order${tag}`] },
      1_000
    )
    const stream = streamName("types")
    const placed = await write(stream, `Order${tag}Placed`)
    await write(stream, `Invoice${tag}Sent`)
    const shipped = await write(streamName("types"), `Order${tag}Shipped`)
    assert.deepStrictEqual(await packagesAfterConfirmation(subscription, 2), [
      { event: placed.id },
      { event: shipped.id }
    ])
    subscription.unsubscribe()
  })

  it("with a regex filter matches the regular expression against the stream id", async () => {
    const tag = randomUUID().slice(0, 8)
    const subscription = await subscribe(
      { context: FilterContext.StreamId, type: FilterType.Regex, data: [`^rx${tag}-(cat|dog)$`] },
      1_000
    )
    const cat = await write(`rx${tag}-cat`, "E")
    await write(`rx${tag}-cow`, "E")
    await write(`rx${tag}-cats`, "E")
    const dog = await write(`rx${tag}-dog`, "E")
    assert.deepStrictEqual(await packagesAfterConfirmation(subscription, 2), [{ event: cat.id }, { event: dog.id }])
    subscription.unsubscribe()
  })

  it("sends CheckpointReached every checkpoint_interval events considered, matching or not", async () => {
    const tag = randomUUID().slice(0, 8)
    const subscription = await subscribe(
      { context: FilterContext.StreamId, type: FilterType.Prefix, data: [`cp${tag}`] },
      3
    )
    const written: Array<Awaited<ReturnType<typeof write>>> = []
    for (const stream of [`no${tag}`, `cp${tag}`, `no${tag}`, `no${tag}`, `no${tag}`, `no${tag}`, `cp${tag}`]) {
      written.push(await write(stream, "E"))
    }
    // Two more events considered make the count reach the interval again: a marker checkpoint.
    written.push(await write(`no${tag}`, "E"), await write(`no${tag}`, "E"))
    const at = (i: number) => num(written[i]!.result.commitPosition)
    assert.deepStrictEqual(await packagesAfterConfirmation(subscription, 5), [
      { event: written[1]!.id },
      { checkpoint: at(2) },
      { checkpoint: at(5) },
      { event: written[6]!.id },
      { checkpoint: at(8) }
    ])
    assert.strictEqual(subscription.all.length, 6, "nothing else was sent")
    subscription.unsubscribe()
  })

  it("sends checkpoints with commit and prepare positions of the event that reached the interval", async () => {
    const tag = randomUUID().slice(0, 8)
    const subscription = await subscribe({ context: FilterContext.StreamId, type: FilterType.Prefix, data: [`none${tag}`] }, 2)
    await write(streamName("cp-a"), "E")
    const second = await write(streamName("cp-b"), "E")
    const [, reply] = await subscription.packages.atLeast(2, "a CheckpointReached")
    const checkpoint = decodeCheckpoint(reply!)
    assert.strictEqual(num(checkpoint.commitPosition), num(second.result.commitPosition))
    assert.strictEqual(num(checkpoint.preparePosition), num(second.result.preparePosition))
    subscription.unsubscribe()
  })

  it("with an empty filter pushes every event", async () => {
    const subscription = await subscribe({ context: FilterContext.StreamId, type: FilterType.Prefix, data: [] }, 1_000)
    const one = await write(streamName("unfiltered"), "E")
    const two = await write(streamName("unfiltered"), "F")
    assert.deepStrictEqual(await packagesAfterConfirmation(subscription, 2), [{ event: one.id }, { event: two.id }])
    subscription.unsubscribe()
  })

  it("is dropped with AccessDenied for anonymous callers", async () => {
    const subscription = filteredSubscribeToStream(
      raw,
      "",
      { context: FilterContext.StreamId, type: FilterType.Prefix, data: ["x"] },
      10
    )
    const reply = await subscription.next("the drop")
    assert.strictEqual(decodeDropped(reply), DropReason.AccessDenied)
  })
})
