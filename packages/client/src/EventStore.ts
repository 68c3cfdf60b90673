/**
 * The `EventStore` service: one connection to an EventStore node, shared by any number of concurrent
 * requests, with every request/response operation of the TCP protocol.
 *
 * Get it as a scoped `Layer` (`layer`, `layerConfig`) or in your own `Scope` (`connect`); the
 * connection closes with the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@photonpump/client"
 *
 * const program = Effect.gen(function*() {
 *   const es = yield* EventStore.EventStore
 *   yield* es.publishEvent("ponies", "PonyJumped", { body: { Pony: "Derpy Hooves", Height: 10, Distance: 13 } })
 *   const jump = yield* es.getEvent("ponies", -1)
 *   return jump.json()
 * })
 *
 * Effect.runPromise(Effect.provide(program, EventStore.layer("tcp://admin:changeit@localhost:1113")))
 * ```
 *
 * @since 0.1.0
 */
import { create, type DescMessage, type MessageInitShape, isFieldSet } from "@bufbuild/protobuf"
import * as Channel from "effect/Channel"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Pull from "effect/Pull"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Command as CommandModule, Guid, Messages, Package } from "@photonpump/protocol"
import type { CallOptions } from "./CallOptions.ts"
import {
  AccessDenied,
  BadRequest,
  type ConnectError,
  type ConnectSubscriptionError,
  type CreateSubscriptionError,
  type DeleteError,
  EventNotFound,
  PersistentSubscriptionAlreadyExists,
  PersistentSubscriptionFailed,
  PersistentSubscriptionNotFound,
  ProtocolError,
  type ReadAllError,
  type ReadEventError,
  type ReadMetadataError,
  type ReadStreamError,
  type RequestError,
  type SubscribeError,
  StreamDeleted,
  StreamNotFound,
  SubscriptionOverflow,
  type TransactionError,
  type UpdateSubscriptionError,
  type WriteError
} from "./EventStoreError.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import type { Filter } from "./Filter.ts"
import * as NewEvent from "./NewEvent.ts"
import * as PersistentSubscription from "./PersistentSubscription.ts"
import * as Position from "./Position.ts"
import type { ResolvedEvent } from "./ResolvedEvent.ts"
import * as Settings from "./Settings.ts"
import type { AllSlice, StreamSlice } from "./Slice.ts"
import { StreamDirection } from "./StreamDirection.ts"
import * as StreamMetadata from "./StreamMetadata.ts"
import type * as Subscription from "./Subscription.ts"
import type { Transaction } from "./Transaction.ts"
import type { DeleteResult, WriteResult } from "./WriteResult.ts"
import * as Connection from "./internal/Connection.ts"
import * as Encode from "./internal/Encode.ts"
import type { Request } from "./internal/Conversation.ts"
import * as Paging from "./internal/Paging.ts"
import * as Decode from "./internal/Decode.ts"
import * as Persistent from "./internal/Persistent.ts"
import * as Replies from "./internal/Replies.ts"
import * as Subscriptions from "./internal/Subscription.ts"

const Command = CommandModule.Command

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * Options of `publishEvent`: the event's body, metadata and id, and the expected version.
 *
 * @since 0.1.0
 * @category options
 */
export interface PublishEventOptions extends NewEvent.Options, CallOptions {
  /** Default `ExpectedVersion.Any`. */
  readonly expectedVersion?: ExpectedVersion.Input | undefined
}

/**
 * Options of `publish`, `setStreamMetadata` and `startTransaction`.
 *
 * @since 0.1.0
 * @category options
 */
export interface WriteOptions extends CallOptions {
  /** Default `ExpectedVersion.Any`. */
  readonly expectedVersion?: ExpectedVersion.Input | undefined
}

/**
 * Options of `getEvent`.
 *
 * @since 0.1.0
 * @category options
 */
export interface GetEventOptions extends CallOptions {
  /** Follow links to the events they point at. Default true. */
  readonly resolveLinks?: boolean | undefined
}

/**
 * Options of `get`.
 *
 * @since 0.1.0
 * @category options
 */
export interface GetOptions extends CallOptions {
  /** Default `Forward`. */
  readonly direction?: StreamDirection | undefined
  /** The first event number to read: default 0 forwards, the last event (-1) backwards. */
  readonly fromEventNumber?: bigint | number | undefined
  /** The most events to return, 1 to 4096. Default 100. */
  readonly maxCount?: number | undefined
  /** Follow links to the events they point at. Default true. */
  readonly resolveLinks?: boolean | undefined
}

/**
 * Options of `iter`.
 *
 * @since 0.1.0
 * @category options
 */
export interface IterOptions extends CallOptions {
  /** Default `Forward`. */
  readonly direction?: StreamDirection | undefined
  /** The first event number to read: default 0 forwards, the last event (-1) backwards. */
  readonly from?: bigint | number | undefined
  /** Events per page, 1 to 4096. Default 100. */
  readonly batchSize?: number | undefined
  /** Follow links to the events they point at. Default true. */
  readonly resolveLinks?: boolean | undefined
}

/**
 * Options of `getAll`.
 *
 * @since 0.1.0
 * @category options
 */
export interface GetAllOptions extends CallOptions {
  /** Default `Forward`. */
  readonly direction?: StreamDirection | undefined
  /** Where to start: default `Position.start` forwards, `Position.end` backwards. */
  readonly from?: Position.Position | undefined
  /** The most events to return, 1 to 4096. Default 100. */
  readonly maxCount?: number | undefined
  /**
   * Follow links to the events they point at. Default false: in `$all`, the events links point at are
   * there in their own right.
   */
  readonly resolveLinks?: boolean | undefined
  /** Keep only matching events, filtered by the server (EventStore 20.6+). */
  readonly filter?: Filter | undefined
  /** With a filter: how many events the server may look at for one page. Default `maxCount`. */
  readonly maxSearchWindow?: number | undefined
}

/**
 * Options of `iterAll`.
 *
 * @since 0.1.0
 * @category options
 */
export interface IterAllOptions extends CallOptions {
  /** Default `Forward`. */
  readonly direction?: StreamDirection | undefined
  /** Where to start: default `Position.start` forwards, `Position.end` backwards. */
  readonly from?: Position.Position | undefined
  /** Events per page, 1 to 4096. Default 100. */
  readonly batchSize?: number | undefined
  /** Follow links to the events they point at. Default false. */
  readonly resolveLinks?: boolean | undefined
  /** Keep only matching events, filtered by the server (EventStore 20.6+). */
  readonly filter?: Filter | undefined
  /** With a filter: how many events the server may look at for one page. Default `batchSize`. */
  readonly maxSearchWindow?: number | undefined
}

/**
 * Options of `deleteStream`.
 *
 * @since 0.1.0
 * @category options
 */
export interface DeleteStreamOptions extends CallOptions {
  /** Default `ExpectedVersion.Any`. */
  readonly expectedVersion?: ExpectedVersion.Input | undefined
  /**
   * Delete for good: the stream can never be written again (a tombstone). By default the deletion is
   * soft: the stream reads as not found, and a later write recreates it, numbering on.
   */
  readonly hard?: boolean | undefined
}

/**
 * Options of `setStreamMetadata`.
 *
 * @since 0.1.0
 * @category options
 */
export interface SetStreamMetadataOptions extends CallOptions {
  /**
   * The expected version of the metastream (`metastreamVersion` of `getStreamMetadata`). Default
   * `ExpectedVersion.Any`.
   */
  readonly expectedMetastreamVersion?: ExpectedVersion.Input | undefined
}

/**
 * Options of `subscribeTo`.
 *
 * Without `from`, the subscription is **volatile**: it delivers the events written from the moment the
 * server confirms it. With `from`, it is a **catch-up** subscription: it reads the stream's history
 * from that point, then goes live, delivering every event exactly once and in order.
 *
 * @since 0.1.0
 * @category options
 */
export interface SubscribeToOptions extends CallOptions {
  /**
   * Where a catch-up subscription starts: `"start"` for the first event, or the number of the last
   * event already processed (exclusive: delivery starts with the next one; a checkpoint, as in the
   * official clients). Omitted: a volatile subscription.
   */
  readonly from?: "start" | bigint | number | undefined
  /** Follow links to the events they point at. Default true. */
  readonly resolveLinks?: boolean | undefined
  /**
   * The most live events waiting for a slow consumer. When they fill it, a volatile subscription fails
   * with `SubscriptionOverflow`, and a catch-up subscription lets the live events go, reads the history
   * again and goes live once more (`Subscription.FellBehind`). Default 10,000.
   */
  readonly liveBufferSize?: number | undefined
  /** Events per page when reading history, and the most events in one chunk of the stream. Default 500. */
  readonly readBatchSize?: number | undefined
}

