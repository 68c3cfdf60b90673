/**
 * The ceiling: the same requests as the clients send, encoded with `@photonpump/protocol` before the
 * clock starts, written over a plain `net.Socket` with `window` of them in flight. Replies are not
 * decoded: only their headers are looked at (command and correlation id), so what this measures is
 * what the server and the socket allow, and a client's distance from it is the client's own cost.
 *
 * Every request's correlation id carries its index in its last six bytes, so a reply finds its send
 * time without a map. Replies land in one buffer per connection, reused for every read (Node's
 * `onread`), so that reading costs no allocation: Node's `data` events hand over a new buffer per
 * read, and on this machine fresh memory costs page faults that made the ceiling itself run at two
 * speeds (bench/NOTES.md, phase 6). Frames are laid out back to back in one buffer in the order they
 * are sent, so the frames a burst of replies makes room for leave in one `write` of a slice, without a
 * copy.
 *
 * Windows: appends keep `concurrency` requests in flight, like the clients; reads keep 32 pages in
 * flight (`readWindow`), so that what they measure is the server's own pace, and catch-up eight of its
 * larger pages (`catchUpWindow`). A second contender (`onePageImplementations`) reads with one page
 * in flight: the reference for readers that wait for each page.
 *
 * @since 0.1.0
 */
import { randomFillSync, randomUUID } from "node:crypto"
import * as Net from "node:net"
import { performance } from "node:perf_hooks"
import { create } from "@bufbuild/protobuf"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { Command as CommandModule, Frame, Messages, Package } from "@photonpump/protocol"
import type { Implementation, Implementations } from "../Contender.ts"
import * as Events from "../Events.ts"
import { LatencyRecorder, type RunContext, TimedSection } from "../Measurement.ts"
import {
  type AllReadParams,
  type LiveLatencyParams,
  type PersistentParams,
  type Seed,
  type StreamReadParams
} from "../Workload.ts"

const Command = CommandModule.Command

/** Offset, in a frame, of the last six bytes of the correlation id (prefix 4, command 1, flags 1, id 10..15). */
const indexOffset = Frame.prefixLength + 2 + 10
/** A frame's length prefix and package header: all that is read of a reply. */
const headerBytes = Frame.prefixLength + Package.headerLength

const correlationIdOf = (index: number): string => `00000000-0000-4000-8000-${index.toString(16).padStart(12, "0")}`

const unwrap = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) throw new Error(String(result.failure))
  return result.success
}

const admin: Package.Credentials = { login: "admin", password: Redacted.make("changeit") }

const encodeFrame = (command: number, index: number, payload: Uint8Array, credentials?: Package.Credentials) =>
  unwrap(Package.encodeFrame({ command, correlationId: correlationIdOf(index), payload, credentials }))

/**
 * Requests encoded back to back: request `i` is `bytes[starts[i]..starts[i+1])`.
 */
interface Encoded {
  readonly bytes: Buffer
  readonly starts: Uint32Array
  readonly count: number
}

const layOut = (frames: ReadonlyArray<Uint8Array>): Encoded => {
  const starts = new Uint32Array(frames.length + 1)
  let length = 0
  for (let i = 0; i < frames.length; i++) {
    starts[i] = length
    length += frames[i]!.length
  }
  starts[frames.length] = length
  const bytes = Buffer.allocUnsafe(length)
  for (let i = 0; i < frames.length; i++) bytes.set(frames[i]!, starts[i]!)
  return { bytes, starts, count: frames.length }
}

/** The size of the buffer every read of a connection lands in: Node's default read size. */
const readBufferBytes = 64 * 1024

/**
 * A connection that does the handshake and the untimed discovery with decoded packages, one request at
 * a time, and then pipelines pre-encoded requests while reading nothing but reply headers.
 *
 * `onData` gets a view of the connection's one read buffer, valid only until it returns: the pipeline
 * keeps nothing of it; `ask` and `converse`, whose parsers keep frames, copy each chunk first.
 */
