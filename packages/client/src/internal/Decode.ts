/**
 * Hand-written protobuf decoders for the replies on the hot path of reads: they go straight from the
 * bytes to the client's `ResolvedEvent`s, without the generic decoder's intermediate message objects
 * (profiling showed those taking half of a read's client-side time). Like the generic decoder they
 * treat every field as optional, read absent fields as their defaults (servers from 22.6 omit them) and
 * skip unknown fields. An event keeps where its fields lie in the received bytes, and makes its data
 * and metadata views, its number's bigint and its date when first asked for. The tests check them
 * against the generated code.
 *
 * @internal
 */
import type { Messages } from "@photonpump/protocol"
import type * as Position from "../Position.ts"
import { RecordedEvent } from "../RecordedEvent.ts"
import { ResolvedEvent } from "../ResolvedEvent.ts"
import { MalformedError, Reader, StringCache, toBigInt, two32 } from "./Reader.ts"

/**
 * A payload that does not decode.
 *
 * @internal
 */
export interface Malformed {
  readonly _tag: "Malformed"
  readonly reason: string
}

const emptyBytes: Uint8Array = new Uint8Array(0)
const streamIds = new StringCache()
const eventTypes = new StringCache()

/**
 * Where the raw id of the last record `eventRecord` decoded lies in the reader's bytes (its start and
 * length). A persistent subscription acknowledges events by these bytes (`lastRecordIdBytes`); keeping
 * them here spares every other record an extra field and the subscription a round trip through the
 * UUID string.
 */
let lastRecordIdStart = 0
let lastRecordIdLength = 0

/** The raw id of the last record `eventRecord` decoded from `reader`'s bytes. */
const lastRecordIdBytes = (reader: Reader): Uint8Array =>
  lastRecordIdLength === 0 ? emptyBytes : reader.bytes.subarray(lastRecordIdStart, lastRecordIdStart + lastRecordIdLength)

/**
 * `RecordedEvent`'s constructor as the decoder calls it: with no `Fields`, but where each field lies in
 * the reply, so that the views, the bigint and the date an event may never be asked for are made only
 * when asked for (every field of an object costs 8 bytes here, a view about 100, and a read makes a
 * great many events). Its public signature shows only `Fields`.
 */
const fromReply = RecordedEvent as unknown as new(
  fields: undefined,
  bytes: Uint8Array,
  stream: string,
  type: string,
  isJson: boolean,
  eventNumber: number | bigint,
  dataStart: number,
  dataEnd: number,
  metadataStart: number,
  metadataEnd: number,
  idOffset: number,
  createdOffset: number
) => RecordedEvent

/**
 * The fields of an `EventRecord`, or `undefined` when the record is empty (docs/protocol.md 3.3). The
 * stream id and event type go through the string caches; the event number stays a plain number while
 * it is small; everything else is kept as where it lies in the reply (see `fromReply`).
 */
