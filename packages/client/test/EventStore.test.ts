/**
 * Every operation of the service against the embedded server, over a real socket: what it returns,
 * and each error it can fail with.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  EventStore,
  EventStoreError,
  ExpectedVersion,
  Filter,
  NewEvent,
  Position,
  StreamDirection
} from "@photonpump/client"
import { failsWith } from "./Assertions.ts"
import { admin, serverAddress, serverAndClient, streamName } from "./TestServer.ts"

const jump = (n: number) => NewEvent.make("PonyJumped", { body: { n } })

/** Writes `count` events numbered 0..count-1 to a new stream, in batches. */
const fill = (es: EventStore.Service, stream: string, count: number, batch = 500) =>
  Effect.gen(function*() {
    for (let from = 0; from < count; from += batch) {
      const events = Array.from({ length: Math.min(batch, count - from) }, (_, i) => jump(from + i))
      yield* es.publish(stream, events)
    }
  })

/** A link event (`$>`) to event `eventNumber` of `target`. */
const link = (target: string, eventNumber: number) =>
  NewEvent.binary("$>", new TextEncoder().encode(`${eventNumber}@${target}`))

const numbers = (events: ReadonlyArray<{ readonly eventNumber: bigint }>) => events.map((e) => Number(e.eventNumber))