class RawConnection {
  private readonly socket: Net.Socket
  private onData: (chunk: Buffer) => void = () => {}
  private failure: Error | undefined
  private failed: (error: Error) => void = () => {}

  private constructor(context: RunContext) {
    const readBuffer = Buffer.allocUnsafe(readBufferBytes)
    const socket = this.socket = Net.connect({
      host: context.host,
      port: context.port,
      onread: {
        buffer: readBuffer,
        callback: (length) => {
          this.onData(readBuffer.subarray(0, length))
          return true
        }
      }
    })
    socket.setNoDelay(true)
    const fail = (error: Error) => {
      this.failure ??= error
      this.failed(this.failure)
    }
    socket.on("error", fail)
    socket.on("close", () => fail(new Error("the server closed the connection")))
  }

  static async open(context: RunContext): Promise<RawConnection> {
    const connection = new RawConnection(context)
    await new Promise<void>((resolve, reject) => {
      if (connection.failure !== undefined) return reject(connection.failure)
      connection.socket.once("connect", resolve)
      connection.failed = reject
    })
    connection.failed = () => {}
    // Authenticated once, as photonpump does: requests then carry no credentials.
    const authenticated = await connection.ask(Command.Authenticate, new Uint8Array(0), admin)
    if (authenticated.command !== Command.Authenticated) throw new Error("the server refused admin")
    const identify = unwrap(Messages.encode(
      Messages.IdentifyClientSchema,
      create(Messages.IdentifyClientSchema, { version: 1, connectionName: "bench-raw-socket" })
    ))
    const identified = await connection.ask(Command.IdentifyClient, identify)
    if (identified.command !== Command.ClientIdentified) throw new Error("the server did not identify the client")
    return connection
  }

