/**
 * One connection to a node: the socket, and the fibers that run it.
 *
 * ```
 * callers ──frames──> outbound Queue ──> writer fiber ──one write per batch──> socket
 * socket ──reads into──> FrameReader ──frames──> inbound Queue ──> dispatcher fiber
 *                                                        dispatcher ──by correlation id──> conversations
 * ```
 *
 * - The writer takes every frame queued since its last write and writes them with a single socket
 *   write, so that requests issued together share a system call.
 * - The socket reads into memory a `FrameReader` hands it (Node's `onread`), and reports each read to
 *   the connection, which queues the frame bodies it completed (views of that memory; the frames of a
 *   read under 4 KiB copied out, so that a small reply held for long holds no more than itself) for the
 *   dispatcher. Node allocates no buffer per read, and no large frame is copied (bench/NOTES.md, phase
 *   9). The dispatcher routes a read's frames before the next read is reported, so the queue
 *   never holds more than one read's. A reader fiber watches the socket's stream for its end or
 *   failure.
 * - The dispatcher answers the server's heartbeats at once and routes every other package by
 *   correlation id to its conversation (`Conversation.ts`). Conversations never block it. Going
 *   through a long run of replies, it lets the writer send the requests they led to every 32 replies,
 *   so that the server works on those while the client works through the rest.
 * - A heartbeat fiber sends the client's own heartbeat when the line has been silent for the heartbeat
 *   interval, and declares the connection dead when nothing at all arrives within the heartbeat timeout
 *   after that.
 * - One-shot requests need no fiber of their own: a request is an entry in the correlation-id map whose
 *   reply resumes the waiting caller; one timer per connection fails the requests whose deadline passes.
 * - At most `maxConcurrentRequests` one-shot requests are sent and unanswered at once. The others wait
 *   in the client, in call order, each with its frame, and go as replies and deadlines free places: the
 *   frames queued for the writer never outnumber that limit by more than the connection's own packages
 *   (heartbeats, subscriptions, acks). A request's deadline runs from the call, waiting included. A
 *   sent request whose caller has gone keeps its place until its reply or deadline.
 *
 * When the connection dies (the socket closes or fails, a heartbeat goes unanswered, the server sends
 * bytes that are not the protocol or a connection-wide BadRequest), every conversation in flight fails
 * at once with the same `ConnectionError`, and every later request fails with it straight away.
 *
 * @internal
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { isTagged } from "effect/Predicate"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"
import type * as Tls from "node:tls"
import { Command as CommandModule, Frame, FrameReader, Guid, Messages, Package } from "@photonpump/protocol"
import { create } from "@bufbuild/protobuf"
import { BadRequest, ConnectionError, Timeout } from "../EventStoreError.ts"
import type { Settings } from "../Settings.ts"
import type { Conversation, Request } from "./Conversation.ts"

/**
 * A live connection.
 *
 * @internal
 */
export interface Connection {
  readonly host: string
  readonly port: number
  /**
   * Sends a request and waits for its one reply, for at most `timeout`. The reply may be any package
   * the server sends under the request's correlation id (the expected reply, or BadRequest, NotHandled,
   * NotAuthenticated): interpreting it is the caller's business.
   */
  readonly request: (
    request: Request,
    operation: string,
    timeout: Duration.Duration
  ) => Effect.Effect<Package.InboundPackage, ConnectionError | Timeout | BadRequest>
  /**
   * Like `request`, but the reply is interpreted by `decode` as it arrives, and the caller resumes
   * with its exit directly: one suspension per request, with no effect run after the reply. The fast
   * path for simple request/reply operations.
   */
  readonly requestDecoded: <A, E>(
    request: Request,
    operation: string,
    timeout: Duration.Duration,
    decode: (pkg: Package.InboundPackage) => Exit.Exit<A, E>
  ) => Effect.Effect<A, E | ConnectionError | Timeout | BadRequest>
  /**
   * Sends a request for a waiting caller that `pending` represents, and returns at once: the reply
   * (decoded by `pending.decode`), a timeout or the connection's failure resumes it. For callers that
   * are already inside an `Effect.callback` of their own (appends), so that a request costs one
   * suspension and one object of bookkeeping. Nothing is left to clean up if the caller is interrupted
   * once the request is sent: its entry goes when the reply or the deadline comes, and its resumption
   * is then ignored. A request still waiting for a place (`pending.waitingFrame` set) is taken back with
   * `forget`. Returns the request's id, or -1 when it failed at once (`pending` is then resumed).
   */
  readonly submit: <A, E>(request: Request, pending: PendingRequest<A, E>) => number
  /**
   * Forgets a one-shot request submitted under `id`: it is not sent if it still waits for a place, and
   * its reply, if it still comes, is dropped (the request keeps its place until then, or until its
   * deadline). `pending` is not resumed.
   */
  readonly forget: (id: number, pending: PendingRequest<any, any>) => void
  /**
   * Sends a one-shot request and hands its reply (any package, as for `request`) or its failure
   * (the connection died, the deadline passed) to `settle`, from the connection's dispatcher or its
   * deadline timer: `settle` must not block. No fiber waits for the reply, so a caller can keep
   * several requests going from plain callbacks (read-ahead). Returns the request in flight, to
   * cancel (its late reply is then dropped), or why it could not be sent (`settle` is then not called).
   */
  readonly requestCallback: (
    request: Request,
    operation: string,
    timeout: Duration.Duration,
    settle: (exit: Exit.Exit<Package.InboundPackage, ConnectionError | Timeout>) => void
  ) => Result.Result<InFlight, ConnectionError | BadRequest>
  /**
   * Registers a long conversation under a new correlation id and sends its opening request. Returns the
   * correlation id.
   */
  readonly startConversation: (conversation: Conversation) => Result.Result<string, ConnectionError | BadRequest>
  /** Sends another package under an existing conversation's correlation id (unsubscribe, acks). */
  readonly send: (correlationId: string, request: Request) => Result.Result<void, ConnectionError | BadRequest>
  /** Forgets a conversation; later packages under its correlation id are dropped. */
  readonly endConversation: (correlationId: string) => void
  /** The error the connection died with, or `undefined` while it is alive. */
  readonly failure: () => ConnectionError | undefined
  /** Waits until the connection dies (or is closed), and returns why. */
  readonly closed: Effect.Effect<ConnectionError>
}

