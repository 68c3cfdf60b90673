/**
 * The persistent-subscription engine as plain functions, with a manual clock and scheduler
 * (docs/protocol.md 5.4): management results, the configuration stream, start points, in-flight
 * limits, the consumer strategies, acks and every nak action, retries, timeouts, parking,
 * checkpoints, disconnects and the drops of updates and deletes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Guid } from "@photonpump/protocol"
import { Store } from "@photonpump/server"
import * as Result from "effect/Result"
import * as Engine from "../src/internal/PersistentSubscriptions.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const proposed = (eventType = "test", metadata: unknown = undefined, data: unknown = {}): Store.ProposedEvent => ({
  eventId: Result.getOrThrow(Guid.toWire(Guid.random())),
  eventType,
  isJson: true,
  data: encoder.encode(JSON.stringify(data)),
  metadata: metadata === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(metadata))
})

const link = (target: string): Store.ProposedEvent => ({ ...proposed("$>"), isJson: false, data: encoder.encode(target) })

interface Delivery {
  readonly message: Engine.Message
  readonly retryCount: number
}

/** A consumer that records what it gets. */
const consumer = () => {
  const received: Array<Delivery> = []
  const drops: Array<Engine.DropReason> = []
  return {
    received,
    drops,
    consumer: {
      push: (message: Engine.Message, retryCount: number) => received.push({ message, retryCount }),
      dropped: (reason: Engine.DropReason) => drops.push(reason)
    } satisfies Engine.Consumer,
    numbers: () => received.map((d) => d.message.original.eventNumber),
    take: () => received.splice(0)
  }
}

const setup = (settings: Partial<Engine.Settings> = {}) => {
  const store = Store.make()
  let now = 1_000_000
  const queued: Array<() => void> = []
  const engine = new Engine.PersistentSubscriptions(store, { now: () => now, schedule: (work) => queued.push(work) })
  const stream = "orders"
  const group = "workers"
  const result = engine.create(stream, group, { ...Engine.defaultSettings, startFrom: 0, ...settings }, "admin")
  assert.deepStrictEqual(result, { status: "Success" })
  const connect = (inFlight = 10) => {
    const c = consumer()
    const connected = engine.connect(stream, group, c.consumer, inFlight)
    if (connected.status !== "Confirmed") throw new Error(connected.status)
    engine.start(connected.client)
    return { ...c, client: connected.client }
  }
  const append = (n: number, eventType = "test") => {
    for (let i = 0; i < n; i++) store.append(stream, -2, [proposed(eventType)])
    // Run what the live feed deferred.
    for (const work of queued.splice(0)) work()
  }
  const run = () => {
    for (const work of queued.splice(0)) work()
  }
  return {
    store,
    engine,
    stream,
    group,
    connect,
    append,
    run,
    advance: (ms: number) => {
      now += ms
      engine.tick()
    },
    id: Engine.subscriptionId(stream, group)
  }
}

const idOf = (delivery: Delivery) => delivery.message.original.eventId

const readAll = (store: Store.Store, stream: string) => {
  const slice = store.readStreamForward(stream, 0, 4096)
  return slice.status === "Success" ? slice.events : []
}

