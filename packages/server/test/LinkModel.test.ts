/**
 * A model-based property test of link resolution and `$all` reads. Each case starts a node of its own,
 * so that `$all` holds only what the case wrote, and runs a random sequence of operations on three
 * target streams and two link streams against it over a real socket, and against a reference model
 * written from docs/protocol.md alone. StreamModel.test.ts covers the expected-version decisions and
 * stream paging; this test writes fresh ids, mostly with Any, and looks at what reads give back:
 *
 * - writes of events and of links (`$>`, data `"<number>@<stream>"`) through WriteEvents and through
 *   transactions committed at once or after later operations (4.2, 4.10). Links point at events that
 *   exist and that do not exist yet; in streams soft- or hard-deleted later, or truncated by `$tb` or
 *   `$maxCount`; in a link stream, the link's own number in its own stream included; at a metastream's
 *   events; at 2^63-1 and past it; and links have malformed data. Stream references (`$@`, 4.8) are no
 *   links and must come back as they are;
 * - soft and hard deletes (4.6), and metadata (4.7) with `$maxCount` and `$tb`, non-positive ones,
 *   binary or unparseable, written directly or through a transaction: all of which change what a link
 *   written earlier resolves to;
 * - ReadEvent, ReadStreamEvents forward and backward (4.4), ReadAllEvents forward and backward (4.3,
 *   4.5) and FilteredReadAllEvents forward and backward with stream and event-type prefixes and regexes
 *   and a search window, each with resolve_link_tos true and false. `$all` is read from its start and
 *   end, from events' positions, from inside and past the end of records, from earlier pages' next
 *   positions, and from invalid positions.
 *
 * Each reply is compared field by field with the model: the result; event vs link (3.3, 4.8), each
 * record in full (stream, number, id, type, data, both content types, metadata, `created` as 4.12 relates
 * it to `created_epoch`), a resolved link's event being its target's own record; a ResolvedEvent's
 * position, the link's; a stream read's next and last event numbers, end of stream and last commit
 * position; a `$all` read's position read from, next position and, filtered, end of stream. At the end
 * every stream and `$all` are read whole, page by page, both ways. Half the cases run against a node
 * that encodes its replies as 22.6+ servers do (3.1), which must decode to the same values. The client
 * sends IdentifyClient first: without it 4.1 downgrades event numbers to int32.
 *
 * The model does not know how large records are, so it learns where they are: before a read it reads
 * `$all` forward from where it stopped last time (the "survey"), finds there the records that the
 * operations since wrote, in their order, checks their positions against what 4.2, 4.3, 4.6 and 4.10 fix
 * (an implicit commit at commit = prepare, a write's last event at the reply's position; a
 * transaction's events at its commit record's offset with their prepares between its begin and commit
 * records; a delete's record at the reply's position; `$all` ascending), and remembers them. A forward
 * read's next position tells where a record ends; until then the next known record start bounds it.
 * Every other read is predicted from what was learned.
 *
 * Where protocol.md leaves the outcome open the model says "unspecified" and does not compare it:
 * - link data whose number a lenient parser might read: a sign, blanks, leading zeros, "1.0" (4.8 gives
 *   the form `<number>@<stream>` and says bad data is not resolved, not what counts as a number);
 * - a link into a stream whose `$maxCount` may or may not have survived a soft delete (4.6 says a soft
 *   delete's metadata has `$tb` = 2^63-1, not whether it keeps the other keys); reads of such a stream
 *   compare their result and last event number, and that each event is resolved right;
 * - whether and where an undelete writes a metadata record of its own (4.6 says the metadata is
 *   rewritten with `$tb` = the first new number): the survey accepts one per undelete anywhere among the
 *   operation's records and checks its `$tb`; binary or unparseable metadata on a soft-deleted stream,
 *   where 4.6 (undeletes with `$tb` = last + 1) and 4.7 (ignored) disagree, is not generated;
 * - in `$all` (4.5): the next position after a transaction's event that is not its last (forward), after
 *   any transaction event (backward), and after a backward read that returns nothing; which of a
 *   transaction's events a backward read from a position at or inside its commit record includes (a page
 *   is then compared up to the first event in doubt); whether `(-1, -1)` is echoed as asked or as the
 *   end of the log (4.3);
 * - in filtered reads: whether a read that resolves links filters on the link or on its target, where
 *   they disagree or the target cannot be resolved; the next position after a window that went past the
 *   last match; the end of stream when a limit was hit just at the end or only non-matching events are
 *   left;
 * - the last commit position when an empty write is the newest record (4.3 does not say it counts);
 * - an empty transaction, and the numbers of a failed commit (4.10); `$all` page sizes out of 1 ... 4096
 *   (4.4 gives the limit for stream reads): not generated;
 * - `$maxAge`: the node's clock cannot be set from a test (EventStoreServer takes no clock; only
 *   Store.make does), so it is not generated.
 *
 * The property runs with a fixed seed, so that CI runs the same cases. To hunt, set another seed and
 * more runs: `PROPERTY_SEED=7 PROPERTY_RUNS=5 npx vitest run packages/server/test/LinkModel.test.ts`.
 */
import { assert, it } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import { checks, intBetween } from "./FuzzInputs.ts"
import {
  admin,
  append,
  C,
  commitTransaction,
  connect,
  eventId,
  identify,
  newEvent,
  type RawClient,
  startTransaction
} from "./RawClient.ts"

const OperationResult = Messages.OperationResult
const ReadStreamResult = Messages.ReadStreamEventsCompleted_ReadStreamResult
const ReadEventResult = Messages.ReadEventCompleted_ReadEventResult
const ReadAllResult = Messages.ReadAllEventsCompleted_ReadAllResult
const FilterContext = Messages.Filter_FilterContext
const FilterType = Messages.Filter_FilterType

const Any = -2
const int64Max = 2n ** 63n - 1n
/** The tombstone's event number, 2^63-1 on the wire: above every real number. */
const tombstone = Number.POSITIVE_INFINITY
/** `EventNumber.Invalid`: the first/last event numbers of a failed write. */
const invalidEventNumber = -2_147_483_648

/** Where a prediction leaves the reply open: the actual value is masked to this before comparing. */
const unspecified = "<unspecified by protocol.md>"
const absent = "<absent>"

// ---------------------------------------------------------------------------------------------------
// The streams of a case

/** Target streams: one with `@` in its name (a link's stream is everything after the first `@`), one not ASCII. */
const targetStreams = ["orders-1", "orders-2@eu", "ordrés-3"] as const
const linkStreams = ["links-a", "links-b"] as const
const allStreams: ReadonlyArray<string> = [...targetStreams, ...linkStreams]

/** Link data no reading of 4.8 resolves: no `@`, no number, no stream, or a stream that does not exist. */
const badLinkData = [
  "garbage",
  "",
  "@orders-1",
  "0@",
  "x@orders-1",
  "orders-1@0",
  "0@orders-1@",
  "0@nowhere",
  "0@$$nowhere",
  "0@orders-1 ",
  "0@$all",
  `0@${"x".repeat(300)}`
]

/** Link data whose number a lenient parser might read (a sign, blanks, leading zeros): 4.8 does not say. */
const lenientLinkData = ["01@orders-1", " 0@orders-1", "+0@orders-1", "-1@orders-1", "0 @orders-1", "1.0@orders-1"]
const lenientNumber = /^\s*[+-]?(\d+(\.\d*)?)\s*$/

// ---------------------------------------------------------------------------------------------------
// The reference model (docs/protocol.md 3.3, 4.2-4.8, 4.10)

interface Position {
  readonly commit: number
  readonly prepare: number
}

/** How a record got into the log, which fixes what 4.2, 4.3, 4.6 and 4.10 say about its position. */
type Origin =
  /** WriteEvents or a metadata write: commit = prepare; the last event of a write is at the reply's position. */
  | { readonly kind: "implicit"; readonly position: number | undefined }
  /** A transaction's event: commit = the commit record's offset, prepare after the begin record. */
  | { readonly kind: "transaction"; readonly commit: number; readonly begin: number; readonly last: boolean }
  /** Written by the server itself: a delete's record (at its reply's position) or an undelete's metadata. */
  | { readonly kind: "server"; readonly position: number | undefined }

