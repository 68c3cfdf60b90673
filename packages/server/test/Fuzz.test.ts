/**
 * Property-based fuzzing of the node over real sockets. The example tests pin the cases someone thought
 * of; these throw at a running node bytes no one would write by hand, and check what docs/protocol.md
 * promises whatever the bytes are:
 *
 * - every request package, whatever its payload and credentials, gets the replies its command
 *   promises under its own correlation id (one for most commands, none for a HeartbeatResponse, at
 *   most a refusal for an ack or a nak), and the connection keeps serving (1.5, 1.7, 2, 8);
 * - an auth block that cannot be parsed gets a BadRequest with the zero id and a closed connection,
 *   TrustedWrite a BadRequest and a closed connection, any other flags and auth block are served
 *   (1.2, 1.4, 1.7);
 * - a valid write, read, transaction, delete or persistent-subscription request with bytes flipped,
 *   inserted, removed or cut off, or a varint written the long way, is carried out whole or refused
 *   whole: nothing is half-written, and what is carried out is what protobuf reads in the payload
 *   (4.2, 4.4, 4.6, 4.10, 5.4);
 * - unknown fields, of any wire type, change nothing about a valid request (3.1);
 * - a random byte stream, length prefixes included, is served up to its first framing error, which
 *   gets a BadRequest with the zero id and a closed connection; other connections never notice (1.1,
 *   1.7).
 *
 * Each group of properties runs on a node of its own, and each property with a fixed seed, so that CI
 * runs the same cases. To hunt, set another seed and more runs:
 * `PROPERTY_SEED=7 PROPERTY_RUNS=10 npx vitest run packages/server/test/Fuzz.test.ts`.
 */
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf"
import { assert, layer } from "@effect/vitest"
import { Command, Guid, Messages, Package } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import {
  bytesBetween,
  checks,
  Choices,
  completed,
  concat,
  cut,
  frame,
  hasShape,
  intBetween,
  loginBlock,
  mutate,
  mutation,
  packageBody,
  randomMessage,
  readLengthPrefix,
  streamSegment,
  tape,
  tokenBlock,
  unknownField,
  type WireShape,
  WireWriter
} from "./FuzzInputs.ts"
import {
  admin,
  append,
  C,
  connect,
  type Credentials,
  newEvent,
  type RawClient,
  persistentSettings,
  readForward,
  streamName,
  text
} from "./RawClient.ts"


const serverOptions = {
  port: 0,
  maxFrameLength: 64 * 1024,
  // A write to an unknown transaction is answered with PrepareTimeout once this runs out (4.10).
  prepareTimeout: 5,
  // No clock ticks during the properties: a persistent subscription's tick could write checkpoints or
  // park messages between two requests, and the mutated requests count what each request writes.
  persistentSubscriptionTick: "1 hour"
} as const

const Server = () => EventStoreServer.layer(serverOptions)

const OperationResult = Messages.OperationResult
const ReadStreamResult = Messages.ReadStreamEventsCompleted_ReadStreamResult

// ---------------------------------------------------------------------------------------------------
// What each command promises

/** The replies a package gets under its correlation id. */
interface Promised {
  /** How many replies answer it, not counting what a subscription pushes afterwards. */
  readonly count: "one" | "atMostOne" | "none"
  readonly answers: ReadonlyArray<number>
  /** What may follow the answer under the same id: a subscription's events, checkpoints and drop. */
  readonly pushes: ReadonlyArray<number>
}

// A request that passes the credentials check may be refused for its credentials (8), for a payload
// that cannot be unwrapped (1.7), or by a node that cannot take it (4.11).
const refusals = [C.BadRequest, C.NotAuthenticated, C.NotHandled]

const answeredBy = (...answers: ReadonlyArray<number>): Promised => ({
  count: "one",
  answers: [...answers, ...refusals],
  pushes: []
})

const subscription = (confirmation: number, ...pushes: ReadonlyArray<number>): Promised => ({
  ...answeredBy(confirmation, C.SubscriptionDropped),
  pushes: [...pushes, C.SubscriptionDropped]
})

// What a command the node does not serve gets, replies and replication commands included (1.7),
// unless its credentials are refused first (8); and what a payload that does not deserialize gets.
const cannotUnwrap: Promised = { count: "one", answers: [C.BadRequest, C.NotAuthenticated], pushes: [] }

const parses = (schema: DescMessage, payload: Uint8Array) => Result.isSuccess(Messages.decode(schema, payload))

/**
 * What a message without fields gets (1.5): nothing in it can fail validation, so a BadRequest answers
 * exactly the payloads that do not deserialize (1.7).
 */
const emptyMessage = (schema: DescMessage, promised: Promised) => (payload: Uint8Array): Promised =>
  parses(schema, payload) ? promised : cannotUnwrap

interface RequestCommand {
  readonly command: number
  /** The payload's message, for the generator; `undefined` for payloads that are not protobuf. */
  readonly schema: DescMessage | undefined
  /** What a package of the command gets, or how that depends on its payload. */
  readonly promised: Promised | ((payload: Uint8Array) => Promised)
}