describe("Persistent subscription management", () => {
  it("creates a group once, refuses bad stream names and unknown strategies with the server's reasons", () => {
    const store = Store.make()
    const engine = new Engine.PersistentSubscriptions(store)
    const settings = Engine.defaultSettings
    assert.deepStrictEqual(engine.create("s", "g", settings, "admin"), { status: "Success" })
    assert.deepStrictEqual(engine.create("s", "g", settings, "admin"), {
      status: "AlreadyExists",
      reason: "Group 'g' already exists."
    })
    assert.deepStrictEqual(engine.create("", "g", settings, "admin"), { status: "Fail", reason: "Bad stream name." })
    assert.deepStrictEqual(engine.create("$all", "g", settings, "admin"), { status: "Fail", reason: "Bad stream name." })
    assert.deepStrictEqual(engine.create("s", "h", { ...settings, namedConsumerStrategy: "Random" }, "admin"), {
      status: "Fail",
      reason: "Consumer strategy Random does not exist."
    })
    assert.deepStrictEqual(engine.update("s", "nope", settings, "admin"), {
      status: "DoesNotExist",
      reason: "Group 'nope' does not exist."
    })
    assert.deepStrictEqual(engine.update("s", "g", { ...settings, namedConsumerStrategy: "X" }, "admin"), {
      status: "Fail",
      reason: "Consumer strategy X does not exist."
    })
    assert.deepStrictEqual(engine.delete("s", "nope", "admin"), {
      status: "DoesNotExist",
      reason: "Group 'nope' does not exist."
    })
    for (const strategy of Engine.consumerStrategies) {
      assert.strictEqual(engine.create("s", strategy, { ...settings, namedConsumerStrategy: strategy }, "ops").status, "Success")
    }
  })

  it("keeps every group's settings in $persistentSubscriptionConfig, as the server's JSON", () => {
    const store = Store.make()
    const engine = new Engine.PersistentSubscriptions(store, { now: () => Date.UTC(2020, 10, 10) })
    engine.create("s", "g", { ...Engine.defaultSettings, namedConsumerStrategy: "", preferRoundRobin: false }, "admin")
    engine.create("t", "h", { ...Engine.defaultSettings, resolveLinkTos: true, startFrom: 5 }, "ops")
    const configs = readAll(store, Engine.configStream)
    assert.strictEqual(configs.length, 2)
    const last = configs[1]!
    assert.strictEqual(last.eventType, "PersistentConfig1")
    assert.isTrue(last.isJson)
    const json = JSON.parse(decoder.decode(last.data))
    assert.deepStrictEqual(json, {
      version: "2",
      updated: "2020-11-10T00:00:00.000Z",
      updatedBy: "ops",
      entries: [
        {
          stream: "s",
          group: "g",
          messageTimeout: 30000,
          startFrom: -1,
          liveBufferSize: 500,
          historyBufferSize: 500,
          maxRetryCount: 10,
          readBatchSize: 20,
          checkPointAfter: 2000,
          minCheckPointCount: 10,
          maxCheckPointCount: 1000,
          namedConsumerStrategy: "DispatchToSingle"
        },
        {
          stream: "t",
          group: "h",
          resolveLinkTos: true,
          messageTimeout: 30000,
          startFrom: 5,
          liveBufferSize: 500,
          historyBufferSize: 500,
          maxRetryCount: 10,
          readBatchSize: 20,
          preferRoundRobin: true,
          checkPointAfter: 2000,
          minCheckPointCount: 10,
          maxCheckPointCount: 1000,
          namedConsumerStrategy: "RoundRobin"
        }
      ]
    })
    assert.include(decoder.decode(last.data), "\n  \"version\": \"2\"")
    engine.delete("s", "g", "admin")
    const afterDelete = JSON.parse(decoder.decode(readAll(store, Engine.configStream)[2]!.data))
    assert.deepStrictEqual(afterDelete.entries.map((entry: { group: string }) => entry.group), ["h"])
  })

  it("refuses a connection to an unknown group and past the subscriber limit", () => {
    const { engine, stream, group, connect } = setup({ maxSubscriberCount: 2 })
    assert.strictEqual(engine.connect(stream, "nope", consumer().consumer, 10).status, "NotFound")
    assert.strictEqual(engine.connect("other", group, consumer().consumer, 10).status, "NotFound")
    connect()
    connect()
    assert.strictEqual(engine.connect(stream, group, consumer().consumer, 10).status, "SubscriberMaxCountReached")
    assert.strictEqual(engine.consumerCount, 2)
  })

  it("confirms with the group's id, the last commit position and the stream's last event number", () => {
    const { engine, stream, group, store, append } = setup()
    append(3)
    const connected = engine.connect(stream, group, consumer().consumer, 10)
    assert.strictEqual(connected.status, "Confirmed")
    if (connected.status !== "Confirmed") return
    assert.strictEqual(connected.subscriptionId, "orders::workers")
    assert.strictEqual(connected.lastEventNumber, 2)
    assert.strictEqual(connected.lastCommitPosition, store.lastCommitPosition)
  })
})