/** An event of `$all`. What the server chooses (ids of its own records, positions) is learned by the survey. */
interface LogRecord {
  readonly stream: string
  eventNumber: number | undefined
  readonly eventType: string
  id: string | undefined
  data: string | undefined
  contentType: number | undefined
  metadata: string | undefined
  /** `created` and `created_epoch`, as the survey saw them: a resolved target carries its own. */
  created: string | undefined
  readonly origin: Origin
  commit: number | undefined
  prepare: number | undefined
  /** Where its own (prepare) record ends, once a forward read's next position told. */
  end: number | undefined
}

interface ModelStream {
  /** Every event ever written, by number: deletes and truncation only hide them. */
  readonly events: Array<LogRecord>
  hardDeleted: boolean
  /** `"deleted"` is `$tb` = 2^63-1, a soft delete. */
  truncateBefore: number | undefined | "deleted"
  /**
   * The `$maxCount` values the stream may have: one, except after a soft delete, which 4.6 does not say
   * keeps the other keys of the metadata or not.
   */
  maxCounts: ReadonlyArray<number | undefined>
}

const lastOf = (stream: ModelStream): number => stream.events.length - 1
const isSoftDeleted = (stream: ModelStream): boolean => stream.truncateBefore === "deleted"

/** What a link resolves to (4.8): its target's record, nothing, or what the doc leaves open. */
type Resolution =
  | { readonly kind: "resolved"; readonly target: LogRecord }
  | { readonly kind: "unresolved" }
  | { readonly kind: "unspecified" }

/** The records of an operation, in the order it writes them, for the survey to find in `$all`. */
interface Segment {
  readonly records: ReadonlyArray<LogRecord>
  /**
   * Streams the operation brought back from a soft delete, with the `$tb` their metadata now has: the
   * server rewrites it (4.6) with a record of its own, which 4.6 does not place among the operation's.
   */
  readonly undeleted: ReadonlyMap<string, number>
}

type Direction = "forward" | "backward"

interface Filter {
  readonly context: Messages.Filter_FilterContext
  readonly type: Messages.Filter_FilterType
  readonly data: ReadonlyArray<string>
}

/** A filter's verdict on a record (3.5): prefixes any of `data`, a regex only `data[0]`, no data everything. */
const filterMatches = (filter: Filter, record: { readonly stream: string; readonly eventType: string }): boolean => {
  if (filter.data.length === 0) return true
  const value = filter.context === FilterContext.EventType ? record.eventType : record.stream
  if (filter.type === FilterType.Prefix) return filter.data.some((prefix) => value.startsWith(prefix))
  return new RegExp(filter.data[0]!).test(value)
}

/** The numbers from `low` to `high`, ascending. */
const range = (low: number, high: number): Array<number> =>
  Array.from({ length: Math.max(0, high - low + 1) }, (_, i) => low + i)

/** A copy, last first. */
const newestFirst = <A>(items: ReadonlyArray<A>): Array<A> => items.map((_, i) => items[items.length - 1 - i]!)

const positionText = (position: Position): string => `${position.commit}/${position.prepare}`
const comparePositions = (a: Position, b: Position): number => a.commit - b.commit || a.prepare - b.prepare
const positionOf = (record: LogRecord): Position => ({ commit: record.commit!, prepare: record.prepare! })

const numberText = (n: number | undefined): string => n === undefined ? "?" : n === tombstone ? "2^63-1" : String(n)

/** A record as the comparisons show it: stream#number type id data content-types metadata. */
const describe = (record: LogRecord): string =>
  `${record.stream}#${numberText(record.eventNumber)} ${record.eventType} ${record.id ?? "?"} ${
    JSON.stringify(record.data ?? "?")
  } ${record.contentType ?? "?"}/${record.contentType ?? "?"} ${JSON.stringify(record.metadata ?? "?")} ${
    record.created ?? "?"
  }`

class Model {
  readonly streams = new Map<string, ModelStream>()
  /** Every record the survey found in `$all`, in `$all` order. */
  readonly log: Array<LogRecord> = []
  /** Offsets where some record of the log starts: bounds on where the record before them ends. */
  readonly landmarks: Array<number> = []
  /** What operations wrote since the last survey. */
  pending: Array<Segment> = []
  /** Where the next survey reads from: the next position of the last. */
  surveyFrom: Position = { commit: 0, prepare: 0 }
  /** An empty write is the newest record: 4.3 does not say whether it moves the last commit position. */
  emptyWriteIsNewest = false

  stream(name: string): ModelStream {
    let stream = this.streams.get(name)
    if (stream === undefined) {
      stream = { events: [], hardDeleted: false, truncateBefore: undefined, maxCounts: [undefined] }
      this.streams.set(name, stream)
    }
    return stream
  }

  /** The smallest known record start after `offset`: the record at `offset` ends at or before it. */
  nextLandmark(offset: number): number {
    let next = Number.POSITIVE_INFINITY
    for (const landmark of this.landmarks) if (landmark > offset && landmark < next) next = landmark
    return next
  }

  get maxLandmark(): number {
    return this.landmarks.reduce((max, landmark) => Math.max(max, landmark), 0)
  }

  /** The records of `$$<name>`, oldest first. */
  metastream(name: string): Array<LogRecord> {
    return this.log.filter((record) => record.stream === "$$" + name)
  }

  /** The first readable number (4.4), or `undefined` when the possible `$maxCount`s disagree. */
  firstReadable(stream: ModelStream): number | undefined {
    const last = lastOf(stream)
    const truncateBefore = typeof stream.truncateBefore === "number" ? stream.truncateBefore : 0
    const candidates = stream.maxCounts.map((maxCount) =>
      Math.max(0, maxCount === undefined ? 0 : last - maxCount + 1, truncateBefore)
    )
    return candidates.every((candidate) => candidate === candidates[0]) ? candidates[0] : undefined
  }

  /** Whether ReadEvent of `number` would succeed (4.4): what "readable" means for a link's target (4.8). */
  readable(stream: ModelStream, number: number): "yes" | "no" | "unknown" {
    if (stream.hardDeleted || isSoftDeleted(stream)) return "no"
    const last = lastOf(stream)
    if (number < 0 || number > last) return "no"
    if (typeof stream.truncateBefore === "number" && number < stream.truncateBefore) return "no"
    const verdicts = stream.maxCounts.map((maxCount) => maxCount === undefined || number >= last - maxCount + 1)
    return verdicts.every(Boolean) ? "yes" : verdicts.some(Boolean) ? "unknown" : "no"
  }

  /** What a link with this data resolves to now (4.8). */
  resolve(data: string): Resolution {
    const at = data.indexOf("@")
    if (at < 0) return { kind: "unresolved" }
    const digits = data.slice(0, at)
    const streamId = data.slice(at + 1)
    if (!/^(0|[1-9][0-9]*)$/.test(digits)) {
      return lenientNumber.test(digits) ? { kind: "unspecified" } : { kind: "unresolved" }
    }
    const number = BigInt(digits)
    if (streamId.length === 0 || number > int64Max) return { kind: "unresolved" }
    if (streamId.startsWith("$$")) {
      // A metastream keeps only its latest event readable (4.7), and reads as deleted with its stream (4.6).
      const original = this.streams.get(streamId.slice(2))
      const records = this.metastream(streamId.slice(2))
      const latest = records[records.length - 1]
      if (original?.hardDeleted === true || latest === undefined) return { kind: "unresolved" }
      if (latest.eventNumber === undefined) return { kind: "unspecified" }
      return BigInt(latest.eventNumber) === number ? { kind: "resolved", target: latest } : { kind: "unresolved" }
    }
    const stream = this.streams.get(streamId)
    if (stream === undefined) return { kind: "unresolved" }
    const readable = this.readable(stream, Number(number))
    return readable === "yes"
      ? { kind: "resolved", target: stream.events[Number(number)]! }
      : readable === "no"
      ? { kind: "unresolved" }
      : { kind: "unspecified" }
  }

  /** The last commit position (4.3): the newest committed record's. */
  lastCommitPosition(): number | typeof unspecified {
    if (this.emptyWriteIsNewest) return unspecified
    return this.log.reduce((max, record) => Math.max(max, record.commit!), 0)
  }

  /** The expected-version decision of 4.2 for a write of fresh ids (no idempotency). */
  decide(name: string, expected: number, eventCount: number): "write" | "wrongExpectedVersion" | "streamDeleted" {
    const stream = this.stream(name)
    const current = lastOf(stream)
    if (stream.hardDeleted) return "streamDeleted"
    if (expected === Any) return "write"
    if (expected < current) {
      // The first fresh id never matches the event after `expected` (4.2 step 4).
      return eventCount > 0 && expected === -1 && isSoftDeleted(stream) ? "write" : "wrongExpectedVersion"
    }
    return expected > current ? "wrongExpectedVersion" : "write"
  }