/**
 * A one-shot request sent with `requestCallback`, not answered yet.
 *
 * @internal
 */
export interface InFlight {
  /** Forgets the request: its reply, if it still comes, is dropped, and `settle` is never called. */
  readonly cancel: () => void
}

const Command = CommandModule.Command
const emptyPayload = new Uint8Array(0)

const succeedWith = (pkg: Package.InboundPackage): Exit.Exit<Package.InboundPackage> => Exit.succeed(pkg)

/**
 * A one-shot request waiting for its reply: whom to resume, and how to turn the reply into their exit.
 * Operations subclass it to keep their own state (the stream, the expected version) in the same
 * object, instead of a closure per request.
 *
 * A one-shot request is never sent twice: nothing re-sends a frame, on this connection or another.
 * The connection writes the frame's header and correlation id in place (`Request.frame`), so a request
 * that ever is re-sent (a reconnection) must be encoded again, from its description.
 *
 * @internal
 */
export abstract class PendingRequest<A, E> {
  readonly resume: (exit: Exit.Exit<A, E | ConnectionError | Timeout | BadRequest>) => void
  readonly operation: string
  readonly timeout: Duration.Duration
  /** When the request times out, in `performance.now()` milliseconds; set by the connection. */
  deadline = 0
  /**
   * Its frame while it waits for a place among the requests in flight (`maxConcurrentRequests`); the
   * connection clears it when it sends the frame, or forgets the request.
   */
  waitingFrame: Uint8Array | undefined = undefined
  constructor(
    resume: (exit: Exit.Exit<A, E | ConnectionError | Timeout | BadRequest>) => void,
    operation: string,
    timeout: Duration.Duration
  ) {
    this.resume = resume
    this.operation = operation
    this.timeout = timeout
  }
  /** The caller's exit for the reply (any package sent under the request's correlation id). */
  abstract decode(pkg: Package.InboundPackage): Exit.Exit<A, E>
  /**
   * The caller's exit for a reply given as its frame's body (command, flags, correlation id, then
   * the payload; never credentials). An operation may read its expected reply straight from it, with
   * no package object made; the default makes one for `decode`.
   */
  decodeBody(body: Uint8Array): Exit.Exit<A, E> {
    return this.decode(new ReplyPackage(body))
  }
  fail(error: ConnectionError | BadRequest): void {
    this.resume(Exit.fail(error))
  }
  expire(): void {
    this.resume(Exit.fail(new Timeout({ operation: this.operation, source: "Client", timeout: this.timeout })))
  }
}

/** A request whose reply is interpreted by a function (`requestDecoded`). */
class DecodedRequest<A, E> extends PendingRequest<A, E> {
  readonly decoder: (pkg: Package.InboundPackage) => Exit.Exit<A, E>
  constructor(
    resume: (exit: Exit.Exit<A, E | ConnectionError | Timeout | BadRequest>) => void,
    operation: string,
    timeout: Duration.Duration,
    decoder: (pkg: Package.InboundPackage) => Exit.Exit<A, E>
  ) {
    super(resume, operation, timeout)
    this.decoder = decoder
  }
  decode(pkg: Package.InboundPackage): Exit.Exit<A, E> {
    return this.decoder(pkg)
  }
}

/**
 * A request whose reply, or failure, goes to a callback (`requestCallback`). A failure while it is
 * being sent is kept for the sender to return instead.
 */