const eventRecord = (reader: Reader): RecordedEvent | undefined => {
  let stream = ""
  let eventNumber: number | bigint = 0
  let idStart = 0
  let idLength = 0
  let type = ""
  let dataContentType = 0
  let dataStart = 0
  let dataEnd = 0
  let metadataStart = 0
  let metadataEnd = 0
  // Where the varints of the two creation times start, -1 when absent (or zero: the wire's default).
  let ticksAt = -1
  let epochAt = -1
  while (reader.offset < reader.end) {
    const tag = reader.uint32()
    switch (tag) {
      case 0x0a:
        stream = reader.cachedString(streamIds)
        break
      case 0x10:
        reader.varint64()
        // Below 2^30, a number V8 keeps in the field itself: no bigint until someone asks.
        eventNumber = reader.high === 0 && reader.low < 0x40000000 ? reader.low : toBigInt(reader.low, reader.high)
        break
      case 0x1a:
        idStart = reader.lengthDelimited()
        idLength = reader.offset - idStart
        break
      case 0x22:
        type = reader.cachedString(eventTypes)
        break
      case 0x28:
        dataContentType = reader.uint32()
        break
      case 0x3a:
        dataStart = reader.lengthDelimited()
        dataEnd = reader.offset
        break
      case 0x42:
        metadataStart = reader.lengthDelimited()
        metadataEnd = reader.offset
        break
      case 0x48:
        ticksAt = reader.nonZeroVarint()
        break
      case 0x50:
        epochAt = reader.nonZeroVarint()
        break
      default:
        reader.skip(tag)
    }
  }
  if (stream === "" && idLength === 0 && type === "") return undefined
  lastRecordIdStart = idStart
  lastRecordIdLength = idLength
  return new fromReply(
    undefined,
    reader.bytes,
    stream,
    type,
    dataContentType === 1,
    eventNumber,
    dataStart,
    dataEnd,
    metadataStart,
    metadataEnd,
    // An id that is not 16 bytes reads as the empty GUID, as the generic path reads it.
    idLength === 16 ? idStart : -1,
    // The epoch field when there is one (at n), else the ticks (at -n - 2), else neither (-1).
    epochAt >= 0 ? epochAt : ticksAt >= 0 ? -ticksAt - 2 : -1
  )
}

/** An embedded `EventRecord`, read without a reader of its own. */
const embeddedRecord = (reader: Reader): RecordedEvent | undefined => {
  const outer = reader.enter()
  const record = eventRecord(reader)
  reader.leave(outer)
  return record
}

const resolved = (
  event: RecordedEvent | undefined,
  link: RecordedEvent | undefined,
  position: Position.Position | undefined
): ResolvedEvent | undefined =>
  event !== undefined
    ? new ResolvedEvent(event, link, position, true)
    : link !== undefined
    ? new ResolvedEvent(link, link, position, false)
    : undefined

/** `ResolvedIndexedEvent`: 1 event, 2 link. */
const resolvedIndexedEvent = (reader: Reader): ResolvedEvent | undefined => {
  let event: RecordedEvent | undefined
  let link: RecordedEvent | undefined
  while (reader.offset < reader.end) {
    const tag = reader.uint32()
    if (tag === 0x0a) event = embeddedRecord(reader)
    else if (tag === 0x12) link = embeddedRecord(reader)
    else reader.skip(tag)
  }
  return resolved(event, link, undefined)
}

/**
 * A `$all` event whose position is kept as the two numbers the wire gave and made a `Position` (two
 * bigints and an object) only when asked for: most consumers never look at it, and building it for
 * every event was most of what a `$all` event cost over a stream's. Used only when both offsets are
 * numbers a double holds exactly (below 2^53, not negative); others get an eager `Position`.
 */
class ResolvedEventInAll extends ResolvedEvent {
  readonly #commit: number
  readonly #prepare: number
  #position: Position.Position | undefined = undefined

  constructor(event: RecordedEvent, link: RecordedEvent | undefined, isResolved: boolean, commit: number, prepare: number) {
    super(event, link, undefined, isResolved)
    this.#commit = commit
    this.#prepare = prepare
  }

