/**
 * Filtered catch-up subscriptions to `$all`, stopped and resumed, by property, against a fresh embedded
 * node per case (so that `$all` holds the case's events alone) over a real socket.
 *
 * What a read model relies on: with a random filter (on the event type or the stream name, by prefixes
 * or by a regular expression), a random history on a few streams, and a writer racing the
 * subscription, a filtered catch-up subscription to `$all` from the start, stopped after a random
 * number of items and resumed from the last position it reported (its last event's position or its last
 * `Checkpoint`, whichever came later), delivers over both runs every matching event exactly once, in
 * `$all`'s order, and nothing that does not match; within a run, the positions it reports (events and
 * checkpoints) never go backwards, and a checkpoint never passes a matching event the run has not
 * delivered before it (resuming from it would lose that event). The expected events come from an
 * unfiltered read of `$all` and a model of the filter (docs/protocol.md 4.5 and 5.2: a prefix filter
 * matches any of its prefixes, a regex one matches anywhere in the value; the regular expressions used
 * here mean the same in .NET and JavaScript). Writers race both runs: one while the first run reads
 * the history (or once it is live), one while the second catches up (or once it is live), four writes
 * at a time so that live events come in bursts that fill small live buffers (`FellBehind`). And a
 * filtered `iterAll` from where the first run stopped (inclusive, 4.5), with the same page size and
 * search window, holds exactly the matches from there on.
 *
 * Found and fixed: a page of history that ended inside an explicit transaction has as its next
 * position that of the transaction's next event (4.3, 4.5: reads are inclusive), and the subscription
 * sent it as a `Checkpoint` (exclusive): the run itself, and any resumed from it, skipped that event.
 * The example after the property pins it.
 *
 * Sections: docs/protocol.md 4.3 (positions, exclusive starting points), 4.5 (filtered reads and
 * `max_search_window`), 5.2 (filtered subscriptions, CheckpointReached), 5.3 (catch-up: read the
 * history, subscribe, read to the confirmation, switch to live).
 *
 * Unspecified, so not asserted: how many checkpoints come and where exactly (only that they are
 * monotonic and safe); whether two checkpoints may repeat a position (non-decreasing is asserted, not
 * strictly increasing); when `CaughtUp` comes relative to the racing writes; which server events other
 * than the case's own `$all` holds (the model reads them back from `$all` and filters them itself).
 */
import { assert, layer } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  EventStore,
  Filter,
  NewEvent,
  Position,
  type ResolvedEvent,
  Subscription
} from "@photonpump/client"
import { eventually } from "./Assertions.ts"
import { checks, intBetween } from "./Properties.ts"
import { serverAndClient } from "./TestServer.ts"

const streams = ["order-1", "order-2", "orderline-1", "cart-1"] as const
const types = ["Created", "CreatedV2", "Updated", "Deleted"] as const

/** The filters the cases draw from: each with its model (docs/protocol.md 4.5, 5.2). */
const filters: ReadonlyArray<Filter.Filter> = [
  Filter.eventTypePrefix("Created"),
  Filter.eventTypePrefix("Updated", "Deleted"),
  Filter.eventTypePrefix("CreatedV"),
  Filter.eventTypePrefix("Nothing"),
  Filter.eventTypeRegex("^(Updated|Deleted)$"),
  Filter.eventTypeRegex("V2"),
  Filter.eventTypeRegex("ed$"),
  Filter.streamNamePrefix("order-"),
  Filter.streamNamePrefix("order"),
  Filter.streamNamePrefix("cart-", "orderline-"),
  Filter.streamNameRegex("-1$"),
  Filter.streamNameRegex("^order-"),
  Filter.streamNameRegex("line")
]

const matches = (filter: Filter.Filter, event: ResolvedEvent.ResolvedEvent): boolean => {
  const value = filter.on === "EventType" ? event.type : event.stream
  return filter.match === "Prefix"
    ? filter.values.some((prefix) => value.startsWith(prefix))
    : new RegExp(filter.values[0]!).test(value)
}

/**
 * Writes: which stream, the types of the events written together, and whether they go through an
 * explicit transaction, one event a step (4.10: the events share the commit's position and are ordered
 * by their prepares, which other writes can come between).
 */
const writes = Arbitrary.array(
  Arbitrary.all([
    intBetween(0, streams.length - 1),
    Arbitrary.array(intBetween(0, types.length - 1), { minLength: 1, maxLength: 3 }),
    intBetween(0, 3).pipe(Arbitrary.map((n) => n === 0))
  ]),
  { maxLength: 12 }
)