class CallbackRequest extends PendingRequest<Package.InboundPackage, never> implements InFlight {
  /** Its correlation id's counter once `submit` has returned (-1 while sending), and how to forget it. */
  id = -1
  forget: ((id: number, request: PendingRequest<any, any>) => void) | undefined = undefined
  failedToSend: ConnectionError | BadRequest | undefined = undefined
  decode(pkg: Package.InboundPackage): Exit.Exit<Package.InboundPackage> {
    return Exit.succeed(pkg)
  }
  override fail(error: ConnectionError | BadRequest): void {
    if (this.id < 0) this.failedToSend = error
    else super.fail(error)
  }
  cancel(): void {
    this.forget?.(this.id, this)
  }
}

const ignore = (): void => {}
const ignored: Exit.Exit<never, never> = Exit.die("an abandoned request's reply is never read")

/**
 * Stands in for a sent request whose caller has gone (`Connection.forget`): it keeps the request's
 * place among those in flight until the reply or the deadline comes, reads nothing and resumes nobody.
 */
class Abandoned extends PendingRequest<any, any> {
  constructor(deadline: number) {
    super(ignore, "", Duration.zero)
    this.deadline = deadline
  }
  decode(): Exit.Exit<never, never> {
    return ignored
  }
  override decodeBody(): Exit.Exit<never, never> {
    return ignored
  }
  override fail(): void {}
  override expire(): void {}
}

/**
 * The correlation ids of one-shot requests: a random 10-byte prefix per connection, then a 48-bit
 * counter, written straight into the frame. A reply is routed by reading the counter back from its
 * header (a number), with no UUID drawn, parsed or printed: those cost about 4% of an append.
 * Conversations (subscriptions) keep random UUIDs; their replies fail the prefix check.
 */
const idPrefixLength = 10
/** Where the correlation id starts in a frame, after the length prefix, command and flags. */
const frameIdOffset = Frame.prefixLength + 2
/** Where it starts in a frame's body (what the frame reader hands over, without the length prefix). */
const bodyIdOffset = 2

/**
 * A reply routed by its numeric correlation id; the UUID text, and the view of its payload, are made
 * only if someone asks for them (a write's reply is decoded from `body` directly: see `payloadBytes`).
 */
class ReplyPackage implements Package.InboundPackage {
  readonly command: number
  readonly flags: number
  readonly auth: undefined = undefined
  readonly body: Uint8Array
  constructor(body: Uint8Array) {
    this.body = body
    this.command = body[0]!
    this.flags = body[1]!
  }
  get payload(): Uint8Array {
    return this.body.subarray(Package.headerLength)
  }
  get correlationId(): string {
    return Guid.readUnsafe(this.body, bodyIdOffset)
  }
}

/** Fills in the header of a frame encoded with room for it (`Request.frame`), correlation id aside. */
const writeHeader = (frame: Uint8Array, command: number): void => {
  const bodyLength = frame.length - Frame.prefixLength
  frame[0] = bodyLength & 0xff
  frame[1] = (bodyLength >>> 8) & 0xff
  frame[2] = (bodyLength >>> 16) & 0xff
  frame[3] = bodyLength >>> 24
  frame[Frame.prefixLength] = command
  frame[Frame.prefixLength + 1] = Package.Flags.None
}

/**
 * The frames of a batch as one buffer for one socket write. Frames encoded one after the other from
 * the same slab (appends, see `Encode.allocate`) lie next to each other already: such a batch is sent
 * as one view of the slab, with no copy. A slab is never written twice, so the view stays valid for as
 * long as the socket needs it.
 */
const concat = (frames: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (frames.length === 1) return frames[0]!
  const first = frames[0]!
  let length = first.length
  let contiguous = true
  for (let i = 1; i < frames.length; i++) {
    const frame = frames[i]!
    if (contiguous) {
      const previous = frames[i - 1]!
      contiguous = frame.buffer === previous.buffer && frame.byteOffset === previous.byteOffset + previous.length
    }
    length += frame.length
  }
  if (contiguous) return new Uint8Array(first.buffer, first.byteOffset, length)
  const out = new Uint8Array(length)
  let offset = 0
  for (let i = 0; i < frames.length; i++) {
    out.set(frames[i]!, offset)
    offset += frames[i]!.length
  }
  return out
}

const encode = (request: Request, correlationId: string): Result.Result<Uint8Array, BadRequest> => {
  const frame = Package.encodeFrame({
    command: request.command,
    correlationId,
    credentials: request.credentials === undefined
      ? undefined
      : { login: request.credentials.username, password: request.credentials.password },
    payload: request.payload
  })
  return Result.isSuccess(frame)
    ? Result.succeed(frame.success)
    : Result.fail(new BadRequest({ operation: CommandModule.name(request.command), reason: frame.failure.message }))
}

const toCertificates = (
  ca: string | Uint8Array | ReadonlyArray<string | Uint8Array>
): Array<string | Buffer> => {
  const list: ReadonlyArray<string | Uint8Array> = typeof ca === "string" || ca instanceof Uint8Array ? [ca] : ca
  return list.map((entry) => typeof entry === "string" ? entry : Buffer.from(entry.buffer, entry.byteOffset, entry.length))
}