  /** Appends written records; a write to a soft-deleted stream recreates it from its next number (4.6). */
  write(name: string, records: ReadonlyArray<LogRecord>): Segment {
    const stream = this.stream(name)
    const undeleted = new Map<string, number>()
    if (isSoftDeleted(stream) && records.length > 0) {
      stream.truncateBefore = stream.events.length
      undeleted.set(name, stream.events.length)
    }
    for (const record of records) {
      record.eventNumber = stream.events.length
      stream.events.push(record)
    }
    if (records.length > 0) this.emptyWriteIsNewest = false
    return { records, undeleted }
  }

  softDelete(name: string, record: LogRecord): Segment {
    const stream = this.stream(name)
    stream.truncateBefore = "deleted"
    // Whether a soft delete keeps `$maxCount` is not said (4.6): either may hold from now on.
    stream.maxCounts = [...new Set([...stream.maxCounts, undefined])]
    this.emptyWriteIsNewest = false
    return { records: [record], undeleted: new Map() }
  }

  hardDelete(name: string, record: LogRecord): Segment {
    this.stream(name).hardDeleted = true
    this.emptyWriteIsNewest = false
    return { records: [record], undeleted: new Map() }
  }

  /** Metadata replaces the last; on a soft-deleted stream `$tb` becomes last + 1 (4.6). */
  writeMetadata(name: string, record: LogRecord, maxCount: number | undefined, truncateBefore: number | undefined) {
    const stream = this.stream(name)
    const undeleted = new Map<string, number>()
    if (isSoftDeleted(stream)) {
      stream.truncateBefore = stream.events.length
      undeleted.set(name, stream.events.length)
    } else {
      stream.truncateBefore = truncateBefore
    }
    stream.maxCounts = [maxCount]
    this.emptyWriteIsNewest = false
    return { records: [record], undeleted }
  }
}

/** A new record written by the test, whose number the model assigns when the write succeeds. */
const writtenRecord = (stream: string, event: ReturnType<typeof newEvent>, origin: Origin): LogRecord => ({
  stream,
  eventNumber: undefined,
  eventType: event.eventType!,
  id: hex(event.eventId!),
  data: text(event.data!),
  contentType: event.dataContentType!,
  metadata: "",
  created: undefined,
  origin,
  commit: undefined,
  prepare: undefined,
  end: undefined
})

/** A record the server writes (a delete's, an undelete's): all but its stream and type is learned. */
const serverRecord = (
  stream: string,
  eventType: string,
  position: number | undefined,
  known: Partial<Pick<LogRecord, "eventNumber" | "data">> = {}
): LogRecord => ({
  stream,
  eventNumber: known.eventNumber,
  eventType,
  id: undefined,
  data: known.data,
  contentType: undefined,
  metadata: undefined,
  created: undefined,
  origin: { kind: "server", position },
  commit: undefined,
  prepare: undefined,
  end: undefined
})

// ---------------------------------------------------------------------------------------------------
// Predicted replies, as the node's replies are projected for comparison

interface Indexed {
  readonly event: string
  readonly link: string
}