  override get position(): Position.Position {
    if (this.#position === undefined) this.#position = { commit: BigInt(this.#commit), prepare: BigInt(this.#prepare) }
    return this.#position
  }
}

/** Whether the last `varint64` of `reader` is a number a double holds exactly (and not negative). */
const isSafeNumber = (reader: Reader): boolean => reader.high >= 0 && reader.high < 0x200000

/** `ResolvedEvent`: 1 event, 2 link, 3 commit_position, 4 prepare_position. */
const resolvedEvent = (reader: Reader): ResolvedEvent | undefined => {
  let event: RecordedEvent | undefined
  let link: RecordedEvent | undefined
  let commit = 0
  let prepare = 0
  // Set when an offset does not fit a double (or is negative): then the position is built at once.
  let commitBig: bigint | undefined
  let prepareBig: bigint | undefined
  while (reader.offset < reader.end) {
    const tag = reader.uint32()
    switch (tag) {
      case 0x0a:
        event = embeddedRecord(reader)
        break
      case 0x12:
        link = embeddedRecord(reader)
        break
      case 0x18:
        reader.varint64()
        if (isSafeNumber(reader)) {
          commit = reader.high * two32 + reader.low
          commitBig = undefined
        } else {
          commitBig = toBigInt(reader.low, reader.high)
        }
        break
      case 0x20:
        reader.varint64()
        if (isSafeNumber(reader)) {
          prepare = reader.high * two32 + reader.low
          prepareBig = undefined
        } else {
          prepareBig = toBigInt(reader.low, reader.high)
        }
        break
      default:
        reader.skip(tag)
    }
  }
  const original = event ?? link
  if (original === undefined) return undefined
  if (commitBig === undefined && prepareBig === undefined) {
    return new ResolvedEventInAll(original, link, event !== undefined, commit, prepare)
  }
  const position = { commit: commitBig ?? BigInt(commit), prepare: prepareBig ?? BigInt(prepare) }
  return new ResolvedEvent(original, link, position, event !== undefined)
}

const run = <A>(bytes: Uint8Array, decode: (reader: Reader) => A): A | Malformed => {
  try {
    // Received bytes are Node `Buffer`s, whose `subarray` (every event's id and data) costs a good
    // deal more than a plain `Uint8Array`'s: the events' views are plain ones over the same memory.
    const view = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return decode(new Reader(view, 0, view.length))
  } catch (error) {
    if (error instanceof MalformedError) return { _tag: "Malformed", reason: error.reason }
    throw error
  }
}

/**
 * Tells a decoded reply from a payload that did not decode.
 *
 * @internal
 */
export const isMalformed = <A>(result: A | Malformed): result is Malformed =>
  typeof result === "object" && result !== null && (result as { _tag?: unknown })["_tag"] === "Malformed"

/**
 * A decoded `ReadStreamEventsCompleted`.
 *
 * @internal
 */
export interface StreamPage {
  readonly result: number
  readonly events: Array<ResolvedEvent>
  readonly nextEventNumber: bigint
  readonly lastEventNumber: bigint
  readonly isEndOfStream: boolean
  readonly lastCommitPosition: bigint
  readonly error: string
}

/**
 * `ReadStreamEventsCompleted`: 1 events, 2 result, 3 next_event_number, 4 last_event_number,
 * 5 is_end_of_stream, 6 last_commit_position, 7 error.
 *
 * @internal
 */
export const readStreamEventsCompleted = (bytes: Uint8Array): StreamPage | Malformed =>
  run(bytes, (reader) => {
    const events: Array<ResolvedEvent> = []
    let result = 0
    let nextEventNumber = 0n
    let lastEventNumber = 0n
    let isEndOfStream = false
    let lastCommitPosition = 0n
    let error = ""
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      switch (tag) {
        case 0x0a: {
          const outer = reader.enter()
          const event = resolvedIndexedEvent(reader)
          reader.leave(outer)
          if (event !== undefined) events.push(event)
          break
        }
        case 0x10:
          result = reader.uint32()
          break
        case 0x18:
          nextEventNumber = reader.int64()
          break
        case 0x20:
          lastEventNumber = reader.int64()
          break
        case 0x28:
          isEndOfStream = reader.uint32() !== 0
          break
        case 0x30:
          lastCommitPosition = reader.int64()
          break
        case 0x3a:
          error = reader.string()
          break
        default:
          reader.skip(tag)
      }
    }
    return { result, events, nextEventNumber, lastEventNumber, isEndOfStream, lastCommitPosition, error }
  })

/**
 * A decoded `ReadAllEventsCompleted` or `FilteredReadAllEventsCompleted`.
 *
 * @internal
 */