  /** Sends one request and waits for its reply, decoded. */
  ask(command: number, payload: Uint8Array, credentials?: Package.Credentials): Promise<Package.InboundPackage> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure)
      this.failed = reject
      const parser = Frame.makeParser()
      this.onData = (chunk) => {
        for (const body of unwrap(parser.push(Buffer.from(chunk)))) {
          const pkg = unwrap(Package.decode(body))
          if (pkg.command === Command.HeartbeatRequest) {
            this.socket.write(encodeFrame(Command.HeartbeatResponse, 0, new Uint8Array(0)))
            continue
          }
          return resolve(pkg)
        }
      }
      this.socket.write(encodeFrame(command, 0, payload, credentials))
    })
  }

  /**
   * Sends every request of `encoded`, at most `window` unanswered at a time, and resolves when all are
   * answered with `replyCommand`. Each chunk received reads the headers it completes, then writes the
   * frames they make room for in one write.
   */
  pipeline(encoded: Encoded, window: number, replyCommand: number, latencies?: LatencyRecorder): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure)
      this.failed = reject
      const sentAt = new Float64Array(encoded.count)
      const header = Buffer.alloc(headerBytes)
      let headerFilled = 0
      let skip = 0
      let sent = 0
      let answered = 0
      let failure: Error | undefined

      const sendUpTo = (limit: number) => {
        if (limit <= sent) return
        const now = performance.now()
        for (let i = sent; i < limit; i++) sentAt[i] = now
        this.socket.write(encoded.bytes.subarray(encoded.starts[sent]!, encoded.starts[limit]!))
        sent = limit
      }

      const onHeader = (bytes: Buffer, at: number) => {
        const command = bytes[at + Frame.prefixLength]!
        skip = bytes.readUInt32LE(at) - Package.headerLength
        if (command === Command.HeartbeatRequest) {
          const reply = Buffer.from(bytes.subarray(at, at + headerBytes))
          reply.writeUInt32LE(Package.headerLength, 0)
          reply[Frame.prefixLength] = Command.HeartbeatResponse
          reply[Frame.prefixLength + 1] = 0
          this.socket.write(reply)
          return
        }
        if (command !== replyCommand) {
          failure ??= new Error(`expected ${CommandModule.name(replyCommand)}, got ${CommandModule.name(command)}`)
          return
        }
        const index = bytes.readUIntBE(at + indexOffset, 6)
        if (latencies !== undefined) latencies.record(performance.now() - sentAt[index]!)
        answered++
      }

      this.onData = (chunk) => {
        let offset = 0
        const end = chunk.length
        while (offset < end) {
          if (skip > 0) {
            const take = Math.min(skip, end - offset)
            skip -= take
            offset += take
          } else if (headerFilled === 0 && end - offset >= headerBytes) {
            onHeader(chunk, offset)
            offset += headerBytes
          } else {
            const take = Math.min(headerBytes - headerFilled, end - offset)
            chunk.copy(header, headerFilled, offset, offset + take)
            headerFilled += take
            offset += take
            if (headerFilled === headerBytes) {
              headerFilled = 0
              onHeader(header, 0)
            }
          }
        }
        if (failure !== undefined) return reject(failure)
        // Done once the last reply is in whole: its body may still be on its way after its header.
        if (answered === encoded.count) {
          if (skip === 0 && headerFilled === 0) resolve()
          return
        }
        sendUpTo(Math.min(encoded.count, answered + window))
      }
      sendUpTo(Math.min(encoded.count, window))
    })
  }

  /**
   * Hands every frame received to `onFrame` (command, then the frame's body from the package header
   * on), answering heartbeats, until `onFrame` settles the promise through `done` or `fail`; `start`
   * runs once the handler is in place, to send the first request.
   */
  converse(
    onFrame: (command: number, body: Uint8Array, done: () => void, fail: (error: Error) => void) => void,
    start: () => void
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure)
      this.failed = reject
      const parser = Frame.makeParser()
      let settled = false
      const done = () => {
        settled = true
        resolve()
      }
      const fail = (error: Error) => {
        settled = true
        reject(error)
      }
      this.onData = (chunk) => {
        for (const body of unwrap(parser.push(Buffer.from(chunk)))) {
          if (settled) return
          const command = body[0]!
          if (command === Command.HeartbeatRequest) {
            this.socket.write(encodeFrame(Command.HeartbeatResponse, 0, new Uint8Array(0)))
            continue
          }
          onFrame(command, body, done, fail)
        }
      }
      start()
    })
  }

  /** Writes bytes as they are. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.failed = () => {}
      this.socket.once("close", () => resolve())
      this.socket.end()
    })
  }
}

const withConnection = async <A>(context: RunContext, body: (connection: RawConnection) => Promise<A>): Promise<A> => {
  const connection = await RawConnection.open(context)
  try {
    return await body(connection)
  } finally {
    await connection.close()
  }
}

/** Random event ids, drawn 4,096 at a time: one `randomFillSync` per id costs more than encoding the event. */
let ids = new Uint8Array(0)
let idsUsed = 0
const eventId = (): Uint8Array => {
  if (idsUsed === ids.length) {
    ids = randomFillSync(new Uint8Array(16 * 4_096))
    idsUsed = 0
  }
  idsUsed += 16
  return ids.subarray(idsUsed - 16, idsUsed)
}

/** `count` WriteEvents requests of `eventsPerOperation` events each, the first numbered `first`. */
const encodeWrites = (stream: string, eventsPerOperation: number, first: number, count: number): Encoded => {
  const frames: Array<Uint8Array> = []
  let sequence = first * eventsPerOperation
  for (let i = 0; i < count; i++) {
    const payload = unwrap(Messages.encode(
      Messages.WriteEventsSchema,
      create(Messages.WriteEventsSchema, {
        eventStreamId: stream,
        expectedVersion: -2n,
        requireLeader: true,
        events: Array.from({ length: eventsPerOperation }, () => ({
          eventId: eventId(),
          eventType: Events.eventType,
          dataContentType: 1,
          metadataContentType: 0,
          data: Events.bodyBytes(sequence++)
        }))
      })
    ))
    frames.push(encodeFrame(Command.WriteEvents, i, payload))
  }
  return layOut(frames)
}