/** Every command a client sends (2), and what it gets back. */
const requestCommands: ReadonlyArray<RequestCommand> = [
  {
    command: C.HeartbeatRequest,
    schema: undefined,
    promised: { count: "one", answers: [C.HeartbeatResponse], pushes: [] }
  },
  { command: C.HeartbeatResponse, schema: undefined, promised: { count: "none", answers: [], pushes: [] } },
  { command: C.Ping, schema: undefined, promised: { count: "one", answers: [C.Pong, C.NotAuthenticated], pushes: [] } },
  { command: C.WriteEvents, schema: Messages.WriteEventsSchema, promised: answeredBy(C.WriteEventsCompleted) },
  {
    command: C.TransactionStart,
    schema: Messages.TransactionStartSchema,
    promised: answeredBy(C.TransactionStartCompleted)
  },
  {
    command: C.TransactionWrite,
    schema: Messages.TransactionWriteSchema,
    promised: answeredBy(C.TransactionWriteCompleted)
  },
  {
    command: C.TransactionCommit,
    schema: Messages.TransactionCommitSchema,
    promised: answeredBy(C.TransactionCommitCompleted)
  },
  { command: C.DeleteStream, schema: Messages.DeleteStreamSchema, promised: answeredBy(C.DeleteStreamCompleted) },
  { command: C.ReadEvent, schema: Messages.ReadEventSchema, promised: answeredBy(C.ReadEventCompleted) },
  {
    command: C.ReadStreamEventsForward,
    schema: Messages.ReadStreamEventsSchema,
    promised: answeredBy(C.ReadStreamEventsForwardCompleted)
  },
  {
    command: C.ReadStreamEventsBackward,
    schema: Messages.ReadStreamEventsSchema,
    promised: answeredBy(C.ReadStreamEventsBackwardCompleted)
  },
  {
    command: C.ReadAllEventsForward,
    schema: Messages.ReadAllEventsSchema,
    promised: answeredBy(C.ReadAllEventsForwardCompleted)
  },
  {
    command: C.ReadAllEventsBackward,
    schema: Messages.ReadAllEventsSchema,
    promised: answeredBy(C.ReadAllEventsBackwardCompleted)
  },
  {
    command: C.FilteredReadAllEventsForward,
    schema: Messages.FilteredReadAllEventsSchema,
    promised: answeredBy(C.FilteredReadAllEventsForwardCompleted)
  },
  {
    command: C.FilteredReadAllEventsBackward,
    schema: Messages.FilteredReadAllEventsSchema,
    promised: answeredBy(C.FilteredReadAllEventsBackwardCompleted)
  },
  {
    command: C.SubscribeToStream,
    schema: Messages.SubscribeToStreamSchema,
    promised: subscription(C.SubscriptionConfirmation, C.StreamEventAppeared)
  },
  {
    command: C.FilteredSubscribeToStream,
    schema: Messages.FilteredSubscribeToStreamSchema,
    promised: subscription(C.SubscriptionConfirmation, C.StreamEventAppeared, C.CheckpointReached)
  },
  // An unsubscribe that names no subscription of the connection gets nothing: 5.1 describes only the
  // unsubscribing of a subscription.
  {
    command: C.UnsubscribeFromStream,
    schema: Messages.UnsubscribeFromStreamSchema,
    promised: emptyMessage(Messages.UnsubscribeFromStreamSchema, {
      count: "atMostOne",
      answers: [C.SubscriptionDropped, C.NotAuthenticated, C.NotHandled],
      pushes: []
    })
  },
  {
    command: C.ConnectToPersistentSubscription,
    schema: Messages.ConnectToPersistentSubscriptionSchema,
    promised: subscription(C.PersistentSubscriptionConfirmation, C.PersistentSubscriptionStreamEventAppeared)
  },
  {
    command: C.CreatePersistentSubscription,
    schema: Messages.CreatePersistentSubscriptionSchema,
    promised: answeredBy(C.CreatePersistentSubscriptionCompleted)
  },
  {
    command: C.UpdatePersistentSubscription,
    schema: Messages.UpdatePersistentSubscriptionSchema,
    promised: answeredBy(C.UpdatePersistentSubscriptionCompleted)
  },
  {
    command: C.DeletePersistentSubscription,
    schema: Messages.DeletePersistentSubscriptionSchema,
    promised: answeredBy(C.DeletePersistentSubscriptionCompleted)
  },
  // Acks and naks have no reply (2); only a refusal can answer them.
  {
    command: C.PersistentSubscriptionAckEvents,
    schema: Messages.PersistentSubscriptionAckEventsSchema,
    promised: { count: "atMostOne", answers: refusals, pushes: [] }
  },
  {
    command: C.PersistentSubscriptionNakEvents,
    schema: Messages.PersistentSubscriptionNakEventsSchema,
    promised: { count: "atMostOne", answers: refusals, pushes: [] }
  },
  {
    command: C.ScavengeDatabase,
    schema: Messages.ScavengeDatabaseSchema,
    promised: emptyMessage(Messages.ScavengeDatabaseSchema, {
      count: "one",
      answers: [C.ScavengeDatabaseResponse, C.NotAuthenticated, C.NotHandled],
      pushes: []
    })
  },
  // protocol.md says nothing of a BadRequest sent to the node beyond its being text.
  { command: C.BadRequest, schema: undefined, promised: { count: "atMostOne", answers: refusals, pushes: [] } },
  {
    command: C.Authenticate,
    schema: undefined,
    promised: { count: "one", answers: [C.Authenticated, C.NotAuthenticated], pushes: [] }
  },
  // A server that cannot parse IdentifyClient sends no reply (8).
  {
    command: C.IdentifyClient,
    schema: Messages.IdentifyClientSchema,
    promised: (payload) =>
      parses(Messages.IdentifyClientSchema, payload)
        ? { count: "one", answers: [C.ClientIdentified], pushes: [] }
        : { count: "none", answers: [], pushes: [] }
  }
]

const byCommand = new Map(requestCommands.map((request) => [request.command, request]))

/** What a package gets, by its command and, for some commands, its payload. */
const promisedFor = (command: number, payload: Uint8Array): Promised => {
  const promised = byCommand.get(command)?.promised ?? cannotUnwrap
  return typeof promised === "function" ? promised(payload) : promised
}

// Requests that open a subscription, and those that name one by its correlation id (5.1, 5.4).
const subscribing: ReadonlyArray<number> = [
  C.SubscribeToStream,
  C.FilteredSubscribeToStream,
  C.ConnectToPersistentSubscription
]
const namingASubscription: ReadonlyArray<number> = [
  C.UnsubscribeFromStream,
  C.PersistentSubscriptionAckEvents,
  C.PersistentSubscriptionNakEvents
]

/** The message of each reply that carries one, to check that it parses. */
const replySchemas = new Map<number, DescMessage>([
  [C.WriteEventsCompleted, Messages.WriteEventsCompletedSchema],
  [C.TransactionStartCompleted, Messages.TransactionStartCompletedSchema],
  [C.TransactionWriteCompleted, Messages.TransactionWriteCompletedSchema],
  [C.TransactionCommitCompleted, Messages.TransactionCommitCompletedSchema],
  [C.DeleteStreamCompleted, Messages.DeleteStreamCompletedSchema],
  [C.ReadEventCompleted, Messages.ReadEventCompletedSchema],
  [C.ReadStreamEventsForwardCompleted, Messages.ReadStreamEventsCompletedSchema],
  [C.ReadStreamEventsBackwardCompleted, Messages.ReadStreamEventsCompletedSchema],
  [C.ReadAllEventsForwardCompleted, Messages.ReadAllEventsCompletedSchema],
  [C.ReadAllEventsBackwardCompleted, Messages.ReadAllEventsCompletedSchema],
  [C.FilteredReadAllEventsForwardCompleted, Messages.FilteredReadAllEventsCompletedSchema],
  [C.FilteredReadAllEventsBackwardCompleted, Messages.FilteredReadAllEventsCompletedSchema],
  [C.SubscriptionConfirmation, Messages.SubscriptionConfirmationSchema],
  [C.StreamEventAppeared, Messages.StreamEventAppearedSchema],
  [C.SubscriptionDropped, Messages.SubscriptionDroppedSchema],
  [C.CheckpointReached, Messages.CheckpointReachedSchema],
  [C.PersistentSubscriptionConfirmation, Messages.PersistentSubscriptionConfirmationSchema],
  [C.PersistentSubscriptionStreamEventAppeared, Messages.PersistentSubscriptionStreamEventAppearedSchema],
  [C.CreatePersistentSubscriptionCompleted, Messages.CreatePersistentSubscriptionCompletedSchema],
  [C.UpdatePersistentSubscriptionCompleted, Messages.UpdatePersistentSubscriptionCompletedSchema],
  [C.DeletePersistentSubscriptionCompleted, Messages.DeletePersistentSubscriptionCompletedSchema],
  [C.ScavengeDatabaseResponse, Messages.ScavengeDatabaseResponseSchema],
  [C.NotHandled, Messages.NotHandledSchema]
])