const filterCase = Arbitrary.all({
  filter: intBetween(0, filters.length - 1),
  history: writes,
  racing: writes,
  // Written while the second run catches up.
  late: writes,
  readBatchSize: intBetween(1, 8),
  maxSearchWindow: Arbitrary.all([Arbitrary.schema(Schema.Boolean), intBetween(1, 8)]),
  checkpointInterval: intBetween(1, 8),
  liveBufferSize: intBetween(1, 12),
  // Whether the racing writer waits for the first run to go live (or stop) before it writes.
  racingWhenLive: Arbitrary.schema(Schema.Boolean),
  // The same for the late writer and the second run.
  lateWhenLive: Arbitrary.schema(Schema.Boolean),
  // How many items (events and checkpoints) the first run takes before it stops.
  stopAfter: intBetween(0, 12)
})

/** An event as the assertions show it. */
const show = (e: ResolvedEvent.ResolvedEvent) => `${e.stream}/${e.type}@${Position.format(e.position!)}`

type Mark = { readonly position: Position.Position; readonly event: ResolvedEvent.ResolvedEvent | undefined }

/** The events and checkpoints of a run, in order (signals left out). */
const marks = (items: ReadonlyArray<Subscription.Item>): Array<Mark> =>
  items.flatMap((item): Array<Mark> =>
    Subscription.isEvent(item)
      ? [{ position: item.position!, event: item }]
      : Subscription.isCheckpoint(item)
      ? [{ position: item.position, event: undefined }]
      : []
  )

/** The events of a run. */
const eventsOf = (run: ReadonlyArray<Mark>): Array<ResolvedEvent.ResolvedEvent> =>
  run.flatMap((mark) => mark.event === undefined ? [] : [mark.event])

/**
 * A run's positions never go backwards and start after `from`; each checkpoint has been preceded, in
 * the run, by every expected event after `from` up to its position.
 */
const checkRun = (
  run: ReadonlyArray<Mark>,
  from: Position.Position | undefined,
  expected: ReadonlyArray<ResolvedEvent.ResolvedEvent>,
  what: string
) => {
  let previous = from
  let delivered = 0
  const after = from === undefined ? expected : expected.filter((e) => Position.compare(e.position!, from) > 0)
  for (const mark of run) {
    if (previous !== undefined) {
      assert.isTrue(
        Position.compare(previous, mark.position) <= (mark.event === undefined ? 0 : -1),
        `${what}: ${Position.format(mark.position)} after ${Position.format(previous)}`
      )
    }
    previous = mark.position
    if (mark.event !== undefined) {
      delivered++
      continue
    }
    const owed = after.filter((e) => Position.compare(e.position!, mark.position) <= 0).length
    assert.strictEqual(
      delivered,
      owed,
      `${what}: checkpoint ${Position.format(mark.position)} passes an undelivered event`
    )
  }
}