/**
 * Pages in flight on the ceiling's reads: deep enough that the server always has the next request
 * waiting and answers a burst of them with one write. With 2, as until phase 7, the ceiling read at
 * about half the server's pace (1.6–1.9M against 3.0–4.9M events per second with 32: bench/NOTES.md,
 * phase 7).
 */
const readWindow = 32

/**
 * Pages in flight on the ceiling's catch-up (pages of 500, ~1.1 MB of replies for a burst of eight):
 * 2 read 1.7–2.7M events per second, 8 read 2.9–3.4M, 32 (4.5 MB bursts) 0.8–1.2M (bench/NOTES.md,
 * phase 7).
 */
const catchUpWindow = 8

const encodeStreamReads = (stream: string, events: number, pageSize: number): Encoded => {
  const frames: Array<Uint8Array> = []
  for (let from = 0, i = 0; from < events; from += pageSize, i++) {
    const payload = unwrap(Messages.encode(
      Messages.ReadStreamEventsSchema,
      create(Messages.ReadStreamEventsSchema, {
        eventStreamId: stream,
        fromEventNumber: BigInt(from),
        maxCount: pageSize,
        resolveLinkTos: true,
        requireLeader: true
      })
    ))
    frames.push(encodeFrame(Command.ReadStreamEventsForward, i, payload))
  }
  return layOut(frames)
}

const readAllPayload = (commit: bigint, prepare: bigint, pageSize: number): Uint8Array =>
  unwrap(Messages.encode(
    Messages.ReadAllEventsSchema,
    create(Messages.ReadAllEventsSchema, {
      commitPosition: commit,
      preparePosition: prepare,
      maxCount: pageSize,
      resolveLinkTos: false,
      requireLeader: true
    })
  ))

const encodeMessage = <Desc extends Parameters<typeof Messages.encode>[0]>(
  schema: Desc,
  value: Parameters<typeof create<Desc>>[1]
): Uint8Array => unwrap(Messages.encode(schema, create(schema, value)))

/**
 * Live latency over one socket: SubscribeToStream, then each pre-encoded WriteEvents once the one
 * before is both confirmed (WriteEventsCompleted) and delivered (StreamEventAppeared); a sample is
 * WriteEvents sent → StreamEventAppeared received.
 */
const liveLatency = (params: LiveLatencyParams, context: RunContext) =>
  withConnection(context, async (connection) => {
    const stream = `bench-live-${randomUUID()}`
    const subscribe = encodeFrame(
      Command.SubscribeToStream,
      0,
      encodeMessage(Messages.SubscribeToStreamSchema, { eventStreamId: stream, resolveLinkTos: false })
    )
    const writes = encodeWrites(stream, 1, 0, params.warmupEvents + params.events)
    await connection.converse((command, _, done, fail) => {
      if (command === Command.SubscriptionConfirmation) done()
      else fail(new Error(`expected SubscriptionConfirmation, got ${CommandModule.name(command)}`))
    }, () => connection.write(subscribe))
    const latencies = new LatencyRecorder(params.events)
    let next = 0
    const oneByOne = (events: number) => {
      const last = next + events
      let sentAt = 0
      let appearedAt = 0
      let confirmed = false
      const send = () => {
        confirmed = false
        appearedAt = 0
        sentAt = performance.now()
        connection.write(writes.bytes.subarray(writes.starts[next]!, writes.starts[next + 1]!))
        next++
      }
      return connection.converse((command, _, done, fail) => {
        if (command === Command.StreamEventAppeared) appearedAt = performance.now()
        else if (command === Command.WriteEventsCompleted) confirmed = true
        else return fail(new Error(`unexpected ${CommandModule.name(command)}`))
        if (!confirmed || appearedAt === 0) return
        latencies.record(appearedAt - sentAt)
        if (next === last) done()
        else send()
      }, send)
    }
    await oneByOne(params.warmupEvents)
    latencies.reset()
    const section = new TimedSection(context)
    await section.begin()
    await oneByOne(params.events)
    return section.end({ events: params.events, requests: params.events, latency: latencies.summary() })
  })