/**
 * Options of `subscribeToAll`: as `subscribeTo`, with a `Position` as the starting point, and
 * server-side filters.
 *
 * @since 0.1.0
 * @category options
 */
export interface SubscribeToAllOptions extends CallOptions {
  /**
   * Where a catch-up subscription starts: `"start"`, or the position of the last event already
   * processed, or of a `Checkpoint` (exclusive). Omitted: a volatile subscription.
   */
  readonly from?: "start" | Position.Position | undefined
  /** Follow links to the events they point at. Default false (the events are in `$all` anyway). */
  readonly resolveLinks?: boolean | undefined
  /** Keep only matching events, filtered by the server (EventStore 20.6+). */
  readonly filter?: Filter | undefined
  /**
   * With a filter: send a `Checkpoint` every so many events looked at, matching or not. When reading
   * history, a `Checkpoint` follows a page once that many events were looked at, unless the page ends
   * inside a transaction (its next event may sit at that very position; the checkpoint then waits for a
   * later page). Default 500.
   */
  readonly checkpointInterval?: number | undefined
  /** With a filter: how many events the server may look at for one page of history. Default `readBatchSize`. */
  readonly maxSearchWindow?: number | undefined
  /** As for `subscribeTo`. Default 10,000. */
  readonly liveBufferSize?: number | undefined
  /** As for `subscribeTo`. Default 500. */
  readonly readBatchSize?: number | undefined
}

/**
 * Options of `connectSubscription`.
 *
 * @since 0.1.0
 * @category options
 */
export interface ConnectSubscriptionOptions extends CallOptions {
  /**
   * How many events the server may hand this consumer before it settles (acks or naks) them: the
   * in-flight limit, and the size of the client's buffer. Default 10, as the .NET client.
   */
  readonly bufferSize?: number | undefined
}

/**
 * Options of `createSubscription` and `updateSubscription`: the group's settings (the official
 * client's defaults fill in the rest) and the call options.
 *
 * @since 0.1.0
 * @category options
 */
export interface PersistentSubscriptionOptions extends PersistentSubscription.Options, CallOptions {}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The operations of the service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The settings of the connection (the password stays `Redacted`). */
  readonly settings: Settings.Settings
  /** Sends a Ping and measures the round trip. */
  readonly ping: (options?: CallOptions) => Effect.Effect<Duration.Duration, RequestError>
  /** Writes one event. */
  readonly publishEvent: (
    stream: string,
    type: string,
    options?: PublishEventOptions
  ) => Effect.Effect<WriteResult, WriteError>
  /** Writes events in one atomic batch. */
  readonly publish: (
    stream: string,
    events: Iterable<NewEvent.NewEvent>,
    options?: WriteOptions
  ) => Effect.Effect<WriteResult, WriteError>
  /** Reads one event by number; -1 is the last event. */
  readonly getEvent: (
    stream: string,
    eventNumber: bigint | number,
    options?: GetEventOptions
  ) => Effect.Effect<ResolvedEvent, ReadEventError>
  /** Reads a page of a stream. */
  readonly get: (stream: string, options?: GetOptions) => Effect.Effect<StreamSlice, ReadStreamError>
  /**
   * Reads a stream to its end (or start), page by page, reading pages ahead of the consumer: up to 16,
   * and no more than 512 KiB of replies (two pages at least).
   */
  readonly iter: (stream: string, options?: IterOptions) => Stream.Stream<ResolvedEvent, ReadStreamError>
  /** Reads a page of `$all`. */
  readonly getAll: (options?: GetAllOptions) => Effect.Effect<AllSlice, ReadAllError>
  /**
   * Reads `$all` to its end (or start), page by page, asking for the next page as soon as a page
   * arrives (where it starts is known only from the reply).
   */
  readonly iterAll: (options?: IterAllOptions) => Stream.Stream<ResolvedEvent, ReadAllError>
  /** Deletes a stream, softly by default. */
  readonly deleteStream: (stream: string, options?: DeleteStreamOptions) => Effect.Effect<DeleteResult, DeleteError>
  /** Reads a stream's metadata. */
  readonly getStreamMetadata: (
    stream: string,
    options?: CallOptions
  ) => Effect.Effect<StreamMetadata.StreamMetadataResult, ReadMetadataError>
  /** Replaces a stream's metadata. */
  readonly setStreamMetadata: (
    stream: string,
    metadata: StreamMetadata.Input,
    options?: SetStreamMetadataOptions
  ) => Effect.Effect<WriteResult, WriteError>
  /** Starts a transaction on a stream. */
  readonly startTransaction: (stream: string, options?: WriteOptions) => Effect.Effect<Transaction, TransactionError>
  /** Picks up a transaction started earlier (on this or another connection) by its id. */
  readonly continueTransaction: (stream: string, transactionId: bigint, options?: CallOptions) => Transaction
  /**
   * Subscribes to a stream: volatile without `from`, catch-up with it. The stream carries the events
   * and the signals `CaughtUp`, `FellBehind` (see `Subscription`); it subscribes when it is first pulled
   * and unsubscribes when it ends (its scope closes, `Stream.take` is done, an error...). It never ends
   * by itself: a drop the client did not ask for is an error.
   */
  readonly subscribeTo: (
    stream: string,
    options?: SubscribeToOptions
  ) => Stream.Stream<Subscription.Item, SubscribeError>
  /** Subscribes to `$all`, as `subscribeTo`, with server-side filters and `Checkpoint`s. */
  readonly subscribeToAll: (options?: SubscribeToAllOptions) => Stream.Stream<Subscription.Item, SubscribeError>
  /** Creates a persistent subscription group on a stream. */
  readonly createSubscription: (
    stream: string,
    group: string,
    options?: PersistentSubscriptionOptions
  ) => Effect.Effect<void, CreateSubscriptionError>
  /**
   * Replaces the settings of a persistent subscription group (every setting: those not given take
   * their defaults). The server disconnects the group's consumers (`SubscriptionDropped`).
   */
  readonly updateSubscription: (
    stream: string,
    group: string,
    options?: PersistentSubscriptionOptions
  ) => Effect.Effect<void, UpdateSubscriptionError>
  /** Deletes a persistent subscription group; its consumers are disconnected. */
  readonly deleteSubscription: (
    stream: string,
    group: string,
    options?: CallOptions
  ) => Effect.Effect<void, UpdateSubscriptionError>
  /**
   * Connects to a persistent subscription group as one of its consumers. The stream carries the events
   * the server hands this consumer, each to be settled with `ack()` or `nak(action, reason)` (or see
   * `PersistentSubscription.autoAck`). When the stream ends, queued acks and naks are sent, then the
   * consumer leaves the group, and the server gives the events it had not settled to others.
   */
  readonly connectSubscription: (
    stream: string,
    group: string,
    options?: ConnectSubscriptionOptions
  ) => Stream.Stream<PersistentSubscription.PersistentEvent, ConnectSubscriptionError>
}

/**
 * The `EventStore` service.
 *
 * @since 0.1.0
 * @category services
 */
export class EventStore extends Context.Service<EventStore, Service>()("@photonpump/client/EventStore") {}

const maxPageSize = 4096
const tombstoneVersion = 9223372036854775807n

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const emptyBytes = new Uint8Array(0)

/**
 * Opens a connection in the current scope and gives the service over it. Options may be a connection
 * string.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = Effect.fn("EventStore.connect")(function*(
  options?: Settings.Options | string
): Effect.fn.Return<Service, ConnectError, Scope.Scope> {
  const settings = yield* Effect.fromResult(Settings.make(options))
  const connection = yield* Connection.make(settings).pipe(
    Effect.annotateLogs({ eventstore: `${settings.host}:${settings.port}` })
  )
  return makeService(settings, connection)
})

/**
 * A layer that opens one connection and closes it with the layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Settings.Options | string): Layer.Layer<EventStore, ConnectError> =>
  Layer.effect(EventStore, connect(options))

/**
 * Like `layer`, with the options read from `Config`: by default `Settings.config` (`EVENTSTORE_HOST`,
 * `EVENTSTORE_PORT`, `EVENTSTORE_USERNAME`, `EVENTSTORE_PASSWORD`, ...), or a `Config` of options, or a
 * record of one `Config` per option (`{ host: Config.String("ES_HOST"), port: Config.Port("ES_PORT") }`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Wrap<Settings.Options> = Settings.config
): Layer.Layer<EventStore, ConnectError | Config.ConfigError> =>
  Layer.effect(
    EventStore,
    Effect.gen(function*() {
      const options = yield* Config.unwrap(config)
      return yield* connect(options)
    })
  )

// -----------------------------------------------------------------------------
// implementation
// -----------------------------------------------------------------------------

/**
 * An event's data or metadata for the wire: bytes as they are, or the JSON text, which the encoder
 * writes as UTF-8 straight into the message (no intermediate bytes).
 */