export interface AllPage {
  readonly result: number
  readonly events: Array<ResolvedEvent>
  readonly nextPosition: Position.Position
  /** Only in filtered replies; false in the others. */
  readonly isEndOfStream: boolean
  readonly error: string
}

/**
 * `ReadAllEventsCompleted` (1 commit, 2 prepare, 3 events, 4 next commit, 5 next prepare, 6 result,
 * 7 error) or, with `filtered`, `FilteredReadAllEventsCompleted` (the same up to 5, then
 * 6 is_end_of_stream, 7 result, 8 error).
 *
 * @internal
 */
export const readAllEventsCompleted = (bytes: Uint8Array, filtered: boolean): AllPage | Malformed =>
  run(bytes, (reader) => {
    const events: Array<ResolvedEvent> = []
    let result = 0
    let nextCommit = 0n
    let nextPrepare = 0n
    let isEndOfStream = false
    let error = ""
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      switch (tag) {
        case 0x1a: {
          const outer = reader.enter()
          const event = resolvedEvent(reader)
          reader.leave(outer)
          if (event !== undefined) events.push(event)
          break
        }
        case 0x20:
          nextCommit = reader.int64()
          break
        case 0x28:
          nextPrepare = reader.int64()
          break
        case 0x30:
          if (filtered) isEndOfStream = reader.uint32() !== 0
          else result = reader.uint32()
          break
        case 0x38:
          if (filtered) result = reader.uint32()
          else reader.skip(tag)
          break
        case 0x3a:
          if (filtered) reader.skip(tag)
          else error = reader.string()
          break
        case 0x42:
          if (filtered) error = reader.string()
          else reader.skip(tag)
          break
        default:
          reader.skip(tag)
      }
    }
    return { result, events, nextPosition: { commit: nextCommit, prepare: nextPrepare }, isEndOfStream, error }
  })

/**
 * Where the stream page after the one with this head starts (its `next_event_number`), so that a read
 * can ask for that page before decoding this one. `undefined` when there is no page after it: the end
 * of the stream, a result other than a page (Success, NotModified), or bytes that do not decode (the
 * decoder reports those).
 *
 * @internal
 */
export const nextPageOf = (head: StreamPageHead | undefined): bigint | undefined =>
  // Success 0, NotModified 3.
  head === undefined || head.isEndOfStream || (head.result !== 0 && head.result !== 3) ? undefined : head.next

/**
 * The top-level fields of a `ReadStreamEventsCompleted` that paging reads, before its events are decoded.
 *
 * @internal
 */
export interface StreamPageHead {
  readonly result: number
  readonly next: bigint
  readonly last: bigint
  readonly isEndOfStream: boolean
}

/**
 * The head of a `ReadStreamEventsCompleted`, read from its top-level fields without decoding its events
 * (2 result, 3 next_event_number, 4 last_event_number: where a forward read's pages end, as of this
 * reply; 5 is_end_of_stream). `undefined` for bytes that do not decode.
 *
 * @internal
 */
export const streamPageHead = (bytes: Uint8Array): StreamPageHead | undefined => {
  const reader = new Reader(bytes, 0, bytes.length)
  let result = 0
  let next = 0n
  let last = 0n
  let isEndOfStream = false
  try {
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      switch (tag) {
        case 0x10:
          result = reader.uint32()
          break
        case 0x18:
          next = reader.int64()
          break
        case 0x20:
          last = reader.int64()
          break
        case 0x28:
          isEndOfStream = reader.uint32() !== 0
          break
        default:
          // The events (field 1) are skipped by their length.
          reader.skip(tag)
      }
    }
  } catch {
    return undefined
  }
  return { result, next, last, isEndOfStream }
}

/**
 * Where the `$all` page after this `ReadAllEventsCompleted` (or, with `filtered`,
 * `FilteredReadAllEventsCompleted`) starts, read without decoding its events. `undefined` when there
 * is no page after it: an unfiltered page without events (unfiltered replies have no end-of-stream
 * flag: the end is the first empty page), a filtered page flagged as the end, a next position equal to
 * `from` (a server that does not move on would have the read ask for the same page forever), a result
 * other than a page, or bytes that do not decode.
 *
 * @internal
 */