/** Reads a protobuf varint at `at`: its value (below 2^53 for every length and field here) and its end. */
const readVarint = (bytes: Uint8Array, at: number): [value: number, end: number] => {
  let value = 0
  let scale = 1
  while (true) {
    const byte = bytes[at++]!
    value += (byte & 0x7f) * scale
    if (byte < 0x80) return [value, at]
    scale *= 128
  }
}

/**
 * The offset of the event id in a PersistentSubscriptionStreamEventAppeared payload, found without
 * decoding the rest: field 1 (ResolvedIndexedEvent) → its field 1 (EventRecord) → its field 3 (bytes).
 */
const eventIdOffset = (payload: Uint8Array, from: number): number => {
  let at = from
  for (let depth = 0; depth < 2; depth++) {
    // Field 1, length-delimited, comes first at both levels: skip its tag and length.
    if (payload[at] !== 0x0a) throw new Error("unexpected PersistentSubscriptionStreamEventAppeared layout")
    at = readVarint(payload, at + 1)[1]
  }
  while (true) {
    const [tag, afterTag] = readVarint(payload, at)
    const field = tag >>> 3
    const wire = tag & 7
    if (field === 3 && wire === 2) return afterTag + 1 // a 16-byte id: its length is one byte
    if (wire === 0) at = readVarint(payload, afterTag)[1]
    else if (wire === 2) {
      const [length, afterLength] = readVarint(payload, afterTag)
      at = afterLength + length
    } else throw new Error(`unexpected wire type ${wire} in EventRecord`)
  }
}

/** The group settings photonpump's defaults give (those of the .NET client), starting from event 0. */
const createGroup = (stream: string, group: string): Uint8Array =>
  encodeMessage(Messages.CreatePersistentSubscriptionSchema, {
    subscriptionGroupName: group,
    eventStreamId: stream,
    resolveLinkTos: false,
    startFrom: 0n,
    messageTimeoutMilliseconds: 30_000,
    recordStatistics: false,
    liveBufferSize: 500,
    readBatchSize: 20,
    bufferSize: 500,
    maxRetryCount: 10,
    preferRoundRobin: true,
    checkpointAfterTime: 2_000,
    checkpointMaxCount: 1_000,
    checkpointMinCount: 10,
    subscriberMaxCount: 0,
    namedConsumerStrategy: "RoundRobin"
  })

/** Index of the connect's correlation id; acks reuse it, the closing ping has its own. */
const connectIndex = 1
const pingIndex = 2

/**
 * Consumes `count` events of a group: the pre-encoded connect, then one ack frame (hand-encoded: the
 * subscription id, then each 16-byte id) per burst of events received, then a Ping once the last is
 * acked; done when the Pong comes back.
 */
