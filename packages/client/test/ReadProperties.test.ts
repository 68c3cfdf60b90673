/**
 * Paged reads by property, against the embedded server over a real socket: for generated streams, some
 * of whose first events are hidden by `$tb` (truncateBefore) or `$maxCount`, and for any page size,
 * direction and starting number, `iter` delivers exactly the readable events (docs/protocol.md 4.4), in
 * order, and a loop over `get` pages that follows `nextEventNumber` delivers the same. `iter` asks for
 * pages ahead on a guess (event numbers follow each other) and drops the pages of wrong guesses: the
 * hidden events are where its guesses go wrong.
 *
 * Whatever is written reads back as written: JSON bodies and metadata as their JSON, bytes as they are,
 * event types of any text, by number and through `iter`.
 *
 * `$all`: whatever the page size, a forward read, a backward one reversed, and the filtered
 * reads of either direction with any search window (4.5) agree, and hold the events written, in the
 * order they were written.
 *
 * The seed is fixed, so that a run in CI checks what a run here checked; `PROPERTY_SEED` sets another
 * and `PROPERTY_RUNS` multiplies the runs.
 */
import { assert, layer } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { EventStore, Filter, NewEvent, type ResolvedEvent, StreamDirection } from "@photonpump/client"
import { checks, intBetween } from "./Properties.ts"
import { serverAndClient, streamName } from "./TestServer.ts"

/** A stream and a read of it: how many events, what hides the first ones, and how the read goes. */
const readCase = Arbitrary.all({
  length: intBetween(1, 260),
  // Fractions of the stream's length, so that the hidden part lands anywhere, past the end included.
  truncateBefore: Arbitrary.all([Arbitrary.schema(Schema.Boolean), intBetween(0, 110)]),
  maxCount: Arbitrary.all([Arbitrary.schema(Schema.Boolean), intBetween(1, 110)]),
  batchSize: intBetween(1, 40),
  forwards: Arbitrary.schema(Schema.Boolean),
  // A starting number as a fraction of the stream's length (past its end too), or none (the default).
  from: Arbitrary.all([Arbitrary.schema(Schema.Boolean), intBetween(0, 110)])
}).pipe(
  Arbitrary.map(({ batchSize, forwards, from, length, maxCount, truncateBefore }) => {
    const ofLength = (percent: number) => Math.floor((length * percent) / 100)
    return {
      length,
      truncateBefore: truncateBefore[0] ? ofLength(truncateBefore[1]) : undefined,
      maxCount: maxCount[0] ? Math.max(1, ofLength(maxCount[1])) : undefined,
      batchSize,
      direction: forwards ? StreamDirection.Forward : StreamDirection.Backward,
      from: from[0] ? ofLength(from[1]) : undefined
    }
  })
)

type ReadCase = typeof readCase extends Arbitrary.Arbitrary<infer A> ? A : never

/** What protocol.md 4.4 says such a read returns: the event numbers, in the order of the read. */
const expectedNumbers = (c: ReadCase): Array<number> => {
  const last = c.length - 1
  const first = Math.max(0, c.maxCount === undefined ? 0 : last - c.maxCount + 1, c.truncateBefore ?? 0)
  const readable = Array.from({ length: c.length }, (_, n) => n).filter((n) => n >= first)
  if (c.direction === StreamDirection.Forward) return readable.filter((n) => n >= (c.from ?? 0))
  const upTo = c.from ?? last
  const backwards: Array<number> = []
  for (let i = readable.length - 1; i >= 0; i--) if (readable[i]! <= upTo) backwards.push(readable[i]!)
  return backwards
}

/** Writes the case's stream: its events, numbered 0 to length - 1, then the metadata that hides some. */
const write = (es: EventStore.Service, stream: string, c: ReadCase) =>
  Effect.gen(function*() {
    for (let at = 0; at < c.length; at += 100) {
      const count = Math.min(100, c.length - at)
      yield* es.publish(stream, Array.from({ length: count }, (_, i) => NewEvent.make("Numbered", { body: { n: at + i } })))
    }
    if (c.truncateBefore !== undefined || c.maxCount !== undefined) {
      yield* es.setStreamMetadata(stream, {
        ...(c.truncateBefore === undefined ? {} : { truncateBefore: c.truncateBefore }),
        ...(c.maxCount === undefined ? {} : { maxCount: c.maxCount })
      })
    }
  })

/** What a value becomes through JSON, as on any client. */
const throughJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown

/** What text becomes through UTF-8 (a lone surrogate turns into U+FFFD; a leading U+FEFF stays). */
const throughUtf8 = (text: string) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(new TextEncoder().encode(text))

/** The event numbers a loop over `get` pages reads, following each page's `nextEventNumber`. */
const readByPages = (es: EventStore.Service, stream: string, c: ReadCase) =>
  Effect.gen(function*() {
    const numbers: Array<number> = []
    let from: bigint = c.from === undefined
      ? (c.direction === StreamDirection.Forward ? 0n : -1n)
      : BigInt(c.from)
    for (let pages = 0; pages <= c.length + 2; pages++) {
      const slice = yield* es.get(stream, { direction: c.direction, fromEventNumber: from, maxCount: c.batchSize })
      for (const event of slice.events) numbers.push(Number(event.eventNumber))
      if (slice.isEndOfStream) return numbers
      from = slice.nextEventNumber
    }
    return assert.fail(`the get pages never reached the end: ${numbers.length} events read`)
  })

