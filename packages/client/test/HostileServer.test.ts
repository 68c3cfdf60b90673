/**
 * Property-based fuzzing of the client against a hostile server: a raw peer (`Peer.ts`) that completes
 * the handshake and then answers the client's requests, pages and subscriptions with whatever the
 * generators make of them: random commands, random payloads, random flags, proper replies with random
 * contents, and proper replies whose bytes were flipped, inserted, deleted or cut off.
 *
 * Whatever the server sends, an operation must end with its value or with one of the tagged errors its
 * type lists: never a defect, never a hang (the peer always answers, so a client-side `Timeout` is a
 * reply the client lost), and never a broken connection, unless the bytes themselves break the
 * connection (a connection-wide BadRequest, a package whose header cannot be read), and then later
 * requests fail at once. The events the client does deliver must be readable through every getter,
 * whatever bytes they came from.
 *
 * Every property has a fixed seed so that CI sees the same cases every time; to hunt for new bugs, run
 * the file with other seeds and more runs (see `checks`).
 */
import { assert, describe, it } from "@effect/vitest"
import { type DescMessage, type MessageInitShape } from "@bufbuild/protobuf"
import * as Arbitrary from "effect/Arbitrary"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Order from "effect/Order"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { Command as CommandModule, Guid, Messages, Package } from "@photonpump/protocol"
import {
  EventStore,
  EventStoreError,
  NewEvent,
  type PersistentSubscription,
  type ResolvedEvent,
  StreamDirection,
  Subscription
} from "@photonpump/client"
import { confirmation, dropped, frame, message, type Peer, peer, send } from "./Peer.ts"
import { checks, intBetween, mutate, mutations } from "./Properties.ts"

const Command = CommandModule.Command
const encoder = new TextEncoder()

// -----------------------------------------------------------------------------
// how hard to look
// -----------------------------------------------------------------------------

/**
 * The check options of every property (`Properties.checks`, seed 1). A failing case may cost a hang
 * bound per shrink step: a few steps say enough.
 */
const hostileChecks = (runs: number) => checks(runs, { seed: 1, maxShrinks: 10 })

/**
 * How long a request may wait for its reply. Short: the peer answers every request at once, so a
 * client-side `Timeout` is a reply the client dropped, and should show up fast.
 */
const operationTimeout = "1 second"

/** Longer than anything the client should take: beyond it, the client hangs. */
const hangBound = "3 seconds"

// -----------------------------------------------------------------------------
// arbitraries
// -----------------------------------------------------------------------------

/** One of the arbitraries, each as likely as the others. */
const oneOf = <A>(...choices: ReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  Arbitrary.flatMap(intBetween(0, choices.length - 1), (index) => choices[index]!)

/** One of the arbitraries, each as likely as its weight says. */
const weighted = <A>(
  ...choices: ReadonlyArray<readonly [weight: number, arbitrary: Arbitrary.Arbitrary<A>]>
): Arbitrary.Arbitrary<A> => {
  const total = choices.reduce((sum, [weight]) => sum + weight, 0)
  return Arbitrary.flatMap(intBetween(0, total - 1), (draw) => {
    let left = draw
    for (const [weight, arbitrary] of choices) {
      if (left < weight) return arbitrary
      left -= weight
    }
    return choices[choices.length - 1]![1]
  })
}

const bytesUpTo = (maxLength: number): Arbitrary.Arbitrary<Uint8Array> =>
  Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(0, maxLength)))

const anyByte = intBetween(0, 255)

const text = oneOf(
  Arbitrary.Constant(""),
  Arbitrary.Constant("ponies"),
  Arbitrary.schema(Schema.String.check(Schema.isMaxLength(40)))
)

/** An int64: mostly the small numbers events and positions have, sometimes anything at all. */
const int64 = oneOf(
  Arbitrary.schema(Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: -2n, maximum: 1_000n }))),
  Arbitrary.Constant(9223372036854775807n),
  Arbitrary.schema(
    Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: -9223372036854775808n, maximum: 9223372036854775807n }))
  )
)

/** A result code of an enum with `count` values: mostly one of them, sometimes one no server sends. */
const resultCode = (count: number) =>
  weighted(
    [2, Arbitrary.Constant(0)],
    [4, intBetween(0, count - 1)],
    [1, intBetween(count, 300)],
    [1, intBetween(-3, -1)]
  )

/** What an event's data or metadata holds: JSON (an event, or stream metadata), or any bytes. */
const eventBody = oneOf(
  bytesUpTo(24),
  // Large enough that the reply is read in place rather than copied out of the socket's memory.
  Arbitrary.map(intBetween(0, 6_000), (length) => Uint8Array.from({ length }, (_, i) => (i * 7) % 251)),
  Arbitrary.map(
    Arbitrary.schema(Schema.Struct({ n: Schema.Number, text: Schema.String.check(Schema.isMaxLength(10)) })),
    (body) => encoder.encode(JSON.stringify(body))
  ),
  Arbitrary.map(
    Arbitrary.all({
      $maxCount: Arbitrary.schema(Schema.Number),
      $maxAge: Arbitrary.schema(Schema.Number),
      // A soft-deleted stream's `$tb` is 2^63 - 1, beyond what a double holds exactly.
      $tb: oneOf(Arbitrary.schema(Schema.Number), Arbitrary.Constant(2 ** 63)),
      $cacheControl: Arbitrary.schema(Schema.Number),
      $tmp: Arbitrary.schema(Schema.Boolean),
      $acl: Arbitrary.schema(Schema.Struct({ $r: Schema.Union([Schema.String, Schema.Array(Schema.String)]) }))
    }),
    (metadata) => encoder.encode(JSON.stringify(metadata))
  )
)

const eventRecord = Arbitrary.all({
  eventStreamId: text,
  eventNumber: int64,
  // An id is 16 bytes; the decoders must cope with any other length too.
  eventId: oneOf(Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(16, 16))), bytesUpTo(20)),
  eventType: text,
  dataContentType: intBetween(0, 2),
  metadataContentType: intBetween(0, 2),
  data: eventBody,
  metadata: eventBody,
  created: int64,
  createdEpoch: int64
})

/** An optional record: a resolved event may come without its event (a link to a deleted event), or empty. */
const maybeRecord = oneOf(Arbitrary.Constant(undefined), eventRecord, eventRecord)

const indexedEvent = Arbitrary.map(
  Arbitrary.all({ event: maybeRecord, link: maybeRecord }),
  ({ event, link }) => ({ ...(event === undefined ? {} : { event }), ...(link === undefined ? {} : { link }) })
)

const positionedEvent = Arbitrary.map(
  Arbitrary.all({ indexed: indexedEvent, commitPosition: int64, preparePosition: int64 }),
  ({ commitPosition, indexed, preparePosition }) => ({ ...indexed, commitPosition, preparePosition })
)

/**
 * A proper payload, as the server would encode it, and whether it carries a result code this client
 * does not know (a reply the client cannot make sense of, however well it decodes).
 */
interface ValidPayload {
  readonly payload: Uint8Array
  readonly unknownResult: boolean
}

/** A message with random contents; `known` says which results the client knows. */
const valid = <Desc extends DescMessage, A>(
  schema: Desc,
  contents: Arbitrary.Arbitrary<A>,
  init: (contents: A) => MessageInitShape<Desc>,
  known?: (contents: A) => boolean
): Arbitrary.Arbitrary<ValidPayload> =>
  Arbitrary.map(contents, (value) => ({
    payload: message(schema, init(value)),
    unknownResult: known !== undefined && !known(value)
  }))