/** Why a value could not be serialised (a class, so that it cannot be mistaken for the JSON text). */
class NotSerialisable {
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

/** An event's body or metadata for the wire: bytes as they are, or JSON text. No wrapper per value. */
const encodeValue = (value: unknown): Uint8Array | string | NotSerialisable => {
  if (value === undefined) return emptyBytes
  if (value instanceof Uint8Array) return value
  try {
    const text = JSON.stringify(value)
    return text === undefined ? new NotSerialisable(`a ${typeof value} is not serialisable as JSON`) : text
  } catch (cause) {
    return new NotSerialisable(cause instanceof Error ? cause.message : String(cause))
  }
}

/** A message encoded by the generated code, or the `BadRequest` of one that cannot be. */
const encodeResult = <Desc extends DescMessage>(
  operation: string,
  schema: Desc,
  init: MessageInitShape<Desc>
): Uint8Array | BadRequest => {
  const encoded = Messages.encode(schema, create(schema, init))
  return Result.isSuccess(encoded) ? encoded.success : new BadRequest({ operation, reason: encoded.failure.message })
}

const encode = <Desc extends DescMessage>(
  operation: string,
  schema: Desc,
  init: MessageInitShape<Desc>
): Effect.Effect<Uint8Array, BadRequest> => {
  const encoded = encodeResult(operation, schema, init)
  return encoded instanceof BadRequest ? Exit.fail(encoded) : Exit.succeed(encoded)
}

/** The expected version a write names, or the `BadRequest` of one that is not a version. */
const expectedVersionResult = (
  operation: string,
  input: ExpectedVersion.Input | undefined
): ExpectedVersion.ExpectedVersion | BadRequest => {
  if (input === undefined) return ExpectedVersion.Any
  const expected = ExpectedVersion.fromInput(input)
  return expected === undefined
    ? new BadRequest({ operation, reason: `${String(input)} is not an expected version` })
    : expected
}

const expectedVersionOf = (
  operation: string,
  input: ExpectedVersion.Input | undefined
): Effect.Effect<ExpectedVersion.ExpectedVersion, BadRequest> => {
  const expected = expectedVersionResult(operation, input)
  return expected instanceof BadRequest ? Exit.fail(expected) : Exit.succeed(expected)
}

/** A page size (default 100), or the `BadRequest` of one out of range. */
const pageSizeResult = (operation: string, value: number | undefined, name: string): number | BadRequest =>
  value === undefined
    ? 100
    : Number.isInteger(value) && value >= 1 && value <= maxPageSize
    ? value
    : new BadRequest({ operation, reason: `${name} must be from 1 to ${maxPageSize}, not ${value}` })

/**
 * `iter`'s read-ahead, in pages of `batchSize` events: about 1,600 events asked for or waiting (at
 * least 2 pages, at most 16), but no more pages than `iterReadAheadBytes` of replies hold, asked for
 * half at a time. Every request written costs a socket write and, when the server has run out of work,
 * a wake-up of it, which on a virtual machine cost more than decoding a small page: the more requests a
 * write carries the better (bench/NOTES.md, phases 7 to 9). The limit in bytes keeps a read of large
 * events from holding megabytes of replies: pages of 100 events of 200 bytes (~28 KB) are read 16
 * ahead, of 1 KB (~110 KB) 4, and pages of more than 256 KiB 2.
 */
const iterReadAhead = (batchSize: number): Paging.Options<ResolvedEvent, ReadStreamError> => {
  const readAhead = Math.min(16, Math.max(2, Math.ceil(1600 / batchSize)))
  return { readAhead, batch: Math.max(1, Math.floor(readAhead / 2)), readAheadBytes: iterReadAheadBytes }
}

/** The most bytes of replies `iter` reads ahead (but always two pages at least). */
const iterReadAheadBytes = 512 * 1024

const pageSize = (operation: string, value: number | undefined, name: string): Effect.Effect<number, BadRequest> => {
  const size = pageSizeResult(operation, value, name)
  return size instanceof BadRequest ? Exit.fail(size) : Exit.succeed(size)
}

const eventsOf = (slice: StreamSlice | AllSlice): ReadonlyArray<ResolvedEvent> => slice.events

/**
 * Whether the page after a stream page read from `from` starts further on, at `next`: forwards, past
 * `from`; backwards, before it (or anywhere after a read from the end, -1), and not before the start. A
 * server that does not move on would have a paged read ask for the same pages forever: the read ends
 * there instead, as a read of `$all` does at a next position equal to where it read from.
 */
const movesOn = (direction: StreamDirection, from: bigint, next: bigint): boolean =>
  direction === StreamDirection.Forward ? next > from : next >= 0n && (from < 0n || next < from)

/**
 * The same for `$all`: forwards, the next page starts after `from`; backwards, before it (or anywhere
 * after a read from the end). A server whose next position stays or goes back would have the read
 * ask for pages it has already read, forever.
 */
const movesOnInAll = (direction: StreamDirection, from: Position.Position, next: Position.Position): boolean =>
  direction === StreamDirection.Forward
    ? Position.compare(next, from) > 0
    : from.commit < 0n || Position.compare(next, from) < 0

/**
 * Turns a `ReadStreamEventsCompleted` reply (or a generic one) into the read's slice or error, with no
 * effect run: the connection resumes the caller with it, or a paged read hands it over.
 */
const streamSlice = (
  operation: string,
  stream: string,
  direction: StreamDirection,
  from: bigint,
  pkg: Package.InboundPackage
): Exit.Exit<StreamSlice, ReadStreamError> => {
  const replyCommand = direction === StreamDirection.Forward
    ? Command.ReadStreamEventsForwardCompleted
    : Command.ReadStreamEventsBackwardCompleted
  if (pkg.command !== replyCommand) return Exit.fail(Replies.genericError(pkg, operation))
  const reply = Decode.readStreamEventsCompleted(pkg.payload)
  if (Decode.isMalformed(reply)) return Exit.fail(new ProtocolError({ operation, reason: reply.reason }))
  const Results = Messages.ReadStreamEventsCompleted_ReadStreamResult
  switch (reply.result) {
    case Results.Success:
    case Results.NotModified:
      return Exit.succeed({
        stream,
        direction,
        fromEventNumber: from,
        events: reply.events,
        nextEventNumber: reply.nextEventNumber,
        lastEventNumber: reply.lastEventNumber,
        isEndOfStream: reply.isEndOfStream,
        lastCommitPosition: reply.lastCommitPosition
      })
    case Results.NoStream:
      return Exit.fail(new StreamNotFound({ stream }))
    case Results.StreamDeleted:
      return Exit.fail(new StreamDeleted({ stream }))
    case Results.AccessDenied:
      return Exit.fail(new AccessDenied({ operation, stream }))
    default:
      return Exit.fail(Replies.readFailure(operation, reply.result, Results.Error, reply.error))
  }
}

/** The command of the reply to a `$all` page request. */
const allReplyCommand = (direction: StreamDirection, filtered: boolean): number =>
  direction === StreamDirection.Forward
    ? filtered ? Command.FilteredReadAllEventsForwardCompleted : Command.ReadAllEventsForwardCompleted
    : filtered
    ? Command.FilteredReadAllEventsBackwardCompleted
    : Command.ReadAllEventsBackwardCompleted

/**
 * Turns a `ReadAllEventsCompleted` or `FilteredReadAllEventsCompleted` reply (or a generic one) into
 * the read's slice or error, with no effect run. An unfiltered reply has no end-of-stream flag: its
 * end is the first page without events.
 */
const allSlice = (
  operation: string,
  direction: StreamDirection,
  from: Position.Position,
  filtered: boolean,
  pkg: Package.InboundPackage
): Exit.Exit<AllSlice, ReadAllError> => {
  if (pkg.command !== allReplyCommand(direction, filtered)) return Exit.fail(Replies.genericError(pkg, operation))
  const reply = Decode.readAllEventsCompleted(pkg.payload, filtered)
  if (Decode.isMalformed(reply)) return Exit.fail(new ProtocolError({ operation, reason: reply.reason }))
  // Success 0, NotModified 1, AccessDenied 3, in both messages.
  const Results = Messages.ReadAllEventsCompleted_ReadAllResult
  switch (reply.result) {
    case Results.Success:
    case Results.NotModified:
      return Exit.succeed({
        direction,
        fromPosition: from,
        events: reply.events,
        nextPosition: reply.nextPosition,
        isEndOfStream: filtered ? reply.isEndOfStream : reply.events.length === 0
      })
    case Results.AccessDenied:
      return Exit.fail(new AccessDenied({ operation, stream: "$all" }))
    default:
      return Exit.fail(Replies.readFailure(operation, reply.result, Results.Error, reply.error))
  }
}

/** The events in their wire form, or the `BadRequest` of the first one that cannot be sent. */
const wireEventsResult = (
  operation: string,
  events: Iterable<NewEvent.NewEvent>
): Array<Encode.WireEvent> | BadRequest => {
  const out: Array<Encode.WireEvent> = []
  for (const event of events) {
    const wire = wireEventOf(operation, event)
    if (wire instanceof BadRequest) return wire
    out.push(wire)
  }
  return out
}

const wireEventOf = (operation: string, event: NewEvent.NewEvent): Encode.WireEvent | BadRequest =>
  wireEvent(operation, event.id, event.type, event.body, event.isJson, event.metadata)

/** An event for the wire from its parts; the id is a UUID, or wire bytes already drawn. */
const wireEvent = (
  operation: string,
  eventId: string | Uint8Array,
  type: string,
  body: unknown,
  isJson: boolean,
  eventMetadata: unknown
): Encode.WireEvent | BadRequest => {
  let id: Uint8Array
  if (typeof eventId === "string") {
    const parsed = Guid.toWire(eventId)
    if (Result.isFailure(parsed)) {
      return new BadRequest({ operation, reason: `event id ${JSON.stringify(eventId)} is not a UUID` })
    }
    id = parsed.success
  } else {
    id = eventId
  }
  const data = encodeValue(body)
  if (data instanceof NotSerialisable) {
    return new BadRequest({ operation, reason: `the body of a ${type} event: ${data.reason}` })
  }
  const metadata = encodeValue(eventMetadata)
  if (metadata instanceof NotSerialisable) {
    return new BadRequest({ operation, reason: `the metadata of a ${type} event: ${metadata.reason}` })
  }
  return { id, type, isJson, data, metadata }
}

const toWireEvents = (
  operation: string,
  events: Iterable<NewEvent.NewEvent>
): Effect.Effect<Array<Encode.WireEvent>, BadRequest> => {
  const wire = wireEventsResult(operation, events)
  return wire instanceof BadRequest ? Exit.fail(wire) : Exit.succeed(wire)
}

/**
 * A write waiting for its `WriteEventsCompleted`, which it turns into the write's exit with no effect
 * run: the connection resumes the caller with it directly. One object per append holds everything the
 * reply needs.
 */
class PendingWrite extends Connection.PendingRequest<WriteResult, WriteError> {
  readonly stream: string
  readonly expectedVersion: ExpectedVersion.ExpectedVersion
  constructor(
    resume: (exit: Exit.Exit<WriteResult, WriteError>) => void,
    operation: string,
    timeout: Duration.Duration,
    stream: string,
    expectedVersion: ExpectedVersion.ExpectedVersion
  ) {
    super(resume, operation, timeout)
    this.stream = stream
    this.expectedVersion = expectedVersion
  }
  decode(pkg: Package.InboundPackage): Exit.Exit<WriteResult, WriteError> {
    if (pkg.command !== Command.WriteEventsCompleted) return Exit.fail(Replies.genericError(pkg, this.operation))
    return this.completed(pkg.payload, 0)
  }
  override decodeBody(body: Uint8Array): Exit.Exit<WriteResult, WriteError> {
    // The expected reply is read from the frame's body as it is; anything else takes the generic way.
    return body[0] === Command.WriteEventsCompleted
      ? this.completed(body, Package.headerLength)
      : super.decodeBody(body)
  }
  /** A `WriteEventsCompleted` payload, from `start` to the end of `bytes`. */
  private completed(bytes: Uint8Array, start: number): Exit.Exit<WriteResult, WriteError> {
    const operation = this.operation
    const reply = Decode.writeEventsCompleted(bytes, start)
    if (Decode.isMalformed(reply)) return Exit.fail(new ProtocolError({ operation, reason: reply.reason }))
    if (reply.result !== Messages.OperationResult.Success) {
      return Exit.fail(
        Replies.writeFailure(
          reply.result,
          { operation, stream: this.stream, expectedVersion: this.expectedVersion },
          reply.currentVersion,
          reply.message
        )
      )
    }
    return Exit.succeed({
      firstEventNumber: reply.firstEventNumber,
      lastEventNumber: reply.lastEventNumber,
      position: { commit: reply.commitPosition, prepare: reply.preparePosition }
    })
  }
}

/**
 * An event number a caller gave, or the `BadRequest` of one that is not: a number that is not a safe
 * integer (which `BigInt` would throw on), or a value outside int64 (which would wrap around on the
 * wire and read from somewhere else).
 */
const eventNumberResult = (operation: string, name: string, value: bigint | number): bigint | BadRequest => {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    return new BadRequest({ operation, reason: `${name} must be an integer, not ${value}` })
  }
  const number = BigInt(value)
  return number < -tombstoneVersion - 1n || number > tombstoneVersion
    ? new BadRequest({ operation, reason: `${name} must fit in 64 bits, not ${number}` })
    : number
}