const consumeGroup = (connection: RawConnection, stream: string, group: string, count: number, bufferSize: number) => {
  const connect = encodeFrame(
    Command.ConnectToPersistentSubscription,
    connectIndex,
    encodeMessage(Messages.ConnectToPersistentSubscriptionSchema, {
      subscriptionId: group,
      eventStreamId: stream,
      allowedInFlightMessages: bufferSize
    })
  )
  const ping = encodeFrame(Command.Ping, pingIndex, new Uint8Array(0))
  const ackHeader = encodeFrame(Command.PersistentSubscriptionAckEvents, connectIndex, new Uint8Array(0))
  const subscriptionId = Buffer.from(`${stream}::${group}`)
  const idField = Buffer.concat([Buffer.from([0x0a, subscriptionId.length]), subscriptionId])
  if (subscriptionId.length > 127) throw new Error("subscription id too long for a one-byte length")
  const ids: Array<Uint8Array> = []
  let events = 0
  const flushAcks = () => {
    if (ids.length === 0) return
    const frame = Buffer.allocUnsafe(ackHeader.length + idField.length + ids.length * 18)
    frame.set(ackHeader, 0)
    frame.writeUInt32LE(frame.length - Frame.prefixLength, 0)
    frame.set(idField, ackHeader.length)
    let at = ackHeader.length + idField.length
    for (const id of ids) {
      frame[at] = 0x12
      frame[at + 1] = 16
      frame.set(id, at + 2)
      at += 18
    }
    ids.length = 0
    connection.write(frame)
  }
  let scheduled = false
  return connection.converse((command, body, done, fail) => {
    switch (command) {
      case Command.PersistentSubscriptionConfirmation:
      // The warm-up's leaving the group, answered here.
      case Command.SubscriptionDropped:
        return
      case Command.PersistentSubscriptionStreamEventAppeared: {
        const at = eventIdOffset(body, Package.headerLength)
        ids.push(body.subarray(at, at + 16))
        events++
        if (events === count) {
          flushAcks()
          connection.write(ping)
        } else if (!scheduled) {
          // The acks of one burst of events (one socket read) go in one frame.
          scheduled = true
          setImmediate(() => {
            scheduled = false
            flushAcks()
          })
        }
        return
      }
      case Command.Pong:
        return done()
      default:
        return fail(new Error(`unexpected ${CommandModule.name(command)}`))
    }
  }, () => connection.write(connect)).then(() => ({ events, requests: events }))
}

/**
 * A persistent subscription over one socket: groups created untimed (decoded replies), then the
 * warm-up group and the timed one consumed by `consumeGroup`, each followed by leaving the group.
 */
const persistent = (params: PersistentParams, context: RunContext) =>
  withConnection(context, async (connection) => {
    for (const seed of [params.warmup, params]) {
      const reply = await connection.ask(Command.CreatePersistentSubscription, createGroup(seed.stream, params.group))
      if (reply.command !== Command.CreatePersistentSubscriptionCompleted) {
        throw new Error(`creating ${params.group}: ${CommandModule.name(reply.command)}`)
      }
    }
    await consumeGroup(connection, params.warmup.stream, params.group, params.warmup.events, params.bufferSize)
    connection.write(encodeFrame(Command.UnsubscribeFromStream, connectIndex, new Uint8Array(0)))
    const section = new TimedSection(context)
    await section.begin()
    const counted = await consumeGroup(connection, params.stream, params.group, params.events, params.bufferSize)
    const measurement = await section.end(counted)
    if (counted.events !== params.events) throw new Error(`${params.stream}: ${counted.events} events, expected ${params.events}`)
    return measurement
  })

/**
 * Sends the `warmup` requests `warmupPasses` times, then, timed, the `frames`, `window` in flight, each
 * answered with `replyCommand`: the shape of every read measurement.
 */
const warmThenTime = async (
  connection: RawConnection,
  context: RunContext,
  warmup: Encoded,
  warmupPasses: number,
  frames: Encoded,
  window: number,
  replyCommand: number,
  events: number
) => {
  for (let pass = 0; pass < warmupPasses; pass++) await connection.pipeline(warmup, window, replyCommand)
  const section = new TimedSection(context)
  await section.begin()
  await connection.pipeline(frames, window, replyCommand)
  return section.end({ events, requests: frames.count })
}

/**
 * Reads the `warmup` stream `warmupPasses` times, then (timed) the first `events` events of `stream`,
 * page by page, `window` pages in flight: the requests (one per page, each starting where the page
 * before it ends in a stream without gaps) encoded before the clock starts.
 */
const readPages = (
  context: RunContext,
  read: { readonly stream: string; readonly events: number; readonly warmup: Seed },
  warmupPasses: number,
  pageSize: number,
  window: number
) =>
  withConnection(context, (connection) =>
    warmThenTime(
      connection,
      context,
      encodeStreamReads(read.warmup.stream, read.warmup.events, pageSize),
      warmupPasses,
      encodeStreamReads(read.stream, read.events, pageSize),
      window,
      Command.ReadStreamEventsForwardCompleted,
      read.events
    ))