const operationResult = resultCode(8)
const isKnown = (count: number) => ({ result }: { readonly result: number }) => result >= 0 && result < count

const writeEventsCompleted = valid(
  Messages.WriteEventsCompletedSchema,
  Arbitrary.all({
    result: operationResult,
    message: text,
    firstEventNumber: int64,
    lastEventNumber: int64,
    preparePosition: int64,
    commitPosition: int64,
    currentVersion: int64
  }),
  (reply) => ({ ...reply, result: reply.result as Messages.OperationResult }),
  isKnown(8)
)

const deleteStreamCompleted = valid(
  Messages.DeleteStreamCompletedSchema,
  Arbitrary.all({ result: operationResult, message: text, preparePosition: int64, commitPosition: int64, currentVersion: int64 }),
  (reply) => ({ ...reply, result: reply.result as Messages.OperationResult }),
  isKnown(8)
)

const transactionReply = Arbitrary.all({ transactionId: int64, result: operationResult, message: text })

const transactionStartCompleted = valid(
  Messages.TransactionStartCompletedSchema,
  transactionReply,
  (reply) => ({ ...reply, result: reply.result as Messages.OperationResult }),
  isKnown(8)
)

const transactionWriteCompleted = valid(
  Messages.TransactionWriteCompletedSchema,
  transactionReply,
  (reply) => ({ ...reply, result: reply.result as Messages.OperationResult }),
  isKnown(8)
)

const transactionCommitCompleted = valid(
  Messages.TransactionCommitCompletedSchema,
  Arbitrary.all({
    transactionId: int64,
    result: operationResult,
    message: text,
    firstEventNumber: int64,
    lastEventNumber: int64,
    preparePosition: int64,
    commitPosition: int64
  }),
  (reply) => ({ ...reply, result: reply.result as Messages.OperationResult }),
  isKnown(8)
)

const readEventCompleted = valid(
  Messages.ReadEventCompletedSchema,
  Arbitrary.all({ result: resultCode(6), event: indexedEvent, error: text }),
  (reply) => ({ ...reply, result: reply.result as Messages.ReadEventCompleted_ReadEventResult }),
  isKnown(6)
)

/** A result code of a page a paged read goes on through: mostly Success, else anything `resultCode` gives. */
const mostlySuccess = (count: number) => oneOf(Arbitrary.Constant(0), Arbitrary.Constant(0), resultCode(count))

const readStreamPage = (result: Arbitrary.Arbitrary<number>) =>
  valid(
    Messages.ReadStreamEventsCompletedSchema,
    Arbitrary.all({
      events: Arbitrary.array(indexedEvent, { maxLength: 4 }),
      result,
      nextEventNumber: int64,
      lastEventNumber: int64,
      isEndOfStream: Arbitrary.schema(Schema.Boolean),
      lastCommitPosition: int64,
      error: text
    }),
    (reply) => ({ ...reply, result: reply.result as Messages.ReadStreamEventsCompleted_ReadStreamResult }),
    isKnown(6)
  )

const readStreamEventsCompleted = readStreamPage(resultCode(6))

const allPageContents = (result: Arbitrary.Arbitrary<number>) =>
  Arbitrary.all({
    commitPosition: int64,
    preparePosition: int64,
    events: Arbitrary.array(positionedEvent, { maxLength: 4 }),
    nextCommitPosition: int64,
    nextPreparePosition: int64,
    result,
    error: text
  })

const readAllPage = (result: Arbitrary.Arbitrary<number>) =>
  valid(
    Messages.ReadAllEventsCompletedSchema,
    allPageContents(result),
    (reply) => ({ ...reply, result: reply.result as Messages.ReadAllEventsCompleted_ReadAllResult }),
    isKnown(4)
  )

const filteredReadAllPage = (result: Arbitrary.Arbitrary<number>) =>
  valid(
    Messages.FilteredReadAllEventsCompletedSchema,
    Arbitrary.all({ page: allPageContents(result), isEndOfStream: Arbitrary.schema(Schema.Boolean) }),
    ({ isEndOfStream, page }) => ({
      ...page,
      isEndOfStream,
      result: page.result as Messages.FilteredReadAllEventsCompleted_FilteredReadAllResult
    }),
    ({ page }) => isKnown(4)(page)
  )

const readAllEventsCompleted = readAllPage(resultCode(4))
const filteredReadAllEventsCompleted = filteredReadAllPage(resultCode(4))

const persistentReply = Arbitrary.all({ result: resultCode(4), reason: text })

const createPersistentSubscriptionCompleted = valid(
  Messages.CreatePersistentSubscriptionCompletedSchema,
  persistentReply,
  ({ reason, result }) => ({
    reason,
    result: result as Messages.CreatePersistentSubscriptionCompleted_CreatePersistentSubscriptionResult
  }),
  isKnown(4)
)

const updatePersistentSubscriptionCompleted = valid(
  Messages.UpdatePersistentSubscriptionCompletedSchema,
  persistentReply,
  ({ reason, result }) => ({
    reason,
    result: result as Messages.UpdatePersistentSubscriptionCompleted_UpdatePersistentSubscriptionResult
  }),
  isKnown(4)
)

const deletePersistentSubscriptionCompleted = valid(
  Messages.DeletePersistentSubscriptionCompletedSchema,
  persistentReply,
  ({ reason, result }) => ({
    reason,
    result: result as Messages.DeletePersistentSubscriptionCompleted_DeletePersistentSubscriptionResult
  }),
  isKnown(4)
)

const leaderInfo = Arbitrary.map(
  Arbitrary.all({
    externalTcpAddress: text,
    externalTcpPort: intBetween(-1, 70_000),
    httpAddress: text,
    httpPort: intBetween(-1, 70_000),
    externalSecureTcpAddress: text,
    externalSecureTcpPort: intBetween(-1, 70_000)
  }),
  (info) => message(Messages.NotHandled_LeaderInfoSchema, info)
)

const notHandled = valid(
  Messages.NotHandledSchema,
  Arbitrary.all({ result: resultCode(4), additionalInfo: oneOf(bytesUpTo(12), leaderInfo) }),
  ({ additionalInfo, result }) => ({ reason: result as Messages.NotHandled_NotHandledReason, additionalInfo }),
  isKnown(4)
)

const textPayload = Arbitrary.map(bytesUpTo(30), (payload): ValidPayload => ({ payload, unknownResult: false }))

const streamEventAppeared = valid(
  Messages.StreamEventAppearedSchema,
  positionedEvent,
  (event) => ({ event })
)

const persistentEventAppeared = valid(
  Messages.PersistentSubscriptionStreamEventAppearedSchema,
  Arbitrary.all({ event: indexedEvent, retryCount: intBetween(-1, 1_000) }),
  (appeared) => appeared
)

const subscriptionDropped = valid(
  Messages.SubscriptionDroppedSchema,
  Arbitrary.all({ result: resultCode(5) }),
  ({ result }) => ({ reason: result as Messages.SubscriptionDropped_SubscriptionDropReason })
)

const checkpointReached = valid(
  Messages.CheckpointReachedSchema,
  Arbitrary.all({ commitPosition: int64, preparePosition: int64 }),
  (checkpoint) => checkpoint
)

