/**
 * The store of an embedded node: a transaction log of records with `$all` positions, an index of
 * streams, and the server's rules for appends, reads, deletes, metadata and transactions
 * (docs/protocol.md section 4). It is synchronous and knows nothing about sockets or permissions, so
 * every rule can be tested as a plain function; the sessions check permissions before calling it.
 *
 * Positions follow the "fake model" of docs/protocol.md 4.3. Every record has a byte offset in the log
 * and a size: `recordOverhead` (64 bytes) plus the UTF-8 lengths of its stream id and event type and
 * the lengths of its data and metadata. The log opens with a notional 128-byte epoch record at 0, so no
 * event sits at `Position.Start`, as on a real node. An event written by `append` has commit =
 * prepare = the offset of its own record; the events of a transaction have commit = the offset of the
 * commit record and prepare = the offset of their own record.
 *
 * Each committed event is kept in its wire form, the `EventRecord` bytes that replies carry, encoded
 * once when it is committed (`internal/StoredEvent.ts`); its id, data and metadata are views into
 * those bytes, so the store holds one copy of every event and a read is mostly copies of records.
 *
 * Appends can be observed live: `subscribe` registers a listener that the store calls synchronously
 * with each committed event, in commit order, after the whole operation has been applied.
 *
 * @since 0.1.0
 */
import { Guid, Link } from "@photonpump/protocol"
import * as Acl from "./Acl.ts"
import * as StoredEvent from "./internal/StoredEvent.ts"
import * as StreamMetadata from "./StreamMetadata.ts"

/**
 * The expected-version sentinels of a write.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExpectedVersion = {
  /** No check. */
  Any: -2,
  /** The stream must not exist. */
  NoStream: -1,
  /** The stream must exist (metadata alone counts). */
  StreamExists: -4
} as const

/**
 * The event number of a hard-deleted stream's tombstone (2^63-1 on the wire).
 *
 * @since 0.1.0
 * @category constants
 */
export const deletedStream = StreamMetadata.deletedStream

/**
 * The bytes every record takes on top of its stream id, event type, data and metadata.
 *
 * @since 0.1.0
 * @category constants
 */
export const recordOverhead = 64

/**
 * The size of the notional epoch record that opens the log.
 *
 * @since 0.1.0
 * @category constants
 */
export const epochRecordSize = 128

/**
 * How many recently committed event ids the store remembers for idempotent writes with `Any` or
 * `StreamExists`, like the server's bounded cache.
 *
 * @since 0.1.0
 * @category constants
 */
export const idempotencyCacheSize = 150_000

/**
 * The event type of a hard delete's tombstone.
 *
 * @since 0.1.0
 * @category constants
 */
export const streamDeletedEventType = "$streamDeleted"

/**
 * An event to write. The store copies its bytes: the caller may reuse them once the call returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProposedEvent {
  /** 16 bytes in .NET GUID order. */
  readonly eventId: Uint8Array
  readonly eventType: string
  readonly isJson: boolean
  readonly data: Uint8Array
  readonly metadata: Uint8Array
}

/**
 * An event in the log.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedEvent {
  readonly streamId: string
  /** `deletedStream` for a tombstone. */
  readonly eventNumber: number
  /** 16 bytes in .NET GUID order. */
  readonly eventId: Uint8Array
  readonly eventType: string
  readonly isJson: boolean
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  /** Milliseconds since the Unix epoch. */
  readonly created: number
  readonly commitPosition: number
  readonly preparePosition: number
  /** The size of the event's own (prepare) record. */
  readonly size: number
  /** Where the record that committed the event ends: its own for a write, the commit record's for a transaction. */
  readonly commitEnd: number
}

/**
 * A position in `$all`: compared by commit position, then prepare position.
 *
 * @since 0.1.0
 * @category models
 */
export interface Position {
  readonly commit: number
  readonly prepare: number
}

/**
 * The outcome of a write (an append, a delete or a transaction commit).
 *
 * @since 0.1.0
 * @category models
 */
export type WriteResult =
  | {
    readonly status: "Success"
    readonly firstEventNumber: number
    readonly lastEventNumber: number
    /** The log position reported to the client (commit = prepare). */
    readonly position: number
  }
  | { readonly status: "WrongExpectedVersion"; readonly currentVersion: number }
  | { readonly status: "StreamDeleted" }

/**
 * The outcome of a transaction commit.
 *
 * @since 0.1.0
 * @category models
 */
export type CommitResult = WriteResult | { readonly status: "InvalidTransaction" }