// Replies whose payload is empty (1.5).
const emptyReplies: ReadonlyArray<number> = [C.HeartbeatResponse, C.Authenticated, C.ClientIdentified]

/** Checks that a reply carries what its command carries: a message that parses, text, or nothing. */
const assertWellFormed = (reply: Package.InboundPackage, request: { readonly payload: Uint8Array }) => {
  const name = Command.name(reply.command)
  const schema = replySchemas.get(reply.command)
  if (schema !== undefined) {
    assert.isTrue(Result.isSuccess(Messages.decode(schema, reply.payload)), `${name} does not parse`)
  } else if (emptyReplies.includes(reply.command)) {
    assert.strictEqual(reply.payload.length, 0, `${name} has a payload`)
  } else if (reply.command === C.Pong) {
    assert.deepStrictEqual(reply.payload, request.payload, "Pong does not echo the Ping's payload")
  } else if (reply.command === C.BadRequest) {
    assert.isTrue(
      text(reply.payload).startsWith("Could not unwrap network package for command"),
      `unexpected BadRequest: ${text(reply.payload)}`
    )
  }
}

interface SentPackage {
  readonly command: number
  readonly payload: Uint8Array
  readonly promised: Promised
}

const isConfirmation = (pkg: Package.InboundPackage) =>
  pkg.command === C.SubscriptionConfirmation || pkg.command === C.PersistentSubscriptionConfirmation

/**
 * Checks the replies under one correlation id, which the packages sent under it share (a subscription,
 * then the unsubscribes, acks and naks that name it): each reply answers one of them, within what each
 * promises, or is pushed by a subscription the node confirmed.
 */
const assertRepliesKeepPromises = (
  packages: ReadonlyArray<SentPackage>,
  replies: ReadonlyArray<Package.InboundPackage>
) => {
  const context = `${packages.map((pkg) => Command.name(pkg.command))} got ${
    replies.map((pkg) => Command.name(pkg.command))
  }`
  const required = packages.filter((pkg) => pkg.promised.count === "one").length
  const allowed = packages.filter((pkg) => pkg.promised.count !== "none").length
  const answers = new Set(packages.flatMap((pkg) => pkg.promised.answers))
  const pushes = packages[0]!.promised.pushes
  let answered = 0
  let confirmed = false
  for (const reply of replies) {
    assertWellFormed(reply, packages[0]!)
    // A confirmed subscription can be dropped from elsewhere (an update of its group): whatever a
    // subscription may push counts as pushed, which leaves room for the answers still to come.
    if (confirmed && pushes.includes(reply.command)) continue
    assert.isTrue(answered < allowed && answers.has(reply.command), context)
    answered++
    confirmed ||= isConfirmation(reply)
  }
  assert.isAtLeast(answered, required, context)
}

// ---------------------------------------------------------------------------------------------------
// What the node makes of flags, auth blocks and frames

const users: ReadonlyArray<Credentials> = [admin, { login: "ops", password: "changeit" }]

/**
 * How the node reads the auth block of a package with the Authenticated flag (1.4): where the payload
 * starts and whether the block names a known user, or `undefined` when the block runs past the package.
 */
const readAuthBlock = (body: Uint8Array): { readonly end: number; readonly knownUser: boolean } | undefined => {
  const start = Package.headerLength
  if (body.length < start + 2) return undefined
  const asInt16 = new DataView(body.buffer, body.byteOffset, body.byteLength).getInt16(start, true)
  if (asInt16 < 0) {
    const end = start + 2 - asInt16
    // This node knows no bearer tokens: they need the commercial OAuth plugin.
    return end > body.length ? undefined : { end, knownUser: false }
  }
  const loginEnd = start + 1 + body[start]!
  if (loginEnd >= body.length) return undefined
  const end = loginEnd + 1 + body[loginEnd]!
  if (end > body.length) return undefined
  const login = text(body.subarray(start + 1, loginEnd))
  const password = text(body.subarray(loginEnd + 1, end))
  return { end, knownUser: users.some((user) => user.login === login && user.password === password) }
}

/** A Ping of a stream, and what the node answers it. */
interface ServedPing {
  readonly correlationId: string
  readonly answer: number
  readonly payload: Uint8Array
}

/**
 * What the node must make of a stream of whole frames (1.1, 1.4, 1.7, 8): the Pings it serves, and
 * whether it closes the connection and under which ids the BadRequest that closes it may come. `closes`
 * is `undefined` once a frame carries flag bits protocol.md does not define, after which the rest is
 * open.
 */
const expectedOutcome = (bytes: Uint8Array) => {
  const pings: Array<ServedPing> = []
  const ids: Array<string> = []
  // Credentials from an Authenticate become the connection's default (8).
  let defaultUserKnown: boolean | undefined
  const outcome = (closes: ReadonlyArray<string> | "stays open" | undefined) => ({ closes, pings, ids })
  let offset = 0
  while (offset < bytes.length) {
    const length = readLengthPrefix(bytes, offset)
    if (length < 1 || length > serverOptions.maxFrameLength) return outcome([Guid.empty])
    const body = bytes.subarray(offset + 4, offset + 4 + length)
    offset += 4 + length
    if (body.length < Package.headerLength) return outcome([Guid.empty])
    const correlationId = Guid.readUnsafe(body, 2)
    ids.push(correlationId)
    const flags = body[1]!
    const authenticated = (flags & Package.Flags.Authenticated) !== 0
    const trusted = (flags & Package.Flags.TrustedWrite) !== 0
    const auth = authenticated ? readAuthBlock(body) : undefined
    // Which check comes first when both fail is not said.
    if (authenticated && auth === undefined) return outcome(trusted ? [Guid.empty, correlationId] : [Guid.empty])
    if (trusted) return outcome([correlationId])
    if ((flags & ~0x03) !== 0) return outcome(undefined)
    const command = body[0]!
    if (command === C.Authenticate && auth !== undefined) defaultUserKnown = auth.knownUser
    if (command === C.Ping) {
      const allowed = auth === undefined ? defaultUserKnown !== false : auth.knownUser
      pings.push({
        correlationId,
        answer: allowed ? C.Pong : C.NotAuthenticated,
        payload: body.subarray(auth?.end ?? Package.headerLength)
      })
    }
  }
  return outcome("stays open")
}

// ---------------------------------------------------------------------------------------------------
// Waiting on the node

/**
 * Waits until every reply the packages sent so far get right away has arrived: the node answers a
 * connection's packages in order, so they come before the answer to this Ping. The Ping carries
 * credentials, so that it is served even after a failed Authenticate.
 */