const subscriptionConfirmation = valid(
  Messages.SubscriptionConfirmationSchema,
  Arbitrary.all({ lastCommitPosition: int64, lastEventNumber: int64 }),
  (confirmed) => confirmed
)

/**
 * A package the hostile peer sends. `zeroId` sends it under the all-zero correlation id instead of
 * the one it answers; `unknownResult` marks a proper payload, sent as it is, whose result code the
 * client does not know.
 */
interface Hostile {
  readonly command: number
  readonly flags: number
  /** An auth block (login and password) between the header and the payload; empty for none. */
  readonly auth: Uint8Array
  readonly payload: Uint8Array
  readonly zeroId: boolean
  readonly unknownResult: boolean
}

/** Flags as a server sends them (none), or any byte: the auth flag makes the payload's start an auth block. */
const flags = weighted([6, Arbitrary.Constant(0)], [1, anyByte])

/** A reply that may carry a message: its command and how to make a proper payload for it. */
interface ReplyKind {
  readonly command: number
  readonly payload: Arbitrary.Arbitrary<ValidPayload>
}

/** The replies any request can get instead of its own. */
const genericReplies: ReadonlyArray<ReplyKind> = [
  { command: Command.BadRequest, payload: textPayload },
  { command: Command.NotAuthenticated, payload: textPayload },
  { command: Command.NotHandled, payload: notHandled }
]

const hostile = (
  command: number,
  payload: Uint8Array,
  options?: { readonly flags?: number; readonly unknownResult?: boolean; readonly zeroId?: boolean }
): Hostile => ({
  command,
  payload,
  auth: new Uint8Array(0),
  flags: options?.flags ?? 0,
  // With the auth flag and no auth block, the client reads the payload's first bytes as one.
  unknownResult: (options?.unknownResult ?? false) && ((options?.flags ?? 0) & Package.Flags.Authenticated) === 0,
  zeroId: options?.zeroId ?? false
})

/** A well-formed auth block, as a client sends it: which a server never does. */
const authBlock = Arbitrary.map(
  Arbitrary.all([bytesUpTo(20), bytesUpTo(20)]),
  ([login, password]) => Uint8Array.from([login.length, ...login, password.length, ...password])
)

/** The reply with credentials of its own between its header and its payload. */
const withAuth = (reply: Arbitrary.Arbitrary<Hostile>): Arbitrary.Arbitrary<Hostile> =>
  Arbitrary.map(
    Arbitrary.all([reply, authBlock]),
    ([reply, auth]) => ({ ...reply, auth, flags: reply.flags | Package.Flags.Authenticated })
  )

/**
 * A hostile answer to a request whose proper replies are `kinds`: mostly a proper reply with random
 * contents, as it is or mutated; else a generic reply, a proper command with random bytes, any command
 * with random bytes, or a connection-wide BadRequest; with random flags now and then.
 */
const hostileAnswer = (kinds: ReadonlyArray<ReplyKind>): Arbitrary.Arbitrary<Hostile> => {
  const pick = (from: ReadonlyArray<ReplyKind>) =>
    Arbitrary.flatMap(intBetween(0, from.length - 1), (index) => Arbitrary.Constant(from[index]!))
  const proper = (from: Arbitrary.Arbitrary<ReplyKind>) =>
    Arbitrary.flatMap(from, ({ command, payload }) =>
      Arbitrary.map(
        Arbitrary.all([payload, flags]),
        ([valid, flags]) => hostile(command, valid.payload, { flags, unknownResult: valid.unknownResult })
      ))
  const mutated = (from: Arbitrary.Arbitrary<ReplyKind>) =>
    Arbitrary.flatMap(from, ({ command, payload }) =>
      Arbitrary.map(
        Arbitrary.all([payload, mutations, flags]),
        ([valid, changes, flags]) => hostile(command, mutate(valid.payload, changes), { flags })
      ))
  return weighted(
    [6, proper(pick(kinds))],
    [1, withAuth(proper(pick(kinds)))],
    [2, proper(pick(genericReplies))],
    [4, mutated(pick([...kinds, ...genericReplies]))],
    [
      1,
      Arbitrary.flatMap(pick(kinds), ({ command }) =>
        Arbitrary.map(Arbitrary.all([bytesUpTo(40), flags]), ([payload, flags]) => hostile(command, payload, { flags })))
    ],
    [
      1,
      Arbitrary.map(
        Arbitrary.all([anyByte, bytesUpTo(40), flags]),
        ([command, payload, flags]) => hostile(command, payload, { flags })
      )
    ],
    [1, Arbitrary.map(bytesUpTo(20), (payload) => hostile(Command.BadRequest, payload, { zeroId: true }))]
  )
}

/** A correlation id nobody waits for. */
const foreignId = Arbitrary.map(
  Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(16, 16))),
  (bytes) => Guid.readUnsafe(bytes, 0)
)

/**
 * A package the peer sends after its answer: the answer's id again (a duplicate), an id nobody waits
 * for, a heartbeat, or a frame too short to hold a package.
 */
type Stray =
  | { readonly kind: "Again"; readonly reply: Hostile }
  | { readonly kind: "Elsewhere"; readonly reply: Hostile; readonly id: string }
  | { readonly kind: "Heartbeat"; readonly id: string }
  | { readonly kind: "Short"; readonly body: Uint8Array }

const strays = (kinds: ReadonlyArray<ReplyKind>): Arbitrary.Arbitrary<Array<Stray>> =>
  Arbitrary.array(
    weighted<Stray>(
      [3, Arbitrary.map(hostileAnswer(kinds), (reply) => ({ kind: "Again", reply }))],
      [3, Arbitrary.map(Arbitrary.all([hostileAnswer(kinds), foreignId]), ([reply, id]) => ({ kind: "Elsewhere", reply, id }))],
      [2, Arbitrary.map(foreignId, (id) => ({ kind: "Heartbeat", id }))],
      [1, Arbitrary.map(bytesUpTo(Package.headerLength - 1), (body) => ({ kind: "Short", body }))]
    ),
    { maxLength: 3 }
  )

/** Where the peer cuts the bytes it sends into separate writes (offsets, modulo their length). */
const cuts = Arbitrary.array(intBetween(0, 1 << 16), { maxLength: 4 })

// -----------------------------------------------------------------------------
// the hostile peer
// -----------------------------------------------------------------------------

/** The frame of a package with any flags byte (`Package.encodeFrame` sets only the auth flag). */
const rawFrame = (reply: Hostile, correlationId: string): Uint8Array => {
  const bodyLength = Package.headerLength + reply.auth.length + reply.payload.length
  const frame = new Uint8Array(4 + bodyLength)
  new DataView(frame.buffer).setUint32(0, bodyLength, true)
  frame[4] = reply.command
  frame[5] = reply.flags
  frame.set(Result.getOrThrow(Guid.toWire(reply.zeroId ? Guid.empty : correlationId)), 6)
  frame.set(reply.auth, 4 + Package.headerLength)
  frame.set(reply.payload, 4 + Package.headerLength + reply.auth.length)
  return frame
}

const sendHostile = (socket: Net.Socket, reply: Hostile, correlationId: string): void => {
  socket.write(rawFrame(reply, correlationId))
}