/**
 * The outcome of reading one event.
 *
 * @since 0.1.0
 * @category models
 */
export type ReadEventResult =
  /** `event` is absent in one case: a metastream that has no metadata while its stream exists. */
  | { readonly status: "Success"; readonly event: RecordedEvent | undefined }
  | { readonly status: "NotFound" }
  | { readonly status: "NoStream" }
  | { readonly status: "StreamDeleted" }

/**
 * A page of a stream.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamSlice =
  | {
    readonly status: "Success"
    readonly events: ReadonlyArray<RecordedEvent>
    readonly nextEventNumber: number
    readonly lastEventNumber: number
    readonly isEndOfStream: boolean
  }
  /** The stream does not exist or is soft-deleted; `lastEventNumber` is its last real number then. */
  | { readonly status: "NoStream"; readonly lastEventNumber: number }
  | { readonly status: "StreamDeleted" }

/**
 * A page of `$all`.
 *
 * @since 0.1.0
 * @category models
 */
export type AllSlice =
  | {
    readonly status: "Success"
    /** The position read from, with `(-1, -1)` replaced by the end of the log. */
    readonly position: Position
    readonly events: ReadonlyArray<RecordedEvent>
    readonly next: Position
    /** True when the read reached the end (forward) or the start (backward) of the log. */
    readonly isEndOfStream: boolean
  }
  | { readonly status: "InvalidPosition" }

/**
 * How a filtered `$all` read chooses its events.
 *
 * @since 0.1.0
 * @category models
 */
export interface AllFilter {
  readonly matches: (event: RecordedEvent) => boolean
  /** How many events the read may look at, matching or not. */
  readonly maxSearchWindow: number
}

/**
 * Options of a store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The clock, in milliseconds since the Unix epoch; defaults to `Date.now`. */
  readonly now?: (() => number) | undefined
  /**
   * Told when a listener throws. The other listeners are still called, and the operation that
   * committed the event still succeeds. Defaults to ignoring the error.
   */
  readonly onListenerError?: ((error: unknown) => void) | undefined
}

interface StreamState {
  readonly id: string
  /** The UTF-8 bytes of the id, which every record of the stream holds. */
  readonly idBytes: Uint8Array
  /** Every event ever written, indexed by event number (truncation only hides them). */
  readonly events: Array<RecordedEvent>
  tombstone: RecordedEvent | undefined
}

interface Transaction {
  readonly id: number
  readonly streamId: string
  readonly expectedVersion: number
  readonly events: Array<ProposedEvent>
}

type CommitCheck =
  | { readonly decision: "Ok"; readonly current: number; readonly softDeleted: boolean }
  | { readonly decision: "Idempotent"; readonly first: number; readonly last: number; readonly position: number }
  | { readonly decision: "WrongExpectedVersion"; readonly current: number }
  | { readonly decision: "Deleted" }

const encoder = new TextEncoder()
const emptyBytes = new Uint8Array(0)

const byteLength = (text: string): number => {
  // Most names are ASCII; only count UTF-8 bytes the slow way when they are not.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return encoder.encode(text).length
  }
  return text.length
}

const sameId = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const idKeys = (events: ReadonlyArray<ProposedEvent>): Array<string> => {
  const keys: Array<string> = []
  for (let i = 0; i < events.length; i++) keys.push(StoredEvent.idKey(events[i]!.eventId))
  return keys
}

const randomId = (): Uint8Array => {
  const bytes = new Uint8Array(16)
  Guid.writeUnsafe(Guid.random(), bytes, 0)
  return bytes
}

/**
 * Compares two positions: negative, zero or positive.
 *
 * @since 0.1.0
 * @category positions
 */
export const comparePositions = (a: Position, b: Position): number =>
  a.commit !== b.commit ? a.commit - b.commit : a.prepare - b.prepare

const isImplicit = (event: RecordedEvent): boolean => event.commitPosition === event.preparePosition

/**
 * The store of an embedded node. Every method is synchronous.
 *
 * @since 0.1.0
 * @category models
 */