const barrier = (client: RawClient) =>
  Effect.gen(function*() {
    const pong = yield* client.reply(client.send(C.Ping, undefined, { credentials: admin }))
    assert.strictEqual(pong.command, C.Pong)
  })

/** Waits for a reply to arrive, leaving it in the inbox. */
const arrived = (client: RawClient, correlationId: string) =>
  client.inbox.some((pkg) => pkg.correlationId === correlationId)
    ? Effect.void
    : client.take((pkg) => pkg.correlationId === correlationId).pipe(
      Effect.map((pkg) => {
        client.inbox.push(pkg)
      })
    )

/** The node's own probes, which carry ids of its own. */
const isProbe = (pkg: Package.InboundPackage) => pkg.command === C.HeartbeatRequest

/** Asserts that the last thing the node sent before closing was a BadRequest under one of the given ids. */
const assertClosedWithBadRequest = (client: RawClient, ids: ReadonlyArray<string>) => {
  const last = client.inbox.filter((pkg) => !isProbe(pkg)).at(-1)
  assert.isDefined(last, "the connection closed without a BadRequest")
  assert.strictEqual(last!.command, C.BadRequest)
  assert.include(ids, last!.correlationId)
}

/** Where protocol.md leaves the outcome open: the connection keeps serving, or it closed after a BadRequest. */
const servedOrRefused = (client: RawClient) =>
  Effect.gen(function*() {
    const served = yield* Effect.result(barrier(client))
    if (Result.isFailure(served)) {
      assert.isTrue(client.isClosed, served.failure.message)
      const last = client.inbox.filter((pkg) => !isProbe(pkg)).at(-1)
      assert.strictEqual(last?.command, C.BadRequest, "the connection closed without a BadRequest")
    }
  })

/** Asserts that a new connection is served. */
const stillServes = (port: number) =>
  Effect.gen(function*() {
    const other = yield* connect(port)
    const pong = yield* other.reply(other.send(C.Ping, new Uint8Array([1, 2, 3])))
    assert.strictEqual(pong.command, C.Pong)
    assert.deepStrictEqual([...pong.payload], [1, 2, 3])
  })

// ---------------------------------------------------------------------------------------------------
// Random payloads

// Mostly anonymous or an administrator (who may read $all and manage persistent subscriptions); now
// and then credentials the node refuses.
const credentialChoices: ReadonlyArray<Credentials | undefined> = [
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  admin,
  admin,
  admin,
  admin,
  { login: "ops", password: "changeit" },
  { login: "admin", password: "wrong" },
  { login: "nobody", password: "changeit" }
]

const fuzzedPackage = Arbitrary.all({
  // Mostly the commands a client sends; the last choice is any byte at all.
  command: intBetween(0, requestCommands.length),
  anyByte: intBetween(0, 255),
  // Mostly a message of the command's shape with random values; otherwise plain random bytes.
  shaped: intBetween(0, 3),
  tape,
  bytes: bytesBetween(0, 48),
  credentials: intBetween(0, credentialChoices.length - 1),
  // Whether an unsubscribe, ack or nak names a subscription of the batch (and which), or none.
  names: intBetween(0, 3)
}).pipe(
  Arbitrary.map((generated) => {
    const request = requestCommands[generated.command]
    const schema = request?.schema
    return {
      command: request?.command ?? generated.anyByte,
      payload: generated.shaped > 0 && schema !== undefined
        ? Uint8Array.from(randomMessage(schema, new Choices(generated.tape)))
        : generated.bytes,
      credentials: credentialChoices[generated.credentials],
      names: generated.names
    }
  })
)

const fuzzedAuth = Arbitrary.all({
  command: Arbitrary.schema(Schema.Literals([C.Ping, C.Ping, C.HeartbeatRequest])),
  // Mostly the two flags protocol.md defines; now and then any byte.
  flags: intBetween(0, 7),
  anyFlags: intBetween(0, 255),
  auth: intBetween(0, 4),
  rawAuth: bytesBetween(0, 12),
  tokenLength: intBetween(1, 40),
  payload: bytesBetween(0, 16)
}).pipe(
  Arbitrary.map((generated) => {
    const authBlocks = [
      new Uint8Array(0),
      loginBlock("admin", "changeit"),
      loginBlock("admin", "wrong"),
      tokenBlock(generated.tokenLength),
      generated.rawAuth
    ]
    return {
      command: generated.command,
      flags: generated.flags < 4 ? generated.flags : generated.anyFlags,
      // With the Authenticated flag these bytes are the auth block; without it, part of the payload.
      auth: authBlocks[generated.auth]!,
      payload: generated.payload
    }
  })
)

// ---------------------------------------------------------------------------------------------------
// Mutated requests

const scenario = Arbitrary.all({
  template: Arbitrary.schema(Schema.Literals([
    "WriteEvents",
    "ReadStreamEventsForward",
    "ReadStreamEventsBackward",
    "Transaction",
    "DeleteStream",
    "CreatePersistentSubscription"
  ])),
  // Names are text: whatever UTF-8 can say, a byte order mark included, names the same stream for every
  // command.
  streamPrefix: Arbitrary.schema(Schema.Literals(["fuzz", "\uFEFFfuzz", "é-fuzz"])),
  eventType: Arbitrary.schema(Schema.Literals(["fuzzed", "\uFEFFfuzzed", "ünïcode"])),
  eventCount: intBetween(0, 4),
  expectedVersion: Arbitrary.schema(Schema.Literals([-2n, -1n, -4n, 0n])),
  hardDelete: Arbitrary.schema(Schema.Boolean),
  /** Which request of a transaction is mutated: the start, the write or the commit. */
  step: intBetween(0, 2),
  mutations: Arbitrary.array(mutation, { minLength: 1, maxLength: 4 })
})

const encodeMessage = <Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Uint8Array =>
  Result.getOrThrow(Messages.encode(schema, create(schema, init)))

/** A payload as protobuf reads it, or `undefined` if it does not parse. */
const decodeMessage = <Desc extends DescMessage>(schema: Desc, payload: Uint8Array) =>
  Result.getOrUndefined(Messages.decode(schema, payload))

const decodeReply = <Desc extends DescMessage>(schema: Desc, reply: Package.InboundPackage) =>
  Result.getOrThrow(Messages.decode(schema, reply.payload))

// The wire types of the requests' fields. A payload in which a known field comes with another wire
// type is one the node's readers refuse, and protocol.md does not say they must not.
const newEventShape: WireShape = { wireTypes: { 1: 2, 2: 2, 3: 0, 4: 0, 5: 2, 6: 2 } }
const writeEventsShape: WireShape = { wireTypes: { 1: 2, 2: 0, 3: 2, 4: 0 }, messages: { 3: newEventShape } }
const readStreamEventsShape: WireShape = { wireTypes: { 1: 2, 2: 0, 3: 0, 4: 0, 5: 0 } }