const suite = (style: string, omitDefaultValues: boolean) =>
  layer(serverAndClient({}, { omitDefaultValues, prepareTimeout: "200 millis" }), { excludeTestServices: true })(`EventStore (${style})`, (it) => {
    describe("ping", () => {
      it.effect("measures the round trip", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const rtt = yield* es.ping()
          assert.isTrue(Duration.isGreaterThanOrEqualTo(rtt, Duration.zero))
          assert.isTrue(Duration.isLessThan(rtt, Duration.seconds(5)))
        }))
    })

    describe("publishEvent and publish", () => {
      it.effect("write events numbered from 0 and read them back", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("ponies")
          const first = yield* es.publishEvent(stream, "PonyJumped", {
            body: { Pony: "Derpy Hooves", Height: 10, Distance: 13 },
            metadata: { by: "test" }
          })
          assert.strictEqual(first.firstEventNumber, 0n)
          assert.strictEqual(first.lastEventNumber, 0n)
          const batch = yield* es.publish(stream, [jump(1), jump(2), jump(3)])
          assert.strictEqual(batch.firstEventNumber, 1n)
          assert.strictEqual(batch.lastEventNumber, 3n)
          assert.isTrue(Position.compare(batch.position, first.position) > 0)
          const event = yield* es.getEvent(stream, 0)
          assert.deepStrictEqual(event.json(), { Pony: "Derpy Hooves", Height: 10, Distance: 13 })
          assert.deepStrictEqual(event.event.metadataJson(), { by: "test" })
          assert.strictEqual(event.type, "PonyJumped")
          assert.isTrue(event.isJson)
          assert.isTrue(Math.abs(event.created.getTime() - Date.now()) < 60_000)
        }))

      it.effect("keep binary data and the event id as given", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("blobs")
          const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
          const event = NewEvent.binary("Blob", bytes, { id: "3f2504e0-4f89-41d3-9a0c-0305e82c3301" })
          yield* es.publish(stream, [event])
          const read = yield* es.getEvent(stream, -1)
          assert.isFalse(read.isJson)
          assert.deepStrictEqual(Array.from(read.data), Array.from(bytes))
          assert.strictEqual(read.id, "3f2504e0-4f89-41d3-9a0c-0305e82c3301")
        }))

      it.effect("are idempotent for the same event ids", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("idempotent")
          const events = [jump(0), jump(1)]
          const once = yield* es.publish(stream, events)
          const twice = yield* es.publish(stream, events)
          assert.strictEqual(twice.firstEventNumber, once.firstEventNumber)
          assert.strictEqual(twice.lastEventNumber, once.lastEventNumber)
          const slice = yield* es.get(stream)
          assert.strictEqual(slice.events.length, 2)
        }))

      it.effect("check the expected version", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("versions")
          const missing = yield* failsWith(
            es.publishEvent(stream, "A", { expectedVersion: ExpectedVersion.StreamExists }),
            EventStoreError.WrongExpectedVersion
          )
          assert.deepStrictEqual(missing.expectedVersion, ExpectedVersion.StreamExists)
          assert.strictEqual(missing.actualVersion, -1n)
          yield* es.publishEvent(stream, "A", { expectedVersion: ExpectedVersion.NoStream })
          const again = yield* failsWith(
            es.publishEvent(stream, "A", { expectedVersion: ExpectedVersion.NoStream }),
            EventStoreError.WrongExpectedVersion
          )
          assert.strictEqual(again.actualVersion, 0n)
          yield* es.publish(stream, [jump(1), jump(2)], { expectedVersion: 0n })
          const wrong = yield* failsWith(
            es.publish(stream, [jump(3)], { expectedVersion: 5 }),
            EventStoreError.WrongExpectedVersion
          )
          assert.strictEqual(wrong.stream, stream)
          assert.deepStrictEqual(wrong.expectedVersion, ExpectedVersion.exact(5))
          assert.strictEqual(wrong.actualVersion, 2n)
          assert.include(wrong.message, "expected 5, actual 2")
          const ok = yield* es.publish(stream, [jump(3)], { expectedVersion: ExpectedVersion.StreamExists })
          assert.strictEqual(ok.lastEventNumber, 3n)
        }))

      it.effect("refuse what cannot be sent, before sending it", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const badId = yield* failsWith(
            es.publishEvent("anything", "A", { id: "not-a-uuid" }),
            EventStoreError.BadRequest
          )
          assert.include(badId.reason, "not-a-uuid")
          const cyclic: Record<string, unknown> = {}
          cyclic["self"] = cyclic
          yield* failsWith(es.publishEvent("anything", "A", { body: cyclic }), EventStoreError.BadRequest)
          yield* failsWith(es.publishEvent("anything", "A", { body: { n: 1n } }), EventStoreError.BadRequest)
          yield* failsWith(
            es.publishEvent("anything", "A", { expectedVersion: -3 }),
            EventStoreError.BadRequest
          )
        }))

      it.effect("pass the server's BadRequest on", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const error = yield* failsWith(es.publishEvent("", "A"), EventStoreError.BadRequest)
          assert.isAbove(error.reason.length, 0)
          // The connection is still there.
          yield* es.ping()
        }))

      it.effect("answer 1,000 concurrent publishes on one connection, each correctly", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("concurrent")
          const events = Array.from({ length: 1000 }, (_, n) => jump(n))
          const results = yield* Effect.all(
            events.map((event) => Effect.map(es.publish(stream, [event]), (result) => [event.id, result] as const)),
            { concurrency: "unbounded" }
          )
          const numbersById = new Map(results.map(([id, result]) => [id, result.lastEventNumber]))
          assert.strictEqual(new Set(numbersById.values()).size, 1000)
          const stored = yield* Stream.runCollect(es.iter(stream, { batchSize: 250 }))
          assert.strictEqual(stored.length, 1000)
          for (const event of stored) assert.strictEqual(numbersById.get(event.id), event.eventNumber)
        }))

      it.effect("hold requests beyond maxConcurrentRequests in the client and send them in call order", () =>
        Effect.scoped(Effect.gen(function*() {
          const { host, port } = yield* serverAddress
          const es = yield* EventStore.connect({ host, port, credentials: admin, maxConcurrentRequests: 8 })
          const stream = streamName("limited")
          // Enough that the client's list of waiting requests is compacted on the way (past 1,024 sent).
          const events = Array.from({ length: 3000 }, (_, n) => jump(n))
          // Appends, reads and pings interleaved, all forked at once: 8 at a time reach the server.
          const results = yield* Effect.all(
            events.map((event, n) =>
              n % 10 === 5
                ? Effect.as(Effect.zip(es.ping(), es.get(stream, { maxCount: 5 })), -1n)
                : Effect.map(es.publish(stream, [event]), (result) => result.lastEventNumber)
            ),
            { concurrency: "unbounded" }
          )
          const written = results.filter((n) => n >= 0n)
          assert.strictEqual(written.length, 2700)
          // Sent in call order to a server that writes in arrival order: numbered in call order.
          assert.deepStrictEqual(written, written.map((_, i) => BigInt(i)))
          const stored = yield* Stream.runCollect(es.iter(stream, { batchSize: 100 }))
          assert.deepStrictEqual(
            stored.map((event) => event.id),
            events.filter((_, n) => n % 10 !== 5).map((event) => event.id)
          )
        })))
    })

    describe("getEvent", () => {
      it.effect("reads by number, -1 being the last", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("single")
          yield* fill(es, stream, 3)
          assert.deepStrictEqual((yield* es.getEvent(stream, 1)).json(), { n: 1 })
          assert.strictEqual((yield* es.getEvent(stream, -1)).eventNumber, 2n)
          assert.strictEqual((yield* es.getEvent(stream, 0n)).eventNumber, 0n)
        }))

      it.effect("gives an event that keeps alive the bytes of its own reply, not a whole read buffer", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("kept")
          yield* fill(es, stream, 1)
          const event = yield* es.getEvent(stream, 0)
          // A small reply is copied out of the connection's 64 KiB read segment (FrameReader): an event
          // held for long, in a read model say, holds no more than its reply.
          assert.isBelow(event.data.buffer.byteLength, 4 * 1024)
          assert.deepStrictEqual(event.json(), { n: 0 })
        }))

      it.effect("fails with EventNotFound beyond the end and StreamNotFound for no stream", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("single")
          yield* fill(es, stream, 2)
          const beyond = yield* failsWith(es.getEvent(stream, 5), EventStoreError.EventNotFound)
          assert.strictEqual(beyond.eventNumber, 5n)
          assert.strictEqual(beyond.stream, stream)
          const none = yield* failsWith(es.getEvent(streamName("never"), 0), EventStoreError.StreamNotFound)
          assert.include(none.message, "never")
        }))
    })

    describe("links", () => {
      it.effect("are followed by default, and given as they are when asked", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const target = streamName("target")
          const links = streamName("links")
          yield* fill(es, target, 2)
          yield* es.publish(links, [link(target, 1), link(target, 0)])
          const resolved = yield* es.getEvent(links, 0)
          assert.isTrue(resolved.isResolved)
          assert.strictEqual(resolved.stream, target)
          assert.strictEqual(resolved.eventNumber, 1n)
          assert.deepStrictEqual(resolved.json(), { n: 1 })
          assert.strictEqual(resolved.link?.stream, links)
          assert.strictEqual(resolved.originalEventNumber, 0n)
          assert.strictEqual(resolved.originalStream, links)
          const raw = yield* es.getEvent(links, 0, { resolveLinks: false })
          assert.strictEqual(raw.type, "$>")
          assert.strictEqual(raw.link, undefined)
          assert.strictEqual(raw.event.text(), `1@${target}`)
          const slice = yield* es.get(links)
          assert.deepStrictEqual(slice.events.map((e) => [Number(e.originalEventNumber), Number(e.eventNumber)]), [
            [0, 1],
            [1, 0]
          ])
          const iterated = yield* Stream.runCollect(es.iter(links, { batchSize: 1 }))
          assert.deepStrictEqual(iterated.map((e) => e.json()), [{ n: 1 }, { n: 0 }])
        }))

      it.effect("whose target is gone come back unresolved", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const target = streamName("gone")
          const links = streamName("dangling")
          yield* fill(es, target, 1)
          yield* es.publish(links, [link(target, 0)])
          yield* es.deleteStream(target, { hard: true })
          const dangling = yield* es.getEvent(links, 0)
          assert.isFalse(dangling.isResolved)
          assert.strictEqual(dangling.type, "$>")
          assert.strictEqual(dangling.link, dangling.event)
          assert.strictEqual(dangling.originalStream, links)
        }))
    })

    describe("get", () => {
      it.effect("gives the slice fields at the edges of a stream, forwards", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("edges")
          yield* fill(es, stream, 10)
          const a = yield* es.get(stream, { fromEventNumber: 0, maxCount: 5 })
          assert.deepStrictEqual(numbers(a.events), [0, 1, 2, 3, 4])
          assert.strictEqual(a.nextEventNumber, 5n)
          assert.strictEqual(a.lastEventNumber, 9n)
          assert.isFalse(a.isEndOfStream)
          const b = yield* es.get(stream, { fromEventNumber: 5, maxCount: 5 })
          assert.deepStrictEqual(numbers(b.events), [5, 6, 7, 8, 9])
          assert.strictEqual(b.nextEventNumber, 10n)
          assert.isTrue(b.isEndOfStream)
          const c = yield* es.get(stream, { fromEventNumber: 20, maxCount: 10 })
          assert.deepStrictEqual(c.events, [])
          assert.strictEqual(c.nextEventNumber, 10n)
          assert.isTrue(c.isEndOfStream)
          const d = yield* es.get(stream, { fromEventNumber: 9, maxCount: 1 })
          assert.deepStrictEqual(numbers(d.events), [9])
          assert.isTrue(d.isEndOfStream)
        }))

      it.effect("gives the slice fields at the edges of a stream, backwards", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("edges")
          yield* fill(es, stream, 10)
          const a = yield* es.get(stream, { direction: StreamDirection.Backward, maxCount: 5 })
          assert.deepStrictEqual(numbers(a.events), [9, 8, 7, 6, 5])
          assert.strictEqual(a.nextEventNumber, 4n)
          assert.isFalse(a.isEndOfStream)
          const b = yield* es.get(stream, { direction: StreamDirection.Backward, fromEventNumber: 4, maxCount: 5 })
          assert.deepStrictEqual(numbers(b.events), [4, 3, 2, 1, 0])
          assert.strictEqual(b.nextEventNumber, -1n)
          assert.isTrue(b.isEndOfStream)
          const c = yield* es.get(stream, { direction: StreamDirection.Backward, fromEventNumber: 0, maxCount: 5 })
          assert.deepStrictEqual(numbers(c.events), [0])
          assert.isTrue(c.isEndOfStream)
        }))

      it.effect("reads 100 events forwards by default, and refuses page sizes out of range", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("defaults")
          yield* fill(es, stream, 150)
          const slice = yield* es.get(stream)
          assert.strictEqual(slice.events.length, 100)
          assert.strictEqual(slice.events[0]!.eventNumber, 0n)
          yield* failsWith(es.get(stream, { maxCount: 4097 }), EventStoreError.BadRequest)
          yield* failsWith(es.get(stream, { maxCount: 0 }), EventStoreError.BadRequest)
          assert.strictEqual((yield* es.get(stream, { maxCount: 4096 })).events.length, 150)
        }))

      it.effect("refuses event numbers that are not integers or do not fit in 64 bits with BadRequest", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("not-a-number")
          yield* fill(es, stream, 3)
          // Before, BigInt threw on the first three (a defect), and the last two wrapped around on the
          // wire, reading from another event number than the one asked for.
          for (const number of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2n ** 64n + 1n, -(2n ** 63n) - 1n]) {
            const reasons = [
              (yield* failsWith(es.get(stream, { fromEventNumber: number }), EventStoreError.BadRequest)).reason,
              (yield* failsWith(Stream.runCollect(es.iter(stream, { from: number })), EventStoreError.BadRequest))
                .reason,
              (yield* failsWith(es.getEvent(stream, number), EventStoreError.BadRequest)).reason
            ]
            for (const reason of reasons) assert.include(reason, `${number}`)
          }
          assert.strictEqual((yield* es.getEvent(stream, 2n)).eventNumber, 2n)
        }))

      it.effect("fails with StreamNotFound for a stream never written", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("never")
          const error = yield* failsWith(es.get(stream), EventStoreError.StreamNotFound)
          assert.strictEqual(error.stream, stream)
        }))
    })

    describe("iter", () => {
      it.effect("reads 10,000 events forwards and backwards in small pages", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("long")
          yield* fill(es, stream, 10_000, 1000)
          const forwards = yield* Stream.runCollect(es.iter(stream, { batchSize: 37 }))
          assert.strictEqual(forwards.length, 10_000)
          forwards.forEach((event, i) => assert.strictEqual(event.eventNumber, BigInt(i)))
          const backwards = yield* Stream.runCollect(
            es.iter(stream, { direction: StreamDirection.Backward, batchSize: 41 })
          )
          assert.strictEqual(backwards.length, 10_000)
          backwards.forEach((event, i) => assert.strictEqual(event.eventNumber, BigInt(9_999 - i)))
        }))

      it.effect("starts where it is told", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("from")
          yield* fill(es, stream, 20)
          assert.deepStrictEqual(numbers(yield* Stream.runCollect(es.iter(stream, { from: 15, batchSize: 2 }))), [
            15,
            16,
            17,
            18,
            19
          ])
          assert.deepStrictEqual(
            numbers(
              yield* Stream.runCollect(es.iter(stream, { from: 3, direction: StreamDirection.Backward, batchSize: 2 }))
            ),
            [3, 2, 1, 0]
          )
        }))

      it.effect("fails with StreamNotFound for a stream never written", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          yield* failsWith(Stream.runCollect(es.iter(streamName("never"))), EventStoreError.StreamNotFound)
        }))

      it.effect("decodes events with a Schema", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("typed")
          yield* fill(es, stream, 3)
          const Jump = Schema.Struct({ n: Schema.Number })
          const jumps = yield* es.iter(stream).pipe(Stream.mapEffect((e) => e.decode(Jump)), Stream.runCollect)
          assert.deepStrictEqual(jumps, [{ n: 0 }, { n: 1 }, { n: 2 }])
          yield* es.publishEvent(stream, "PonyJumped", { body: { n: "three" } })
          const error = yield* failsWith(
            es.iter(stream).pipe(Stream.mapEffect((e) => e.decode(Jump)), Stream.runDrain),
            EventStoreError.EventDecodeError
          )
          assert.strictEqual(error.eventNumber, 3n)
        }))
    })

    describe("$all", () => {
      it.effect("getAll reads forwards and backwards with positions", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("all")
          // Other tests share the server: start from a position of this test's own.
          const before = yield* es.publishEvent(streamName("marker"), "Marker")
          const written = yield* es.publish(stream, [jump(0), jump(1), jump(2)])
          const forwards = yield* es.getAll({ from: before.position, maxCount: 4096 })
          const ours = forwards.events.filter((e) => e.stream === stream)
          assert.deepStrictEqual(numbers(ours), [0, 1, 2])
          for (let i = 1; i < forwards.events.length; i++) {
            assert.strictEqual(
              Position.compare(forwards.events[i - 1]!.position!, forwards.events[i]!.position!),
              -1
            )
          }
          assert.isTrue(Position.compare(forwards.nextPosition, Position.start) > 0)
          const backwards = yield* es.getAll({ direction: StreamDirection.Backward, maxCount: 3 })
          assert.strictEqual(backwards.events.length, 3)
          assert.isTrue(
            Position.compare(backwards.events[0]!.position!, backwards.events[1]!.position!) > 0
          )
          assert.isTrue(Position.compare(written.position, Position.start) > 0)
        }))

      it.effect("iterAll reads to the end in both directions, in the same order", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          yield* fill(es, streamName("all"), 50)
          const forwards = yield* Stream.runCollect(es.iterAll({ batchSize: 7 }))
          const backwards = yield* Stream.runCollect(es.iterAll({ batchSize: 9, direction: StreamDirection.Backward }))
          assert.isAtLeast(forwards.length, 50)
          assert.deepStrictEqual(
            backwards.map((e) => e.id),
            forwards.map((_, i) => forwards[forwards.length - 1 - i]!.id)
          )
          assert.strictEqual(backwards.length, forwards.length)
        }))

      it.effect("filters by event type and by stream name, prefix or regex", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const tag = streamName("f").slice(2)
          const before = yield* es.publishEvent(streamName("marker"), "Marker")
          yield* es.publish(`cats_${tag}`, [NewEvent.make(`Meowed${tag}`), NewEvent.make(`Purred${tag}`)])
          yield* es.publish(`dogs_${tag}`, [NewEvent.make(`Barked${tag}`)])
          const types = (filter: Filter.Filter) =>
            Effect.map(
              Stream.runCollect(es.iterAll({ filter, batchSize: 2, from: before.position })),
              (events) => events.map((e) => e.type).filter((type) => type.endsWith(tag))
            )
          assert.deepStrictEqual(yield* types(Filter.eventTypePrefix(`Meowed${tag}`, `Barked${tag}`)), [
            `Meowed${tag}`,
            `Barked${tag}`
          ])
          assert.deepStrictEqual(yield* types(Filter.eventTypeRegex(`^P.*${tag}$`)), [`Purred${tag}`])
          assert.deepStrictEqual(yield* types(Filter.streamNamePrefix(`dogs_${tag}`)), [`Barked${tag}`])
          assert.deepStrictEqual(yield* types(Filter.streamNameRegex(`^cats_${tag}$`)), [
            `Meowed${tag}`,
            `Purred${tag}`
          ])
          const page = yield* es.getAll({
            filter: Filter.streamNamePrefix(`cats_${tag}`),
            from: before.position,
            maxCount: 4096
          })
          assert.strictEqual(page.events.length, 2)
          assert.isTrue(page.isEndOfStream)
        }))

      it.effect("needs read access to $all", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const error = yield* failsWith(
            es.getAll({ credentials: { username: "nobody", password: admin.password } }),
            EventStoreError.NotAuthenticated
          )
          assert.notInclude(error.message, "changeit")
        }))
    })

    describe("deleteStream", () => {
      it.effect("soft: the stream reads as not found, and a later write recreates it, numbering on", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("soft")
          yield* fill(es, stream, 3)
          yield* es.deleteStream(stream)
          yield* failsWith(es.get(stream), EventStoreError.StreamNotFound)
          yield* failsWith(es.getEvent(stream, 0), EventStoreError.StreamNotFound)
          const recreated = yield* es.publishEvent(stream, "Again")
          assert.strictEqual(recreated.firstEventNumber, 3n)
          assert.deepStrictEqual(numbers((yield* es.get(stream)).events), [3])
        }))

      it.effect("hard: the stream is gone for good", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("hard")
          yield* fill(es, stream, 2)
          const deleted = yield* es.deleteStream(stream, { hard: true })
          assert.isTrue(Position.compare(deleted.position, Position.start) > 0)
          yield* failsWith(es.get(stream), EventStoreError.StreamDeleted)
          yield* failsWith(es.getEvent(stream, 0), EventStoreError.StreamDeleted)
          const write = yield* failsWith(es.publishEvent(stream, "Again"), EventStoreError.StreamDeleted)
          assert.strictEqual(write.stream, stream)
          yield* failsWith(es.deleteStream(stream, { hard: true }), EventStoreError.StreamDeleted)
        }))

      it.effect("checks the expected version", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("delete-version")
          yield* fill(es, stream, 2)
          const error = yield* failsWith(
            es.deleteStream(stream, { expectedVersion: 5 }),
            EventStoreError.WrongExpectedVersion
          )
          assert.deepStrictEqual(error.expectedVersion, ExpectedVersion.exact(5))
          yield* es.deleteStream(stream, { expectedVersion: 1 })
        }))
    })

    describe("stream metadata", () => {
      it.effect("round-trips the well-known keys and custom ones", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("meta")
          const none = yield* es.getStreamMetadata(stream)
          assert.strictEqual(none.metastreamVersion, -1n)
          assert.deepStrictEqual(none.metadata, {})
          yield* es.setStreamMetadata(stream, {
            maxCount: 5,
            maxAge: "1 hour",
            truncateBefore: 2,
            cacheControl: "30 seconds",
            acl: { readRoles: ["$all"], writeRoles: ["admin", "ops"] },
            custom: { owner: "ponies-team", tags: ["a", "b"] }
          })
          const read = yield* es.getStreamMetadata(stream)
          assert.strictEqual(read.metastreamVersion, 0n)
          assert.isFalse(read.isStreamDeleted)
          assert.strictEqual(read.metadata.maxCount, 5)
          assert.strictEqual(Duration.toSeconds(read.metadata.maxAge!), 3600)
          assert.strictEqual(read.metadata.truncateBefore, 2n)
          assert.strictEqual(Duration.toSeconds(read.metadata.cacheControl!), 30)
          assert.deepStrictEqual(read.metadata.acl, { readRoles: ["$all"], writeRoles: ["admin", "ops"] })
          assert.deepStrictEqual(read.metadata.custom, { owner: "ponies-team", tags: ["a", "b"] })
        }))

      it.effect("applies $maxCount to reads", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("capped")
          yield* fill(es, stream, 10)
          yield* es.setStreamMetadata(stream, { maxCount: 3 })
          assert.deepStrictEqual(numbers((yield* es.get(stream)).events), [7, 8, 9])
          yield* failsWith(es.getEvent(stream, 0), EventStoreError.EventNotFound)
        }))

      it.effect("checks the metastream's expected version", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("meta-version")
          yield* es.setStreamMetadata(stream, { maxCount: 1 }, { expectedMetastreamVersion: ExpectedVersion.NoStream })
          const error = yield* failsWith(
            es.setStreamMetadata(stream, { maxCount: 2 }, { expectedMetastreamVersion: ExpectedVersion.NoStream }),
            EventStoreError.WrongExpectedVersion
          )
          assert.strictEqual(error.stream, `$$${stream}`)
          yield* es.setStreamMetadata(stream, { maxCount: 2 }, { expectedMetastreamVersion: 0 })
          assert.strictEqual((yield* es.getStreamMetadata(stream)).metastreamVersion, 1n)
        }))

      it.effect("reports a hard-deleted stream as deleted", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("meta-deleted")
          yield* fill(es, stream, 1)
          yield* es.deleteStream(stream, { hard: true })
          const read = yield* es.getStreamMetadata(stream)
          assert.isTrue(read.isStreamDeleted)
        }))
    })

    describe("transactions", () => {
      it.effect("write in steps and become visible at commit", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("tx")
          const tx = yield* es.startTransaction(stream, { expectedVersion: ExpectedVersion.NoStream })
          assert.strictEqual(tx.stream, stream)
          yield* tx.write([jump(0), jump(1)])
          yield* tx.write([jump(2)])
          yield* failsWith(es.get(stream), EventStoreError.StreamNotFound)
          const committed = yield* tx.commit()
          assert.strictEqual(committed.firstEventNumber, 0n)
          assert.strictEqual(committed.lastEventNumber, 2n)
          assert.deepStrictEqual(numbers((yield* es.get(stream)).events), [0, 1, 2])
        }))

      it.effect("check the expected version at commit", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const stream = streamName("tx-version")
          const tx = yield* es.startTransaction(stream, { expectedVersion: ExpectedVersion.NoStream })
          yield* tx.write([jump(0)])
          yield* es.publishEvent(stream, "Sneaky")
          yield* failsWith(tx.commit(), EventStoreError.WrongExpectedVersion)
        }))

      it.effect("report the server's prepare timeout on a write to an unknown transaction", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const tx = es.continueTransaction(streamName("tx-unknown"), 123_456_789n)
          const error = yield* failsWith(tx.write([jump(0)]), EventStoreError.Timeout)
          assert.strictEqual(error.source, "PrepareTimeout")
          // The connection is fine.
          yield* es.ping()
        }))

      it.effect("refuse to commit an unknown transaction", () =>
        Effect.gen(function*() {
          const es = yield* EventStore.EventStore
          const tx = es.continueTransaction(streamName("tx-unknown"), 987_654_321n)
          const error = yield* failsWith(tx.commit(), EventStoreError.InvalidTransaction)
          assert.strictEqual(error.transactionId, 987_654_321n)
        }))
    })
  })

suite("every field written", false)
suite("default values omitted, as 22.6+ servers do", true)