export class Store {
  readonly #now: () => number
  readonly #onListenerError: (error: unknown) => void
  readonly #streams = new Map<string, StreamState>()
  /** Every committed event in `$all` order: ascending (commit, prepare). */
  readonly #log: Array<RecordedEvent> = []
  /** The idempotency cache: recently committed events by the key of their id. */
  readonly #ids = new Map<string, RecordedEvent>()
  /**
   * The cache's keys in the order they were remembered, as a ring: when it is full, the slot at
   * `#idRingNext` holds the oldest, which the next event evicts in O(1). `#idRingEvents` holds what
   * each slot put in the map, so that an id remembered again later is not evicted by its older slot.
   */
  readonly #idRingKeys: Array<string> = []
  readonly #idRingEvents: Array<RecordedEvent> = []
  #idRingNext = 0
  readonly #transactions = new Map<number, Transaction>()
  readonly #metadata = new Map<string, StreamMetadata.StreamMetadata>()
  #settings: Acl.SystemSettings | undefined
  readonly #listeners = new Set<(event: RecordedEvent) => void>()
  /** Events committed by the operation in progress, announced to listeners when it completes. */
  #committed: Array<RecordedEvent> = []
  #writer = epochRecordSize
  #lastCommitPosition = 0

  constructor(options?: Options) {
    this.#now = options?.now ?? Date.now
    this.#onListenerError = options?.onListenerError ?? (() => {})
  }

  /** The offset at which the next record will be written: the end of the log. */
  get writerCheckpoint(): number {
    return this.#writer
  }

  /**
   * The position of the last committed record ("last indexed position"), reported as
   * `last_commit_position` by reads and subscription confirmations.
   */
  get lastCommitPosition(): number {
    return this.#lastCommitPosition
  }

  /** The number of committed events in `$all`. */
  get size(): number {
    return this.#log.length
  }

  /**
   * Registers a listener for committed events. It is called synchronously, once per event, in commit
   * order, once the operation that committed them is complete. Returns the function that removes it.
   */
  subscribe(listener: (event: RecordedEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Stream state

  /**
   * A stream's last event number: -1 if it has none, `deletedStream` if it is hard-deleted (a
   * metastream counts as deleted when its stream is). A soft-deleted stream keeps its last number.
   */
  lastEventNumber(streamId: string): number {
    if (Acl.isMetastream(streamId) && this.#isHardDeleted(Acl.originalStreamOf(streamId))) return deletedStream
    const stream = this.#streams.get(streamId)
    if (stream === undefined) return -1
    if (stream.tombstone !== undefined) return deletedStream
    return stream.events.length - 1
  }

  #isHardDeleted(streamId: string): boolean {
    return this.#streams.get(streamId)?.tombstone !== undefined
  }

  /** A stream's metadata as the server reads it (fixed for metastreams). */
  metadataOf(streamId: string): StreamMetadata.StreamMetadata {
    if (Acl.isMetastream(streamId)) return StreamMetadata.ofMetastreams
    const cached = this.#metadata.get(streamId)
    if (cached !== undefined) return cached
    const metastreamId = Acl.metastreamOf(streamId)
    const last = this.lastEventNumber(metastreamId)
    let metadata = StreamMetadata.empty
    if (last >= 0 && last !== deletedStream) {
      const event = this.#streams.get(metastreamId)!.events[last]!
      if (event.isJson) metadata = StreamMetadata.fromJsonBytes(event.data)
    }
    this.#metadata.set(streamId, metadata)
    return metadata
  }

  /** The system settings from the latest event of `$settings`, or none. */
  settings(): Acl.SystemSettings {
    if (this.#settings === undefined) {
      const stream = this.#streams.get(Acl.settingsStream)
      const last = stream?.events[stream.events.length - 1]
      this.#settings = (last === undefined ? undefined : Acl.settingsFromJson(last.data)) ?? Acl.noSettings
    }
    return this.#settings
  }

  #isSoftDeleted(streamId: string): boolean {
    return StreamMetadata.isSoftDeleted(this.metadataOf(streamId))
  }

  // ---------------------------------------------------------------------------------------------
  // Writes

  /**
   * Appends events to a stream after checking the expected version (docs/protocol.md 4.2). Writing to
   * a soft-deleted stream recreates it: numbering continues, and its metadata is rewritten with `$tb`
   * at the first new event.
   */
  append(streamId: string, expectedVersion: number, events: ReadonlyArray<ProposedEvent>): WriteResult {
    const result = this.#append(streamId, expectedVersion, events)
    this.#announce()
    return result
  }

  #append(streamId: string, expectedVersion: number, events: ReadonlyArray<ProposedEvent>): WriteResult {
    const keys = idKeys(events)
    const check = this.#checkCommit(streamId, expectedVersion, events, keys)
    if (check.decision !== "Ok") return this.#rejected(check)
    const undeletesOriginal = Acl.isMetastream(streamId) && this.#isSoftDeleted(Acl.originalStreamOf(streamId))
    let result: WriteResult
    if (events.length === 0) {
      // An empty write still writes a record; it holds no event, so it moves no "last commit".
      const position = this.#allocate(recordOverhead + byteLength(streamId))
      result = { status: "Success", firstEventNumber: check.current + 1, lastEventNumber: check.current, position }
    } else {
      const written = this.#writeImplicit(streamId, check.current + 1, events, keys)
      result = {
        status: "Success",
        firstEventNumber: check.current + 1,
        lastEventNumber: check.current + events.length,
        position: written.preparePosition
      }
    }
    this.#afterWrite(streamId, check.current, check.softDeleted, undeletesOriginal)
    return result
  }