/**
 * Whether a write breaks a rule of 1.7: an empty stream id, an expected version below -4 or of -3, an
 * event id that is not a GUID or is all zeros, an empty event type.
 */
const isInvalidWrite = (write: Messages.WriteEvents): boolean =>
  write.eventStreamId.length === 0 || write.expectedVersion < -4n || write.expectedVersion === -3n ||
  write.events.some((event) =>
    event.eventId.length !== 16 || event.eventId.every((byte) => byte === 0) || event.eventType.length === 0
  )

/** Asserts that a reply is the command's result or a BadRequest. */
const assertResultOrBadRequest = (reply: Package.InboundPackage, resultCommand: number) =>
  assert.include(
    [resultCommand, C.BadRequest],
    reply.command,
    `expected ${Command.name(resultCommand)} or BadRequest, got ${Command.name(reply.command)}: ${text(reply.payload)}`
  )

const readAsAdmin = (client: RawClient, stream: string) => readForward(client, stream, 0n, 100, { credentials: admin })

/** The newest `count` events of the log, oldest first: `$all` read backward from its end. */
const newestEvents = (client: RawClient, count: number) =>
  client.request(
    C.ReadAllEventsBackward,
    Messages.ReadAllEventsSchema,
    { commitPosition: -1n, preparePosition: -1n, maxCount: count, resolveLinkTos: false, requireLeader: true },
    C.ReadAllEventsBackwardCompleted,
    Messages.ReadAllEventsCompletedSchema,
    { credentials: admin }
  ).pipe(Effect.map((page) => {
    const events = page.events.map((resolved) => resolved.event!)
    events.reverse()
    return events
  }))

/**
 * Asserts that the newest events of the log are exactly the proposed ones, in order, in `stream` from
 * event number `first`: a write that succeeded wrote all of its events, as protobuf reads them.
 */
const assertNewestEventsAre = (
  client: RawClient,
  stream: string,
  first: bigint,
  proposed: ReadonlyArray<Messages.NewEvent>
) =>
  Effect.gen(function*() {
    if (proposed.length === 0) return
    const newest = yield* newestEvents(client, proposed.length)
    assert.strictEqual(newest.length, proposed.length)
    proposed.forEach((event, i) => {
      const recorded = newest[i]!
      assert.strictEqual(recorded.eventStreamId, stream)
      assert.strictEqual(recorded.eventNumber, first + BigInt(i))
      assert.deepStrictEqual(recorded.eventId, event.eventId)
      assert.strictEqual(recorded.eventType, event.eventType)
      assert.strictEqual(recorded.dataContentType, event.dataContentType === 1 ? 1 : 0)
      assert.deepStrictEqual(recorded.data, event.data)
      assert.deepStrictEqual(recorded.metadata, event.metadata)
    })
  })

/** Asserts that a stream has no events; metastreams and `""` are left out, having rules of their own. */
const assertNoEvents = (client: RawClient, stream: string) =>
  Effect.gen(function*() {
    if (stream.length === 0 || stream.startsWith("$$")) return
    const read = yield* readAsAdmin(client, stream)
    assert.strictEqual(read.events.length, 0, `${stream} has events`)
  })

/** The event numbers a read of a stream whose last event is `last` returns (4.4), in their order. */
const pageOf = (forward: boolean, from: bigint, count: number, last: bigint): Array<bigint> => {
  const numbers: Array<bigint> = []
  if (forward) {
    const end = from + BigInt(count) - 1n
    for (let n = from; n <= end && n <= last; n++) numbers.push(n)
  } else {
    const end = from < 0n ? last : from
    const start = end - BigInt(count) + 1n > 0n ? end - BigInt(count) + 1n : 0n
    for (let n = end < last ? end : last; n >= start; n--) numbers.push(n)
  }
  return numbers
}

/** A transaction the property started: its stream, the events written to it and whether it was committed. */
interface StartedTransaction {
  readonly stream: string
  readonly events: Array<Messages.NewEvent>
  committed: boolean
}

/** A valid request, and the reply that answers it. */
interface ValidRequest {
  readonly command: number
  readonly payload: Uint8Array
  readonly reply: number
  readonly credentials?: Credentials
}

/**
 * Valid requests, each for a stream of its own. The two that hold a message (an event, a filter) put
 * `inner` in it.
 */
const validRequests: ReadonlyArray<(stream: string, inner: Uint8Array) => ValidRequest> = [
  (stream, inner) => {
    const event = new WireWriter()
    event.delimited(3, concat([inner, encodeMessage(Messages.NewEventSchema, newEvent())]))
    return {
      command: C.WriteEvents,
      payload: concat([
        encodeMessage(Messages.WriteEventsSchema, { eventStreamId: stream, expectedVersion: -2n, requireLeader: true }),
        event.bytes
      ]),
      reply: C.WriteEventsCompleted
    }
  },
  (stream) => ({
    command: C.ReadEvent,
    payload: encodeMessage(Messages.ReadEventSchema, {
      eventStreamId: stream,
      eventNumber: 0n,
      resolveLinkTos: true,
      requireLeader: true
    }),
    reply: C.ReadEventCompleted
  }),
  (stream) => ({
    command: C.ReadStreamEventsBackward,
    payload: encodeMessage(Messages.ReadStreamEventsSchema, {
      eventStreamId: stream,
      fromEventNumber: -1n,
      maxCount: 10,
      resolveLinkTos: false,
      requireLeader: true
    }),
    reply: C.ReadStreamEventsBackwardCompleted
  }),
  () => ({
    command: C.ReadAllEventsForward,
    payload: encodeMessage(Messages.ReadAllEventsSchema, {
      commitPosition: 0n,
      preparePosition: 0n,
      maxCount: 10,
      resolveLinkTos: false,
      requireLeader: true
    }),
    reply: C.ReadAllEventsForwardCompleted,
    credentials: admin
  }),
  (stream, inner) => {
    const filter = new WireWriter()
    filter.delimited(
      7,
      concat([
        inner,
        encodeMessage(Messages.FilterSchema, {
          context: Messages.Filter_FilterContext.StreamId,
          type: Messages.Filter_FilterType.Prefix,
          data: [stream]
        })
      ])
    )
    // The filter, which proto2 requires, is added by hand.
    const withoutFilter = Messages.encodeOmittingDefaults(
      Messages.FilteredReadAllEventsSchema,
      create(Messages.FilteredReadAllEventsSchema, {
        commitPosition: -1n,
        preparePosition: -1n,
        maxCount: 10,
        requireLeader: true
      })
    )
    return {
      command: C.FilteredReadAllEventsBackward,
      payload: concat([Result.getOrThrow(withoutFilter), filter.bytes]),
      reply: C.FilteredReadAllEventsBackwardCompleted,
      credentials: admin
    }
  },
  (stream) => ({
    command: C.TransactionStart,
    payload: encodeMessage(Messages.TransactionStartSchema, {
      eventStreamId: stream,
      expectedVersion: -1n,
      requireLeader: true
    }),
    reply: C.TransactionStartCompleted
  }),
  (stream) => ({
    command: C.DeleteStream,
    payload: encodeMessage(Messages.DeleteStreamSchema, {
      eventStreamId: stream,
      expectedVersion: -2n,
      requireLeader: true
    }),
    reply: C.DeleteStreamCompleted
  }),
  (stream) => ({
    command: C.SubscribeToStream,
    payload: encodeMessage(Messages.SubscribeToStreamSchema, { eventStreamId: stream, resolveLinkTos: false }),
    reply: C.SubscriptionConfirmation
  }),
  (stream) => ({
    command: C.ConnectToPersistentSubscription,
    payload: encodeMessage(Messages.ConnectToPersistentSubscriptionSchema, {
      subscriptionId: "no-such-group",
      eventStreamId: stream,
      allowedInFlightMessages: 10
    }),
    reply: C.SubscriptionDropped
  }),
  (stream) => ({
    command: C.DeletePersistentSubscription,
    payload: encodeMessage(Messages.DeletePersistentSubscriptionSchema, {
      subscriptionGroupName: "no-such-group",
      eventStreamId: stream
    }),
    reply: C.DeletePersistentSubscriptionCompleted,
    credentials: admin
  }),
  () => ({
    command: C.ScavengeDatabase,
    payload: new Uint8Array(0),
    reply: C.ScavengeDatabaseResponse,
    credentials: admin
  }),
  () => ({
    command: C.IdentifyClient,
    payload: encodeMessage(Messages.IdentifyClientSchema, { version: 1, connectionName: "fuzz" }),
    reply: C.ClientIdentified
  })
]