/** Where a stream read starts: `from`, or the stream's start (forwards) or end (backwards). */
const startOf = (
  operation: string,
  direction: StreamDirection,
  from: bigint | number | undefined
): bigint | BadRequest =>
  from !== undefined
    ? eventNumberResult(operation, "fromEventNumber", from)
    : direction === StreamDirection.Forward
    ? 0n
    : -1n

const positionOf = (direction: StreamDirection, from: Position.Position | undefined): Position.Position =>
  from ?? (direction === StreamDirection.Forward ? Position.start : Position.end)

const withCredentials = (
  defaults: CallOptions | undefined,
  options: CallOptions | undefined
): CallOptions | undefined =>
  defaults?.credentials === undefined || options?.credentials !== undefined
    ? options
    : { ...options, credentials: defaults.credentials }

const defaultLiveBufferSize = 10_000
const defaultReadBatchSize = 500
const defaultCheckpointInterval = 500
const defaultPersistentBufferSize = 10

const positiveInteger = (operation: string, value: number | undefined, name: string, fallback: number) =>
  value === undefined
    ? Effect.succeed(fallback)
    : Number.isSafeInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new BadRequest({ operation, reason: `${name} must be a positive integer, not ${value}` }))

/**
 * A stream over a subscription's pull, started when the stream is first pulled, in the stream's own
 * scope: when the stream ends (its consumer's scope closes, `Stream.take` has what it wants, an error),
 * the scope closes and the subscription's finalizer unsubscribes.
 */
const subscriptionStream = <A, E, EX>(
  start: (
    scope: Scope.Scope,
    probe: Subscriptions.Probe | undefined
  ) => Effect.Effect<Pull.Pull<readonly [A, ...Array<A>], E>, EX>
): Stream.Stream<A, Pull.ExcludeDone<E> | EX> =>
  Stream.fromChannel(
    Channel.fromTransform((_upstream, scope) =>
      Effect.flatMap(Effect.service(Subscriptions.CurrentProbe), (probe) => start(scope, probe))
    )
  )

type SubscriptionPull = Pull.Pull<readonly [Subscription.Item, ...Array<Subscription.Item>], SubscribeError>

const filterMessage = (filter: Filter) => ({
  context: filter.on === "EventType" ? Messages.Filter_FilterContext.EventType : Messages.Filter_FilterContext.StreamId,
  type: filter.match === "Prefix" ? Messages.Filter_FilterType.Prefix : Messages.Filter_FilterType.Regex,
  data: [...filter.values]
})

/** The wire fields of a group's settings, shared by CreatePersistentSubscription and UpdatePersistentSubscription. */
const persistentSettings = (
  operation: string,
  stream: string,
  group: string,
  options: PersistentSubscriptionOptions | undefined
) => {
  if (options?.startFrom !== undefined) {
    const startFrom = eventNumberResult(operation, "startFrom", options.startFrom)
    if (startFrom instanceof BadRequest) return Exit.fail(startFrom)
  }
  const settings = PersistentSubscription.make(options)
  return encode(operation, Messages.CreatePersistentSubscriptionSchema, {
    subscriptionGroupName: group,
    eventStreamId: stream,
    resolveLinkTos: settings.resolveLinks,
    startFrom: settings.startFrom,
    messageTimeoutMilliseconds: Math.round(Duration.toMillis(settings.messageTimeout)),
    recordStatistics: settings.extraStatistics,
    liveBufferSize: settings.liveBufferSize,
    readBatchSize: settings.readBatchSize,
    bufferSize: settings.historyBufferSize,
    maxRetryCount: settings.maxRetryCount,
    preferRoundRobin: settings.consumerStrategy === "RoundRobin",
    checkpointAfterTime: Math.round(Duration.toMillis(settings.checkpointAfter)),
    checkpointMaxCount: settings.maxCheckpointCount,
    checkpointMinCount: settings.minCheckpointCount,
    subscriberMaxCount: settings.maxSubscriberCount,
    namedConsumerStrategy: settings.consumerStrategy
  })
}