interface Resolved extends Indexed {
  readonly position: string
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")
const decoder = new TextDecoder()
const encoder = new TextEncoder()
const text = (bytes: Uint8Array): string => decoder.decode(bytes)
const wireNumber = (n: bigint): number => (n === int64Max ? tombstone : Number(n))

const describeWire = (record: Messages.EventRecord | undefined): string =>
  record === undefined
    ? absent
    : `${record.eventStreamId}#${numberText(wireNumber(record.eventNumber))} ${record.eventType} ${
      hex(record.eventId)
    } ${JSON.stringify(text(record.data))} ${record.dataContentType}/${record.metadataContentType} ${
      JSON.stringify(text(record.metadata))
    } ${record.created}@${record.createdEpoch}`

const indexedOfWire = (resolved: Messages.ResolvedIndexedEvent): Indexed => ({
  event: describeWire(resolved.event),
  link: describeWire(resolved.link)
})

const resolvedOfWire = (resolved: Messages.ResolvedEvent): Resolved => ({
  event: describeWire(resolved.event),
  link: describeWire(resolved.link),
  position: `${resolved.commitPosition}/${resolved.preparePosition}`
})

/** `actual` with every part that `predicted` leaves unspecified replaced by the marker. */
const masked = (actual: unknown, predicted: unknown): unknown => {
  if (predicted === unspecified) return unspecified
  if (Array.isArray(actual) && Array.isArray(predicted)) {
    return actual.map((item, i) => (i < predicted.length ? masked(item, predicted[i]) : item))
  }
  if (typeof actual === "object" && actual !== null && typeof predicted === "object" && predicted !== null) {
    const shape = predicted as Record<string, unknown>
    return Object.fromEntries(Object.entries(actual).map(([key, value]) => [key, masked(value, shape[key])]))
  }
  return actual
}

/** A value in full, indented to sit under a heading of a failure message. */
const show = (value: unknown): string => JSON.stringify(value, null, 2).replaceAll("\n", "\n  ")

/**
 * Compares what the doc fixes: `predicted` with `unspecified` wherever it leaves the reply open. A
 * failure shows both in full (chai's message elides nested values), then the history.
 */
const assertMatches = (actual: unknown, predicted: unknown, message: string): void => {
  const seen = masked(actual, predicted)
  try {
    assert.deepStrictEqual(seen, predicted)
  } catch {
    assert.fail(`predicted:\n  ${show(predicted)}\nbut got:\n  ${show(seen)}\nin ${message}`)
  }
}

// ---------------------------------------------------------------------------------------------------
// Requests

const deleteStream = (client: RawClient, stream: string, hardDelete: boolean) =>
  client.request(
    C.DeleteStream,
    Messages.DeleteStreamSchema,
    { eventStreamId: stream, expectedVersion: BigInt(Any), requireLeader: true, hardDelete },
    C.DeleteStreamCompleted,
    Messages.DeleteStreamCompletedSchema
  )

const readEvent = (client: RawClient, stream: string, eventNumber: number, resolveLinkTos: boolean) =>
  client.request(
    C.ReadEvent,
    Messages.ReadEventSchema,
    { eventStreamId: stream, eventNumber: BigInt(eventNumber), resolveLinkTos, requireLeader: true },
    C.ReadEventCompleted,
    Messages.ReadEventCompletedSchema
  )

const readStream = (
  client: RawClient,
  direction: Direction,
  stream: string,
  from: number,
  maxCount: number,
  resolveLinkTos: boolean
) =>
  client.request(
    direction === "forward" ? C.ReadStreamEventsForward : C.ReadStreamEventsBackward,
    Messages.ReadStreamEventsSchema,
    { eventStreamId: stream, fromEventNumber: BigInt(from), maxCount, resolveLinkTos, requireLeader: true },
    direction === "forward" ? C.ReadStreamEventsForwardCompleted : C.ReadStreamEventsBackwardCompleted,
    Messages.ReadStreamEventsCompletedSchema
  )

/** A ReadAllEventsCompleted or FilteredReadAllEventsCompleted; `isEndOfStream` only in the latter. */
interface AllReply {
  readonly result: number
  readonly position: Position
  readonly events: ReadonlyArray<Messages.ResolvedEvent>
  readonly next: Position
  readonly isEndOfStream: boolean | undefined
  readonly error: string | undefined
}

const allReplyOf = (reply: Messages.ReadAllEventsCompleted | Messages.FilteredReadAllEventsCompleted): AllReply => ({
  result: reply.result,
  position: { commit: Number(reply.commitPosition), prepare: Number(reply.preparePosition) },
  events: reply.events,
  next: { commit: Number(reply.nextCommitPosition), prepare: Number(reply.nextPreparePosition) },
  isEndOfStream: "isEndOfStream" in reply ? reply.isEndOfStream : undefined,
  error: reply.error
})

const readAll = (
  client: RawClient,
  direction: Direction,
  from: Position,
  maxCount: number,
  resolveLinkTos: boolean,
  filtered?: { readonly filter: Filter; readonly maxSearchWindow: number }
): Effect.Effect<AllReply, Error> => {
  const request = {
    commitPosition: BigInt(from.commit),
    preparePosition: BigInt(from.prepare),
    maxCount,
    resolveLinkTos,
    requireLeader: true
  }
  if (filtered === undefined) {
    return client.request(
      direction === "forward" ? C.ReadAllEventsForward : C.ReadAllEventsBackward,
      Messages.ReadAllEventsSchema,
      request,
      direction === "forward" ? C.ReadAllEventsForwardCompleted : C.ReadAllEventsBackwardCompleted,
      Messages.ReadAllEventsCompletedSchema,
      { credentials: admin }
    ).pipe(Effect.map(allReplyOf))
  }
  return client.request(
    direction === "forward" ? C.FilteredReadAllEventsForward : C.FilteredReadAllEventsBackward,
    Messages.FilteredReadAllEventsSchema,
    {
      ...request,
      maxSearchWindow: filtered.maxSearchWindow,
      filter: { context: filtered.filter.context, type: filtered.filter.type, data: [...filtered.filter.data] }
    },
    direction === "forward" ? C.FilteredReadAllEventsForwardCompleted : C.FilteredReadAllEventsBackwardCompleted,
    Messages.FilteredReadAllEventsCompletedSchema,
    { credentials: admin }
  ).pipe(Effect.map(allReplyOf))
}

// ---------------------------------------------------------------------------------------------------
// Generated operations

const operation = Arbitrary.all({
  kind: intBetween(0, 99),
  stream: intBetween(0, 99),
  count: intBetween(0, 3),
  a: intBetween(0, 99),
  b: intBetween(0, 99),
  links: Arbitrary.array(intBetween(0, 9999), { minLength: 3, maxLength: 3 })
})

type Operation = typeof operation extends Arbitrary.Arbitrary<infer A> ? A : never

/** Stream and event-type filters (3.5), regexes anchored so that "matches" and "matches anywhere" agree. */
const filters: ReadonlyArray<Filter> = [
  { context: FilterContext.StreamId, type: FilterType.Prefix, data: ["orders-"] },
  { context: FilterContext.StreamId, type: FilterType.Prefix, data: ["links-", "$$"] },
  { context: FilterContext.EventType, type: FilterType.Prefix, data: ["$>"] },
  { context: FilterContext.EventType, type: FilterType.Prefix, data: ["placed", "$"] },
  { context: FilterContext.StreamId, type: FilterType.Regex, data: ["^.*@.*$|^links-b$", "^orders-1$"] },
  { context: FilterContext.EventType, type: FilterType.Regex, data: ["^(shipped|\\$streamDeleted)$"] },
  { context: FilterContext.StreamId, type: FilterType.Prefix, data: [] }
]

/** Any mostly; else the current version, or one off it, which 4.2 rejects. */
const expectedFor = (choice: number, current: number): number =>
  choice < 70 ? Any : choice < 85 ? current : choice < 92 ? current - 1 : current + 1

/** How much to pad an event's data: now and then enough that lengths take more than one varint byte. */
const padding = (choice: number): number => (choice % 10 === 3 ? 200 : choice % 25 === 4 ? 20_000 : 0)

interface OpenTransaction {
  readonly name: string
  readonly expected: number
  readonly begin: number
  readonly events: ReadonlyArray<ReturnType<typeof newEvent>>
  readonly id: number
}

const link = (data: string, json: boolean): ReturnType<typeof newEvent> => ({
  eventId: eventId(),
  eventType: "$>",
  dataContentType: json ? 1 : 0,
  metadataContentType: 0,
  data: encoder.encode(data)
})

// ---------------------------------------------------------------------------------------------------

it.live.prop(
  "links resolve, and $all reads page, as docs/protocol.md sections 3.3, 4.3-4.8 and 4.10 predict",
  // A fixed array and a length: the checker grows arrays with the run number, so most runs would be short.
  [
    Arbitrary.array(operation, { minLength: 30, maxLength: 30 }),
    intBetween(12, 30),
    intBetween(1, 5),
    intBetween(0, 1)
  ],
  ([generated, length, pageSize, style]) =>
    Effect.gen(function*() {
      // A node per case: `$all` then holds only what this case wrote. Half encode as 22.6+ servers do,
      // leaving default values out (3.1): the replies decode to the same values.
      const { port } = yield* EventStoreServer.make({ port: 0, omitDefaultValues: style === 1 })
      const client = yield* connect(port)
      // A client that does not identify gets int32 event numbers (4.1); the model speaks int64.
      yield* identify(client)
      const operations = generated.slice(0, length)
      const model = new Model()
      const history: Array<string> = []
      const context = () => `after:\n  ${history.join("\n  ")}`
      /** Transactions started and written to, not committed yet: a later operation commits them. */
      const open: Array<OpenTransaction> = []
      /** The next position of the last `$all` read in each direction, to page on from. */
      const lastNext: Record<Direction, Position | undefined> = { forward: undefined, backward: undefined }

      // -------------------------------------------------------------------------------------------
      // What the model predicts for reads

      const project = (record: LogRecord, resolve: boolean): Indexed => {
        if (!resolve || record.eventType !== "$>") return { event: describe(record), link: absent }
        const resolution = model.resolve(record.data!)
        return {
          event: resolution.kind === "resolved"
            ? describe(resolution.target)
            : resolution.kind === "unresolved"
            ? absent
            : unspecified,
          link: describe(record)
        }
      }

      const projectAll = (record: LogRecord, resolve: boolean): Resolved => ({
        ...project(record, resolve),
        // A ResolvedEvent sits where its original record does: the link if there is one (4.8).
        position: positionText(positionOf(record))
      })

      /** A filter's verdict on an event as a read returns it; `undefined` where 4.5 and 4.8 leave it open. */
      const matches = (filter: Filter | undefined, record: LogRecord, resolve: boolean): boolean | undefined => {
        if (filter === undefined || filter.data.length === 0) return true
        const own = filterMatches(filter, record)
        if (!resolve || record.eventType !== "$>") return own
        // Whether a resolved read filters on the link or on its target is not said: only agreement counts.
        const resolution = model.resolve(record.data!)
        if (resolution.kind !== "resolved") return undefined
        return filterMatches(filter, resolution.target) === own ? own : undefined
      }

      /**
       * Whether a backward read from `from` includes a record: those whose record ends at or before it
       * (4.5). A record's end is known once learned, else bounded by the next known record start; a
       * transaction's events end with its commit record, and where that meets `from` the doc is open.
       */
      const endsBefore = (record: LogRecord, from: Position): boolean | undefined => {
        if (record.origin.kind === "transaction") {
          const commit = record.origin.commit
          const commitEndsBy = model.nextLandmark(commit)
          if (commitEndsBy < from.commit || (commitEndsBy <= from.commit && from.prepare >= commit)) return true
          return record.prepare! >= from.commit ? false : undefined
        }
        if (record.end !== undefined) return record.end <= from.commit
        if (model.nextLandmark(record.prepare!) <= from.commit) return true
        return record.prepare! >= from.commit ? false : undefined
      }

      interface AllPrediction {
        /** What the page starts with; all of it when `complete`. */
        readonly events: ReadonlyArray<Resolved>
        readonly complete: boolean
        readonly lastConsidered: LogRecord | undefined
        readonly lastReturned: LogRecord | undefined
        readonly endOfStream: boolean | undefined
      }

      /**
       * A `$all` page (4.5): the records at or after `from` (forward) or ending at or before it (backward),
       * up to `maxCount` of them and, filtered, looking at up to `window` records. Stops at the first
       * record whose membership or match the doc leaves open: what precedes it is still fixed.
       */
      const predictAll = (
        direction: Direction,
        from: Position | "end",
        maxCount: number,
        window: number,
        filter: Filter | undefined,
        resolve: boolean
      ): AllPrediction => {
        const ordered = direction === "forward" ? model.log : newestFirst(model.log)
        const inPage = (record: LogRecord): boolean | undefined =>
          from === "end"
            ? direction === "backward"
            : direction === "forward"
            ? comparePositions(positionOf(record), from) >= 0
            : endsBefore(record, from)
        const returned: Array<LogRecord> = []
        let considered = 0
        let lastConsidered: LogRecord | undefined
        const partial = (): AllPrediction => ({
          events: returned.map((record) => projectAll(record, resolve)),
          complete: false,
          lastConsidered: undefined,
          lastReturned: undefined,
          endOfStream: undefined
        })
        let index = 0
        for (; index < ordered.length && returned.length < maxCount && considered < window; index++) {
          const record = ordered[index]!
          const included = inPage(record)
          if (included === false) continue
          if (included === undefined) return partial()
          considered++
          const match = matches(filter, record, resolve)
          if (match === undefined) return partial()
          if (match) returned.push(record)
          lastConsidered = record
        }
        // Filtered reads tell the end of the stream: reached when nothing is left, and not when something
        // that matches is; a limit hit just at the end, or only non-matching records left, is left open.
        let rest: "none" | "matching" | "open" = "none"
        for (; index < ordered.length && rest === "none"; index++) {
          const record = ordered[index]!
          const included = inPage(record)
          if (included === false) continue
          const match = included === undefined ? undefined : matches(filter, record, resolve)
          rest = match === true ? "matching" : "open"
        }
        const limited = returned.length === maxCount || considered === window
        return {
          events: returned.map((record) => projectAll(record, resolve)),
          complete: true,
          lastConsidered,
          lastReturned: returned[returned.length - 1],
          endOfStream: !limited ? true : rest === "matching" ? false : undefined
        }
      }

      const recordAt = (position: Position): LogRecord | undefined =>
        model.log.find((record) => record.commit === position.commit && record.prepare === position.prepare)

      /** The end of the log, where `(-1, -1)` reads from: echoed as is, or as the writer's position (4.3). */
      const assertEndPosition = (position: Position, what: string) => {
        if (position.commit === -1 && position.prepare === -1) return
        assert.strictEqual(position.prepare, position.commit, `${what}: (-1, -1) read as (w, w), ${context()}`)
        assert.isAbove(position.commit, model.maxLandmark, `${what}: the end of the log, ${context()}`)
      }

      /**
       * Checks a next position where 4.5 fixes it, and learns where records end from a forward one:
       * after an implicit record, (its end, 0); after a transaction's last event, (commit, its end).
       */
      const checkNext = (
        direction: Direction,
        from: Position | "end",
        prediction: AllPrediction,
        filtered: boolean,
        next: Position
      ) => {
        const last = prediction.lastConsidered
        if (!prediction.complete) return
        if (last === undefined) {
          // Nothing read: forward stays where it was asked to read; 4.5 says nothing of backward.
          if (direction === "backward") return
          if (from === "end") assertEndPosition(next, "next")
          else assert.deepStrictEqual(next, from, `next of an empty page, ${context()}`)
          return
        }
        // After a filtered read that looked past its last match, the doc does not say where next is.
        if (filtered && last !== prediction.lastReturned) return
        const where = `next after ${describe(last)} at ${positionText(positionOf(last))}, ${context()}`
        if (direction === "backward") {
          if (last.origin.kind === "transaction") return
          assert.deepStrictEqual(next, positionOf(last), where)
          return
        }
        const bound = model.nextLandmark(last.prepare!)
        if (last.origin.kind === "transaction") {
          if (!last.origin.last) return
          assert.strictEqual(next.commit, last.origin.commit, where)
          if (last.end === undefined) {
            assert.isAbove(next.prepare, last.prepare!, where)
            assert.isAtMost(next.prepare, bound, where)
            last.end = next.prepare
          }
          assert.strictEqual(next.prepare, last.end, where)
          return
        }
        assert.strictEqual(next.prepare, 0, where)
        if (last.end === undefined) {
          assert.isAbove(next.commit, last.prepare!, where)
          assert.isAtMost(next.commit, bound, where)
          last.end = next.commit
        }
        assert.strictEqual(next.commit, last.end, where)
      }

      /** Compares a `$all` page with the model's prediction. */
      const checkAllPage = (
        label: string,
        direction: Direction,
        from: Position | "end",
        maxCount: number,
        resolve: boolean,
        filtered: { readonly filter: Filter; readonly maxSearchWindow: number } | undefined,
        reply: AllReply
      ) => {
        const where = `${label}, ${context()}`
        assert.strictEqual(reply.result, ReadAllResult.Success, where)
        if (from === "end") assertEndPosition(reply.position, "the position read from")
        else assert.deepStrictEqual(reply.position, from, `the position read from: ${where}`)
        const actual = reply.events.map(resolvedOfWire)
        // Whatever a page holds is a record of the log at its own position, resolved as 4.8 says.
        const positions = reply.events.map((resolved) => ({
          commit: Number(resolved.commitPosition),
          prepare: Number(resolved.preparePosition)
        }))
        const each = positions.map((position, i) => {
          const record = recordAt(position)
          return record === undefined ? { ...actual[i]!, event: "<no record here>" } : projectAll(record, resolve)
        })
        assertMatches(actual, each, `each event: ${where}`)
        for (let i = 1; i < positions.length; i++) {
          const order = comparePositions(positions[i]!, positions[i - 1]!)
          assert.isTrue(direction === "forward" ? order > 0 : order < 0, `${direction} order: ${where}`)
        }
        const window = filtered === undefined || filtered.maxSearchWindow <= 0 ? maxCount : filtered.maxSearchWindow
        const prediction = predictAll(direction, from, maxCount, window, filtered?.filter, resolve)
        if (prediction.complete) assertMatches(actual, prediction.events, `page: ${where}`)
        else assertMatches(actual.slice(0, prediction.events.length), prediction.events, `page start: ${where}`)
        checkNext(direction, from, prediction, filtered !== undefined, reply.next)
        if (filtered !== undefined && prediction.endOfStream !== undefined) {
          assert.strictEqual(reply.isEndOfStream, prediction.endOfStream, `end of stream: ${where}`)
        }
        return prediction
      }

      /** A stream read's reply as 4.4 describes it, events resolved as 4.8 says. */
      const predictStreamPage = (name: string, direction: Direction, from: number, count: number, resolve: boolean) => {
        const stream = model.stream(name)
        const last = lastOf(stream)
        if (stream.hardDeleted) {
          return { result: ReadStreamResult.StreamDeleted, events: [], next: -1, last: tombstone, end: true }
        }
        if (last === -1 || isSoftDeleted(stream)) {
          return { result: ReadStreamResult.NoStream, events: [], next: -1, last, end: true }
        }
        const min = model.firstReadable(stream)
        const success = { result: ReadStreamResult.Success, last, lastCommit: model.lastCommitPosition() }
        if (min === undefined) return { ...success, events: unspecified, next: unspecified, end: unspecified }
        const page = (numbers: ReadonlyArray<number>) => numbers.map((n) => project(stream.events[n]!, resolve))
        if (direction === "forward") {
          const end = from + count - 1
          if (end < min) return { ...success, events: [], next: min, end: false }
          const numbers = range(Math.max(from, min), Math.min(end, last))
          const next = numbers.length > 0 ? numbers[numbers.length - 1]! + 1 : Math.min(end + 1, last + 1)
          return { ...success, events: page(numbers), next, end: end >= last }
        }
        const end = from < 0 ? last : from
        let start = Math.max(0, end - count + 1)
        if (end < min) return { ...success, events: [], next: -1, end: true }
        let endOfStream = false
        if (start <= min) {
          start = min
          endOfStream = true
        }
        const numbers = newestFirst(range(start, Math.min(end, last)))
        endOfStream = endOfStream || start === 0 || (start <= last && !numbers.includes(start))
        const next = endOfStream ? -1 : Math.min(start - 1, last)
        return { ...success, events: page(numbers), next, end: endOfStream }
      }

      const checkStreamPage = (
        label: string,
        name: string,
        direction: Direction,
        from: number,
        count: number,
        resolve: boolean,
        reply: Messages.ReadStreamEventsCompleted
      ) => {
        const where = `${label}, ${context()}`
        const predicted = predictStreamPage(name, direction, from, count, resolve)
        const actual = {
          result: reply.result,
          events: reply.events.map(indexedOfWire),
          next: Number(reply.nextEventNumber),
          last: wireNumber(reply.lastEventNumber),
          end: reply.isEndOfStream,
          ...("lastCommit" in predicted ? { lastCommit: Number(reply.lastCommitPosition) } : {})
        }
        assertMatches(actual, predicted, where)
        // Whatever the page holds is the stream's event of that number, resolved as 4.8 says.
        const stream = model.stream(name)
        const each = reply.events.map((resolved, i) => {
          const original = resolved.link ?? resolved.event
          const record = original === undefined ? undefined : stream.events[Number(original.eventNumber)]
          return record === undefined ? { ...actual.events[i]!, event: "<no such event>" } : project(record, resolve)
        })
        assertMatches(actual.events, each, `each event: ${where}`)
      }

      // -------------------------------------------------------------------------------------------
      // The survey: learning what the server chose, checking what the doc fixes

      const learn = (record: LogRecord, resolved: Messages.ResolvedEvent) => {
        const wire = resolved.event!
        record.id ??= hex(wire.eventId)
        record.data ??= text(wire.data)
        record.contentType ??= wire.dataContentType
        record.metadata ??= text(wire.metadata)
        record.eventNumber ??= wireNumber(wire.eventNumber)
        record.created = `${wire.created}@${wire.createdEpoch}`
        // 4.12: `created` is the tick count of `created_epoch` (top two "kind" bits masked off).
        assert.strictEqual(
          BigInt.asUintN(62, wire.created),
          wire.createdEpoch * 10_000n + 621_355_968_000_000_000n,
          `created of ${describe(record)}, ${context()}`
        )
        const position = { commit: Number(resolved.commitPosition), prepare: Number(resolved.preparePosition) }
        const where = `${describe(record)} at ${positionText(position)}, ${context()}`
        assert.strictEqual(describeWire(wire), describe(record), where)
        const { origin } = record
        if (origin.kind === "server" && origin.position !== undefined && record.eventType === "$metadata") {
          // 4.6: a soft delete's metadata has `$tb` = 2^63-1 (too large for JSON.parse to keep exact).
          assert.match(record.data!, /"\$tb"\s*:\s*9223372036854775807\s*[,}]/, `soft delete's $tb: ${where}`)
        }
        if (origin.kind === "transaction") {
          // 4.3, 4.10: commit = the commit record's offset, prepare = the event's own record, after the begin.
          assert.strictEqual(position.commit, origin.commit, `transaction commit: ${where}`)
          assert.isAbove(position.prepare, origin.begin, `transaction prepare: ${where}`)
          assert.isBelow(position.prepare, origin.commit, `transaction prepare: ${where}`)
        } else {
          // 4.3: an implicitly committed record has commit = prepare = its offset; a reply told some (4.2, 4.6).
          assert.strictEqual(position.prepare, position.commit, `implicit commit: ${where}`)
          if (origin.position !== undefined) {
            assert.strictEqual(position.commit, origin.position, `the reply's position: ${where}`)
          }
        }
        const previous = model.log[model.log.length - 1]
        if (previous !== undefined) {
          assert.isAbove(comparePositions(position, positionOf(previous)), 0, `$all ascends: ${where}`)
        }
        record.commit = position.commit
        record.prepare = position.prepare
        model.log.push(record)
        model.landmarks.push(position.prepare)
      }

      /** Reads `$all` forward from where the last survey stopped and matches what came with what was written. */
      const survey = () =>
        Effect.gen(function*() {
          if (model.pending.length === 0) return
          const from = model.surveyFrom
          const reply = yield* readAll(client, "forward", from, 4096, false)
          assert.strictEqual(reply.result, ReadAllResult.Success, `survey, ${context()}`)
          assert.deepStrictEqual(reply.position, from, `survey position, ${context()}`)
          let i = 0
          for (const segment of model.pending) {
            const rewrites = new Map(segment.undeleted)
            let k = 0
            while (k < segment.records.length || rewrites.size > 0) {
              const resolved = reply.events[i]
              const expected = segment.records[k]
              if (resolved === undefined) {
                if (expected !== undefined) assert.fail(`survey: ${describe(expected)} is not in $all, ${context()}`)
                break
              }
              const wire = resolved.event!
              const sameRecord = expected !== undefined && wire.eventStreamId === expected.stream &&
                wire.eventType === expected.eventType &&
                (expected.id === undefined || hex(wire.eventId) === expected.id) &&
                (expected.origin.kind !== "server" || expected.origin.position === undefined ||
                  Number(resolved.commitPosition) === expected.origin.position)
              if (sameRecord) {
                learn(expected, resolved)
                k++
                i++
                continue
              }
              // The metadata an undelete rewrites: `$tb` = the first new number, in `$$<stream>` (4.6).
              const undeleted = wire.eventStreamId.slice(2)
              if (wire.eventStreamId.startsWith("$$") && wire.eventType === "$metadata" && rewrites.has(undeleted)) {
                const json = JSON.parse(text(wire.data)) as Record<string, unknown>
                assert.strictEqual(json["$tb"], rewrites.get(undeleted), `undelete's $tb, ${context()}`)
                rewrites.delete(undeleted)
                learn(serverRecord(wire.eventStreamId, "$metadata", undefined), resolved)
                i++
                continue
              }
              // 4.6 does not say an undelete writes a record: without one, reads tell its effect.
              if (expected === undefined) break
              assert.strictEqual(describeWire(wire), describe(expected), `survey: unexpected record, ${context()}`)
            }
          }
          assert.strictEqual(i, reply.events.length, `survey: records no operation wrote, ${context()}`)
          // Event numbers are contiguous (4.1): the replies told those of the streams, the survey those of
          // the metastreams, where the server writes records of its own.
          for (const name of allStreams) {
            const numbers = model.metastream(name).map((record) => record.eventNumber)
            assert.deepStrictEqual(numbers, numbers.map((_, n) => n), `$$${name} numbers, ${context()}`)
          }
          const prediction: AllPrediction = {
            events: [],
            complete: true,
            lastConsidered: reply.events.length === 0 ? undefined : model.log[model.log.length - 1],
            lastReturned: reply.events.length === 0 ? undefined : model.log[model.log.length - 1],
            endOfStream: undefined
          }
          checkNext("forward", from, prediction, false, reply.next)
          model.surveyFrom = reply.next
          model.pending = []
        })

      // -------------------------------------------------------------------------------------------
      // Writes

      /**
       * Link data (4.8): to events that exist or not yet, anywhere, its own stream included; or bad. Now
       * and then a stream reference (`$@`, 4.8) instead, which is no link.
       */
      const linkEvent = (choice: number, self: { readonly stream: string; readonly number: number }, json: boolean) =>
        choice % 100 >= 96
          ? { ...link(allStreams[Math.floor(choice / 100) % allStreams.length]!, json), eventType: "$@" }
          : link(linkData(choice, self), json)

      /** The data of a link: at a target stream, a link stream, 2^63-1 or past it, a metastream, or bad. */
      const linkData = (choice: number, self: { readonly stream: string; readonly number: number }): string => {
        const kind = choice % 100
        const pick = Math.floor(choice / 100)
        if (kind < 50) {
          const target = targetStreams[pick % targetStreams.length]!
          return `${pick % (lastOf(model.stream(target)) + 3)}@${target}`
        }
        if (kind < 65) {
          if (pick % 5 === 0) return `${self.number}@${self.stream}`
          const target = linkStreams[pick % linkStreams.length]!
          return `${pick % (lastOf(model.stream(target)) + 3)}@${target}`
        }
        if (kind < 70) return `${pick % 2 === 0 ? int64Max : "99999999999999999999"}@${targetStreams[pick % 3]!}`
        if (kind < 78) {
          // What the survey has seen of the metastream is enough to aim at and around its latest event.
          const target = allStreams[pick % allStreams.length]!
          return `${pick % (model.metastream(target).length + 2)}@$$${target}`
        }
        if (kind < 92) return badLinkData[pick % badLinkData.length]!
        return lenientLinkData[pick % lenientLinkData.length]!
      }

      const runWrite = (op: Operation, name: string, what: "events" | "links" | "nothing") =>
        Effect.gen(function*() {
          const stream = model.stream(name)
          const current = lastOf(stream)
          // An empty write leaves a record but no event; 4.6 does not say one recreates a soft-deleted stream.
          const count = what === "nothing" ? (isSoftDeleted(stream) ? 1 : 0) : Math.max(1, op.count)
          const events = Array.from({ length: count }, (_, i) =>
            what === "links"
              ? linkEvent(op.links[i]!, { stream: name, number: current + 1 + i }, op.b % 7 === 0)
              : newEvent(i % 2 === 0 ? "placed" : "shipped", { n: current + 1 + i, pad: "x".repeat(padding(op.b)) }))
          const expected = expectedFor(op.a, current)
          const way = count === 0 || op.b < 70 ? "write" : op.b < 85 ? "transaction" : "open transaction"
          const shown = events.map((e) => (e.eventType === "$>" ? `$>${JSON.stringify(text(e.data!))}` : e.eventType))
          history.push(`${way} ${name} expected ${expected}: ${shown.join(", ")}`)
          if (way === "write") {
            const decision = model.decide(name, expected, count)
            const reply = yield* append(client, name, BigInt(expected), events)
            history.push(`  -> result ${reply.result} first ${reply.firstEventNumber} position ${reply.commitPosition}`)
            settleWrite(name, decision, current, count, reply)
            if (reply.result !== OperationResult.Success) return
            const position = Number(reply.commitPosition)
            model.landmarks.push(position)
            if (count === 0) {
              model.emptyWriteIsNewest = true
              return
            }
            const records = events.map((event, i) =>
              writtenRecord(name, event, { kind: "implicit", position: i === count - 1 ? position : undefined })
            )
            model.pending.push(model.write(name, records))
            return
          }
          // A transaction's id is where its begin record starts in the log (4.10).
          const begin = Number(yield* startTransaction(client, name, BigInt(expected), events))
          model.landmarks.push(begin)
          const transaction = { name, expected, begin, events, id: begin }
          if (way === "open transaction") open.push(transaction)
          else yield* commit(transaction)
        })

      /** Commits a transaction: the expected version is checked now, not at its start (4.10). */
      const commit = (transaction: OpenTransaction) =>
        Effect.gen(function*() {
          const { begin, events, expected, name } = transaction
          const current = lastOf(model.stream(name))
          const decision = model.decide(name, expected, events.length)
          history.push(`commit transaction ${begin} of ${name} expected ${expected}`)
          const reply = yield* commitTransaction(client, BigInt(transaction.id))
          history.push(`  -> result ${reply.result} first ${reply.firstEventNumber} position ${reply.commitPosition}`)
          const predicted = decision === "write"
            ? OperationResult.Success
            : decision === "streamDeleted"
            ? OperationResult.StreamDeleted
            : OperationResult.WrongExpectedVersion
          assert.strictEqual(reply.result, predicted, context())
          if (predicted !== OperationResult.Success) return
          assert.deepStrictEqual(
            [Number(reply.firstEventNumber), Number(reply.lastEventNumber)],
            [current + 1, current + events.length],
            context()
          )
          // 4.10: the reply's prepare and commit positions are both the commit record's offset.
          assert.strictEqual(reply.preparePosition, reply.commitPosition, context())
          const commitPosition = Number(reply.commitPosition)
          model.landmarks.push(commitPosition)
          const records = events.map((event, i) =>
            writtenRecord(name, event, {
              kind: "transaction",
              commit: commitPosition,
              begin,
              last: i === events.length - 1
            })
          )
          model.pending.push(model.write(name, records))
        })

      const settleWrite = (
        name: string,
        decision: ReturnType<Model["decide"]>,
        current: number,
        count: number,
        reply: Messages.WriteEventsCompleted
      ) => {
        const failed = { first: invalidEventNumber, last: invalidEventNumber }
        const predicted: {
          readonly result: number
          readonly first: number
          readonly last: number
          readonly currentVersion?: number
        } = decision === "write"
          ? { result: OperationResult.Success, first: current + 1, last: current + count }
          : decision === "wrongExpectedVersion"
          ? { result: OperationResult.WrongExpectedVersion, ...failed, currentVersion: current }
          : { result: OperationResult.StreamDeleted, ...failed }
        assert.deepStrictEqual(
          {
            result: reply.result,
            first: Number(reply.firstEventNumber),
            last: Number(reply.lastEventNumber),
            ...("currentVersion" in predicted ? { currentVersion: Number(reply.currentVersion) } : {})
          },
          predicted,
          `write to ${name}, ${context()}`
        )
        if (reply.result === OperationResult.Success) {
          assert.strictEqual(reply.preparePosition, reply.commitPosition, `write to ${name}, ${context()}`)
        }
      }

      const runDelete = (name: string, hardDelete: boolean) =>
        Effect.gen(function*() {
          const stream = model.stream(name)
          history.push(`${hardDelete ? "hard" : "soft"} delete ${name}`)
          const reply = yield* deleteStream(client, name, hardDelete)
          history.push(`  -> result ${reply.result} position ${reply.commitPosition}`)
          // With Any only a hard-deleted stream refuses, even one that never existed (4.6).
          const predicted = stream.hardDeleted ? OperationResult.StreamDeleted : OperationResult.Success
          assert.strictEqual(reply.result, predicted, context())
          if (predicted !== OperationResult.Success) return
          assert.strictEqual(reply.preparePosition, reply.commitPosition, context())
          const position = Number(reply.commitPosition)
          model.landmarks.push(position)
          if (hardDelete) {
            // 4.6: a tombstone in the stream itself, number 2^63-1, type `$streamDeleted`, empty data.
            const tombstoneRecord = serverRecord(name, "$streamDeleted", position, { eventNumber: tombstone, data: "" })
            model.pending.push(model.hardDelete(name, tombstoneRecord))
          } else {
            // 4.6: a `$metadata` event in `$$<stream>` whose `$tb` is 2^63-1.
            model.pending.push(model.softDelete(name, serverRecord("$$" + name, "$metadata", position)))
          }
        })

      const runMetadata = (op: Operation, name: string) =>
        Effect.gen(function*() {
          yield* survey()
          const stream = model.stream(name)
          // Non-positive `$maxCount` and negative `$tb` count as not set (4.7).
          const maxCount = [undefined, 1, 2, 3, 0, -1][op.a % 6]
          const truncateBefore = op.b < 45 ? op.b % (lastOf(stream) + 3) : op.b < 50 ? -1 : undefined
          const json = JSON.stringify({
            ...(maxCount === undefined ? {} : { $maxCount: maxCount }),
            ...(truncateBefore === undefined ? {} : { $tb: truncateBefore })
          })
          // Binary or unparseable metadata counts as none (4.7). Not on a soft-deleted stream: 4.6 says a
          // metadata write undeletes it with `$tb` = last + 1, 4.7 that this one is ignored.
          const ignored = op.a >= 80 && !isSoftDeleted(stream) ? (op.a % 2 === 0 ? "binary" : "unparseable") : undefined
          const data = ignored === "unparseable" ? json.slice(0, -1) : json
          // Now and then through a transaction: metadata is an event like any other (4.7, 4.10).
          const way = op.b % 5 === 0 ? "transaction" : "write"
          history.push(`metadata ${name} by ${way} ${ignored ?? ""} ${data}`)
          const event = {
            ...newEvent("$metadata"),
            dataContentType: ignored === "binary" ? 0 : 1,
            data: encoder.encode(data)
          }
          const begin = way === "transaction" ? Number(yield* startTransaction(client, "$$" + name, BigInt(Any), [event])) : undefined
          if (begin !== undefined) model.landmarks.push(begin)
          const reply = begin === undefined
            ? yield* append(client, "$$" + name, BigInt(Any), [event])
            : yield* commitTransaction(client, BigInt(begin))
          history.push(`  -> result ${reply.result} number ${reply.firstEventNumber} position ${reply.commitPosition}`)
          // The metastream of a hard-deleted stream takes no writes (4.6).
          const predicted = stream.hardDeleted ? OperationResult.StreamDeleted : OperationResult.Success
          assert.strictEqual(reply.result, predicted, context())
          if (predicted !== OperationResult.Success) return
          // Metastream numbers are contiguous (4.1, 4.7); the survey has seen all earlier ones.
          assert.strictEqual(Number(reply.firstEventNumber), model.metastream(name).length, context())
          const position = Number(reply.commitPosition)
          model.landmarks.push(position)
          const record = writtenRecord(
            "$$" + name,
            event,
            begin === undefined
              ? { kind: "implicit", position }
              : { kind: "transaction", commit: position, begin, last: true }
          )
          record.eventNumber = Number(reply.firstEventNumber)
          const effective = ignored !== undefined
            ? { maxCount: undefined, truncateBefore: undefined }
            : {
              maxCount: maxCount !== undefined && maxCount > 0 ? maxCount : undefined,
              truncateBefore: truncateBefore !== undefined && truncateBefore >= 0 ? truncateBefore : undefined
            }
          model.pending.push(model.writeMetadata(name, record, effective.maxCount, effective.truncateBefore))
        })

      // -------------------------------------------------------------------------------------------
      // Reads

      const runReadEvent = (op: Operation, name: string) =>
        Effect.gen(function*() {
          yield* survey()
          const stream = model.stream(name)
          const resolve = op.b < 60
          const eventNumber = op.a < 20 ? -1 : op.a % (lastOf(stream) + 3)
          history.push(`read event ${name} ${eventNumber}${resolve ? " resolving links" : ""}`)
          const reply = yield* readEvent(client, name, eventNumber, resolve)
          history.push(`  -> result ${reply.result}`)
          const last = lastOf(stream)
          const wanted = eventNumber === -1 ? last : eventNumber
          const readable = model.readable(stream, wanted)
          const predicted = stream.hardDeleted
            ? { result: ReadEventResult.StreamDeleted, event: { event: absent, link: absent } }
            : last === -1 || isSoftDeleted(stream)
            ? { result: ReadEventResult.NoStream, event: { event: absent, link: absent } }
            : readable === "yes"
            ? { result: ReadEventResult.Success, event: project(stream.events[wanted]!, resolve) }
            : readable === "no"
            ? { result: ReadEventResult.NotFound, event: { event: absent, link: absent } }
            : { result: unspecified, event: unspecified }
          // A failed read still carries an empty event sub-message (3.5, 4.4).
          assert.isDefined(reply.event, context())
          assertMatches({ result: reply.result, event: indexedOfWire(reply.event!) }, predicted, context())
        })

      const runReadStream = (op: Operation, name: string) =>
        Effect.gen(function*() {
          yield* survey()
          const stream = model.stream(name)
          const direction: Direction = op.a < 50 ? "forward" : "backward"
          const resolve = op.b < 60
          const from = direction === "backward" && op.a % 5 === 0 ? -1 : op.b % (lastOf(stream) + 3)
          const count = 1 + op.count * 2 + (op.a % 2)
          const label = `read ${direction} ${name} from ${from} count ${count}${resolve ? " resolving links" : ""}`
          history.push(label)
          const reply = yield* readStream(client, direction, name, from, count, resolve)
          history.push(`  -> result ${reply.result}, ${reply.events.length} events, next ${reply.nextEventNumber}`)
          checkStreamPage(label, name, direction, from, count, resolve, reply)
        })

      /** Where a `$all` read starts: the ends of the log, records, where they end, a page's next, or nonsense. */
      const readAllFrom = (op: Operation, direction: Direction): Position | "end" | "invalid" => {
        const { log } = model
        const record = log[op.b % Math.max(1, log.length)]
        const choice = op.a % 20
        if (choice < 2 || record === undefined) return { commit: 0, prepare: 0 }
        if (choice < 4) return "end"
        if (choice < 9) return positionOf(record)
        if (choice < 10) return { commit: record.commit!, prepare: record.prepare! + 1 }
        if (choice < 11) {
          // Inside a record, or past the end of the log.
          return op.b % 2 === 0
            ? { commit: record.commit! + 1, prepare: 0 }
            : { commit: model.maxLandmark + 100_000, prepare: model.maxLandmark + 100_000 }
        }
        if (choice < 13) {
          const ended = log.filter((r) => r.end !== undefined && r.origin.kind !== "transaction")
          const chosen = ended[op.b % Math.max(1, ended.length)]
          return chosen === undefined ? positionOf(record) : { commit: chosen.end!, prepare: 0 }
        }
        if (choice < 17) return lastNext[direction] ?? positionOf(record)
        if (choice < 19) {
          const landmark = model.landmarks[op.b % model.landmarks.length]!
          return { commit: landmark, prepare: landmark }
        }
        return "invalid"
      }

      const invalidPositions: ReadonlyArray<Position> = [
        { commit: -2, prepare: -2 },
        { commit: -1, prepare: 0 },
        { commit: 0, prepare: -1 }
      ]

      const runReadAll = (op: Operation, filtered: boolean) =>
        Effect.gen(function*() {
          yield* survey()
          const direction: Direction = op.stream < 50 ? "forward" : "backward"
          const resolve = filtered ? op.stream % 10 < 3 : op.stream % 2 === 0
          const chosen = readAllFrom(op, direction)
          const from = chosen === "end"
            ? { commit: -1, prepare: -1 }
            : chosen === "invalid"
            ? invalidPositions[op.b % invalidPositions.length]!
            : chosen
          const count = 1 + op.count + (op.b % 3)
          // A search window of 0 means max_count (3.5).
          const maxSearchWindow = op.links[1]! % 3 === 0 ? 0 : 1 + (op.links[1]! % 8)
          const filter = filtered ? { filter: filters[op.links[0]! % filters.length]!, maxSearchWindow } : undefined
          const filterText = filter === undefined
            ? ""
            : ` window ${filter.maxSearchWindow} filter ${JSON.stringify(filter.filter)}`
          const read = filtered ? "filtered read" : "read"
          const label = `${read} $all ${direction} from ${positionText(from)} count ${count}${filterText}` +
            (resolve ? " resolving links" : "")
          history.push(label)
          const reply = yield* readAll(client, direction, from, count, resolve, filter)
          history.push(
            `  -> result ${reply.result}, ${reply.events.length} events, next ${positionText(reply.next)}${
              reply.isEndOfStream === undefined ? "" : `, end ${reply.isEndOfStream}`
            }`
          )
          if (chosen === "invalid") {
            // 4.3: a negative position other than (-1, -1).
            assert.deepStrictEqual(
              { result: reply.result, events: reply.events.length, error: reply.error },
              { result: ReadAllResult.Error, events: 0, error: "Invalid position." },
              context()
            )
            return
          }
          const prediction = checkAllPage(label, direction, chosen, count, resolve, filter, reply)
          if (prediction.complete && reply.events.length > 0) lastNext[direction] = reply.next
        })

      // -------------------------------------------------------------------------------------------
      // The sequence, then every stream and `$all` read whole

      for (const op of operations) {
        const target = targetStreams[op.stream % targetStreams.length]!
        const linkStream = linkStreams[op.stream % linkStreams.length]!
        const any = allStreams[op.stream % allStreams.length]!
        // Reads go mostly to streams that have events, which a short sequence leaves few of.
        const written = allStreams.filter((name) => lastOf(model.stream(name)) >= 0)
        const read = op.b < 80 && written.length > 0 ? written[op.stream % written.length]! : any
        const mostlyTarget = op.stream % 10 < 7 ? target : linkStream
        if (op.kind < 4 && open.length > 0) yield* commit(open.splice(op.a % open.length, 1)[0]!)
        else if (op.kind < 30) yield* runWrite(op, target, "events")
        else if (op.kind < 48) yield* runWrite(op, linkStream, "links")
        else if (op.kind < 50) yield* runWrite(op, linkStream, "events")
        else if (op.kind < 51) yield* runWrite(op, any, "nothing")
        else if (op.kind < 56) yield* runDelete(mostlyTarget, false)
        else if (op.kind < 58) yield* runDelete(mostlyTarget, true)
        else if (op.kind < 64) yield* runMetadata(op, mostlyTarget)
        else if (op.kind < 70) yield* runReadEvent(op, read)
        else if (op.kind < 78) yield* runReadStream(op, read)
        else if (op.kind < 90) yield* runReadAll(op, false)
        else yield* runReadAll(op, true)
      }
      yield* survey()

      for (const [index, name] of allStreams.entries()) {
        for (const direction of ["forward", "backward"] as const) {
          const resolve = (index + (direction === "forward" ? 0 : 1)) % 2 === 0
          let from = direction === "forward" ? 0 : -1
          for (let pages = 0; pages < 100; pages++) {
            const label = `whole read ${direction} ${name} from ${from}${resolve ? " resolving links" : ""}`
            const reply = yield* readStream(client, direction, name, from, pageSize, resolve)
            checkStreamPage(label, name, direction, from, pageSize, resolve, reply)
            if (reply.isEndOfStream || reply.result !== ReadStreamResult.Success) break
            from = Number(reply.nextEventNumber)
          }
        }
      }

      // `$all` whole, paging on each page's next, until a page comes back empty (4.5).
      for (const direction of ["forward", "backward"] as const) {
        let from: Position | "end" = direction === "forward" ? { commit: 0, prepare: 0 } : "end"
        const seen: Array<string> = []
        let everyPageKnown = true
        for (let pages = 0; pages < 1000; pages++) {
          const resolve = pages % 2 === 0
          const asked = from === "end" ? { commit: -1, prepare: -1 } : from
          const label = `whole read $all ${direction} from ${positionText(asked)}${resolve ? " resolving links" : ""}`
          const reply = yield* readAll(client, direction, asked, pageSize, resolve)
          const prediction = checkAllPage(label, direction, from, pageSize, resolve, undefined, reply)
          everyPageKnown &&= prediction.complete
          if (reply.events.length === 0) break
          seen.push(...reply.events.map((resolved) => `${resolved.commitPosition}/${resolved.preparePosition}`))
          from = reply.next
        }
        const everything = model.log.map((record) => positionText(positionOf(record)))
        if (direction === "forward" || everyPageKnown) {
          const predicted = direction === "forward" ? everything : newestFirst(everything)
          assert.deepStrictEqual(seen, predicted, `whole $all ${direction}, ${context()}`)
        }
      }
    }),
  { ...checks(150, 20_260_301, 30), timeout: 120_000 }
)