const strayFrame = (stray: Stray, correlationId: string): Uint8Array => {
  switch (stray.kind) {
    case "Again":
      return rawFrame(stray.reply, correlationId)
    case "Elsewhere":
      return rawFrame(stray.reply, stray.id)
    case "Heartbeat":
      return rawFrame(hostile(Command.HeartbeatRequest, new Uint8Array(0)), stray.id)
    case "Short": {
      const frame = new Uint8Array(4 + stray.body.length)
      new DataView(frame.buffer).setUint32(0, stray.body.length, true)
      frame.set(stray.body, 4)
      return frame
    }
  }
}

/** Writes the frames as one run of bytes, cut at `offsets` into separate writes. */
const writeCut = (socket: Net.Socket, frames: ReadonlyArray<Uint8Array>, offsets: ReadonlyArray<number>): void => {
  const bytes = Buffer.concat(frames)
  const points = Arr.sort(offsets.map((offset) => offset % (bytes.length + 1)), Order.Number)
  let at = 0
  for (const point of [...points, bytes.length]) {
    if (point > at) socket.write(bytes.subarray(at, point))
    at = Math.max(at, point)
  }
}

/**
 * Whether the package breaks the connection rather than the request it answers: a connection-wide
 * BadRequest, or a package whose auth block (which a server never sends) runs past its end, a package
 * whose header cannot be read, which the .NET client also treats as the end of the connection.
 */
const breaksConnection = (reply: Hostile): boolean => {
  if (reply.zeroId) return true
  if ((reply.flags & Package.Flags.Authenticated) === 0) return false
  const body = rawFrame(reply, Guid.empty).subarray(4)
  return Result.isFailure(Package.decode(body, { bearerTokens: false }))
}

/** Whether a stray package breaks the connection (a frame too short for a package always does). */
const strayBreaksConnection = (stray: Stray): boolean => {
  switch (stray.kind) {
    case "Again":
    case "Elsewhere":
      return breaksConnection(stray.reply)
    case "Heartbeat":
      return false
    case "Short":
      return true
  }
}

/**
 * What settles a request answered with `reply` after the strays `before` it, the client reading them
 * in order: the first package that breaks the connection or answers under the request's id.
 */
const whatSettles = (before: ReadonlyArray<Stray>, reply: Hostile): "broken connection" | "stray" | "reply" => {
  for (const stray of before) {
    if (strayBreaksConnection(stray)) return "broken connection"
    if (stray.kind === "Again") return "stray"
  }
  return breaksConnection(reply) ? "broken connection" : "reply"
}

/** A peer that answers pings with pongs, and every other request as `answer` says. */
const hostilePeer = (answer: (pkg: Package.InboundPackage, socket: Net.Socket) => boolean) =>
  peer((pkg, socket) => {
    if (answer(pkg, socket)) return
    if (pkg.command === Command.Ping) send(socket, Command.Pong, pkg.correlationId, pkg.payload)
  })

const connect = (server: Peer) =>
  EventStore.connect({ host: "127.0.0.1", port: server.port, operationTimeout })

/** Runs `effect` to its exit, failing the property with a clear message if it outlives the hang bound. */
const exitWithin = <A, E>(effect: Effect.Effect<A, E>, what: string) =>
  Effect.exit(effect).pipe(
    Effect.timeoutOrElse({
      duration: hangBound,
      orElse: () => Effect.die(new Error(`${what} hangs: no outcome within ${hangBound}`))
    })
  )

// -----------------------------------------------------------------------------
// what an outcome may be
// -----------------------------------------------------------------------------

type Tagged = { readonly _tag: string }

/** Every tag of an error union, exactly: the type checker holds it to the operation's error channel. */
type Tags<E extends Tagged> = { readonly [K in E["_tag"]]: true }

const tagOf = (error: Tagged): string => error["_tag"]

/**
 * A spec whose `errors` are exactly the tags of the error channel `E`: each of them (the constraint
 * `Errors extends Tags<E>`), and no other (an extra tag makes `errors` impossible to give).
 */
type WithExactly<Spec extends { readonly errors: unknown }, E extends Tagged, Errors> =
  & Omit<Spec, "errors">
  & { readonly errors: Exclude<keyof Errors, E["_tag"]> extends never ? Errors : never }

const requestErrors: Tags<EventStoreError.RequestError> = {
  NotAuthenticated: true,
  BadRequest: true,
  NotHandled: true,
  Timeout: true,
  ConnectionError: true,
  ProtocolError: true
}
const writeErrors: Tags<EventStoreError.WriteError> = {
  ...requestErrors,
  WrongExpectedVersion: true,
  StreamDeleted: true,
  AccessDenied: true
}
const readEventErrors: Tags<EventStoreError.ReadEventError> = {
  ...requestErrors,
  EventNotFound: true,
  StreamNotFound: true,
  StreamDeleted: true,
  AccessDenied: true
}
const readStreamErrors: Tags<EventStoreError.ReadStreamError> = {
  ...requestErrors,
  StreamNotFound: true,
  StreamDeleted: true,
  AccessDenied: true
}
const readAllErrors: Tags<EventStoreError.ReadAllError> = { ...requestErrors, AccessDenied: true }
const deleteErrors: Tags<EventStoreError.DeleteError> = writeErrors
const readMetadataErrors: Tags<EventStoreError.ReadMetadataError> = { ...requestErrors, AccessDenied: true }
const transactionErrors: Tags<EventStoreError.TransactionError> = { ...writeErrors, InvalidTransaction: true }
const createSubscriptionErrors: Tags<EventStoreError.CreateSubscriptionError> = {
  ...requestErrors,
  PersistentSubscriptionAlreadyExists: true,
  PersistentSubscriptionFailed: true,
  AccessDenied: true
}
const updateSubscriptionErrors: Tags<EventStoreError.UpdateSubscriptionError> = {
  ...requestErrors,
  PersistentSubscriptionNotFound: true,
  PersistentSubscriptionFailed: true,
  AccessDenied: true
}
const subscribeErrors: Tags<EventStoreError.SubscribeError> = {
  ...requestErrors,
  AccessDenied: true,
  StreamDeleted: true,
  SubscriptionDropped: true,
  SubscriptionOverflow: true
}
const connectSubscriptionErrors: Tags<EventStoreError.ConnectSubscriptionError> = {
  ...requestErrors,
  PersistentSubscriptionNotFound: true,
  PersistentSubscriptionDeleted: true,
  MaxSubscribersReached: true,
  AccessDenied: true,
  SubscriptionDropped: true,
  SubscriptionOverflow: true
}

/**
 * What the peer did to the connection: nothing (`intact`), broke it before the operation could end
 * (`broken`: the operation must fail with the `ConnectionError`), or broke it at some point (`either`).
 */
type ConnectionFate = "intact" | "broken" | "either"

/**
 * Checks an operation's exit: its value, or one typed failure among `errors`; never a defect or an
 * interruption, never a client-side timeout (the peer answered), and a `ConnectionError` only when the
 * peer broke the connection. Returns the error, if any.
 */