export const allPageNext = (bytes: Uint8Array, filtered: boolean, from: Position.Position): Position.Position | undefined => {
  const reader = new Reader(bytes, 0, bytes.length)
  let result = 0
  let nextCommit = 0n
  let nextPrepare = 0n
  let isEndOfStream = false
  let events = 0
  try {
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      switch (tag) {
        case 0x1a:
          events++
          reader.skip(tag)
          break
        case 0x20:
          nextCommit = reader.int64()
          break
        case 0x28:
          nextPrepare = reader.int64()
          break
        case 0x30:
          if (filtered) isEndOfStream = reader.uint32() !== 0
          else result = reader.uint32()
          break
        case 0x38:
          if (filtered) result = reader.uint32()
          else reader.skip(tag)
          break
        default:
          reader.skip(tag)
      }
    }
  } catch {
    return undefined
  }
  // Success 0 and NotModified 1, in both messages.
  if (result > 1 || (filtered ? isEndOfStream : events === 0)) return undefined
  if (nextCommit === from.commit && nextPrepare === from.prepare) return undefined
  return { commit: nextCommit, prepare: nextPrepare }
}

/**
 * A decoded `ReadEventCompleted`.
 *
 * @internal
 */
export interface EventReply {
  readonly result: number
  readonly event: ResolvedEvent | undefined
  readonly error: string
}

/**
 * `ReadEventCompleted`: 1 result, 2 event (a `ResolvedIndexedEvent`), 3 error.
 *
 * @internal
 */
export const readEventCompleted = (bytes: Uint8Array): EventReply | Malformed =>
  run(bytes, (reader) => {
    let result = 0
    let event: ResolvedEvent | undefined
    let error = ""
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      switch (tag) {
        case 0x08:
          result = reader.uint32()
          break
        case 0x12:
          event = resolvedIndexedEvent(reader.message())
          break
        case 0x1a:
          error = reader.string()
          break
        default:
          reader.skip(tag)
      }
    }
    return { result, event, error }
  })

/**
 * One `EventRecord`, for the subscriptions' messages.
 *
 * @internal
 */
export const decodeEventRecord = (bytes: Uint8Array): RecordedEvent | undefined | Malformed =>
  run(bytes, eventRecord)

/**
 * One `ResolvedEvent` (with its position), for the subscriptions' messages.
 *
 * @internal
 */
export const decodeResolvedEvent = (bytes: Uint8Array): ResolvedEvent | undefined | Malformed =>
  run(bytes, resolvedEvent)

/**
 * One `ResolvedIndexedEvent`, for the subscriptions' messages.
 *
 * @internal
 */
export const decodeResolvedIndexedEvent = (bytes: Uint8Array): ResolvedEvent | undefined | Malformed =>
  run(bytes, resolvedIndexedEvent)

/**
 * `StreamEventAppeared`: 1 event (a `ResolvedEvent`, with its position). `undefined` when the event is
 * empty.
 *
 * @internal
 */
export const streamEventAppeared = (bytes: Uint8Array): ResolvedEvent | undefined | Malformed =>
  run(bytes, (reader) => {
    let event: ResolvedEvent | undefined
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      if (tag === 0x0a) event = resolvedEvent(reader.message())
      else reader.skip(tag)
    }
    return event
  })

/**
 * A decoded `PersistentSubscriptionStreamEventAppeared`.
 *
 * @internal
 */
export interface PersistentDelivery {
  /** The event: the link's target, or the link itself when it could not be resolved. */
  readonly event: RecordedEvent
  readonly link: RecordedEvent | undefined
  readonly isResolved: boolean
  /** The raw id of the original event (the link when there is one): what acks and naks name. */
  readonly ackId: Uint8Array
  readonly retryCount: number
}