const describe = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return typeof code === "string" && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message
  }
  return String(cause)
}

/**
 * The connection's own fibers run on a microtask scheduler: a hop to one of them (a socket read waking
 * the dispatcher, a caller waking the writer) then costs a microtask rather than a turn of the event
 * loop, which is most of a small request's latency. Batching is unchanged: the writer still
 * wakes only once the code that queued frames has finished. These fibers never compute for long between
 * two waits on the socket or a queue, so they cannot starve the event loop. Callers' fibers keep their
 * own scheduler.
 */
const connectionScheduler = new Scheduler.MixedScheduler("sync")

/**
 * The longest delay `setTimeout` takes: Node runs a timer set for longer after 1 ms instead (with a
 * `TimeoutOverflowWarning`), so a request or subscription given a timeout of a month would time out
 * at once, or have its timer fire every millisecond until its deadline.
 */
const maxTimerDelay = 2 ** 31 - 1

/**
 * The delay of a timer for a deadline `millis` from now: at most `maxTimerDelay`, so a timer for a
 * later deadline fires early, finds nothing due, and is set again for what is left.
 *
 * @internal
 */
export const timerDelay = (millis: number): number => Math.min(maxTimerDelay, Math.max(0, Math.ceil(millis)))

/** How many replies the dispatcher handles before it lets the writer send the requests they led to. */
const flushEvery = 32

/**
 * Resumes in a microtask queued now, so after the connection's writer, which a request queued just
 * before woke in a microtask of its own (the connection's scheduler), has written it. A fiber that has
 * made a request and is about to work for a while (decode a page, hand it to its consumer) yields this
 * first: otherwise the request waits for the work, and the server for the request.
 *
 * @internal
 */
export const yieldToWriter: Effect.Effect<void> = Effect.callback<void>((resume) => {
  queueMicrotask(() => resume(Effect.void))
})

/**
 * Opens a connection and performs the handshake: Authenticate when default credentials are set, then
 * IdentifyClient. The connection lives as long as the current scope.
 *
 * @internal
 */
export const make = (settings: Settings): Effect.Effect<Connection, ConnectionError, Scope.Scope> =>
  Effect.provideService(open(settings), References.Scheduler, connectionScheduler)