const expectTyped = (
  exit: Exit.Exit<unknown, Tagged>,
  errors: Readonly<Record<string, true>>,
  fate: ConnectionFate
): Tagged | undefined => {
  if (Exit.isSuccess(exit)) {
    assert.notStrictEqual(fate, "broken", "succeeded although the connection was broken")
    return undefined
  }
  const reasons = exit.cause.reasons
  assert.isTrue(reasons.length === 1 && Cause.isFailReason(reasons[0]!), `not one typed failure: ${Cause.pretty(exit.cause)}`)
  const error = Result.getOrThrow(Cause.findError(exit.cause))
  const tag = tagOf(error)
  assert.isTrue(errors[tag] === true, `${tag} is not among the operation's errors: ${String(error)}`)
  if (error instanceof EventStoreError.Timeout) {
    assert.notStrictEqual(error.source, "Client", "a reply was lost: client-side Timeout")
  }
  if (fate === "intact") assert.notInstanceOf(error, EventStoreError.ConnectionError, "the connection died")
  if (fate === "broken") assert.instanceOf(error, EventStoreError.ConnectionError, String(error))
  if (error instanceof EventStoreError.ConnectionError) assert.strictEqual(error.reason, "ProtocolViolation", error.message)
  return error
}

/** A later request: served as usual, or, on a broken connection, failed at once with its error. */
const expectConnection = (es: EventStore.Service, broken: boolean) =>
  Effect.gen(function*() {
    const exit = yield* exitWithin(es.ping(), "a ping after the hostile reply")
    if (!broken) {
      assert.isTrue(Exit.isSuccess(exit), `the connection no longer serves requests: ${String(exit)}`)
      return
    }
    const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
    assert.instanceOf(error, EventStoreError.ConnectionError, String(exit))
  })

// -----------------------------------------------------------------------------
// lazy event fields
// -----------------------------------------------------------------------------

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Calls `read`, which may throw a `SyntaxError` (documented for JSON that is not JSON) and nothing else. */
const throwsOnlySyntaxError = (read: () => unknown, what: string): void => {
  try {
    read()
  } catch (error) {
    assert.instanceOf(error, SyntaxError, `${what} threw ${String(error)}`)
  }
}

/** Reads every field and getter of a delivered event, as a consumer might: none may throw. */
const readEveryField = (event: ResolvedEvent.ResolvedEvent): void => {
  for (const record of event.link === undefined ? [event.event] : [event.event, event.link]) {
    assert.isString(record.stream)
    assert.isString(record.type)
    assert.isBoolean(record.isJson)
    assert.strictEqual(typeof record.eventNumber, "bigint")
    assert.match(record.id, uuid)
    assert.instanceOf(record.data, Uint8Array)
    assert.instanceOf(record.metadata, Uint8Array)
    assert.instanceOf(record.created, Date)
    assert.isString(record.text())
    assert.isString(record.toString())
    assert.isString(JSON.stringify(record))
    throwsOnlySyntaxError(() => record.json(), "json()")
    throwsOnlySyntaxError(() => record.metadataJson(), "metadataJson()")
  }
  assert.isTrue(Subscription.isEvent(event))
  assert.isBoolean(event.isResolved)
  assert.strictEqual(event.originalEvent, event.link ?? event.event)
  assert.strictEqual(typeof event.originalEventNumber, "bigint")
  assert.isString(event.originalStream)
  assert.strictEqual(event.eventNumber, event.event.eventNumber)
  assert.strictEqual(event.id, event.event.id)
  assert.strictEqual(event.data, event.event.data)
  assert.strictEqual(event.metadata, event.event.metadata)
  assert.strictEqual(event.stream, event.event.stream)
  assert.strictEqual(event.type, event.event.type)
  assert.strictEqual(event.isJson, event.event.isJson)
  assert.instanceOf(event.created, Date)
  const position = event.position
  if (position !== undefined) {
    assert.strictEqual(typeof position.commit, "bigint")
    assert.strictEqual(typeof position.prepare, "bigint")
  }
  assert.isString(event.toString())
  assert.isString(JSON.stringify(event))
  throwsOnlySyntaxError(() => event.json(), "json()")
  const decoded = Effect.runSync(Effect.exit(event.decode(Schema.Unknown)))
  if (Exit.isFailure(decoded)) {
    const error = Option.getOrUndefined(Cause.findErrorOption(decoded.cause))
    assert.instanceOf(error, EventStoreError.EventDecodeError, String(decoded))
  }
}

// -----------------------------------------------------------------------------
// 1. request/response operations
// -----------------------------------------------------------------------------

/** An operation of the service with one request and one reply. */
interface Operation<E extends Tagged> {
  readonly name: string
  /** The command of its request: the peer answers the first one it receives. */
  readonly request: number
  /** Its proper replies (besides the generic ones any request can get). */
  readonly replies: ReadonlyArray<ReplyKind>
  /** Exactly the errors its type lists. */
  readonly errors: Tags<E>
  readonly run: (es: EventStore.Service) => Effect.Effect<unknown, E>
}

const operation = <E extends Tagged, Errors extends Tags<E>>(
  spec: WithExactly<Operation<E>, E, Errors>
): Operation<Tagged> => spec as unknown as Operation<Tagged>

const event = NewEvent.make("PonyJumped", { body: { n: 1 } })
const prefixFilter = { on: "StreamName", match: "Prefix", values: ["ponies-"] } as const