  #rejected(check: Exclude<CommitCheck, { decision: "Ok" }>): WriteResult {
    switch (check.decision) {
      case "Deleted":
        return { status: "StreamDeleted" }
      case "WrongExpectedVersion":
        return { status: "WrongExpectedVersion", currentVersion: check.current }
      case "Idempotent":
        return { status: "Success", firstEventNumber: check.first, lastEventNumber: check.last, position: check.position }
    }
  }

  /** The soft-undelete rules that follow a successful write (the real StorageWriterService's). */
  #afterWrite(streamId: string, current: number, softDeleted: boolean, undeletesOriginal: boolean): void {
    if (softDeleted) this.#softUndelete(streamId, current + 1)
    if (undeletesOriginal) {
      const original = Acl.originalStreamOf(streamId)
      this.#softUndelete(original, this.lastEventNumber(original) + 1)
    }
  }

  /** Rewrites a stream's latest metadata with `$tb` = `recreateFrom`, when that metadata is a JSON object. */
  #softUndelete(streamId: string, recreateFrom: number): void {
    const metastreamId = Acl.metastreamOf(streamId)
    const last = this.lastEventNumber(metastreamId)
    if (last < 0 || last === deletedStream) return
    const current = this.#streams.get(metastreamId)!.events[last]!
    const rewritten = StreamMetadata.withTruncateBefore(current.data, recreateFrom)
    if (rewritten === undefined) return
    this.#writeImplicitOne(metastreamId, last + 1, {
      eventId: randomId(),
      eventType: StreamMetadata.eventType,
      isJson: true,
      data: rewritten,
      metadata: emptyBytes
    })
  }

  /**
   * The expected-version decision of the real server's `IndexWriter.CheckCommit`, including the
   * idempotency rules (docs/protocol.md 4.2).
   */
  #checkCommit(
    streamId: string,
    expectedVersion: number,
    events: ReadonlyArray<ProposedEvent>,
    keys: ReadonlyArray<string>
  ): CommitCheck {
    const current = this.lastEventNumber(streamId)
    if (current === deletedStream) return { decision: "Deleted" }

    if (expectedVersion === ExpectedVersion.StreamExists) {
      if (this.#isSoftDeleted(streamId)) return { decision: "Deleted" }
      if (current < 0 && this.lastEventNumber(Acl.metastreamOf(streamId)) < 0) {
        return { decision: "WrongExpectedVersion", current }
      }
    }

    if (expectedVersion === ExpectedVersion.Any || expectedVersion === ExpectedVersion.StreamExists) {
      if (keys.length === 0) return { decision: "Ok", current, softDeleted: this.#isSoftDeleted(streamId) }
      let first = -1
      let last = -1
      for (let i = 0; i < keys.length; i++) {
        const known = this.#ids.get(keys[i]!)
        if (known === undefined || known.streamId !== streamId) {
          return i === 0
            ? { decision: "Ok", current, softDeleted: this.#isSoftDeleted(streamId) }
            : { decision: "WrongExpectedVersion", current }
        }
        if (i === 0) first = known.eventNumber
        last = known.eventNumber
      }
      return { decision: "Idempotent", first, last, position: this.#positionOf(streamId, last) }
    }

    if (expectedVersion < current) {
      const stored = this.#streams.get(streamId)?.events ?? []
      for (let i = 0; i < events.length; i++) {
        const existing = stored[expectedVersion + 1 + i]
        if (existing !== undefined && sameId(existing.eventId, events[i]!.eventId)) continue
        if (i > 0) return { decision: "WrongExpectedVersion", current }
        if (expectedVersion === ExpectedVersion.NoStream && this.#isSoftDeleted(streamId)) {
          return { decision: "Ok", current, softDeleted: true }
        }
        return { decision: "WrongExpectedVersion", current }
      }
      if (events.length === 0) return { decision: "WrongExpectedVersion", current }
      const last = expectedVersion + events.length
      return { decision: "Idempotent", first: expectedVersion + 1, last, position: this.#positionOf(streamId, last) }
    }

    if (expectedVersion > current) return { decision: "WrongExpectedVersion", current }
    return { decision: "Ok", current, softDeleted: this.#isSoftDeleted(streamId) }
  }

  #positionOf(streamId: string, eventNumber: number): number {
    return this.#streams.get(streamId)?.events[eventNumber]?.preparePosition ?? -1
  }

  #allocate(size: number): number {
    const position = this.#writer
    this.#writer += size
    return position
  }

  #stream(streamId: string): StreamState {
    let stream = this.#streams.get(streamId)
    if (stream === undefined) {
      stream = { id: streamId, idBytes: StoredEvent.utf8(streamId), events: [], tombstone: undefined }
      this.#streams.set(streamId, stream)
    }
    return stream
  }

  /** The size of an event's record in the log, given the UTF-8 length of its event type. */
  #sizeOf(stream: StreamState, event: ProposedEvent, typeLength: number): number {
    return recordOverhead + stream.idBytes.length + typeLength + event.data.length + event.metadata.length
  }

  /** Writes events with implicit commits and returns the last one. */
  #writeImplicit(
    streamId: string,
    firstEventNumber: number,
    events: ReadonlyArray<ProposedEvent>,
    keys: ReadonlyArray<string>
  ): RecordedEvent {
    const stream = this.#stream(streamId)
    const commit = StoredEvent.commit(streamId, stream.idBytes, this.#now())
    let last: RecordedEvent | undefined
    for (let i = 0; i < events.length; i++) {
      const proposed = events[i]!
      const typeLength = byteLength(proposed.eventType)
      const size = this.#sizeOf(stream, proposed, typeLength)
      const position = this.#allocate(size)
      last = this.#record(
        stream,
        commit,
        proposed,
        typeLength,
        keys[i]!,
        firstEventNumber + i,
        position,
        position,
        size,
        position + size
      )
    }
    this.#lastCommitPosition = last!.commitPosition
    this.#touched(streamId)
    return last!
  }

  #writeImplicitOne(streamId: string, eventNumber: number, event: ProposedEvent): RecordedEvent {
    return this.#writeImplicit(streamId, eventNumber, [event], [StoredEvent.idKey(event.eventId)])
  }

  #record(
    stream: StreamState,
    commit: StoredEvent.Commit,
    proposed: ProposedEvent,
    typeLength: number,
    key: string,
    eventNumber: number,
    commitPosition: number,
    preparePosition: number,
    size: number,
    commitEnd: number
  ): RecordedEvent {
    const event = StoredEvent.make(
      commit,
      proposed,
      typeLength,
      eventNumber,
      commitPosition,
      preparePosition,
      size,
      commitEnd
    )
    if (eventNumber === deletedStream) stream.tombstone = event
    else stream.events.push(event)
    this.#log.push(event)
    this.#remember(key, event)
    this.#committed.push(event)
    return event
  }

  /** Puts a committed event in the idempotency cache, evicting the oldest once it is full. */
  #remember(key: string, event: RecordedEvent): void {
    const keys = this.#idRingKeys
    const events = this.#idRingEvents
    if (keys.length < idempotencyCacheSize) {
      keys.push(key)
      events.push(event)
    } else {
      const slot = this.#idRingNext
      const oldest = keys[slot]!
      if (this.#ids.get(oldest) === events[slot]) this.#ids.delete(oldest)
      keys[slot] = key
      events[slot] = event
      this.#idRingNext = slot + 1 === idempotencyCacheSize ? 0 : slot + 1
    }
    this.#ids.set(key, event)
  }

  /** Drops what was derived from a stream that was just written. */
  #touched(streamId: string): void {
    if (Acl.isMetastream(streamId)) this.#metadata.delete(Acl.originalStreamOf(streamId))
    else if (streamId === Acl.settingsStream) this.#settings = undefined
  }

  #announce(): void {
    if (this.#committed.length === 0) return
    const committed = this.#committed
    this.#committed = []
    for (const event of committed) {
      for (const listener of this.#listeners) {
        try {
          listener(event)
        } catch (error) {
          this.#onListenerError(error)
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Deletes

  /**
   * Deletes a stream after checking the expected version (docs/protocol.md 4.6). A soft delete writes
   * `{"$tb":9223372036854775807}` to the metastream; a hard delete writes a tombstone, after which
   * every write fails with StreamDeleted. The result's position is that of the delete's record.
   */
  deleteStream(streamId: string, expectedVersion: number, hardDelete: boolean): WriteResult {
    const result = this.#delete(streamId, expectedVersion, hardDelete)
    this.#announce()
    return result
  }

  #delete(streamId: string, expectedVersion: number, hardDelete: boolean): WriteResult {
    const proposed: ProposedEvent = hardDelete
      ? { eventId: randomId(), eventType: streamDeletedEventType, isJson: false, data: emptyBytes, metadata: emptyBytes }
      : {
        eventId: randomId(),
        eventType: StreamMetadata.eventType,
        isJson: true,
        data: StreamMetadata.softDeleted,
        metadata: emptyBytes
      }
    const key = StoredEvent.idKey(proposed.eventId)
    const check = this.#checkCommit(streamId, expectedVersion, [proposed], [key])
    if (check.decision !== "Ok") return this.#rejected(check)
    let written: RecordedEvent
    if (hardDelete) {
      const stream = this.#stream(streamId)
      const typeLength = byteLength(proposed.eventType)
      const size = this.#sizeOf(stream, proposed, typeLength)
      const position = this.#allocate(size)
      const commit = StoredEvent.commit(streamId, stream.idBytes, this.#now())
      written = this.#record(
        stream,
        commit,
        proposed,
        typeLength,
        key,
        deletedStream,
        position,
        position,
        size,
        position + size
      )
      this.#lastCommitPosition = position
      // A hard-deleted stream's metastream reads as deleted, so its metadata is gone too.
      this.#metadata.delete(streamId)
    } else {
      const metastreamId = Acl.metastreamOf(streamId)
      written = this.#writeImplicit(metastreamId, this.lastEventNumber(metastreamId) + 1, [proposed], [key])
    }
    return {
      status: "Success",
      firstEventNumber: written.eventNumber,
      lastEventNumber: written.eventNumber,
      position: written.preparePosition
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Transactions

  /**
   * Starts a transaction: writes its begin record and returns the transaction id, the record's
   * offset. The expected version is only checked at commit.
   */
  startTransaction(streamId: string, expectedVersion: number): number {
    const id = this.#allocate(recordOverhead + byteLength(streamId))
    this.#transactions.set(id, { id, streamId, expectedVersion, events: [] })
    return id
  }

  /** The stream of a transaction, or `undefined` if there is no such transaction. */
  transactionStream(transactionId: number): string | undefined {
    return this.#transactions.get(transactionId)?.streamId
  }

  /**
   * Adds events to a transaction, copying their bytes (the caller may reuse them). Returns false if
   * there is no such transaction.
   */
  writeTransaction(transactionId: number, events: ReadonlyArray<ProposedEvent>): boolean {
    const transaction = this.#transactions.get(transactionId)
    if (transaction === undefined) return false
    for (const event of events) {
      transaction.events.push({
        eventId: event.eventId.slice(),
        eventType: event.eventType,
        isJson: event.isJson,
        data: event.data.slice(),
        metadata: event.metadata.slice()
      })
    }
    return true
  }

  /**
   * Commits a transaction: checks the expected version given at start, then writes the events and the
   * commit record (docs/protocol.md 4.10). Committing the same transaction again is checked again, and
   * so is idempotent.
   */
  commitTransaction(transactionId: number): CommitResult {
    const result = this.#commit(transactionId)
    this.#announce()
    return result
  }

  #commit(transactionId: number): CommitResult {
    const transaction = this.#transactions.get(transactionId)
    if (transaction === undefined) return { status: "InvalidTransaction" }
    const { events, expectedVersion, streamId } = transaction
    const keys = idKeys(events)
    const check = this.#checkCommit(streamId, expectedVersion, events, keys)
    if (check.decision !== "Ok") return this.#rejected(check)
    const undeletesOriginal = Acl.isMetastream(streamId) && this.#isSoftDeleted(Acl.originalStreamOf(streamId))
    const stream = this.#stream(streamId)
    const prepares: Array<{ readonly position: number; readonly size: number; readonly typeLength: number }> = []
    for (const event of events) {
      const typeLength = byteLength(event.eventType)
      const size = this.#sizeOf(stream, event, typeLength)
      prepares.push({ position: this.#allocate(size), size, typeLength })
    }
    const commitSize = recordOverhead
    const commitPosition = this.#allocate(commitSize)
    const commit = StoredEvent.commit(streamId, stream.idBytes, this.#now())
    for (let i = 0; i < events.length; i++) {
      const prepare = prepares[i]!
      this.#record(
        stream,
        commit,
        events[i]!,
        prepare.typeLength,
        keys[i]!,
        check.current + 1 + i,
        commitPosition,
        prepare.position,
        prepare.size,
        commitPosition + commitSize
      )
    }
    this.#lastCommitPosition = commitPosition
    this.#touched(streamId)
    this.#afterWrite(streamId, check.current, check.softDeleted, undeletesOriginal)
    return {
      status: "Success",
      firstEventNumber: check.current + 1,
      lastEventNumber: check.current + events.length,
      position: commitPosition
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /**
   * Reads one event as the index does: -1 means the last event. Hard-deleted streams give
   * StreamDeleted; missing or soft-deleted streams NoStream; numbers outside the readable range (or
   * older than `$maxAge`) NotFound.
   */
  readIndexedEvent(streamId: string, eventNumber: number): ReadEventResult {
    const last = this.lastEventNumber(streamId)
    if (last === deletedStream) return { status: "StreamDeleted" }
    const metadata = this.metadataOf(streamId)
    if (last === -1 || StreamMetadata.isSoftDeleted(metadata)) return { status: "NoStream" }
    const wanted = eventNumber === -1 ? last : eventNumber
    if (wanted < StreamMetadata.firstReadable(metadata, last) || wanted > last) return { status: "NotFound" }
    const event = this.#streams.get(streamId)!.events[wanted]!
    if (this.#isExpired(event, metadata)) return { status: "NotFound" }
    return { status: "Success", event }
  }

  /**
   * Reads one event as a client sees it (docs/protocol.md 4.4): `readIndexedEvent`, except that a
   * `$`-stream whose read gives NoStream or NotFound while the stream named by its name without the
   * first two characters exists answers Success without an event. That is how reading the metadata of
   * a stream that has none looks.
   */
  readEvent(streamId: string, eventNumber: number): ReadEventResult {
    const result = this.readIndexedEvent(streamId, eventNumber)
    if ((result.status === "NoStream" || result.status === "NotFound") && Acl.isSystemStream(streamId)) {
      const original = this.lastEventNumber(Acl.originalStreamOf(streamId))
      if (original !== -1 && original !== deletedStream) return { status: "Success", event: undefined }
    }
    return result
  }

  #isExpired(event: RecordedEvent, metadata: StreamMetadata.StreamMetadata): boolean {
    return metadata.maxAge !== undefined && event.created < this.#now() - metadata.maxAge * 1000
  }

  /**
   * The target of a link event (`$>`, data `"<number>@<stream>"`), or `undefined` when it cannot be
   * resolved: bad data, or a target that reading it would not return.
   */
  resolveLink(link: RecordedEvent): RecordedEvent | undefined {
    const target = Link.parse(link.data)
    if (target === undefined) return undefined
    const result = this.readIndexedEvent(target.streamId, Number(target.eventNumber))
    return result.status === "Success" ? result.event : undefined
  }

  /**
   * Reads a stream forward from `fromEventNumber` (at least 0), at most `maxCount` (at least 1) events
   * (docs/protocol.md 4.4).
   */
  readStreamForward(streamId: string, fromEventNumber: number, maxCount: number): StreamSlice {
    const last = this.lastEventNumber(streamId)
    if (last === deletedStream) return { status: "StreamDeleted" }
    const metadata = this.metadataOf(streamId)
    if (last === -1 || StreamMetadata.isSoftDeleted(metadata)) return { status: "NoStream", lastEventNumber: last }

    const end = fromEventNumber + maxCount - 1
    const min = StreamMetadata.firstReadable(metadata, last)
    if (end < min) {
      return { status: "Success", events: [], nextEventNumber: min, lastEventNumber: last, isEndOfStream: false }
    }
    const stored = this.#streams.get(streamId)!.events
    const events: Array<RecordedEvent> = []
    for (let n = Math.max(fromEventNumber, min), upTo = Math.min(end, last); n <= upTo; n++) {
      const event = stored[n]!
      if (!this.#isExpired(event, metadata)) events.push(event)
    }
    const nextEventNumber = events.length > 0
      ? events[events.length - 1]!.eventNumber + 1
      : Math.min(end + 1, last + 1)
    return { status: "Success", events, nextEventNumber, lastEventNumber: last, isEndOfStream: end >= last }
  }

  /**
   * Reads a stream backward from `fromEventNumber` (-1 = the last event), at most `maxCount` (at least
   * 1) events, newest first (docs/protocol.md 4.4).
   */
  readStreamBackward(streamId: string, fromEventNumber: number, maxCount: number): StreamSlice {
    const last = this.lastEventNumber(streamId)
    if (last === deletedStream) return { status: "StreamDeleted" }
    const metadata = this.metadataOf(streamId)
    if (last === -1 || StreamMetadata.isSoftDeleted(metadata)) return { status: "NoStream", lastEventNumber: last }

    const end = fromEventNumber < 0 ? last : fromEventNumber
    let start = Math.max(0, end - maxCount + 1)
    const min = StreamMetadata.firstReadable(metadata, last)
    if (end < min) {
      return { status: "Success", events: [], nextEventNumber: -1, lastEventNumber: last, isEndOfStream: true }
    }
    let isEndOfStream = false
    if (start <= min) {
      isEndOfStream = true
      start = min
    }
    const stored = this.#streams.get(streamId)!.events
    const events: Array<RecordedEvent> = []
    for (let n = Math.min(end, last); n >= start; n--) {
      const event = stored[n]!
      if (!this.#isExpired(event, metadata)) events.push(event)
    }
    isEndOfStream = isEndOfStream || start === 0 ||
      (start <= last && (events.length === 0 || events[events.length - 1]!.eventNumber !== start))
    const nextEventNumber = isEndOfStream ? -1 : Math.min(start - 1, last)
    return { status: "Success", events, nextEventNumber, lastEventNumber: last, isEndOfStream }
  }

  #position(commit: number, prepare: number): Position | undefined {
    if (commit === -1 && prepare === -1) return { commit: this.#writer, prepare: this.#writer }
    if (commit < 0 || prepare < 0) return undefined
    return { commit, prepare }
  }

  /**
   * Reads `$all` forward from a position (`(-1, -1)` = the end), returning events at or after it
   * (docs/protocol.md 4.5). With a filter, it looks at up to `maxSearchWindow` events and returns those
   * that match; `next` is where the next page starts either way.
   */
  readAllForward(commit: number, prepare: number, maxCount: number, filter?: AllFilter): AllSlice {
    const position = this.#position(commit, prepare)
    if (position === undefined) return { status: "InvalidPosition" }
    const log = this.#log
    const window = filter === undefined ? maxCount : filter.maxSearchWindow
    // The first event whose (commit, prepare) is at or after the position.
    let low = 0
    let high = log.length
    while (low < high) {
      const middle = (low + high) >>> 1
      const event = log[middle]!
      if (event.commitPosition < position.commit ||
        (event.commitPosition === position.commit && event.preparePosition < position.prepare)) low = middle + 1
      else high = middle
    }
    const events: Array<RecordedEvent> = []
    let next = position
    let considered = 0
    let index = low
    while (events.length < maxCount && considered < window && index < log.length) {
      const event = log[index++]!
      considered++
      if (filter === undefined || filter.matches(event)) events.push(event)
      next = isImplicit(event)
        ? { commit: event.commitEnd, prepare: 0 }
        : { commit: event.commitPosition, prepare: event.preparePosition + event.size }
    }
    const isEndOfStream = index >= log.length && events.length < maxCount && considered < window
    return { status: "Success", position, events, next, isEndOfStream }
  }

  /**
   * Reads `$all` backward from a position (`(-1, -1)` = the end), returning events whose records end at
   * or before it, newest first (docs/protocol.md 4.5).
   */
  readAllBackward(commit: number, prepare: number, maxCount: number, filter?: AllFilter): AllSlice {
    const position = this.#position(commit, prepare)
    if (position === undefined) return { status: "InvalidPosition" }
    const log = this.#log
    const window = filter === undefined ? maxCount : filter.maxSearchWindow
    const ends = (event: RecordedEvent): Position =>
      isImplicit(event)
        ? { commit: event.commitEnd, prepare: 0 }
        : { commit: event.commitEnd, prepare: event.preparePosition + event.size }
    // One past the last event that ends at or before the position.
    let low = 0
    let high = log.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (comparePositions(ends(log[middle]!), position) <= 0) low = middle + 1
      else high = middle
    }
    const events: Array<RecordedEvent> = []
    let next = position
    let considered = 0
    let index = low
    while (events.length < maxCount && considered < window && index > 0) {
      const event = log[--index]!
      considered++
      if (filter === undefined || filter.matches(event)) events.push(event)
      next = isImplicit(event)
        ? { commit: event.commitPosition, prepare: event.preparePosition }
        : { commit: event.commitEnd, prepare: event.preparePosition }
    }
    const isEndOfStream = index === 0 && events.length < maxCount && considered < window
    return { status: "Success", position, events, next, isEndOfStream }
  }
}

/**
 * Creates an empty store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Store => new Store(options)