const makeService = (settings: Settings.Settings, connection: Connection.Connection): Service => {
  const timeoutOf = (options: CallOptions | undefined): Duration.Duration =>
    options?.timeout === undefined ? settings.operationTimeout : Duration.fromInputUnsafe(options.timeout)
  const requireLeaderOf = (options: CallOptions | undefined): boolean =>
    options?.requireLeader ?? settings.requireLeader
  // Spans cost about a fifth of a small request's client-side time, so they are opt-in.
  const traced = (name: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    settings.tracing ? Effect.withSpan(effect, name) : effect

  /** Sends a request and decodes its expected reply; any other reply becomes its error. */
  const call = <Desc extends DescMessage>(
    operation: string,
    command: number,
    payload: Uint8Array,
    options: CallOptions | undefined,
    replySchema: Desc,
    replyCommand: number = command + 1
  ) =>
    connection.requestDecoded(
      { command, payload, credentials: options?.credentials },
      operation,
      timeoutOf(options),
      (reply) => {
        const decoded = Replies.expect(reply, operation, replyCommand, replySchema)
        return Result.isSuccess(decoded) ? Exit.succeed(decoded.success) : Exit.fail(decoded.failure)
      }
    )

  /** Sends a request and decodes its expected reply with a hand-written decoder (reads). */
  const callDecoded = <A>(
    operation: string,
    command: number,
    payload: Uint8Array,
    options: CallOptions | undefined,
    replyCommand: number,
    decode: (payload: Uint8Array) => A | Decode.Malformed
  ): Effect.Effect<A, RequestError> =>
    Effect.flatMap(
      connection.request({ command, payload, credentials: options?.credentials }, operation, timeoutOf(options)),
      (reply) => {
        if (reply.command !== replyCommand) return Effect.fail(Replies.genericError(reply, operation))
        const decoded = decode(reply.payload)
        return Decode.isMalformed(decoded)
          ? Effect.fail(new ProtocolError({ operation, reason: decoded.reason }))
          : Effect.succeed(decoded)
      }
    )

  // --- writes -----------------------------------------------------------------------------------

  /**
   * Sends a write for `resume`, the caller of an `Effect.callback`: validation and encoding run
   * synchronously, and the connection resumes the caller with the decoded reply. This is the request
   * path of every append, so it avoids generators, `Effect.suspend` and effect steps per request.
   * Returns what to do if the caller is interrupted: nothing once the write is sent (its entry goes
   * with its reply or deadline), and take it back while it still waits for a place
   * (`maxConcurrentRequests`), so that a write whose caller has gone is never sent.
   */
  const submitWrite = (
    resume: (exit: Exit.Exit<WriteResult, WriteError>) => void,
    operation: string,
    stream: string,
    events: Array<Encode.WireEvent>,
    expectedVersion: ExpectedVersion.ExpectedVersion,
    options: CallOptions | undefined
  ): Effect.Effect<void> | undefined => {
    const frame = Encode.writeEventsFrame(stream, ExpectedVersion.toWire(expectedVersion), events, requireLeaderOf(options))
    const credentials = options?.credentials
    const pending = new PendingWrite(resume, operation, timeoutOf(options), stream, expectedVersion)
    const id = connection.submit<WriteResult, WriteError>(
      {
        command: Command.WriteEvents,
        // Without credentials the frame is sent as it is, and no view of the payload is needed.
        payload: credentials === undefined ? emptyBytes : frame.subarray(Encode.frameHeaderLength),
        credentials,
        frame
      },
      pending
    )
    return pending.waitingFrame === undefined ? undefined : Effect.sync(() => connection.forget(id, pending))
  }

  /** A write as one suspension (see `submitWrite`). */
  const write = (
    operation: string,
    stream: string,
    events: Array<Encode.WireEvent>,
    expectedVersion: ExpectedVersion.ExpectedVersion,
    options: CallOptions | undefined
  ): Effect.Effect<WriteResult, WriteError> =>
    Effect.callback<WriteResult, WriteError>((resume) => {
      return submitWrite(resume, operation, stream, events, expectedVersion, options)
    })

  /** Wraps an operation in its span when tracing is on; otherwise returns it as it is. */
  const tracedFn = <Args extends Array<any>, A, E>(
    name: string,
    body: (...args: Args) => Effect.Effect<A, E>
  ): (...args: Args) => Effect.Effect<A, E> =>
    settings.tracing ? (...args) => Effect.withSpan(body(...args), name) : body

  const publish = tracedFn("EventStore.publish", (
    stream: string,
    events: Iterable<NewEvent.NewEvent>,
    options?: WriteOptions
  ): Effect.Effect<WriteResult, WriteError> =>
    Effect.callback<WriteResult, WriteError>((resume) => {
      const expected = expectedVersionResult("publish", options?.expectedVersion)
      if (expected instanceof BadRequest) return resume(Exit.fail(expected))
      const messages = wireEventsResult("publish", events)
      if (messages instanceof BadRequest) return resume(Exit.fail(messages))
      return submitWrite(resume, "publish", stream, messages, expected, options)
    }))

  const publishEvent = tracedFn("EventStore.publishEvent", (
    stream: string,
    type: string,
    options?: PublishEventOptions
  ): Effect.Effect<WriteResult, WriteError> =>
    Effect.callback<WriteResult, WriteError>((resume) => {
      const expected = expectedVersionResult("publishEvent", options?.expectedVersion)
      if (expected instanceof BadRequest) return resume(Exit.fail(expected))
      // As NewEvent.make would make it, without a UUID string nobody sees: a random id is drawn as bytes.
      const body = options?.body
      const message = wireEvent(
        "publishEvent",
        options?.id ?? Encode.randomEventId(),
        type,
        body,
        options?.isJson ?? !(body instanceof Uint8Array),
        options?.metadata
      )
      if (message instanceof BadRequest) return resume(Exit.fail(message))
      return submitWrite(resume, "publishEvent", stream, [message], expected, options)
    }))

  // --- ping -------------------------------------------------------------------------------------

  const ping = tracedFn("EventStore.ping", (options?: CallOptions): Effect.Effect<Duration.Duration, RequestError> =>
    Effect.suspend(() => {
      const started = performance.now()
      return connection.requestDecoded(
        { command: Command.Ping, payload: emptyBytes, credentials: options?.credentials },
        "ping",
        timeoutOf(options),
        (reply): Exit.Exit<Duration.Duration, RequestError> =>
          reply.command === Command.Pong
            ? Exit.succeed(Duration.millis(performance.now() - started))
            : Exit.fail(Replies.genericError(reply, "ping"))
      )
    }))

  // --- reads ------------------------------------------------------------------------------------

  const getEvent = Effect.fnUntraced(function*(
    stream: string,
    eventNumber: bigint | number,
    options?: GetEventOptions
  ): Effect.fn.Return<ResolvedEvent, ReadEventError> {
    const number = eventNumberResult("getEvent", "eventNumber", eventNumber)
    if (number instanceof BadRequest) return yield* number
    const payload = yield* encode("getEvent", Messages.ReadEventSchema, {
      eventStreamId: stream,
      eventNumber: number,
      resolveLinkTos: options?.resolveLinks ?? true,
      requireLeader: requireLeaderOf(options)
    })
    const reply = yield* callDecoded(
      "getEvent",
      Command.ReadEvent,
      payload,
      options,
      Command.ReadEventCompleted,
      Decode.readEventCompleted
    )
    const Results = Messages.ReadEventCompleted_ReadEventResult
    switch (reply.result) {
      case Results.Success: {
        if (reply.event === undefined) return yield* new EventNotFound({ stream, eventNumber: number })
        return reply.event
      }
      case Results.NotFound:
        return yield* new EventNotFound({ stream, eventNumber: number })
      case Results.NoStream:
        return yield* new StreamNotFound({ stream })
      case Results.StreamDeleted:
        return yield* new StreamDeleted({ stream })
      case Results.AccessDenied:
        return yield* new AccessDenied({ operation: "getEvent", stream })
      default:
        return yield* Replies.readFailure("getEvent", reply.result, Results.Error, reply.error)
    }
  }, traced("EventStore.getEvent"))

  /** The request of a stream page: its frame encoded by hand, with room for the header. */
  const readStreamRequest = (
    stream: string,
    direction: StreamDirection,
    from: bigint,
    maxCount: number,
    resolveLinks: boolean,
    options: CallOptions | undefined
  ): Request => {
    const frame = Encode.readStreamEventsFrame(stream, from, maxCount, resolveLinks, requireLeaderOf(options))
    return {
      command: direction === StreamDirection.Forward ? Command.ReadStreamEventsForward : Command.ReadStreamEventsBackward,
      payload: frame.subarray(Encode.frameHeaderLength),
      credentials: options?.credentials,
      frame
    }
  }

  /**
   * One page of a stream as one suspension: the request is encoded synchronously and the connection
   * resumes the caller with the decoded slice (catch-up subscriptions read their history with it).
   */
  const readStream = (
    operation: string,
    stream: string,
    direction: StreamDirection,
    from: bigint,
    maxCount: number,
    resolveLinks: boolean,
    options: CallOptions | undefined
  ): Effect.Effect<StreamSlice, ReadStreamError> =>
    Effect.suspend(() =>
      connection.requestDecoded(
        readStreamRequest(stream, direction, from, maxCount, resolveLinks, options),
        operation,
        timeoutOf(options),
        (reply) => streamSlice(operation, stream, direction, from, reply)
      )
    )

  const get = tracedFn("EventStore.get", (
    stream: string,
    options?: GetOptions
  ): Effect.Effect<StreamSlice, ReadStreamError> =>
    Effect.suspend(() => {
      const maxCount = pageSizeResult("get", options?.maxCount, "maxCount")
      if (maxCount instanceof BadRequest) return Exit.fail(maxCount)
      const direction = options?.direction ?? StreamDirection.Forward
      const from = startOf("get", direction, options?.fromEventNumber)
      if (from instanceof BadRequest) return Exit.fail(from)
      return readStream(
        "get",
        stream,
        direction,
        from,
        maxCount,
        options?.resolveLinks ?? true,
        options
      )
    }))

  /** With tracing on, a span around each page a paged read hands over (waiting for it and decoding it). */
  const pageSpan = <A, E>(name: string): Paging.Options<A, E> | undefined =>
    settings.tracing ? { wrap: (pull) => Effect.withSpan(pull, name) } : undefined

  const iter = (stream: string, options?: IterOptions): Stream.Stream<ResolvedEvent, ReadStreamError> => {
    const batchSize = pageSizeResult("iter", options?.batchSize, "batchSize")
    if (batchSize instanceof BadRequest) return Stream.fail(batchSize)
    const direction = options?.direction ?? StreamDirection.Forward
    const start = startOf("iter", direction, options?.from)
    if (start instanceof BadRequest) return Stream.fail(start)
    const resolveLinks = options?.resolveLinks ?? true
    const replyCommand = direction === StreamDirection.Forward
      ? Command.ReadStreamEventsForwardCompleted
      : Command.ReadStreamEventsBackwardCompleted
    const step = BigInt(batchSize)
    // `next` and `limit` read the same reply's head, one after the other: it is scanned once.
    let headOf: Package.InboundPackage | undefined
    let head: Decode.StreamPageHead | undefined
    const headOfReply = (reply: Package.InboundPackage): Decode.StreamPageHead | undefined => {
      if (reply !== headOf) {
        headOf = reply
        head = reply.command === replyCommand ? Decode.streamPageHead(reply.payload) : undefined
      }
      return head
    }
    return Paging.pages<Package.InboundPackage, bigint, ResolvedEvent, ReadStreamError>(
      start,
      {
        request: (from, settle) =>
          connection.requestCallback(
            readStreamRequest(stream, direction, from, batchSize, resolveLinks, options),
            "iter",
            timeoutOf(options),
            settle
          ),
        next: (reply, from) => {
          const next = Decode.nextPageOf(headOfReply(reply))
          return next !== undefined && movesOn(direction, from, next) ? next : undefined
        },
        decode: (reply, from) => Exit.map(streamSlice("iter", stream, direction, from, reply), eventsOf),
        // Event numbers follow each other: the page after next starts a page further, unless events are
        // missing (truncated, deleted), and then the page asked for on the guess is dropped. Forwards,
        // no page is guessed past the last event the latest reply knows of.
        guess: direction === StreamDirection.Forward
          ? (from, last) => last === undefined || from + step <= last ? from + step : undefined
          : (from) => from >= step ? from - step : undefined,
        limit: direction === StreamDirection.Forward
          ? (reply) => headOfReply(reply)?.last
          : undefined,
        size: (reply) => reply.payload.length
      },
      { ...pageSpan("EventStore.iter"), ...iterReadAhead(batchSize) }
    )
  }

  /** The request of a `$all` page: hand-encoded without a filter, by the generic encoder with one. */
  const readAllRequest = (
    operation: string,
    direction: StreamDirection,
    from: Position.Position,
    maxCount: number,
    resolveLinks: boolean,
    filter: Filter | undefined,
    maxSearchWindow: number | undefined,
    options: CallOptions | undefined
  ): Request | BadRequest => {
    const forward = direction === StreamDirection.Forward
    if (filter === undefined) {
      const frame = Encode.readAllEventsFrame(from.commit, from.prepare, maxCount, resolveLinks, requireLeaderOf(options))
      return {
        command: forward ? Command.ReadAllEventsForward : Command.ReadAllEventsBackward,
        payload: frame.subarray(Encode.frameHeaderLength),
        credentials: options?.credentials,
        frame
      }
    }
    const payload = encodeResult(operation, Messages.FilteredReadAllEventsSchema, {
      commitPosition: from.commit,
      preparePosition: from.prepare,
      maxCount,
      maxSearchWindow: maxSearchWindow ?? maxCount,
      resolveLinkTos: resolveLinks,
      requireLeader: requireLeaderOf(options),
      filter: filterMessage(filter)
    })
    if (payload instanceof BadRequest) return payload
    return {
      command: forward ? Command.FilteredReadAllEventsForward : Command.FilteredReadAllEventsBackward,
      payload,
      credentials: options?.credentials
    }
  }

  /** One page of `$all` as one suspension (getAll, and catch-up subscriptions to `$all`). */
  const readAll = (
    operation: string,
    direction: StreamDirection,
    from: Position.Position,
    maxCount: number,
    resolveLinks: boolean,
    filter: Filter | undefined,
    maxSearchWindow: number | undefined,
    options: CallOptions | undefined
  ): Effect.Effect<AllSlice, ReadAllError> =>
    Effect.suspend(() => {
      const request = readAllRequest(
        operation,
        direction,
        from,
        maxCount,
        resolveLinks,
        filter,
        maxSearchWindow,
        options
      )
      if (request instanceof BadRequest) return Exit.fail(request)
      const filtered = filter !== undefined
      return connection.requestDecoded(
        request,
        operation,
        timeoutOf(options),
        (reply) => allSlice(operation, direction, from, filtered, reply)
      )
    })

  const getAll = tracedFn("EventStore.getAll", (options?: GetAllOptions): Effect.Effect<AllSlice, ReadAllError> =>
    Effect.suspend(() => {
      const maxCount = pageSizeResult("getAll", options?.maxCount, "maxCount")
      if (maxCount instanceof BadRequest) return Exit.fail(maxCount)
      const direction = options?.direction ?? StreamDirection.Forward
      return readAll(
        "getAll",
        direction,
        positionOf(direction, options?.from),
        maxCount,
        options?.resolveLinks ?? false,
        options?.filter,
        options?.maxSearchWindow,
        options
      )
    }))

  const iterAll = (options?: IterAllOptions): Stream.Stream<ResolvedEvent, ReadAllError> => {
    const batchSize = pageSizeResult("iterAll", options?.batchSize, "batchSize")
    if (batchSize instanceof BadRequest) return Stream.fail(batchSize)
    const direction = options?.direction ?? StreamDirection.Forward
    const resolveLinks = options?.resolveLinks ?? false
    const filter = options?.filter
    const filtered = filter !== undefined
    const replyCommand = allReplyCommand(direction, filtered)
    return Paging.pages<Package.InboundPackage, Position.Position, ResolvedEvent, ReadAllError>(
      positionOf(direction, options?.from),
      {
        request: (from, settle) => {
          const request = readAllRequest(
            "iterAll",
            direction,
            from,
            batchSize,
            resolveLinks,
            filter,
            options?.maxSearchWindow,
            options
          )
          return request instanceof BadRequest
            ? Result.fail(request)
            : connection.requestCallback(request, "iterAll", timeoutOf(options), settle)
        },
        next: (reply, from) => {
          const next = reply.command === replyCommand ? Decode.allPageNext(reply.payload, filtered, from) : undefined
          return next !== undefined && movesOnInAll(direction, from, next) ? next : undefined
        },
        decode: (reply, from) => Exit.map(allSlice("iterAll", direction, from, filtered, reply), eventsOf)
      },
      pageSpan("EventStore.iterAll")
    )
  }

  // --- deletes ----------------------------------------------------------------------------------

  const deleteStream = tracedFn("EventStore.deleteStream", (
    stream: string,
    options?: DeleteStreamOptions
  ): Effect.Effect<DeleteResult, DeleteError> =>
    Effect.suspend(() => {
      const operation = "deleteStream"
      const expectedVersion = expectedVersionResult(operation, options?.expectedVersion)
      if (expectedVersion instanceof BadRequest) return Exit.fail(expectedVersion)
      const payload = Messages.encode(
        Messages.DeleteStreamSchema,
        create(Messages.DeleteStreamSchema, {
          eventStreamId: stream,
          expectedVersion: ExpectedVersion.toWire(expectedVersion),
          requireLeader: requireLeaderOf(options),
          hardDelete: options?.hard ?? false
        })
      )
      if (Result.isFailure(payload)) return Exit.fail(new BadRequest({ operation, reason: payload.failure.message }))
      return connection.requestDecoded(
        { command: Command.DeleteStream, payload: payload.success, credentials: options?.credentials },
        operation,
        timeoutOf(options),
        (pkg): Exit.Exit<DeleteResult, DeleteError> => {
          const decoded = Replies.expect(pkg, operation, Command.DeleteStreamCompleted, Messages.DeleteStreamCompletedSchema)
          if (Result.isFailure(decoded)) return Exit.fail(decoded.failure)
          const reply = decoded.success
          if (reply.result !== Messages.OperationResult.Success) {
            // Servers before 21.10.5 do not report the current version of a delete.
            const current = isFieldSet(reply, Messages.DeleteStreamCompletedSchema.field.currentVersion)
              ? reply.currentVersion
              : undefined
            return Exit.fail(
              Replies.writeFailure(reply.result, { operation, stream, expectedVersion }, current, reply.message)
            )
          }
          return Exit.succeed({ position: { commit: reply.commitPosition, prepare: reply.preparePosition } })
        }
      )
    }))

  // --- metadata ---------------------------------------------------------------------------------

  const getStreamMetadata = Effect.fnUntraced(function*(
    stream: string,
    options?: CallOptions
  ): Effect.fn.Return<StreamMetadata.StreamMetadataResult, ReadMetadataError> {
    const operation = "getStreamMetadata"
    const payload = yield* encode(operation, Messages.ReadEventSchema, {
      eventStreamId: `$$${stream}`,
      eventNumber: -1n,
      resolveLinkTos: false,
      requireLeader: requireLeaderOf(options)
    })
    const reply = yield* callDecoded(
      operation,
      Command.ReadEvent,
      payload,
      options,
      Command.ReadEventCompleted,
      Decode.readEventCompleted
    )
    const Results = Messages.ReadEventCompleted_ReadEventResult
    const none = { stream, isStreamDeleted: false, metastreamVersion: -1n, metadata: StreamMetadata.empty }
    switch (reply.result) {
      case Results.Success: {
        const record = reply.event
        if (record === undefined) return none
        return {
          stream,
          isStreamDeleted: false,
          metastreamVersion: record.originalEventNumber,
          metadata: StreamMetadata.fromJson(decoder.decode(record.event.data))
        }
      }
      case Results.NotFound:
      case Results.NoStream:
        return none
      case Results.StreamDeleted:
        return { ...none, isStreamDeleted: true, metastreamVersion: tombstoneVersion }
      case Results.AccessDenied:
        return yield* new AccessDenied({ operation, stream })
      default:
        return yield* Replies.readFailure(operation, reply.result, Results.Error, reply.error)
    }
  }, traced("EventStore.getStreamMetadata"))

  const setStreamMetadata = Effect.fnUntraced(function*(
    stream: string,
    metadata: StreamMetadata.Input,
    options?: SetStreamMetadataOptions
  ): Effect.fn.Return<WriteResult, WriteError> {
    const operation = "setStreamMetadata"
    const expected = yield* expectedVersionOf(operation, options?.expectedMetastreamVersion)
    let json: string
    try {
      json = StreamMetadata.toJson(StreamMetadata.make(metadata))
    } catch (cause) {
      return yield* new BadRequest({
        operation,
        reason: `the metadata is not serialisable as JSON: ${cause instanceof Error ? cause.message : String(cause)}`
      })
    }
    const event = NewEvent.make("$metadata", { body: encoder.encode(json), isJson: true })
    const messages = yield* toWireEvents(operation, [event])
    return yield* write(operation, `$$${stream}`, messages, expected, options)
  }, traced("EventStore.setStreamMetadata"))

  // --- transactions -----------------------------------------------------------------------------

  const makeTransaction = (
    stream: string,
    transactionId: bigint,
    expectedVersion: ExpectedVersion.ExpectedVersion,
    defaults: CallOptions | undefined
  ): Transaction => ({
    transactionId,
    stream,
    write: Effect.fnUntraced(function*(
      events: Iterable<NewEvent.NewEvent>,
      callOptions?: CallOptions
    ): Effect.fn.Return<void, TransactionError> {
      const operation = "Transaction.write"
      const options = withCredentials(defaults, callOptions)
      const messages = yield* toWireEvents(operation, events)
      const payload = Encode.transactionWrite(transactionId, messages, requireLeaderOf(options))
      const reply = yield* call(
        operation,
        Command.TransactionWrite,
        payload,
        options,
        Messages.TransactionWriteCompletedSchema
      )
      if (reply.result !== Messages.OperationResult.Success) {
        return yield* Replies.transactionFailure(
          reply.result,
          { operation, stream, expectedVersion },
          transactionId,
          reply.message
        )
      }
    }, traced("EventStore.Transaction.write")),
    commit: Effect.fnUntraced(function*(
      callOptions?: CallOptions
    ): Effect.fn.Return<WriteResult, TransactionError> {
      const operation = "Transaction.commit"
      const options = withCredentials(defaults, callOptions)
      const payload = yield* encode(operation, Messages.TransactionCommitSchema, {
        transactionId,
        requireLeader: requireLeaderOf(options)
      })
      const reply = yield* call(
        operation,
        Command.TransactionCommit,
        payload,
        options,
        Messages.TransactionCommitCompletedSchema
      )
      if (reply.result !== Messages.OperationResult.Success) {
        return yield* Replies.transactionFailure(
          reply.result,
          { operation, stream, expectedVersion },
          transactionId,
          reply.message
        )
      }
      return {
        firstEventNumber: reply.firstEventNumber,
        lastEventNumber: reply.lastEventNumber,
        position: { commit: reply.commitPosition, prepare: reply.preparePosition }
      }
    }, traced("EventStore.Transaction.commit"))
  })

  const startTransaction = Effect.fnUntraced(function*(
    stream: string,
    options?: WriteOptions
  ): Effect.fn.Return<Transaction, TransactionError> {
    const operation = "startTransaction"
    const expectedVersion = yield* expectedVersionOf(operation, options?.expectedVersion)
    const payload = yield* encode(operation, Messages.TransactionStartSchema, {
      eventStreamId: stream,
      expectedVersion: ExpectedVersion.toWire(expectedVersion),
      requireLeader: requireLeaderOf(options)
    })
    const reply = yield* call(
      operation,
      Command.TransactionStart,
      payload,
      options,
      Messages.TransactionStartCompletedSchema
    )
    if (reply.result !== Messages.OperationResult.Success) {
      return yield* Replies.transactionFailure(
        reply.result,
        { operation, stream, expectedVersion },
        reply.transactionId,
        reply.message
      )
    }
    return makeTransaction(stream, reply.transactionId, expectedVersion, options)
  }, traced("EventStore.startTransaction"))

  // --- subscriptions ----------------------------------------------------------------------------

  const subscribeTo = (
    stream: string,
    options?: SubscribeToOptions
  ): Stream.Stream<Subscription.Item, SubscribeError> => {
    const operation = "subscribeTo"
    return subscriptionStream((scope, probe) =>
      Effect.gen(function*() {
        const bufferSize = yield* positiveInteger(
          operation,
          options?.liveBufferSize,
          "liveBufferSize",
          defaultLiveBufferSize
        )
        const batchSize = options?.readBatchSize === undefined
          ? defaultReadBatchSize
          : yield* pageSize(operation, options.readBatchSize, "readBatchSize")
        const resolveLinks = options?.resolveLinks ?? true
        const payload = yield* encode(operation, Messages.SubscribeToStreamSchema, {
          eventStreamId: stream,
          resolveLinkTos: resolveLinks
        })
        const live: Subscriptions.LiveOptions = {
          connection,
          target: { stream, group: undefined, operation },
          request: { command: Command.SubscribeToStream, payload, credentials: options?.credentials },
          bufferSize,
          batchSize,
          timeout: timeoutOf(options),
          probe
        }
        const from = options?.from
        if (from === undefined) {
          const pull: SubscriptionPull = yield* Subscriptions.volatile(
            live,
            scope,
            () => new SubscriptionOverflow({ stream, bufferSize })
          )
          return pull
        }
        const after = from === "start" ? -1n : eventNumberResult(operation, "from", from)
        if (after instanceof BadRequest) return yield* after
        // A checkpoint from 2^63-1 on leaves no event number to read from: the next would wrap around.
        if (after >= tombstoneVersion) {
          return yield* new BadRequest({ operation, reason: `from must be below ${tombstoneVersion}, not ${after}` })
        }
        const pull: SubscriptionPull = yield* Subscriptions.catchUp({
          ...live,
          from: after < 0n ? 0n : after + 1n,
          tracker: Subscriptions.streamTracker(after < 0n ? -1n : after),
          checkpointEveryPages: 0,
          read: (cursor: bigint) =>
            readStream(operation, stream, StreamDirection.Forward, cursor, batchSize, resolveLinks, options).pipe(
              Effect.map((slice): Subscriptions.Page<bigint> => ({
                events: slice.events,
                next: slice.nextEventNumber,
                // A server that does not move on would have the subscription read the same page forever.
                isEnd: slice.isEndOfStream || !movesOn(StreamDirection.Forward, cursor, slice.nextEventNumber)
              })),
              // A stream that does not exist yet is an empty one: the subscription waits for its first event.
              Effect.catchTag("StreamNotFound", () =>
                Effect.succeed<Subscriptions.Page<bigint>>({ events: [], next: cursor, isEnd: true }))
            )
        }, scope)
        return pull
      })
    )
  }

  const subscribeToAll = (options?: SubscribeToAllOptions): Stream.Stream<Subscription.Item, SubscribeError> => {
    const operation = "subscribeToAll"
    const stream = "$all"
    return subscriptionStream((scope, probe) =>
      Effect.gen(function*() {
        const bufferSize = yield* positiveInteger(
          operation,
          options?.liveBufferSize,
          "liveBufferSize",
          defaultLiveBufferSize
        )
        const batchSize = options?.readBatchSize === undefined
          ? defaultReadBatchSize
          : yield* pageSize(operation, options.readBatchSize, "readBatchSize")
        const checkpointInterval = yield* positiveInteger(
          operation,
          options?.checkpointInterval,
          "checkpointInterval",
          defaultCheckpointInterval
        )
        const maxSearchWindow = yield* positiveInteger(
          operation,
          options?.maxSearchWindow,
          "maxSearchWindow",
          batchSize
        )
        const resolveLinks = options?.resolveLinks ?? false
        const filter = options?.filter
        const payload = filter === undefined
          ? yield* encode(operation, Messages.SubscribeToStreamSchema, { eventStreamId: "", resolveLinkTos: resolveLinks })
          : yield* encode(operation, Messages.FilteredSubscribeToStreamSchema, {
            eventStreamId: "",
            resolveLinkTos: resolveLinks,
            filter: filterMessage(filter),
            checkpointInterval
          })
        const live: Subscriptions.LiveOptions = {
          connection,
          target: { stream, group: undefined, operation },
          request: {
            command: filter === undefined ? Command.SubscribeToStream : Command.FilteredSubscribeToStream,
            payload,
            credentials: options?.credentials
          },
          bufferSize,
          batchSize,
          timeout: timeoutOf(options),
          probe
        }
        const from = options?.from
        if (from === undefined) {
          const pull: SubscriptionPull = yield* Subscriptions.volatile(
            live,
            scope,
            () => new SubscriptionOverflow({ stream, bufferSize })
          )
          return pull
        }
        const after = from === "start" ? undefined : from
        const pull: SubscriptionPull = yield* Subscriptions.catchUp({
          ...live,
          from: after ?? Position.start,
          tracker: Subscriptions.allTracker(after),
          checkpointEveryPages: filter === undefined ? 0 : Math.max(1, Math.ceil(checkpointInterval / maxSearchWindow)),
          read: (cursor: Position.Position) =>
            Effect.map(
              readAll(
                operation,
                StreamDirection.Forward,
                cursor,
                batchSize,
                resolveLinks,
                filter,
                maxSearchWindow,
                options
              ),
              (slice): Subscriptions.Page<Position.Position> => ({
                events: slice.events,
                next: slice.nextPosition,
                // A server that does not move on would have the subscription read the same page forever.
                isEnd: slice.isEndOfStream || !movesOnInAll(StreamDirection.Forward, cursor, slice.nextPosition)
              })
            )
        }, scope)
        return pull
      })
    )
  }

  // --- persistent subscriptions -----------------------------------------------------------------

  const createSubscription = Effect.fnUntraced(function*(
    stream: string,
    group: string,
    options?: PersistentSubscriptionOptions
  ): Effect.fn.Return<void, CreateSubscriptionError> {
    const operation = "createSubscription"
    const payload = yield* persistentSettings(operation, stream, group, options)
    const reply = yield* call(
      operation,
      Command.CreatePersistentSubscription,
      payload,
      options,
      Messages.CreatePersistentSubscriptionCompletedSchema
    )
    const Results = Messages.CreatePersistentSubscriptionCompleted_CreatePersistentSubscriptionResult
    switch (reply.result) {
      case Results.Success:
        return
      case Results.AlreadyExists:
        return yield* new PersistentSubscriptionAlreadyExists({ stream, group })
      case Results.AccessDenied:
        return yield* new AccessDenied({ operation, stream })
      default:
        return yield* new PersistentSubscriptionFailed({ operation, stream, group, reason: reply.reason })
    }
  }, traced("EventStore.createSubscription"))

  const updateSubscription = Effect.fnUntraced(function*(
    stream: string,
    group: string,
    options?: PersistentSubscriptionOptions
  ): Effect.fn.Return<void, UpdateSubscriptionError> {
    const operation = "updateSubscription"
    // UpdatePersistentSubscription has the fields of CreatePersistentSubscription, numbered alike.
    const payload = yield* persistentSettings(operation, stream, group, options)
    const reply = yield* call(
      operation,
      Command.UpdatePersistentSubscription,
      payload,
      options,
      Messages.UpdatePersistentSubscriptionCompletedSchema
    )
    const Results = Messages.UpdatePersistentSubscriptionCompleted_UpdatePersistentSubscriptionResult
    switch (reply.result) {
      case Results.Success:
        return
      case Results.DoesNotExist:
        return yield* new PersistentSubscriptionNotFound({ stream, group })
      case Results.AccessDenied:
        return yield* new AccessDenied({ operation, stream })
      default:
        return yield* new PersistentSubscriptionFailed({ operation, stream, group, reason: reply.reason })
    }
  }, traced("EventStore.updateSubscription"))

  const deleteSubscription = Effect.fnUntraced(function*(
    stream: string,
    group: string,
    options?: CallOptions
  ): Effect.fn.Return<void, UpdateSubscriptionError> {
    const operation = "deleteSubscription"
    const payload = yield* encode(operation, Messages.DeletePersistentSubscriptionSchema, {
      subscriptionGroupName: group,
      eventStreamId: stream
    })
    const reply = yield* call(
      operation,
      Command.DeletePersistentSubscription,
      payload,
      options,
      Messages.DeletePersistentSubscriptionCompletedSchema
    )
    const Results = Messages.DeletePersistentSubscriptionCompleted_DeletePersistentSubscriptionResult
    switch (reply.result) {
      case Results.Success:
        return
      case Results.DoesNotExist:
        return yield* new PersistentSubscriptionNotFound({ stream, group })
      case Results.AccessDenied:
        return yield* new AccessDenied({ operation, stream })
      default:
        return yield* new PersistentSubscriptionFailed({ operation, stream, group, reason: reply.reason })
    }
  }, traced("EventStore.deleteSubscription"))

  const connectSubscription = (
    stream: string,
    group: string,
    options?: ConnectSubscriptionOptions
  ): Stream.Stream<PersistentSubscription.PersistentEvent, ConnectSubscriptionError> => {
    const operation = "connectSubscription"
    return subscriptionStream((scope, probe) =>
      Effect.gen(function*() {
        const bufferSize = yield* positiveInteger(
          operation,
          options?.bufferSize,
          "bufferSize",
          defaultPersistentBufferSize
        )
        const payload = yield* encode(operation, Messages.ConnectToPersistentSubscriptionSchema, {
          subscriptionId: group,
          eventStreamId: stream,
          allowedInFlightMessages: bufferSize
        })
        return yield* Persistent.consumer({
          connection,
          target: { stream, group, operation },
          request: { command: Command.ConnectToPersistentSubscription, payload, credentials: options?.credentials },
          bufferSize: bufferSize * 2,
          batchSize: bufferSize * 2,
          timeout: timeoutOf(options),
          probe
        }, scope)
      })
    )
  }

  return {
    settings,
    ping,
    publishEvent,
    publish,
    getEvent,
    get,
    iter,
    getAll,
    iterAll,
    deleteStream,
    getStreamMetadata,
    setStreamMetadata,
    startTransaction,
    continueTransaction: (stream, transactionId, options) =>
      makeTransaction(stream, transactionId, ExpectedVersion.Any, options),
    subscribeTo,
    subscribeToAll,
    createSubscription,
    updateSubscription,
    deleteSubscription,
    connectSubscription
  }
}