const operations: ReadonlyArray<Operation<Tagged>> = [
  operation({
    name: "ping",
    request: Command.Ping,
    replies: [{ command: Command.Pong, payload: textPayload }],
    errors: requestErrors,
    run: (es) => es.ping()
  }),
  operation({
    name: "publishEvent",
    request: Command.WriteEvents,
    replies: [{ command: Command.WriteEventsCompleted, payload: writeEventsCompleted }],
    errors: writeErrors,
    run: (es) => es.publishEvent("ponies", "PonyJumped", { body: { n: 1 } })
  }),
  operation({
    name: "publish",
    request: Command.WriteEvents,
    replies: [{ command: Command.WriteEventsCompleted, payload: writeEventsCompleted }],
    errors: writeErrors,
    run: (es) => es.publish("ponies", [event, event], { expectedVersion: 3n })
  }),
  operation({
    name: "getEvent",
    request: Command.ReadEvent,
    replies: [{ command: Command.ReadEventCompleted, payload: readEventCompleted }],
    errors: readEventErrors,
    run: (es) => Effect.tap(es.getEvent("ponies", 3), (found) => Effect.sync(() => readEveryField(found)))
  }),
  operation({
    name: "get forwards",
    request: Command.ReadStreamEventsForward,
    replies: [{ command: Command.ReadStreamEventsForwardCompleted, payload: readStreamEventsCompleted }],
    errors: readStreamErrors,
    run: (es) => Effect.tap(es.get("ponies"), (slice) => Effect.sync(() => slice.events.forEach(readEveryField)))
  }),
  operation({
    name: "get backwards",
    request: Command.ReadStreamEventsBackward,
    replies: [{ command: Command.ReadStreamEventsBackwardCompleted, payload: readStreamEventsCompleted }],
    errors: readStreamErrors,
    run: (es) =>
      Effect.tap(
        es.get("ponies", { direction: StreamDirection.Backward }),
        (slice) => Effect.sync(() => slice.events.forEach(readEveryField))
      )
  }),
  operation({
    name: "getAll forwards",
    request: Command.ReadAllEventsForward,
    replies: [{ command: Command.ReadAllEventsForwardCompleted, payload: readAllEventsCompleted }],
    errors: readAllErrors,
    run: (es) => Effect.tap(es.getAll(), (slice) => Effect.sync(() => slice.events.forEach(readEveryField)))
  }),
  operation({
    name: "getAll backwards",
    request: Command.ReadAllEventsBackward,
    replies: [{ command: Command.ReadAllEventsBackwardCompleted, payload: readAllEventsCompleted }],
    errors: readAllErrors,
    run: (es) =>
      Effect.tap(
        es.getAll({ direction: StreamDirection.Backward }),
        (slice) => Effect.sync(() => slice.events.forEach(readEveryField))
      )
  }),
  operation({
    name: "getAll filtered",
    request: Command.FilteredReadAllEventsForward,
    replies: [{ command: Command.FilteredReadAllEventsForwardCompleted, payload: filteredReadAllEventsCompleted }],
    errors: readAllErrors,
    run: (es) =>
      Effect.tap(es.getAll({ filter: prefixFilter }), (slice) => Effect.sync(() => slice.events.forEach(readEveryField)))
  }),
  operation({
    name: "deleteStream",
    request: Command.DeleteStream,
    replies: [{ command: Command.DeleteStreamCompleted, payload: deleteStreamCompleted }],
    errors: deleteErrors,
    run: (es) => es.deleteStream("ponies", { hard: true })
  }),
  operation({
    name: "getStreamMetadata",
    request: Command.ReadEvent,
    replies: [{ command: Command.ReadEventCompleted, payload: readEventCompleted }],
    errors: readMetadataErrors,
    run: (es) => es.getStreamMetadata("ponies")
  }),
  operation({
    name: "setStreamMetadata",
    request: Command.WriteEvents,
    replies: [{ command: Command.WriteEventsCompleted, payload: writeEventsCompleted }],
    errors: writeErrors,
    run: (es) => es.setStreamMetadata("ponies", { maxCount: 10 })
  }),
  operation({
    name: "startTransaction",
    request: Command.TransactionStart,
    replies: [{
      command: Command.TransactionStartCompleted,
      payload: transactionStartCompleted
    }],
    errors: transactionErrors,
    run: (es) => es.startTransaction("ponies")
  }),
  operation({
    name: "Transaction.write",
    request: Command.TransactionWrite,
    replies: [{
      command: Command.TransactionWriteCompleted,
      payload: transactionWriteCompleted
    }],
    errors: transactionErrors,
    run: (es) => es.continueTransaction("ponies", 7n).write([event])
  }),
  operation({
    name: "Transaction.commit",
    request: Command.TransactionCommit,
    replies: [{
      command: Command.TransactionCommitCompleted,
      payload: transactionCommitCompleted
    }],
    errors: transactionErrors,
    run: (es) => es.continueTransaction("ponies", 7n).commit()
  }),
  operation({
    name: "createSubscription",
    request: Command.CreatePersistentSubscription,
    replies: [{
      command: Command.CreatePersistentSubscriptionCompleted,
      payload: createPersistentSubscriptionCompleted
    }],
    errors: createSubscriptionErrors,
    run: (es) => es.createSubscription("ponies", "riders")
  }),
  operation({
    name: "updateSubscription",
    request: Command.UpdatePersistentSubscription,
    replies: [{
      command: Command.UpdatePersistentSubscriptionCompleted,
      payload: updatePersistentSubscriptionCompleted
    }],
    errors: updateSubscriptionErrors,
    run: (es) => es.updateSubscription("ponies", "riders")
  }),
  operation({
    name: "deleteSubscription",
    request: Command.DeletePersistentSubscription,
    replies: [{
      command: Command.DeletePersistentSubscriptionCompleted,
      payload: deletePersistentSubscriptionCompleted
    }],
    errors: updateSubscriptionErrors,
    run: (es) => es.deleteSubscription("ponies", "riders")
  })
]

describe("request/response operations against a hostile server", () => {
  for (const op of operations) {
    it.live.prop(
      `${op.name}: any reply ends in its value or one of its typed errors, and the connection goes on`,
      [hostileAnswer(op.replies), strays(op.replies), strays(op.replies), cuts],
      ([reply, before, after, offsets]) =>
        Effect.gen(function*() {
          let answered = false
          const server = yield* hostilePeer((pkg, socket) => {
            if (answered || pkg.command !== op.request) return false
            answered = true
            const frames = [
              ...before.map((stray) => strayFrame(stray, pkg.correlationId)),
              rawFrame(reply, pkg.correlationId),
              ...after.map((stray) => strayFrame(stray, pkg.correlationId))
            ]
            writeCut(socket, frames, offsets)
            return true
          })
          const es = yield* connect(server)
          const settledBy = whatSettles(before, reply)
          const error = expectTyped(
            yield* exitWithin(op.run(es), op.name),
            op.errors,
            settledBy === "broken connection" ? "broken" : "intact"
          )
          // A proper reply with a result this client does not know is not understood: never a success.
          if (settledBy === "reply" && reply.unknownResult) {
            assert.instanceOf(error, EventStoreError.ProtocolError, `an unknown result read as ${String(error ?? "success")}`)
          }
          const broken = [...before, ...after].some(strayBreaksConnection) || breaksConnection(reply)
          yield* expectConnection(es, broken)
        }),
      hostileChecks(32)
    )
  }
})

// -----------------------------------------------------------------------------
// 2. paged reads
// -----------------------------------------------------------------------------

/** A `Stream` that reads page by page. */
interface PagedRead<E extends Tagged> {
  readonly name: string
  /** The command of its page requests, and of their proper replies. */
  readonly request: number
  readonly reply: number
  /** A proper page, with random contents that mostly let the read go on. */
  readonly page: Arbitrary.Arbitrary<ValidPayload>
  readonly errors: Tags<E>
  readonly read: (es: EventStore.Service) => Stream.Stream<ResolvedEvent.ResolvedEvent, E>
}

const pagedRead = <E extends Tagged, Errors extends Tags<E>>(
  spec: WithExactly<PagedRead<E>, E, Errors>
): PagedRead<Tagged> => spec as unknown as PagedRead<Tagged>

/** A generic reply (BadRequest, NotAuthenticated, NotHandled), proper, under the request's id. */
const genericReply = Arbitrary.flatMap(
  intBetween(0, genericReplies.length - 1),
  (index) => Arbitrary.map(genericReplies[index]!.payload, (valid) => hostile(genericReplies[index]!.command, valid.payload))
)

/**
 * The pages a hostile server answers a paged read with, in order: proper pages with random contents,
 * as they are or mutated, and now and then a generic reply.
 */
const hostilePages = (command: number, page: Arbitrary.Arbitrary<ValidPayload>) =>
  Arbitrary.array(
    weighted(
      [4, Arbitrary.map(page, (valid) => hostile(command, valid.payload))],
      [
        3,
        Arbitrary.map(Arbitrary.all([page, mutations]), ([valid, changes]) => hostile(command, mutate(valid.payload, changes)))
      ],
      [1, genericReply]
    ),
    { minLength: 1, maxLength: 6 }
  )