describe("Persistent subscription delivery", () => {
  it("starts live with startFrom -1, from N otherwise, and delivers history then live events in order", () => {
    const store = Store.make()
    const queued: Array<() => void> = []
    const engine = new Engine.PersistentSubscriptions(store, { schedule: (work) => queued.push(work) })
    for (let i = 0; i < 5; i++) store.append("s", -2, [proposed()])
    engine.create("s", "live", { ...Engine.defaultSettings, startFrom: -1 }, "admin")
    engine.create("s", "from2", { ...Engine.defaultSettings, startFrom: 2 }, "admin")
    const live = consumer()
    const from2 = consumer()
    for (const [name, c] of [["live", live], ["from2", from2]] as const) {
      const connected = engine.connect("s", name, c.consumer, 100)
      if (connected.status === "Confirmed") engine.start(connected.client)
    }
    assert.deepStrictEqual(live.numbers(), [])
    assert.deepStrictEqual(from2.numbers(), [2, 3, 4])
    store.append("s", -2, [proposed(), proposed()])
    // Live events are delivered by deferred work, never inside the writer's call.
    assert.deepStrictEqual(live.numbers(), [])
    for (const work of queued.splice(0)) work()
    assert.deepStrictEqual(live.numbers(), [5, 6])
    assert.deepStrictEqual(from2.numbers(), [2, 3, 4, 5, 6])
    assert.isTrue(from2.received.every((d) => d.retryCount === 0))
  })

  it("holds each consumer to its in-flight limit; acks free slots", () => {
    const { connect, append } = setup()
    const c = connect(2)
    append(5)
    assert.deepStrictEqual(c.numbers(), [0, 1])
    c.client.group!.ack([idOf(c.received[0]!)])
    assert.deepStrictEqual(c.numbers(), [0, 1, 2])
    c.client.group!.ack(c.received.slice(1).map(idOf))
    assert.deepStrictEqual(c.numbers(), [0, 1, 2, 3, 4])
    // Acking an unknown or already acked id changes nothing.
    c.client.group!.ack([idOf(c.received[0]!), new Uint8Array(16)])
    assert.strictEqual(c.client.inFlight.size, 2)
  })

  it("RoundRobin takes turns; DispatchToSingle fills the first consumer before the next", () => {
    const rr = setup({ namedConsumerStrategy: "RoundRobin" })
    const a = rr.connect(10)
    const b = rr.connect(10)
    rr.append(6)
    assert.deepStrictEqual(a.numbers(), [0, 2, 4])
    assert.deepStrictEqual(b.numbers(), [1, 3, 5])
    const single = setup({ namedConsumerStrategy: "DispatchToSingle" })
    const first = single.connect(3)
    const second = single.connect(3)
    single.append(5)
    assert.deepStrictEqual(first.numbers(), [0, 1, 2])
    assert.deepStrictEqual(second.numbers(), [3, 4])
    const legacy = setup({ namedConsumerStrategy: "", preferRoundRobin: false })
    const x = legacy.connect(10)
    const y = legacy.connect(10)
    legacy.append(3)
    assert.deepStrictEqual([x.numbers(), y.numbers()], [[0, 1, 2], []])
  })

  it("Pinned keeps each source stream on one consumer, also through links, and waits for that consumer", () => {
    const { store, engine, run } = setup()
    engine.create("$ce-order", "pinned", {
      ...Engine.defaultSettings,
      startFrom: 0,
      resolveLinkTos: true,
      namedConsumerStrategy: "Pinned"
    }, "admin")
    const consumers = [consumer(), consumer()]
    for (const c of consumers) {
      const connected = engine.connect("$ce-order", "pinned", c.consumer, 3)
      if (connected.status === "Confirmed") engine.start(connected.client)
    }
    const sources = ["order-1", "order-2", "order-3", "order-4", "order-5", "order-6"]
    for (let round = 0; round < 2; round++) {
      for (const source of sources) {
        const written = store.append(source, -2, [proposed()])
        if (written.status !== "Success") throw new Error("write failed")
        store.append("$ce-order", -2, [link(`${written.lastEventNumber}@${source}`)])
      }
    }
    run()
    const owner = new Map<string, number>()
    consumers.forEach((c, index) => {
      assert.isAtMost(c.received.length, 3)
      for (const delivery of c.received) {
        const source = delivery.message.event!.streamId
        assert.strictEqual(owner.get(source) ?? index, index, `${source} went to two consumers`)
        owner.set(source, index)
      }
    })
    // Acks let the waiting messages of each source through, still on the same consumer.
    for (let i = 0; i < 10; i++) {
      consumers.forEach((c, index) => {
        const delivered = c.take()
        for (const delivery of delivered) {
          assert.strictEqual(owner.get(delivery.message.event!.streamId) ?? index, index)
          owner.set(delivery.message.event!.streamId, index)
        }
        engine.ack(clientOf(engine, c), delivered.map(idOf))
      })
    }
    assert.strictEqual(engine.group("$ce-order", "pinned")!.inFlightCount, 0)
  })

  it("PinnedByCorrelation keys on $correlationId in the event's metadata", () => {
    const { store, engine, stream, run } = setup()
    engine.create(stream, "byCorrelation", {
      ...Engine.defaultSettings,
      startFrom: 0,
      namedConsumerStrategy: "PinnedByCorrelation"
    }, "admin")
    const consumers = [consumer(), consumer(), consumer()]
    for (const c of consumers) {
      const connected = engine.connect(stream, "byCorrelation", c.consumer, 100)
      if (connected.status === "Confirmed") engine.start(connected.client)
    }
    const correlations = ["a", "b", "c", "d", "e", "f", "g", "h"]
    for (let i = 0; i < 40; i++) store.append(stream, -2, [proposed("t", { $correlationId: correlations[i % 8] })])
    run()
    const owner = new Map<string, number>()
    consumers.forEach((c, index) => {
      for (const delivery of c.received) {
        const correlation = JSON.parse(decoder.decode(delivery.message.event!.metadata)).$correlationId as string
        assert.strictEqual(owner.get(correlation) ?? index, index)
        owner.set(correlation, index)
      }
    })
    assert.strictEqual(consumers.reduce((n, c) => n + c.received.length, 0), 40)
  })

  it("acks and naks name the link's id when links are resolved", () => {
    const { store, engine, run } = setup()
    store.append("target", -2, [proposed("real")])
    engine.create("links", "g", { ...Engine.defaultSettings, startFrom: 0, resolveLinkTos: true }, "admin")
    const c = consumer()
    const connected = engine.connect("links", "g", c.consumer, 10)
    if (connected.status !== "Confirmed") throw new Error(connected.status)
    engine.start(connected.client)
    store.append("links", -2, [link("0@target"), link("7@target")])
    run()
    const [resolved, dangling] = c.received
    assert.strictEqual(resolved!.message.event!.eventType, "real")
    assert.strictEqual(resolved!.message.link!.streamId, "links")
    assert.isUndefined(dangling!.message.event)
    // The target's id is not what the group waits for.
    engine.ack(connected.client, [resolved!.message.event!.eventId])
    assert.strictEqual(connected.client.inFlight.size, 2)
    engine.ack(connected.client, [resolved!.message.link!.eventId, dangling!.message.link!.eventId])
    assert.strictEqual(connected.client.inFlight.size, 0)
  })
})