// ---------------------------------------------------------------------------------------------------

layer(Server(), { excludeTestServices: true })("Fuzz: random payloads, flags and auth blocks", (it) => {
  it.effect.prop(
    "every request package gets the replies its command promises under its correlation id, and the connection keeps serving",
    [Arbitrary.array(fuzzedPackage, { minLength: 1, maxLength: 40 })],
    ([packages]) =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const sent: Array<SentPackage & { readonly correlationId: string }> = []
        for (const pkg of packages) {
          const subscriptions = sent.filter((earlier) => subscribing.includes(earlier.command))
          const named = namingASubscription.includes(pkg.command) && pkg.names > 0 && subscriptions.length > 0
            ? subscriptions[pkg.names % subscriptions.length]!.correlationId
            : undefined
          const correlationId = client.send(pkg.command, pkg.payload, {
            ...(named === undefined ? {} : { correlationId: named }),
            ...(pkg.credentials === undefined ? {} : { credentials: pkg.credentials })
          })
          sent.push({ ...pkg, promised: promisedFor(pkg.command, pkg.payload), correlationId })
        }
        yield* barrier(client)
        // Every other answer came before the barrier's; a write to an unknown transaction is answered
        // later, with PrepareTimeout (4.10).
        for (const { command, correlationId } of sent) {
          if (command === C.TransactionWrite) yield* arrived(client, correlationId)
        }
        assert.isFalse(client.isClosed, "the node closed the connection")
        const byId = new Map<string, Array<SentPackage>>()
        for (const pkg of sent) byId.set(pkg.correlationId, [...(byId.get(pkg.correlationId) ?? []), pkg])
        for (const pkg of client.inbox) {
          assert.isTrue(
            byId.has(pkg.correlationId) || isProbe(pkg),
            `${Command.name(pkg.command)} under an id no package had: ${pkg.correlationId}`
          )
        }
        for (const [correlationId, sharing] of byId) {
          assertRepliesKeepPromises(sharing, client.inbox.filter((pkg) => pkg.correlationId === correlationId))
        }
      }),
    checks(250, 1, 40)
  )

  it.effect.prop(
    "a malformed auth block or TrustedWrite closes the connection with BadRequest; other flags and auth blocks are served",
    [fuzzedAuth],
    ([generated]) =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const correlationId = Guid.random()
        const { auth, command, flags, payload } = generated
        const bytes = frame(packageBody(command, flags, correlationId, auth, payload))
        const { closes, pings } = expectedOutcome(bytes)
        const client = yield* connect(port)
        client.sendBytes(bytes)
        if (closes === "stays open") {
          const reply = yield* client.reply(correlationId)
          if (command === C.HeartbeatRequest) {
            assert.strictEqual(reply.command, C.HeartbeatResponse)
          } else {
            assert.strictEqual(reply.command, pings[0]!.answer)
            if (reply.command === C.Pong) assert.deepStrictEqual(reply.payload, pings[0]!.payload)
          }
          yield* barrier(client)
        } else if (closes === undefined) {
          yield* servedOrRefused(client)
        } else {
          yield* client.closed()
          assert.strictEqual(client.inbox.filter((pkg) => !isProbe(pkg)).length, 1)
          assertClosedWithBadRequest(client, closes)
        }
        yield* stillServes(port)
      }),
    checks(150, 2)
  )
})