/** A stream read (`iter` or `get`'s pages alike: the same requests), `window` pages in flight. */
const streamRead = (window: number): Implementation<StreamReadParams> => (params, context) =>
  readPages(context, params, params.warmupPasses, params.pageSize, window)

/**
 * Reads the first events of `$all` page by page, `window` pages in flight. Where a `$all` page starts
 * is only known from the page before it, so every page is read once, one at a time, before the clock
 * starts, to encode the requests; then the warm-up, `warmupPasses` times, as the clients'.
 */
const allRead = (window: number): Implementation<AllReadParams> => (params, context) =>
  withConnection(context, async (connection) => {
    const payloads: Array<Uint8Array> = []
    let commit = 0n
    let prepare = 0n
    for (let read = 0; read < params.events;) {
      const payload = readAllPayload(commit, prepare, params.pageSize)
      payloads.push(payload)
      const reply = await connection.ask(Command.ReadAllEventsForward, payload)
      const page = unwrap(Messages.decode(Messages.ReadAllEventsCompletedSchema, reply.payload))
      if (page.events.length === 0) throw new Error(`$all holds only ${read} events`)
      read += page.events.length
      commit = page.nextCommitPosition
      prepare = page.nextPreparePosition
    }
    const encoded = payloads.map((payload, i) => encodeFrame(Command.ReadAllEventsForward, i, payload))
    return warmThenTime(
      connection,
      context,
      layOut(encoded.slice(0, Math.ceil(params.warmupEvents / params.pageSize))),
      params.warmupPasses,
      layOut(encoded),
      window,
      Command.ReadAllEventsForwardCompleted,
      params.events
    )
  })

/**
 * The raw socket's implementations.
 *
 * @since 0.1.0
 * @category contenders
 */
export const implementations: Implementations = {
  appends: (params, context) =>
    withConnection(context, async (connection) => {
      const stream = `bench-appends-${randomUUID()}`
      const warmup = params.warmupOperations
      const warmupFrames = encodeWrites(stream, params.eventsPerOperation, 0, warmup)
      const frames = encodeWrites(stream, params.eventsPerOperation, warmup, params.operations)
      await connection.pipeline(warmupFrames, params.concurrency, Command.WriteEventsCompleted)
      const latencies = new LatencyRecorder(params.operations)
      const section = new TimedSection(context)
      await section.begin()
      await connection.pipeline(frames, params.concurrency, Command.WriteEventsCompleted, latencies)
      const measurement = await section.end({
        events: params.operations * params.eventsPerOperation,
        requests: params.operations,
        latency: latencies.summary()
      })
      const written = await context.lastEventNumber(stream)
      const expected = (warmup + params.operations) * params.eventsPerOperation - 1
      if (written !== expected) throw new Error(`${stream}: last event ${written}, expected ${expected}`)
      return measurement
    }),

  streamRead: streamRead(readWindow),

  // No catch-up on a raw socket: the same pages of history, pipelined, are the ceiling of any catch-up.
  catchUp: (params, context) => readPages(context, params, 1, params.readBatchSize, catchUpWindow),

  liveLatency,

  persistent,

  allRead: allRead(readWindow)
}

/**
 * The raw socket reading with one page in flight: each request written only once the reply before it
 * has arrived, as a reader that waits for every page must (`get`, which returns one page per call, and
 * `iterAll`, which learns where a `$all` page starts from the page before it). Requests are still
 * encoded before the clock starts and replies still not decoded, so this is what such a reader could
 * reach if it cost nothing: a reference for those two reads, beside the ceiling (`implementations`,
 * 32 pages in flight) that issue 5's targets use.
 *
 * @since 0.1.0
 * @category contenders
 */
export const onePageImplementations: Implementations = {
  streamRead: streamRead(1),
  allRead: allRead(1)
}