const clientOf = (engine: Engine.PersistentSubscriptions, c: ReturnType<typeof consumer>): Engine.Client => {
  for (const group of engine.groups) {
    for (const client of group.clients) if (client.consumer === c.consumer) return client
  }
  throw new Error("not connected")
}

const parkedOf = (store: Store.Store, id: string) =>
  readAll(store, Engine.parkedStreamOf(id)).map((event) => ({
    link: decoder.decode(event.data),
    eventType: event.eventType,
    isJson: event.isJson,
    metadata: JSON.parse(decoder.decode(event.metadata)) as { added: string; reason: string; subscriptionEventNumber?: number }
  }))

const checkpoints = (store: Store.Store, id: string) =>
  readAll(store, Engine.checkpointStreamOf(id)).map((event) => {
    assert.strictEqual(event.eventType, "SubscriptionCheckpoint")
    assert.isTrue(event.isJson)
    return decoder.decode(event.data)
  })

describe("Naks, retries, timeouts and parking", () => {
  it("Retry and Unknown redeliver with retryCount + 1; Skip forgets; Park parks at once", () => {
    const { connect, append, engine, store, id } = setup()
    const c = connect(10)
    append(4)
    const [e0, e1, e2, e3] = c.take()
    engine.nak(c.client, [idOf(e0!)], "Retry", "later")
    engine.nak(c.client, [idOf(e1!)], "Unknown", "")
    assert.deepStrictEqual(c.received.map((d) => [d.message.original.eventNumber, d.retryCount]), [[0, 1], [1, 1]])
    engine.nak(c.client, [idOf(e2!)], "Skip", "")
    engine.nak(c.client, [idOf(e3!)], "Park", "poison")
    assert.strictEqual(c.received.length, 2)
    const parked = parkedOf(store, id)
    assert.strictEqual(parked.length, 1)
    assert.strictEqual(parked[0]!.link, "3@orders")
    assert.strictEqual(parked[0]!.eventType, "$>")
    assert.isFalse(parked[0]!.isJson)
    assert.strictEqual(parked[0]!.metadata.reason, "Client explicitly NAK'ed message.\npoison")
    assert.strictEqual(parked[0]!.metadata.subscriptionEventNumber, 3)
    assert.isString(parked[0]!.metadata.added)
    // The parked stream is for administrators only.
    const metadata = store.readEvent(`$$${Engine.parkedStreamOf(id)}`, -1)
    assert.strictEqual(metadata.status, "Success")
    if (metadata.status === "Success") {
      assert.deepStrictEqual(JSON.parse(decoder.decode(metadata.event!.data)), {
        $acl: { $r: "$admins", $w: "$admins", $d: "$admins", $mr: "$admins", $mw: "$admins" }
      })
    }
  })

  it("Stop forgets the message as 20.10 does: its slot is freed, and it is never retried nor parked", () => {
    const { connect, append, engine, advance, store, id } = setup({ messageTimeout: 1000 })
    const c = connect(1)
    append(2)
    const [first] = c.take()
    engine.nak(c.client, [idOf(first!)], "Stop", "")
    // The slot is free: the next message comes at once.
    assert.deepStrictEqual(c.numbers(), [1])
    engine.ack(c.client, [idOf(c.take()[0]!)])
    assert.strictEqual(engine.group("orders", "workers")!.inFlightCount, 0)
    // Long past the stopped message's timeout: nothing comes back, nothing is parked.
    advance(1000)
    advance(5000)
    assert.deepStrictEqual(c.received, [])
    assert.deepStrictEqual(parkedOf(store, id), [])
  })

  it("Stop counts as processed: the checkpoint moves past the stopped message", () => {
    const { connect, append, engine, store, id } = setup({ maxCheckPointCount: 2, minCheckPointCount: 2 })
    const c = connect(10)
    append(2)
    const [e0, e1] = c.take()
    engine.nak(c.client, [idOf(e0!)], "Stop", "")
    engine.ack(c.client, [idOf(e1!)])
    assert.deepStrictEqual(checkpoints(store, id), ["1"])
  })

  it("parks a message that fails more than maxRetryCount times, with the server's reason", () => {
    const { connect, append, engine, store, id } = setup({ maxRetryCount: 2 })
    const c = connect(10)
    append(1)
    const counts: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const [delivery] = c.take()
      counts.push(delivery!.retryCount)
      engine.nak(c.client, [idOf(delivery!)], "Retry", "")
    }
    assert.deepStrictEqual(counts, [0, 1, 2])
    assert.strictEqual(c.received.length, 0)
    const parked = parkedOf(store, id)
    assert.strictEqual(parked[0]!.metadata.reason, "Reached retry count of 2")
    assert.strictEqual(parked[0]!.link, "0@orders")
    // The server leaves a subscription event number of 0 out of the JSON.
    assert.isUndefined(parked[0]!.metadata.subscriptionEventNumber)
  })

  it("retries a message whose timeout passed on the next tick, and frees its slot", () => {
    const { connect, append, advance, engine } = setup({ messageTimeout: 500 })
    const c = connect(1)
    append(2)
    assert.deepStrictEqual(c.numbers(), [0])
    advance(499)
    assert.strictEqual(c.received.length, 1)
    advance(1)
    assert.deepStrictEqual(c.received.map((d) => [d.message.original.eventNumber, d.retryCount]), [[0, 0], [0, 1]])
    engine.ack(c.client, [idOf(c.received[1]!)])
    assert.deepStrictEqual(c.numbers(), [0, 0, 1])
  })

  it("gives the messages of a consumer that leaves to the others, retried or parked", () => {
    const { connect, append, engine, store, id } = setup({ maxRetryCount: 1, namedConsumerStrategy: "DispatchToSingle" })
    const leaving = connect(2)
    append(2)
    assert.deepStrictEqual(leaving.numbers(), [0, 1])
    // Message 1 already used its only retry.
    engine.nak(leaving.client, [idOf(leaving.received[1]!)], "Retry", "")
    const staying = connect(10)
    assert.deepStrictEqual(staying.numbers(), [])
    engine.disconnect(leaving.client)
    assert.deepStrictEqual(staying.received.map((d) => [d.message.original.eventNumber, d.retryCount]), [[0, 1]])
    assert.deepStrictEqual(parkedOf(store, id).map((p) => p.link), ["1@orders"])
    assert.deepStrictEqual(leaving.drops, [])
    assert.strictEqual(engine.consumerCount, 1)
  })
})