layer(Server(), { excludeTestServices: true })("Fuzz: mutated requests", (it) => {
  const transactions = new Map<bigint, StartedTransaction>()

  it.effect.prop(
    "a mutated valid request is carried out whole, as protobuf reads it, or refused whole: nothing is half-written",
    [scenario],
    ([generated]) =>
      Effect.gen(function*() {
        const { port, store } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const stream = streamName(generated.streamPrefix)
        const events = Array.from({ length: generated.eventCount }, (_, i) => newEvent(generated.eventType, { i }))
        const mutated = (payload: Uint8Array) => mutate(payload, generated.mutations)
        /** Sends a request; returns its reply and how many events the log grew by meanwhile. */
        const request = (command: number, payload: Uint8Array, credentials?: Credentials) =>
          Effect.gen(function*() {
            const before = store.size
            const reply = yield* client.reply(
              client.send(command, payload, credentials === undefined ? undefined : { credentials })
            )
            return { reply, written: store.size - before }
          })

        switch (generated.template) {
          case "WriteEvents": {
            const payload = mutated(encodeMessage(Messages.WriteEventsSchema, {
              eventStreamId: stream,
              expectedVersion: generated.expectedVersion,
              events,
              requireLeader: true
            }))
            const { reply, written } = yield* request(C.WriteEvents, payload)
            assertResultOrBadRequest(reply, C.WriteEventsCompleted)
            const sentRequest = decodeMessage(Messages.WriteEventsSchema, payload)
            if (reply.command === C.BadRequest && sentRequest !== undefined) {
              assert.isTrue(
                !hasShape(payload, writeEventsShape) || isInvalidWrite(sentRequest),
                `a valid write refused: ${text(reply.payload)}`
              )
            }
            const result = reply.command === C.BadRequest
              ? undefined
              : decodeReply(Messages.WriteEventsCompletedSchema, reply)
            // The stream is new, so the expected version alone decides (4.2): Any and NoStream write.
            const writable = sentRequest !== undefined && [-2n, -1n].includes(sentRequest.expectedVersion)
            if (result?.result === OperationResult.WrongExpectedVersion) {
              assert.isFalse(writable, `expected version ${sentRequest?.expectedVersion} refused on a new stream`)
            }
            if (result?.result !== OperationResult.Success) {
              assert.strictEqual(written, 0, "a refused write wrote events")
              if (sentRequest !== undefined) yield* assertNoEvents(client, sentRequest.eventStreamId)
              return
            }
            assert.isTrue(writable, `expected version ${sentRequest?.expectedVersion} accepted on a new stream`)
            assert.strictEqual(written, sentRequest!.events.length, "a successful write wrote only some events")
            assert.strictEqual(result.lastEventNumber - result.firstEventNumber + 1n, BigInt(written))
            const { eventStreamId, events: proposed } = sentRequest!
            yield* assertNewestEventsAre(client, eventStreamId, result.firstEventNumber, proposed)
            return
          }

          case "ReadStreamEventsForward":
          case "ReadStreamEventsBackward": {
            yield* append(client, stream, -1n, [newEvent(), newEvent(), newEvent()])
            const forward = generated.template === "ReadStreamEventsForward"
            const payload = mutated(encodeMessage(Messages.ReadStreamEventsSchema, {
              eventStreamId: stream,
              fromEventNumber: forward ? 0n : -1n,
              maxCount: 2,
              resolveLinkTos: false,
              requireLeader: true
            }))
            const { reply, written } = yield* request(
              forward ? C.ReadStreamEventsForward : C.ReadStreamEventsBackward,
              payload
            )
            assertResultOrBadRequest(
              reply,
              forward ? C.ReadStreamEventsForwardCompleted : C.ReadStreamEventsBackwardCompleted
            )
            assert.strictEqual(written, 0, "a read wrote events")
            const sentRequest = decodeMessage(Messages.ReadStreamEventsSchema, payload)
            if (sentRequest === undefined) return
            const { eventStreamId, fromEventNumber, maxCount } = sentRequest
            if (reply.command === C.BadRequest) {
              // Refused only for what 1.7 refuses: an empty stream id or a read event number below -1.
              assert.isTrue(
                !hasShape(payload, readStreamEventsShape) || eventStreamId.length === 0 || fromEventNumber < -1n,
                `a valid read refused: ${text(reply.payload)}`
              )
              return
            }
            const page = decodeReply(Messages.ReadStreamEventsCompletedSchema, reply)
            // What protocol.md 4.4 says a read of these three events returns, for the reads it describes.
            if (maxCount < 1 || maxCount > 4096 || (forward && fromEventNumber < 0n)) return
            const expected = eventStreamId === stream ? pageOf(forward, fromEventNumber, maxCount, 2n) : []
            assert.deepStrictEqual(
              page.events.map((resolved) => resolved.event!.eventNumber),
              expected,
              `${forward ? "forward" : "backward"} from ${fromEventNumber}, ${maxCount} events`
            )
            for (const resolved of page.events) assert.strictEqual(resolved.event!.eventStreamId, stream)
            return
          }

          case "Transaction": {
            const mutatedAt = (step: number, payload: Uint8Array) =>
              step === generated.step ? mutated(payload) : payload
            const startPayload = mutatedAt(
              0,
              encodeMessage(Messages.TransactionStartSchema, {
                eventStreamId: stream,
                expectedVersion: generated.expectedVersion === 0n ? -1n : generated.expectedVersion,
                requireLeader: true
              })
            )
            const started = yield* request(C.TransactionStart, startPayload)
            assertResultOrBadRequest(started.reply, C.TransactionStartCompleted)
            assert.strictEqual(started.written, 0, "a transaction start wrote events")
            if (started.reply.command === C.BadRequest) return
            const start = decodeReply(Messages.TransactionStartCompletedSchema, started.reply)
            if (start.result !== OperationResult.Success) return
            transactions.set(start.transactionId, {
              stream: decodeMessage(Messages.TransactionStartSchema, startPayload)!.eventStreamId,
              events: [],
              committed: false
            })

            // The events stay out of sight until the commit.
            const writePayload = mutatedAt(
              1,
              encodeMessage(Messages.TransactionWriteSchema, {
                transactionId: start.transactionId,
                events,
                requireLeader: true
              })
            )
            const wrote = yield* request(C.TransactionWrite, writePayload)
            assertResultOrBadRequest(wrote.reply, C.TransactionWriteCompleted)
            assert.strictEqual(wrote.written, 0, "a transaction write made events visible before the commit")
            if (wrote.reply.command === C.TransactionWriteCompleted) {
              const write = decodeReply(Messages.TransactionWriteCompletedSchema, wrote.reply)
              if (write.result === OperationResult.Success) {
                // The write may have gone to another transaction, one an earlier case left open.
                const target = transactions.get(write.transactionId)
                assert.isDefined(target, `a write to transaction ${write.transactionId}, which was never started`)
                target!.events.push(...decodeMessage(Messages.TransactionWriteSchema, writePayload)!.events)
              }
            }

            // All of the transaction's events, or none.
            const commitPayload = mutatedAt(
              2,
              encodeMessage(Messages.TransactionCommitSchema, {
                transactionId: start.transactionId,
                requireLeader: true
              })
            )
            const committed = yield* request(C.TransactionCommit, commitPayload)
            assertResultOrBadRequest(committed.reply, C.TransactionCommitCompleted)
            const commit = committed.reply.command === C.BadRequest
              ? undefined
              : decodeReply(Messages.TransactionCommitCompletedSchema, committed.reply)
            if (commit?.result !== OperationResult.Success) {
              assert.strictEqual(committed.written, 0, "a failed commit wrote events")
              return
            }
            const target = transactions.get(commit.transactionId)
            assert.isDefined(target, `a commit of transaction ${commit.transactionId}, which was never started`)
            // A transaction committed again is checked again, and found idempotent (4.2, 4.10).
            const expected = target!.committed ? 0 : target!.events.length
            assert.strictEqual(committed.written, expected, "a commit wrote only some of its transaction's events")
            assert.strictEqual(commit.lastEventNumber - commit.firstEventNumber + 1n, BigInt(target!.events.length))
            if (!target!.committed) {
              yield* assertNewestEventsAre(client, target!.stream, commit.firstEventNumber, target!.events)
            }
            target!.committed = true
            return
          }

          case "DeleteStream": {
            yield* append(client, stream, -1n, [newEvent(), newEvent()])
            const payload = mutated(encodeMessage(Messages.DeleteStreamSchema, {
              eventStreamId: stream,
              expectedVersion: generated.expectedVersion === 0n ? 1n : generated.expectedVersion,
              requireLeader: true,
              hardDelete: generated.hardDelete
            }))
            const { reply, written } = yield* request(C.DeleteStream, payload)
            assertResultOrBadRequest(reply, C.DeleteStreamCompleted)
            const deleted = reply.command === C.BadRequest
              ? undefined
              : decodeReply(Messages.DeleteStreamCompletedSchema, reply)
            if (deleted?.result !== OperationResult.Success) {
              assert.strictEqual(written, 0, "a refused delete wrote something")
              const read = yield* readAsAdmin(client, stream)
              assert.strictEqual(read.result, ReadStreamResult.Success, "a refused delete deleted the stream")
              assert.strictEqual(read.events.length, 2)
              return
            }
            // One record: the tombstone, or the metadata that soft-deletes (4.6).
            assert.strictEqual(written, 1)
            const sentRequest = decodeMessage(Messages.DeleteStreamSchema, payload)!
            if (sentRequest.eventStreamId.startsWith("$$")) return
            const read = yield* readAsAdmin(client, sentRequest.eventStreamId)
            assert.strictEqual(
              read.result,
              sentRequest.hardDelete ? ReadStreamResult.StreamDeleted : ReadStreamResult.NoStream
            )
            return
          }

          case "CreatePersistentSubscription": {
            const payload = mutated(
              encodeMessage(Messages.CreatePersistentSubscriptionSchema, persistentSettings(stream, `group-${Guid.random()}`))
            )
            const { reply, written } = yield* request(C.CreatePersistentSubscription, payload, admin)
            assertResultOrBadRequest(reply, C.CreatePersistentSubscriptionCompleted)
            const created = reply.command === C.BadRequest
              ? undefined
              : decodeReply(Messages.CreatePersistentSubscriptionCompletedSchema, reply)
            const Created = Messages.CreatePersistentSubscriptionCompleted_CreatePersistentSubscriptionResult
            // A group that was created is saved with the others' configuration, in one event (5.4).
            assert.strictEqual(written, created?.result === Created.Success ? 1 : 0)
            const sentRequest = decodeMessage(Messages.CreatePersistentSubscriptionSchema, payload)
            if (sentRequest === undefined) return
            const connectId = client.sendMessage(
              C.ConnectToPersistentSubscription,
              Messages.ConnectToPersistentSubscriptionSchema,
              {
                subscriptionId: sentRequest.subscriptionGroupName,
                eventStreamId: sentRequest.eventStreamId,
                allowedInFlightMessages: 10
              },
              { credentials: admin }
            )
            const connected = yield* client.reply(connectId)
            if (created?.result !== Created.Success) {
              assert.strictEqual(connected.command, C.SubscriptionDropped, "a group that was refused exists")
              return
            }
            assert.strictEqual(connected.command, C.PersistentSubscriptionConfirmation)
            const confirmation = decodeReply(Messages.PersistentSubscriptionConfirmationSchema, connected)
            assert.strictEqual(
              confirmation.subscriptionId,
              `${sentRequest.eventStreamId}::${sentRequest.subscriptionGroupName}`
            )
            // Events for a group with whatever settings the mutation left: what it pushes must parse.
            if (!sentRequest.eventStreamId.startsWith("$")) {
              yield* append(client, sentRequest.eventStreamId, -2n, [newEvent(), newEvent()])
            }
            yield* barrier(client)
            for (const pkg of client.inbox.filter((pkg) => pkg.correlationId === connectId)) {
              assert.include([C.PersistentSubscriptionStreamEventAppeared, C.SubscriptionDropped], pkg.command)
              assertWellFormed(pkg, { payload: new Uint8Array(0) })
            }
            // Leave the group now, so that what leaving does (retrying or parking the messages in
            // flight, 5.4) happens in this case and not in the middle of the next one's write.
            client.send(C.UnsubscribeFromStream, undefined, { correlationId: connectId })
            yield* client.take((pkg) => pkg.correlationId === connectId && pkg.command === C.SubscriptionDropped)
            return
          }
        }
      }),
    checks(300, 6)
  )

  it.effect.prop(
    "a valid request with unknown fields of any wire type among its own is served as without them",
    [
      intBetween(0, validRequests.length - 1),
      Arbitrary.array(unknownField, { maxLength: 2 }),
      Arbitrary.array(unknownField, { maxLength: 2 }),
      Arbitrary.array(unknownField, { maxLength: 2 })
    ],
    ([template, before, after, inner]) =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const request = validRequests[template]!(streamName("unknown-fields"), concat(inner))
        const correlationId = client.send(
          request.command,
          concat([...before, request.payload, ...after]),
          request.credentials === undefined ? undefined : { credentials: request.credentials }
        )
        const reply = yield* client.reply(correlationId)
        assert.strictEqual(
          Command.name(reply.command),
          Command.name(request.reply),
          `${Command.name(request.command)} was answered ${Command.name(reply.command)}: ${text(reply.payload)}`
        )
        if (reply.command === C.WriteEventsCompleted) {
          const written = decodeReply(Messages.WriteEventsCompletedSchema, reply)
          assert.strictEqual(written.result, OperationResult.Success)
          assert.strictEqual(written.lastEventNumber, written.firstEventNumber)
        }
      }),
    checks(150, 4)
  )
})