const pagedReads: ReadonlyArray<PagedRead<Tagged>> = [
  pagedRead({
    name: "iter forwards",
    request: Command.ReadStreamEventsForward,
    reply: Command.ReadStreamEventsForwardCompleted,
    page: readStreamPage(mostlySuccess(6)),
    errors: readStreamErrors,
    read: (es) => es.iter("ponies", { batchSize: 3 })
  }),
  pagedRead({
    name: "iter backwards",
    request: Command.ReadStreamEventsBackward,
    reply: Command.ReadStreamEventsBackwardCompleted,
    page: readStreamPage(mostlySuccess(6)),
    errors: readStreamErrors,
    read: (es) => es.iter("ponies", { batchSize: 3, direction: StreamDirection.Backward })
  }),
  pagedRead({
    name: "iterAll forwards",
    request: Command.ReadAllEventsForward,
    reply: Command.ReadAllEventsForwardCompleted,
    page: readAllPage(mostlySuccess(4)),
    errors: readAllErrors,
    read: (es) => es.iterAll({ batchSize: 3 })
  }),
  pagedRead({
    name: "iterAll backwards",
    request: Command.ReadAllEventsBackward,
    reply: Command.ReadAllEventsBackwardCompleted,
    page: readAllPage(mostlySuccess(4)),
    errors: readAllErrors,
    read: (es) => es.iterAll({ batchSize: 3, direction: StreamDirection.Backward })
  }),
  pagedRead({
    name: "iterAll filtered",
    request: Command.FilteredReadAllEventsForward,
    reply: Command.FilteredReadAllEventsForwardCompleted,
    page: filteredReadAllPage(mostlySuccess(4)),
    errors: readAllErrors,
    read: (es) => es.iterAll({ batchSize: 3, filter: prefixFilter })
  })
]

/** A peer that answers page requests with `pages` in order, then with the last one again and again. */
const pagingPeer = (request: number, pages: ReadonlyArray<Hostile>) => {
  let served = 0
  return hostilePeer((pkg, socket) => {
    if (pkg.command !== request) return false
    // Past the end of the list, a server stuck on one page: the read must still come to an end.
    sendHostile(socket, pages[Math.min(served++, pages.length - 1)]!, pkg.correlationId)
    return true
  })
}

describe("paged reads against a hostile server", () => {
  for (const read of pagedReads) {
    it.live.prop(
      `${read.name}: delivers readable events, then ends or fails with a typed error`,
      [hostilePages(read.reply, read.page)],
      ([pages]) =>
        Effect.gen(function*() {
          const es = yield* connect(yield* pagingPeer(read.request, pages))
          const exit = yield* exitWithin(
            Stream.runForEach(read.read(es), (event) => Effect.sync(() => readEveryField(event))),
            read.name
          )
          expectTyped(exit, read.errors, "intact")
          yield* expectConnection(es, false)
        }),
      hostileChecks(50)
    )
  }
})

/**
 * A `$all` page of one event whose next page starts at `next`: proper, but from a server that has lost
 * its place.
 */
const allPageGoingTo = (next: bigint, filtered: boolean): Uint8Array => {
  const page = {
    commitPosition: 0n,
    preparePosition: 0n,
    events: [{
      event: {
        eventStreamId: "ponies",
        eventNumber: 0n,
        eventId: new Uint8Array(16),
        eventType: "PonyJumped",
        dataContentType: 1,
        metadataContentType: 0,
        data: encoder.encode("{}")
      },
      commitPosition: next,
      preparePosition: next
    }],
    nextCommitPosition: next,
    nextPreparePosition: next
  }
  return filtered
    ? message(Messages.FilteredReadAllEventsCompletedSchema, {
      ...page,
      result: Messages.FilteredReadAllEventsCompleted_FilteredReadAllResult.Success,
      isEndOfStream: false
    })
    : message(Messages.ReadAllEventsCompletedSchema, { ...page, result: Messages.ReadAllEventsCompleted_ReadAllResult.Success })
}

describe("$all reads from a server whose next position does not move on", () => {
  // Forwards the pages go 100, 50, 100, 50, ...; backwards 50, 100, 50, ...: each read would ask again
  // for a page it has read, forever, were the second page not its end.
  const cases = [
    ["forwards", Command.ReadAllEventsForward, Command.ReadAllEventsForwardCompleted, [100n, 50n], false],
    ["backwards", Command.ReadAllEventsBackward, Command.ReadAllEventsBackwardCompleted, [50n, 100n], false],
    ["filtered", Command.FilteredReadAllEventsForward, Command.FilteredReadAllEventsForwardCompleted, [100n, 50n], true]
  ] as const
  for (const [name, request, reply, positions, filtered] of cases) {
    it.live(`iterAll ${name} ends at the page whose next position goes back`, () =>
      Effect.gen(function*() {
        let served = 0
        const server = yield* hostilePeer((pkg, socket) => {
          if (pkg.command !== request) return false
          send(socket, reply, pkg.correlationId, allPageGoingTo(positions[served++ % 2]!, filtered))
          return true
        })
        const es = yield* connect(server)
        const read = es.iterAll({
          batchSize: 1,
          direction: name === "backwards" ? StreamDirection.Backward : StreamDirection.Forward,
          ...(filtered ? { filter: prefixFilter } : {})
        })
        const exit = yield* exitWithin(Stream.runCount(read), `iterAll ${name}`)
        assert.deepStrictEqual(exit, Exit.succeed(2))
        // Two pages are all it asked for: the read did not go on in the background either.
        assert.strictEqual(served, 2)
      }))
  }
})

// -----------------------------------------------------------------------------
// 3. subscriptions
// -----------------------------------------------------------------------------

const Reasons = Messages.SubscriptionDropped_SubscriptionDropReason

/**
 * What a subscription can be sent under its correlation id, as proper messages: mostly the events of
 * its kind (`events`), so that some get through before something ends it.
 */
const pushKinds = (events: ReplyKind, weight = 5): ReadonlyArray<ReplyKind> => [
  ...Array.from({ length: weight }, () => events),
  { command: Command.StreamEventAppeared, payload: streamEventAppeared },
  { command: Command.PersistentSubscriptionStreamEventAppeared, payload: persistentEventAppeared },
  { command: Command.SubscriptionDropped, payload: subscriptionDropped },
  { command: Command.CheckpointReached, payload: checkpointReached },
  { command: Command.SubscriptionConfirmation, payload: subscriptionConfirmation }
]

const livePushes = pushKinds({ command: Command.StreamEventAppeared, payload: streamEventAppeared })
/** Events, nearly only: enough of them in a row to fill a small buffer. */
const floodPushes = pushKinds({ command: Command.StreamEventAppeared, payload: streamEventAppeared }, 40)
const persistentPushes = pushKinds(
  { command: Command.PersistentSubscriptionStreamEventAppeared, payload: persistentEventAppeared },
  20
)

/** A subscription's stream, and what the server does to start it. */
interface SubscriptionCase<A, E extends Tagged> {
  readonly name: string
  /** The command that opens it, and the frame the peer confirms it with. */
  readonly subscribe: number
  readonly confirmation: (correlationId: string) => Uint8Array
  /** What it can be sent. */
  readonly pushes: ReadonlyArray<ReplyKind>
  /** For a catch-up subscription: its history reads, answered as a paged read's (see `pagingPeer`). */
  readonly history?: { readonly request: number; readonly reply: number; readonly page: Arbitrary.Arbitrary<ValidPayload> }
  readonly errors: Tags<E>
  readonly open: (es: EventStore.Service) => Stream.Stream<A, E>
  /** Handles one item as a consumer would: reads every field of an event, settles a persistent one. */
  readonly consume: (item: A) => Effect.Effect<void>
}

const subscriptionCase = <A, E extends Tagged, Errors extends Tags<E>>(
  spec: WithExactly<SubscriptionCase<A, E>, E, Errors>
): SubscriptionCase<unknown, Tagged> => spec as unknown as SubscriptionCase<unknown, Tagged>