layer(Layer.empty, { excludeTestServices: true })("FilterProperties", (it) => {
  it.effect.prop(
    "a filtered catch-up to $all, stopped anywhere and resumed from its last position: every match once",
    [filterCase],
    ([c]) =>
      Effect.scoped(Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const filter = filters[c.filter]!
        // Four writes at a time, so that live events come in bursts that can fill a small live buffer.
        const write = (plan: ReadonlyArray<readonly [number, ReadonlyArray<number>, boolean]>) =>
          Effect.forEach(
            plan,
            ([stream, batch, transactional]) => {
              const events = batch.map((type, n) => NewEvent.make(types[type]!, { body: { n } }))
              return transactional
                ? Effect.gen(function*() {
                  const transaction = yield* es.startTransaction(streams[stream]!)
                  for (const event of events) yield* transaction.write([event])
                  return yield* transaction.commit()
                })
                : es.publish(streams[stream]!, events)
            },
            { discard: true, concurrency: 4 }
          )
        yield* write(c.history)
        const options = {
          filter,
          readBatchSize: c.readBatchSize,
          checkpointInterval: c.checkpointInterval,
          liveBufferSize: c.liveBufferSize,
          ...(c.maxSearchWindow[0] ? { maxSearchWindow: c.maxSearchWindow[1] } : {})
        }
        const first: Array<Subscription.Item> = []
        const liveOrStopped = yield* Deferred.make<void>()
        const writer = yield* Effect.forkScoped(
          c.racingWhenLive ? Effect.andThen(Deferred.await(liveOrStopped), write(c.racing)) : write(c.racing)
        )
        const firstRun = yield* es.subscribeToAll({ ...options, from: "start" }).pipe(
          Stream.runForEach((item) =>
            Effect.andThen(Effect.yieldNow, Effect.sync(() => first.push(item))).pipe(
              Effect.andThen(Subscription.isCaughtUp(item) ? Deferred.succeed(liveOrStopped, undefined) : Effect.void)
            )
          ),
          Effect.forkScoped
        )
        // The model's events, once the writer is done: what the first run may stop at having seen all of.
        let expectedCount: number | undefined
        yield* Effect.forkScoped(Effect.gen(function*() {
          yield* Fiber.join(writer)
          const all = yield* Stream.runCollect(es.iterAll())
          expectedCount = all.filter((e) => matches(filter, e)).length
        }))
        // The first run processes `stopAfter` events and checkpoints, or everything there is, and stops.
        yield* eventually(
          () =>
            marks(first).length >= c.stopAfter ||
            (expectedCount !== undefined && first.filter(Subscription.isEvent).length >= expectedCount),
          "the first run to stop",
          20_000
        )
        yield* Deferred.succeed(liveOrStopped, undefined)
        yield* Fiber.interrupt(firstRun)
        const stoppedAt = marks(first).slice(0, c.stopAfter)
        const resume = stoppedAt.length === 0 ? undefined : stoppedAt[stoppedAt.length - 1]!.position

        const second: Array<Subscription.Item> = []
        const secondLive = yield* Deferred.make<void>()
        const lateWriter = yield* Effect.forkScoped(
          c.lateWhenLive ? Effect.andThen(Deferred.await(secondLive), write(c.late)) : write(c.late)
        )
        const secondRun = yield* es.subscribeToAll({ ...options, from: resume ?? "start" }).pipe(
          Stream.runForEach((item) =>
            Effect.andThen(Effect.yieldNow, Effect.sync(() => second.push(item))).pipe(
              Effect.andThen(Subscription.isCaughtUp(item) ? Deferred.succeed(secondLive, undefined) : Effect.void)
            )
          ),
          Effect.forkScoped
        )
        yield* Fiber.join(writer)
        yield* Fiber.join(lateWriter)
        const all = yield* Stream.runCollect(es.iterAll())
        const expected = all.filter((e) => matches(filter, e))
        const firstEvents = eventsOf(stoppedAt)
        yield* eventually(
          // Everything, or the last match (past which a missing one is lost, not late), and live.
          () =>
            (firstEvents.length + second.filter(Subscription.isEvent).length >= expected.length ||
              second.some((item) =>
                Subscription.isEvent(item) && Position.compare(item.position!, expected.at(-1)!.position!) >= 0
              )) &&
            second.some(Subscription.isCaughtUp),
          `${expected.length} matching events over both runs, and the second run live`,
          20_000
        )
        yield* Fiber.interrupt(secondRun)
        const secondMarks = marks(second)
        checkRun(stoppedAt, undefined, expected, "first run")
        checkRun(secondMarks, resume, expected, "second run")
        const delivered = [...firstEvents, ...eventsOf(secondMarks)]
        assert.deepStrictEqual(delivered.map(show), expected.map(show))
        // A filtered read from where the first run stopped (inclusive, 4.5) holds the matches from there on.
        const read = yield* Stream.runCollect(es.iterAll({
          filter,
          from: resume ?? Position.start,
          batchSize: c.readBatchSize,
          ...(c.maxSearchWindow[0] ? { maxSearchWindow: c.maxSearchWindow[1] } : {})
        }))
        assert.deepStrictEqual(
          read.map(show),
          expected.filter((e) => resume === undefined || Position.compare(e.position!, resume) >= 0).map(show)
        )
      })).pipe(Effect.provide(serverAndClient())),
    checks(80)
  )

  // Found by the property: a page of history ending inside a transaction has as its next position
  // (commit, end of the prepare read), the position of the transaction's next event, which the next
  // page starts with (4.5, inclusive); a checkpoint there (exclusive) made the run skip that event.
  it.effect("a checkpoint read in the middle of a transaction skips none of its events", () =>
    Effect.gen(function*() {
      const es = yield* EventStore.EventStore
      yield* es.publish("cart-1", [NewEvent.make("Created", { body: {} })])
      const transaction = yield* es.startTransaction("order-1")
      for (const type of types) yield* transaction.write([NewEvent.make(type, { body: {} })])
      yield* transaction.commit()
      const filter = Filter.streamNamePrefix("order-")
      const options = { filter, readBatchSize: 1, maxSearchWindow: 1, checkpointInterval: 1 }
      const items = yield* es.subscribeToAll({ ...options, from: "start" }).pipe(
        Stream.takeWhile((item) => !Subscription.isCaughtUp(item)),
        Stream.runCollect
      )
      const all = yield* Stream.runCollect(es.iterAll())
      const expected = all.filter((e) => matches(filter, e))
      assert.deepStrictEqual(expected.map((e) => e.type), [...types])
      assert.deepStrictEqual(items.filter(Subscription.isEvent).map(show), expected.map(show))
      for (const stop of items.filter(Subscription.isCheckpoint)) {
        const before = items.slice(0, items.indexOf(stop)).filter(Subscription.isEvent)
        const after = yield* es.subscribeToAll({ ...options, from: stop.position }).pipe(
          Subscription.untilCaughtUp,
          Stream.runCollect
        )
        assert.deepStrictEqual([...before, ...after].map(show), expected.map(show))
      }
    }).pipe(Effect.provide(serverAndClient())))
})