/**
 * `PersistentSubscriptionStreamEventAppeared`: 1 event (a `ResolvedIndexedEvent`: 1 event, 2 link),
 * 2 retryCount. `undefined` when the event is empty.
 *
 * @internal
 */
export const persistentEventAppeared = (bytes: Uint8Array): PersistentDelivery | undefined | Malformed =>
  run(bytes, (reader) => {
    let event: RecordedEvent | undefined
    let eventId = emptyBytes
    let link: RecordedEvent | undefined
    let linkId = emptyBytes
    let retryCount = 0
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      if (tag === 0x0a) {
        const indexed = reader.message()
        while (indexed.offset < indexed.end) {
          const inner = indexed.uint32()
          if (inner === 0x0a) {
            event = eventRecord(indexed.message())
            if (event !== undefined) eventId = lastRecordIdBytes(indexed)
          } else if (inner === 0x12) {
            link = eventRecord(indexed.message())
            if (link !== undefined) linkId = lastRecordIdBytes(indexed)
          } else {
            indexed.skip(inner)
          }
        }
      } else if (tag === 0x10) {
        retryCount = reader.uint32() | 0
      } else {
        reader.skip(tag)
      }
    }
    if (event !== undefined) return { event, link, isResolved: true, ackId: link === undefined ? eventId : linkId, retryCount }
    if (link !== undefined) return { event: link, link, isResolved: false, ackId: linkId, retryCount }
    return undefined
  })

/**
 * `SubscriptionDropped`: 1 reason. Read by hand: the generated decoder turns a reason this client does
 * not know into the default (Unsubscribed), which would read as a clean end.
 *
 * @internal
 */
export const subscriptionDropReason = (bytes: Uint8Array): number | Malformed =>
  run(bytes, (reader) => {
    let reason = 0
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      if (tag === 0x08) reason = reader.uint32() | 0
      else reader.skip(tag)
    }
    return reason
  })

/**
 * A decoded `WriteEventsCompleted`; fields the server left out hold the generated code's defaults.
 *
 * @internal
 */
export interface WriteReply {
  /** An `OperationResult`; a value this client does not know stays as the number it is. */
  readonly result: Messages.OperationResult
  readonly message: string
  readonly firstEventNumber: bigint
  readonly lastEventNumber: bigint
  readonly preparePosition: bigint
  readonly commitPosition: bigint
  readonly currentVersion: bigint
}

/**
 * `WriteEventsCompleted`: 1 result, 2 message, 3 first_event_number, 4 last_event_number,
 * 5 prepare_position, 6 commit_position, 7 current_version. The reply of every append: the generic
 * decoder cost about 3% of an append's client-side time.
 *
 * @internal
 */
export const writeEventsCompleted = (bytes: Uint8Array, start = 0): WriteReply | Malformed => {
  // No closure for `run`: this runs once per append.
  const reader = new Reader(bytes, start, bytes.length)
  let result: Messages.OperationResult = 0
  let message = ""
  let firstEventNumber = 0n
  let lastEventNumber = 0n
  let preparePosition = 0n
  let commitPosition = 0n
  let currentVersion = 0n
  try {
    while (reader.offset < reader.end) {
      const tag = reader.uint32()
      switch (tag) {
        case 0x08:
          result = reader.uint32() as Messages.OperationResult
          break
        case 0x12:
          message = reader.string()
          break
        case 0x18:
          firstEventNumber = reader.int64()
          break
        case 0x20:
          lastEventNumber = reader.int64()
          break
        case 0x28:
          preparePosition = reader.int64()
          break
        case 0x30:
          commitPosition = reader.int64()
          break
        case 0x38:
          currentVersion = reader.int64()
          break
        default:
          reader.skip(tag)
      }
    }
  } catch (error) {
    if (error instanceof MalformedError) return { _tag: "Malformed", reason: error.reason }
    throw error
  }
  return { result, message, firstEventNumber, lastEventNumber, preparePosition, commitPosition, currentVersion }
}