layer(serverAndClient(), { excludeTestServices: true })("Paged reads, by property", (it) => {
  it.effect.prop(
    "iter and a loop of get pages deliver exactly the readable events, in order, whatever hides the first ones",
    [readCase],
    ([c]) =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("read-property")
        yield* write(es, stream, c)
        const expected = expectedNumbers(c)
        const iterated = yield* Stream.runCollect(
          es.iter(stream, {
            direction: c.direction,
            batchSize: c.batchSize,
            ...(c.from === undefined ? {} : { from: c.from })
          })
        )
        assert.deepStrictEqual(Array.from(iterated, (event) => Number(event.eventNumber)), expected)
        assert.deepStrictEqual(yield* readByPages(es, stream, c), expected)
      }),
    checks(120)
  )

  it.effect.prop(
    "what is written reads back: JSON or bytes, metadata, any event type, by number and by iter",
    [
      Arbitrary.array(
        Arbitrary.all({
          // Now and then with a leading U+FEFF, which is part of the type, not a byte order mark.
          type: Arbitrary.all([Arbitrary.schema(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(20))), intBetween(0, 4)])
            .pipe(Arbitrary.map(([type, kind]) => kind === 0 ? `\uFEFF${type}` : type)),
          json: Arbitrary.schema(Schema.Boolean),
          body: Arbitrary.schema(Schema.Json),
          bytes: Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(64))),
          metadata: Arbitrary.all([Arbitrary.schema(Schema.Boolean), Arbitrary.schema(Schema.Json)])
        }),
        { minLength: 1, maxLength: 8 }
      )
    ],
    ([written]) =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("round-trip")
        const events = written.map((w) => {
          const options = w.metadata[0] ? { metadata: w.metadata[1] } : {}
          return w.json ? NewEvent.json(w.type, w.body, options) : NewEvent.binary(w.type, w.bytes, options)
        })
        yield* es.publish(stream, events)
        const iterated = Array.from(yield* Stream.runCollect(es.iter(stream, { batchSize: 3 })))
        assert.strictEqual(iterated.length, written.length)
        for (let n = 0; n < written.length; n++) {
          const w = written[n]!
          for (const read of [(yield* es.getEvent(stream, n)).event, iterated[n]!.event]) {
            assert.strictEqual(read.eventNumber, BigInt(n))
            assert.strictEqual(read.id, events[n]!.id)
            assert.strictEqual(read.type, throughUtf8(w.type))
            assert.strictEqual(read.isJson, w.json)
            if (w.json) assert.deepStrictEqual(read.json(), throughJson(w.body))
            else assert.deepStrictEqual(Array.from(read.data), Array.from(w.bytes))
            assert.deepStrictEqual(read.metadataJson(), w.metadata[0] ? throughJson(w.metadata[1]) : undefined)
          }
        }
      }),
    checks(150)
  )
})

// A server of its own: every read below goes through the whole of `$all`, which the stream property
// would fill with thousands of events.
layer(serverAndClient(), { excludeTestServices: true })("$all reads, by property", (it) => {

  it.effect.prop(
    "iterAll forwards, backwards reversed, and filtered in both directions hold the writes in write order",
    [
      Arbitrary.array(Arbitrary.all([intBetween(0, 2), intBetween(1, 5)]), { minLength: 1, maxLength: 12 }),
      intBetween(1, 40),
      intBetween(1, 40),
      intBetween(1, 60)
    ],
    ([writes, forwardBatch, backwardBatch, maxSearchWindow]) =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const prefix = streamName("all-property")
        // Writes of 1 to 5 events each to one of three streams, interleaved.
        const written: Array<string> = []
        for (const [stream, count] of writes) {
          const events = Array.from({ length: count }, () => NewEvent.make("Written", { body: {} }))
          yield* es.publish(`${prefix}-${stream}`, events)
          for (const event of events) written.push(event.id)
        }
        const ours = (events: Iterable<ResolvedEvent.ResolvedEvent>) =>
          Array.from(events).filter((event) => event.stream.startsWith(prefix)).map((event) => event.id)
        const read = (direction: StreamDirection.StreamDirection, batchSize: number, filtered: boolean) =>
          Effect.map(
            Stream.runCollect(es.iterAll({
              direction,
              batchSize,
              ...(filtered ? { filter: Filter.streamNamePrefix(prefix), maxSearchWindow } : {})
            })),
            ours
          )
        const writtenBackwards = written.map((_, i) => written[written.length - 1 - i]!)
        assert.deepStrictEqual(yield* read(StreamDirection.Forward, forwardBatch, false), written)
        assert.deepStrictEqual(yield* read(StreamDirection.Backward, backwardBatch, false), writtenBackwards)
        assert.deepStrictEqual(yield* read(StreamDirection.Forward, forwardBatch, true), written)
        assert.deepStrictEqual(yield* read(StreamDirection.Backward, backwardBatch, true), writtenBackwards)
      }),
    checks(40)
  )
})