describe("Checkpoints", () => {
  it("writes one after maxCheckPointCount processed events, and by time after minCheckPointCount", () => {
    const { connect, append, engine, store, id, advance } = setup({
      maxCheckPointCount: 5,
      minCheckPointCount: 2,
      checkPointAfter: 1000
    })
    const c = connect(100)
    append(12)
    engine.ack(c.client, c.received.slice(0, 4).map(idOf))
    assert.deepStrictEqual(checkpoints(store, id), [])
    engine.ack(c.client, c.received.slice(4, 6).map(idOf))
    // Messages 0..5 are done: the checkpoint is the event before the lowest one in flight.
    assert.deepStrictEqual(checkpoints(store, id), ["5"])
    engine.ack(c.client, c.received.slice(6, 7).map(idOf))
    advance(999)
    assert.deepStrictEqual(checkpoints(store, id), ["5"])
    engine.ack(c.client, c.received.slice(7, 8).map(idOf))
    advance(1)
    assert.deepStrictEqual(checkpoints(store, id), ["5", "7"])
    engine.ack(c.client, c.received.slice(8).map(idOf))
    advance(1000)
    // `$maxCount` 2 keeps the last two readable.
    assert.deepStrictEqual(checkpoints(store, id), ["7", "11"])
    const metadata = store.readEvent(`$$${Engine.checkpointStreamOf(id)}`, -1)
    if (metadata.status !== "Success") throw new Error(metadata.status)
    assert.deepStrictEqual(JSON.parse(decoder.decode(metadata.event!.data)), {
      $maxCount: 2,
      $acl: { $r: "$admins", $w: "$admins", $d: "$admins", $mr: "$all", $mw: "$admins" }
    })
  })

  it("resumes at the checkpoint + 1 when the group restarts, ignoring startFrom", () => {
    const { connect, append, engine, stream, group, store, id } = setup({ maxCheckPointCount: 3 })
    const c = connect(100)
    append(5)
    engine.ack(c.client, c.received.slice(0, 3).map(idOf))
    assert.deepStrictEqual(checkpoints(store, id), ["2"])
    const result = engine.update(stream, group, { ...Engine.defaultSettings, startFrom: 0, maxCheckPointCount: 3 }, "admin")
    assert.deepStrictEqual(result, { status: "Success" })
    assert.deepStrictEqual(c.drops, ["Unsubscribed"])
    assert.strictEqual(engine.consumerCount, 0)
    const again = connect(100)
    assert.deepStrictEqual(again.numbers(), [3, 4])
  })

  it("never passes a message a pinned strategy holds back for a full consumer, so a restart delivers it", () => {
    const settings = { namedConsumerStrategy: "PinnedByCorrelation", maxCheckPointCount: 1, minCheckPointCount: 1 }
    const { store, engine, stream, group, connect, run, id } = setup(settings)
    const narrow = connect(1)
    const wide = connect(100)
    for (let i = 0; i < 20; i++) store.append(stream, -2, [proposed("t", { $correlationId: `key-${i}` })])
    run()
    // The narrow consumer holds one message; the other messages of its keys wait for it.
    assert.strictEqual(narrow.received.length, 1)
    const delivered = new Set([...narrow.numbers(), ...wide.numbers()])
    const heldBack = Array.from({ length: 20 }, (_, n) => n).filter((n) => !delivered.has(n))
    assert.isNotEmpty(heldBack)
    engine.ack(wide.client, wide.take().map(idOf))
    engine.ack(narrow.client, narrow.take().map(idOf))
    // The held-back messages are not processed: the checkpoint stays below the first (5.4 checkpoints).
    const written = checkpoints(store, id).map(Number)
    assert.isBelow(written[written.length - 1]!, heldBack[0]!)
    engine.update(stream, group, { ...Engine.defaultSettings, startFrom: 0, ...settings }, "admin")
    const restarted = connect(100)
    assert.includeMembers(restarted.numbers(), heldBack)
  })

  it("deleting a group drops its consumers and removes its checkpoint and parked streams", () => {
    const { connect, append, engine, stream, group, store, id } = setup({ maxCheckPointCount: 1 })
    const c = connect(100)
    append(2)
    engine.ack(c.client, [idOf(c.received[0]!)])
    engine.nak(c.client, [idOf(c.received[1]!)], "Park", "")
    assert.strictEqual(checkpoints(store, id).length > 0, true)
    assert.strictEqual(parkedOf(store, id).length, 1)
    assert.deepStrictEqual(engine.delete(stream, group, "admin"), { status: "Success" })
    assert.deepStrictEqual(c.drops, ["Unsubscribed"])
    assert.strictEqual(store.readStreamForward(Engine.checkpointStreamOf(id), 0, 10).status, "NoStream")
    assert.strictEqual(store.readStreamForward(Engine.parkedStreamOf(id), 0, 10).status, "NoStream")
    // A group of the same name starts afresh.
    engine.create(stream, group, { ...Engine.defaultSettings, startFrom: 0 }, "admin")
    assert.deepStrictEqual(connect(100).numbers(), [0, 1])
  })

  it("shutdown drops every consumer with Unsubscribed", () => {
    const { connect, engine } = setup()
    const a = connect()
    const b = connect()
    engine.shutdown()
    assert.deepStrictEqual([a.drops, b.drops], [["Unsubscribed"], ["Unsubscribed"]])
  })
})