const volatileConfirmation = (correlationId: string) =>
  frame(Command.SubscriptionConfirmation, correlationId, confirmation(1_000n, 9n))

const consumeItem = (item: Subscription.Item): Effect.Effect<void> =>
  Effect.sync(() => {
    if (Subscription.isEvent(item)) readEveryField(item)
  })

const consumePersistent = (event: PersistentSubscription.PersistentEvent): Effect.Effect<void> =>
  Effect.suspend(() => {
    readEveryField(event)
    assert.isNumber(event.retryCount)
    return event.retryCount % 2 === 0 ? event.ack() : event.nak("Retry", "hostile")
  })

const streamHistory = {
  request: Command.ReadStreamEventsForward,
  reply: Command.ReadStreamEventsForwardCompleted,
  page: readStreamPage(mostlySuccess(6))
}

const subscriptionCases: ReadonlyArray<SubscriptionCase<unknown, Tagged>> = [
  subscriptionCase({
    name: "subscribeTo (volatile)",
    subscribe: Command.SubscribeToStream,
    confirmation: volatileConfirmation,
    pushes: livePushes,
    errors: subscribeErrors,
    open: (es) => es.subscribeTo("ponies"),
    consume: consumeItem
  }),
  subscriptionCase({
    name: "subscribeTo (volatile, small buffer)",
    subscribe: Command.SubscribeToStream,
    confirmation: volatileConfirmation,
    pushes: floodPushes,
    errors: subscribeErrors,
    // A consumer slower than the pushes, with room for one event: the buffer overflows.
    open: (es) => es.subscribeTo("ponies", { liveBufferSize: 1 }),
    consume: (item) => Effect.andThen(Effect.yieldNow, consumeItem(item))
  }),
  subscriptionCase({
    name: "subscribeToAll filtered (volatile)",
    subscribe: Command.FilteredSubscribeToStream,
    confirmation: volatileConfirmation,
    pushes: livePushes,
    errors: subscribeErrors,
    open: (es) => es.subscribeToAll({ filter: prefixFilter }),
    consume: consumeItem
  }),
  subscriptionCase({
    name: "subscribeTo (catch-up)",
    subscribe: Command.SubscribeToStream,
    confirmation: volatileConfirmation,
    pushes: floodPushes,
    history: streamHistory,
    errors: subscribeErrors,
    open: (es) => es.subscribeTo("ponies", { from: "start", readBatchSize: 3, liveBufferSize: 1 }),
    consume: consumeItem
  }),
  subscriptionCase({
    name: "subscribeToAll (catch-up)",
    subscribe: Command.SubscribeToStream,
    confirmation: volatileConfirmation,
    pushes: livePushes,
    history: {
      request: Command.ReadAllEventsForward,
      reply: Command.ReadAllEventsForwardCompleted,
      page: readAllPage(mostlySuccess(4))
    },
    errors: subscribeErrors,
    open: (es) => es.subscribeToAll({ from: "start", readBatchSize: 3 }),
    consume: consumeItem
  }),
  subscriptionCase({
    name: "connectSubscription (persistent)",
    subscribe: Command.ConnectToPersistentSubscription,
    confirmation: (correlationId) =>
      frame(
        Command.PersistentSubscriptionConfirmation,
        correlationId,
        message(Messages.PersistentSubscriptionConfirmationSchema, {
          lastCommitPosition: 1_000n,
          subscriptionId: "ponies::riders",
          lastEventNumber: 9n
        })
      ),
    pushes: persistentPushes,
    errors: connectSubscriptionErrors,
    open: (es) => es.connectSubscription("ponies", "riders", { bufferSize: 1 }),
    consume: consumePersistent
  })
]

/** Where the peer reached the subscription: the socket and its correlation id. */
interface Subscribed {
  readonly socket: Net.Socket
  readonly correlationId: string
}

describe("subscriptions against a hostile server", () => {
  for (const sub of subscriptionCases) {
    it.live.prop(
      `${sub.name}: random pushes end it with a typed error or deliver readable events, and requests go on`,
      [
        Arbitrary.array(hostileAnswer(sub.pushes), { maxLength: 10 }),
        sub.history === undefined ? Arbitrary.Constant([]) : hostilePages(sub.history.reply, sub.history.page),
        // Where the confirmation goes among the pushes: first, as a server sends it, or anywhere.
        oneOf(Arbitrary.Constant(0), intBetween(0, 10)),
        cuts
      ],
      ([pushes, history, confirmAt, offsets]) =>
        Effect.gen(function*() {
          const subscribed = Deferred.makeUnsafe<Subscribed>()
          let pushedBreaking = false
          let served = 0
          const server = yield* hostilePeer((pkg, socket) => {
            if (pkg.command === sub.subscribe) {
              // Only the first subscription gets the pushes; one made again (a catch-up subscription that
              // fell behind) is confirmed and dropped at once, so that the case comes to an end.
              if (Deferred.isDoneUnsafe(subscribed)) {
                socket.write(sub.confirmation(pkg.correlationId))
                send(socket, Command.SubscriptionDropped, pkg.correlationId, dropped(Reasons.NotFound))
                return true
              }
              const frames = pushes.map((push) => rawFrame(push, pkg.correlationId))
              frames.splice(Math.min(confirmAt, frames.length), 0, sub.confirmation(pkg.correlationId))
              // Cut anywhere, or not at all: then the client reads them all at once, faster than any consumer.
              writeCut(socket, frames, offsets)
              pushedBreaking = pushes.some(breaksConnection)
              Deferred.doneUnsafe(subscribed, Exit.succeed({ socket, correlationId: pkg.correlationId }))
              return true
            }
            if (pkg.command === Command.UnsubscribeFromStream) {
              send(socket, Command.SubscriptionDropped, pkg.correlationId, dropped(Reasons.Unsubscribed))
              return true
            }
            if (sub.history !== undefined && pkg.command === sub.history.request && history.length > 0) {
              sendHostile(socket, history[Math.min(served++, history.length - 1)]!, pkg.correlationId)
              return true
            }
            return false
          })
          const es = yield* connect(server)
          const consumer = yield* Effect.forkChild(
            exitWithin(Stream.runForEach(sub.open(es), sub.consume), sub.name)
          )
          // Until the peer has sent every push, or the subscription ended before it subscribed (a hostile
          // page of history).
          yield* Effect.raceFirst(Effect.asVoid(Deferred.await(subscribed)), Effect.asVoid(Fiber.await(consumer)))
          // A request among the pushes: its reply comes after all of them, and must not be disturbed.
          yield* expectConnection(es, pushedBreaking)
          // The server's end of the subscription, for a subscription the pushes have not ended yet.
          const reached = Deferred.isDoneUnsafe(subscribed) ? yield* Deferred.await(subscribed) : undefined
          if (reached !== undefined && !pushedBreaking) {
            send(reached.socket, Command.SubscriptionDropped, reached.correlationId, dropped(Reasons.NotFound))
          }
          const exit = yield* Fiber.join(consumer)
          // A subscription never ends by itself: the drop the client did not ask for is an error.
          assert.isTrue(Exit.isFailure(exit), "the subscription ended without an error")
          expectTyped(exit, sub.errors, pushedBreaking ? "either" : "intact")
          // Nor did it disturb the connection.
          yield* expectConnection(es, pushedBreaking)
        }),
      hostileChecks(40)
    )
  }
})