layer(Server(), { excludeTestServices: true })("Fuzz: random byte streams", (it) => {
  it.effect.prop(
    "a random byte stream is served up to its first framing error, which closes the connection with BadRequest and the zero id",
    [
      Arbitrary.array(streamSegment(serverOptions.maxFrameLength), { minLength: 1, maxLength: 12 }),
      Arbitrary.array(intBetween(0, 600), { maxLength: 8 })
    ],
    ([segments, cuts]) =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const bytes = completed(concat(segments), serverOptions.maxFrameLength)
        const { closes, ids, pings } = expectedOutcome(bytes)
        const client = yield* connect(port)
        for (const chunk of cut(bytes, cuts)) client.sendBytes(chunk)
        if (closes === "stays open") {
          yield* barrier(client)
        } else if (closes === undefined) {
          yield* servedOrRefused(client)
        } else {
          yield* client.closed()
          assertClosedWithBadRequest(client, closes)
        }
        // The Pings before the end, or before the error, were served once each.
        const unique = pings.filter((ping) =>
          ping.correlationId !== Guid.empty && ids.filter((id) => id === ping.correlationId).length === 1
        )
        for (const ping of unique) {
          const replies = client.inbox.filter((pkg) => pkg.correlationId === ping.correlationId)
          assert.strictEqual(replies.length, 1, `Ping ${ping.correlationId} got ${replies.length} replies`)
          assert.strictEqual(replies[0]!.command, ping.answer)
          if (ping.answer === C.Pong) assert.deepStrictEqual(replies[0]!.payload, ping.payload)
        }
        yield* stillServes(port)
      }),
    checks(200, 5, 40)
  )
})