const open = Effect.fnUntraced(function*(settings: Settings) {
  const { host, port } = settings
  const connectionError = (reason: ConnectionError["reason"], detail: string, cause?: unknown) =>
    new ConnectionError(cause === undefined ? { host, port, reason, detail } : { host, port, reason, detail, cause })

  const callerScope = yield* Effect.scope
  // Everything of the connection lives in a scope of its own, closed when the caller's scope closes or
  // at once when the handshake fails, so that a failed attempt leaves nothing behind.
  const scope = yield* Scope.fork(callerScope)
  // The socket and the fibers that serve it live in a narrower scope, closed as soon as the connection
  // dies, so that a dead connection releases its socket without waiting for the caller's scope.
  const socketScope = yield* Scope.fork(scope)

  const inbound = yield* Queue.unbounded<ReadonlyArray<Uint8Array>, ConnectionError>()
  /** Counts the reads: any sign of life from the server. */
  let received = 0
  const frameReader = FrameReader.make()
  // Called by the socket for every read, and followed by a microtask checkpoint, in which the
  // dispatcher (on the connection's microtask scheduler) routes the frames before the next read is
  // reported: the inbound queue holds at most one read's frames.
  const onRead = (length: number): boolean => {
    received++
    const read = frameReader.filled(length)
    if (Result.isSuccess(read)) {
      if (read.success.length > 0) Queue.offerUnsafe(inbound, read.success)
      return true
    }
    // The frames before the bad prefix are whole: deliver them before giving up.
    if (read.failure.framesBefore.length > 0) Queue.offerUnsafe(inbound, read.failure.framesBefore)
    Queue.failCauseUnsafe(inbound, Cause.fail(connectionError("ProtocolViolation", read.failure.message)))
    return false
  }
  // Node's `onread`: the socket reads into the memory the frame reader hands it and reports each read
  // to `onRead`, instead of allocating a buffer of its own per read and pushing it through its stream.
  // `makeNet` and `makeTls` pass it on to `net.connect` and `tls.connect`, which both document it.
  const onread: Net.OnReadOpts = { buffer: frameReader.next, callback: onRead }
  const socket = settings.tls === undefined
    ? yield* NodeSocket.makeNet({ host, port, noDelay: true, openTimeout: settings.connectTimeout, onread })
    : yield* NodeSocket.makeTls({
      host,
      port,
      openTimeout: settings.connectTimeout,
      servername: settings.tls.servername ?? host,
      rejectUnauthorized: settings.tls.rejectUnauthorized ?? true,
      ...(settings.tls.ca === undefined ? {} : { ca: toCertificates(settings.tls.ca) }),
      // Missing from the option type of `tls.connect`, though documented for it.
      ...({ onread } as Tls.ConnectionOptions)
    })

  const pull = yield* Socket.readerBytes(socket).pipe(
    Scope.provide(socketScope),
    Effect.mapError((error) => {
      const reason = error.reason
      if (isTagged(reason, "SocketOpenError")) {
        return reason.kind === "Timeout"
          ? connectionError(
            "ConnectTimeout",
            `not connected within ${Duration.format(settings.connectTimeout)}`,
            reason.cause
          )
          : connectionError("ConnectFailed", describe(reason.cause), reason.cause)
      }
      return connectionError("ConnectFailed", error.message, error)
    }),
    Effect.onError(() => Scope.close(scope, Exit.void))
  )
  const writer = yield* Scope.provide(socket.writer, socketScope)

  /** Long conversations, by UUID. */
  const pending = new Map<string, Conversation>()
  /** One-shot requests, by the counter of their correlation id: those sent, and those waiting to be. */
  const requests = new Map<number, PendingRequest<any, any>>()
  // At most `maxConcurrentRequests` of them are sent and unanswered at once; the others wait in `waiting`,
  // in the order of the calls, each with its frame, until a reply or a deadline frees a place. Entries
  // forgotten while they wait (deadline, interruption) stay in the array with their frame cleared.
  const maxInFlight = settings.maxConcurrentRequests
  let inFlight = 0
  let waiting: Array<PendingRequest<any, any> | undefined> = []
  let waitingHead = 0
  const idPrefix = crypto.getRandomValues(new Uint8Array(idPrefixLength))
  let idCounter = 0
  /** Writes this connection's next request id into a frame, and returns its counter. */
  const writeRequestId = (frame: Uint8Array): number => {
    const id = idCounter = (idCounter + 1) % 2 ** 48
    frame.set(idPrefix, frameIdOffset)
    const at = frameIdOffset + idPrefixLength
    const high = Math.floor(id / 2 ** 24)
    const low = id % 2 ** 24
    frame[at] = high >>> 16
    frame[at + 1] = (high >>> 8) & 0xff
    frame[at + 2] = high & 0xff
    frame[at + 3] = low >>> 16
    frame[at + 4] = (low >>> 8) & 0xff
    frame[at + 5] = low & 0xff
    return id
  }
  /** The counter of a reply's correlation id when it is one of this connection's requests, or -1. */
  const requestIdOf = (body: Uint8Array): number => {
    if (body.length < Package.headerLength) return -1
    for (let i = 0; i < idPrefixLength; i++) if (body[bodyIdOffset + i] !== idPrefix[i]) return -1
    const at = bodyIdOffset + idPrefixLength
    return ((body[at]! << 16) | (body[at + 1]! << 8) | body[at + 2]!) * 2 ** 24 +
      ((body[at + 3]! << 16) | (body[at + 4]! << 8) | body[at + 5]!)
  }
  const outbound = yield* Queue.unbounded<Uint8Array, Cause.Done>()
  let failure: ConnectionError | undefined
  let closedWaiters: Array<(error: ConnectionError) => void> = []

  // One timer per connection watches the requests' deadlines, armed for the earliest one known: a
  // timer per request cost more than the rest of a request's bookkeeping. Most requests share the same
  // timeout, so a new request rarely moves the timer; when it fires, it fails the requests that are
  // due and re-arms itself for the earliest deadline left.
  let sweepTimer: ReturnType<typeof setTimeout> | undefined
  let sweepAt = Infinity
  const armSweep = (deadline: number, now: number): void => {
    if (sweepTimer !== undefined) clearTimeout(sweepTimer)
    sweepAt = deadline
    sweepTimer = setTimeout(sweep, timerDelay(deadline - now))
  }
  const sweep = (): void => {
    sweepTimer = undefined
    sweepAt = Infinity
    const now = performance.now()
    let next = Infinity
    let expired: Array<PendingRequest<unknown, unknown>> | undefined
    for (const [id, request] of requests) {
      if (request.deadline <= now) {
        requests.delete(id)
        ;(expired ??= []).push(request)
      } else if (request.deadline < next) {
        next = request.deadline
      }
    }
    if (next !== Infinity && failure === undefined) armSweep(next, now)
    if (expired === undefined) return
    // Every due request leaves before a place is given to those waiting, so that none that is due is
    // sent.
    for (const request of expired) {
      if (request.waitingFrame !== undefined) request.waitingFrame = undefined
      else inFlight--
    }
    sendWaiting()
    // In deadline order, even when a late timer finds several due. Resumed last: a caller resumed here
    // may send its next request at once.
    if (expired.length > 1) expired.sort((a, b) => a.deadline - b.deadline)
    for (const request of expired) request.expire()
  }
  const stopSweeping = (): void => {
    if (sweepTimer !== undefined) clearTimeout(sweepTimer)
    sweepTimer = undefined
    sweepAt = Infinity
  }

  const die = (error: ConnectionError): void => {
    if (failure !== undefined) return
    failure = error
    stopSweeping()
    const conversations = [...pending.values()]
    const unanswered = [...requests.values()]
    pending.clear()
    requests.clear()
    inFlight = 0
    waiting = []
    waitingHead = 0
    for (const conversation of conversations) conversation.fail(error)
    for (const request of unanswered) request.fail(error)
    const waiters = closedWaiters
    closedWaiters = []
    for (const waiter of waiters) waiter(error)
  }

  const enqueue = (frame: Uint8Array): void => {
    Queue.offerUnsafe(outbound, frame)
  }

  /** Sends the requests waiting for a place, in order, while there are places. */
  const sendWaiting = (): void => {
    while (inFlight < maxInFlight && waitingHead < waiting.length) {
      const entry = waiting[waitingHead]!
      waiting[waitingHead++] = undefined
      const frame = entry.waitingFrame
      if (frame === undefined) continue
      entry.waitingFrame = undefined
      inFlight++
      enqueue(frame)
    }
    if (waitingHead === waiting.length) {
      if (waitingHead > 0) {
        waiting = []
        waitingHead = 0
      }
    } else if (waitingHead >= 1024 && waitingHead * 2 >= waiting.length) {
      // Under a backlog that never drains, the sent half is dropped from time to time, so that the
      // array holds no more than twice the requests still waiting.
      waiting = waiting.slice(waitingHead)
      waitingHead = 0
    }
  }

  /**
   * Forgets a one-shot request whose caller has gone. One still waiting for a place leaves at once and
   * is never sent. One already sent keeps its place until its reply or its deadline, since the server
   * works on it all the same, under a stand-in that resumes nobody.
   */
  const forget = (id: number, entry: PendingRequest<any, any>): void => {
    if (requests.get(id) !== entry) return
    if (entry.waitingFrame !== undefined) {
      requests.delete(id)
      entry.waitingFrame = undefined
    } else {
      requests.set(id, new Abandoned(entry.deadline))
    }
  }

  // --- reader -----------------------------------------------------------------------------------
  // The bytes go to `onRead`; what reaches the socket's stream is only its end or its failure, so a
  // pull that succeeds means bytes went past the frame reader.
  const reader = Effect.gen(function*() {
    yield* pull
    return yield* Effect.fail(connectionError("Closed", "the socket delivered bytes past its reader"))
  }).pipe(
    Effect.catch((error) =>
      Queue.fail(
        inbound,
        isTagged(error, "ConnectionError")
          ? error
          : connectionError(
            "Closed",
            isTagged(error.reason, "SocketCloseError") ? "the server closed the connection" : error.message,
            error
          )
      )
    )
  )

  // --- writer -----------------------------------------------------------------------------------
  const writerLoop = Effect.gen(function*() {
    while (true) {
      const frames = yield* Queue.takeAll(outbound)
      yield* writer.write(concat(frames))
    }
  }).pipe(
    Effect.catchTag("SocketError", (error) =>
      Queue.fail(inbound, connectionError("Closed", `writing to the socket failed: ${error.message}`, error))),
    // The outbound queue ends when the client closes the connection: everything queued has been written.
    Effect.catchTag("Done", () => Effect.void)
  )

  // --- heartbeats -------------------------------------------------------------------------------
  const heartbeats = Effect.gen(function*() {
    while (true) {
      const seen = received
      yield* Effect.sleep(settings.heartbeatInterval)
      if (received !== seen) continue
      const frame = Package.encodeFrame({ command: Command.HeartbeatRequest, correlationId: Guid.random() })
      if (Result.isSuccess(frame)) enqueue(frame.success)
      const sent = received
      yield* Effect.sleep(settings.heartbeatTimeout)
      if (received === sent) {
        return yield* Queue.fail(
          inbound,
          connectionError(
            "HeartbeatTimeout",
            `no answer to a heartbeat within ${Duration.format(settings.heartbeatTimeout)}`
          )
        )
      }
    }
  })

  // --- dispatcher -------------------------------------------------------------------------------
  let unknownReplies = 0
  const dispatch = (body: Uint8Array): ConnectionError | undefined => {
    const requestId = requestIdOf(body)
    if (requestId >= 0) {
      // A server never sends credentials; a reply that does is read past its auth block, as the .NET
      // client reads it, and one whose auth block cannot be read breaks the connection like any other
      // package whose header cannot be read.
      let withAuth: Package.InboundPackage | undefined
      if ((body[1]! & Package.Flags.Authenticated) !== 0) {
        const decoded = Package.decode(body, { bearerTokens: false })
        if (Result.isFailure(decoded)) return connectionError("ProtocolViolation", decoded.failure.message)
        withAuth = decoded.success
      }
      const request = requests.get(requestId)
      if (request === undefined) {
        unknownReplies++
        return undefined
      }
      requests.delete(requestId)
      // The reply frees its request's place: the first request waiting takes it.
      inFlight--
      sendWaiting()
      request.resume(withAuth === undefined ? request.decodeBody(body) : request.decode(withAuth))
      return undefined
    }
    const decoded = Package.decode(body, { bearerTokens: false })
    if (Result.isFailure(decoded)) return connectionError("ProtocolViolation", decoded.failure.message)
    const pkg = decoded.success
    switch (pkg.command) {
      case Command.HeartbeatRequest: {
        const frame = Package.encodeFrame({ command: Command.HeartbeatResponse, correlationId: pkg.correlationId })
        if (Result.isSuccess(frame)) enqueue(frame.success)
        return undefined
      }
      case Command.HeartbeatResponse:
        return undefined
      case Command.BadRequest:
        if (pkg.correlationId === Guid.empty) {
          const text = Package.decodeText(pkg.payload)
          return connectionError("ProtocolViolation", `the server rejected the connection: ${text}`)
        }
    }
    const conversation = pending.get(pkg.correlationId)
    if (conversation === undefined) {
      unknownReplies++
      return undefined
    }
    if (conversation.receive(pkg)) pending.delete(pkg.correlationId)
    return undefined
  }

  const dispatcher = Effect.gen(function*() {
    while (true) {
      const batches = yield* Queue.takeAll(inbound)
      let sinceFlush = 0
      for (let b = 0; b < batches.length; b++) {
        const frames = batches[b]!
        for (let f = 0; f < frames.length; f++) {
          const error = dispatch(frames[f]!)
          if (error !== undefined) return yield* Effect.fail(error)
          // Callers resumed by these replies queue their next requests; without a pause the writer
          // would send them only after the last reply of the read, and the server would sit idle
          // while the client works through it (and the other way round). Letting the writer go every
          // few replies keeps both sides busy at once, at the cost of a few more socket writes.
          if (++sinceFlush >= flushEvery && Queue.sizeUnsafe(outbound) >= flushEvery) {
            sinceFlush = 0
            yield* Effect.yieldNow
          }
        }
      }
      if (unknownReplies > 0) {
        yield* Effect.logDebug(`dropped ${unknownReplies} package(s) for correlation ids no longer waited for`)
        unknownReplies = 0
      }
    }
  }).pipe(
    Effect.catch((error) =>
      Effect.gen(function*() {
        const first = failure === undefined
        die(error)
        if (first) yield* Effect.logWarning(`connection lost: ${error.message}`)
        yield* Scope.close(socketScope, Exit.void)
      })
    )
  )

  yield* Effect.forkIn(reader, socketScope)
  const writerFiber = yield* Effect.forkIn(writerLoop, socketScope)
  yield* Effect.forkIn(heartbeats, socketScope)
  yield* Effect.forkIn(dispatcher, scope)

  yield* Scope.addFinalizer(
    callerScope,
    Effect.gen(function*() {
      die(connectionError("ClientClosed", "the connection's scope was closed"))
      // Let the writer flush what is already queued (acks, unsubscribes) before the socket goes.
      yield* Queue.end(outbound)
      yield* Effect.raceFirst(
        Effect.asVoid(Fiber.await(writerFiber)),
        Effect.sleep(settings.operationTimeout)
      )
      yield* Scope.close(scope, Exit.void)
    })
  )

  // --- requests ---------------------------------------------------------------------------------
  /**
   * Sends a one-shot request for `entry` and returns its id; -1 when it failed at once (a dead
   * connection, a frame that cannot be encoded).
   */
  const submit = <A, E>(request: Request, entry: PendingRequest<A, E>): number => {
    if (failure !== undefined) {
      entry.fail(failure)
      return -1
    }
    let frame: Uint8Array
    if (request.frame !== undefined && request.credentials === undefined) {
      // Written in place: the frame is sent once (see PendingRequest).
      frame = request.frame
      writeHeader(frame, request.command)
    } else {
      // The frame is encoded with a placeholder id, then given this connection's next request id.
      const encoded = encode(request, Guid.empty)
      if (Result.isFailure(encoded)) {
        entry.fail(encoded.failure)
        return -1
      }
      frame = encoded.success
    }
    const id = writeRequestId(frame)
    const now = performance.now()
    const deadline = entry.deadline = now + Duration.toMillis(entry.timeout)
    requests.set(id, entry)
    if (deadline < sweepAt) armSweep(deadline, now)
    if (inFlight < maxInFlight && waitingHead === waiting.length) {
      inFlight++
      enqueue(frame)
    } else {
      entry.waitingFrame = frame
      waiting.push(entry)
    }
    return id
  }

  const requestDecoded = <A, E>(
    request: Request,
    operation: string,
    timeout: Duration.Duration,
    decode: (pkg: Package.InboundPackage) => Exit.Exit<A, E>
  ): Effect.Effect<A, E | ConnectionError | Timeout | BadRequest> =>
    Effect.callback<A, E | ConnectionError | Timeout | BadRequest>((resume) => {
      const entry = new DecodedRequest<A, E>(resume, operation, timeout, decode)
      const id = submit(request, entry)
      if (id < 0) return
      // Interrupted, the caller forgets its request: never sent if it still waits for a place, its
      // reply dropped if it was sent.
      return Effect.sync(() => forget(id, entry))
    })

  const requestCallback = (
    request: Request,
    operation: string,
    timeout: Duration.Duration,
    settle: (exit: Exit.Exit<Package.InboundPackage, ConnectionError | Timeout>) => void
  ): Result.Result<InFlight, ConnectionError | BadRequest> => {
    // Once sent, the entry is failed only by the connection's death (a ConnectionError) or its
    // deadline (a Timeout): never by a BadRequest, which `submit` reports before the id is set.
    const entry = new CallbackRequest(
      settle as (exit: Exit.Exit<Package.InboundPackage, ConnectionError | Timeout | BadRequest>) => void,
      operation,
      timeout
    )
    const id = submit(request, entry)
    const early = entry.failedToSend
    if (early !== undefined) {
      if (id >= 0) forget(id, entry)
      return Result.fail(early)
    }
    entry.id = id
    entry.forget = forget
    return Result.succeed(entry)
  }

  const request = (
    request: Request,
    operation: string,
    timeout: Duration.Duration
  ): Effect.Effect<Package.InboundPackage, ConnectionError | Timeout | BadRequest> =>
    requestDecoded(request, operation, timeout, succeedWith)

  const startConversation = (conversation: Conversation): Result.Result<string, ConnectionError | BadRequest> => {
    if (failure !== undefined) return Result.fail(failure)
    const correlationId = Guid.random()
    const frame = encode(conversation.request, correlationId)
    if (Result.isFailure(frame)) return Result.fail(frame.failure)
    pending.set(correlationId, conversation)
    enqueue(frame.success)
    return Result.succeed(correlationId)
  }

  const send = (correlationId: string, request: Request): Result.Result<void, ConnectionError | BadRequest> => {
    if (failure !== undefined) return Result.fail(failure)
    const frame = encode(request, correlationId)
    if (Result.isFailure(frame)) return Result.fail(frame.failure)
    enqueue(frame.success)
    return Result.void
  }

  const closed: Effect.Effect<ConnectionError> = Effect.callback<ConnectionError>((resume) => {
    if (failure !== undefined) return resume(Effect.succeed(failure))
    const waiter = (error: ConnectionError) => resume(Effect.succeed(error))
    closedWaiters.push(waiter)
    return Effect.sync(() => {
      closedWaiters = closedWaiters.filter((w) => w !== waiter)
    })
  })

  const connection: Connection = {
    host,
    port,
    request,
    requestDecoded,
    submit,
    forget,
    requestCallback,
    startConversation,
    send,
    endConversation: (correlationId) => {
      pending.delete(correlationId)
    },
    failure: () => failure,
    closed
  }

  // --- handshake --------------------------------------------------------------------------------
  const handshake = (req: Request, step: string, expected: number) =>
    request(req, step, settings.operationTimeout).pipe(
      Effect.catchTags({
        Timeout: () =>
          Effect.fail(
            connectionError("HandshakeTimeout", `no reply to ${step} within ${Duration.format(settings.operationTimeout)}`)
          ),
        BadRequest: (error) => Effect.fail(connectionError("ProtocolViolation", error.reason))
      }),
      Effect.flatMap((reply) => {
        if (reply.command === expected) return Effect.void
        if (reply.command === Command.NotAuthenticated) {
          const text = Package.decodeText(reply.payload)
          return Effect.fail(
            connectionError(
              "AuthenticationFailed",
              `the server refused the credentials of user "${settings.credentials?.username ?? ""}"${
                text === "" ? "" : `: ${text}`
              }`
            )
          )
        }
        return Effect.fail(
          connectionError("ProtocolViolation", `${step} was answered with ${CommandModule.name(reply.command)}`)
        )
      })
    )

  const handshakes = Effect.gen(function*() {
    if (settings.credentials !== undefined) {
      yield* handshake(
        { command: Command.Authenticate, payload: emptyPayload, credentials: settings.credentials },
        "Authenticate",
        Command.Authenticated
      )
    }
    const identify = Messages.encode(
      Messages.IdentifyClientSchema,
      create(Messages.IdentifyClientSchema, { version: 1, connectionName: settings.connectionName })
    )
    if (Result.isFailure(identify)) {
      return yield* Effect.fail(connectionError("ProtocolViolation", identify.failure.message))
    }
    yield* handshake(
      { command: Command.IdentifyClient, payload: identify.success, credentials: undefined },
      "IdentifyClient",
      Command.ClientIdentified
    )
  })
  yield* handshakes.pipe(
    Effect.onError(() =>
      Effect.suspend(() => {
        die(connectionError("ClientClosed", "the handshake failed"))
        return Scope.close(scope, Exit.void)
      })
    )
  )
  yield* Effect.logDebug(`connected to ${host}:${port} as ${settings.connectionName}`)
  return connection
})
