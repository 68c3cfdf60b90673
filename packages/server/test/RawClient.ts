/**
 * A raw TCP client for the server's tests, built on `node:net` and `@photonpump/protocol` only: it sends
 * packages (or any bytes) and waits for packages by correlation id or command, so that every test sees
 * exactly what the server puts on the wire.
 */
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf"
import { Command, Frame, Guid, Messages, Package } from "@photonpump/protocol"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"

export const C = Command.Command

export interface Credentials {
  readonly login: string
  readonly password: string
}

export interface SendOptions {
  readonly correlationId?: string
  readonly credentials?: Credentials
}

export class RawClient {
  readonly socket: Net.Socket
  /** Packages received and not yet taken. */
  readonly inbox: Array<Package.InboundPackage> = []
  #listeners = new Set<() => void>()
  #closed = false
  #closeListeners = new Set<() => void>()
  #parser = Frame.makeParser()

  constructor(socket: Net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      const frames = this.#parser.push(chunk)
      if (Result.isFailure(frames)) throw new Error(`The server sent a bad frame: ${frames.failure.message}`)
      for (const body of frames.success) {
        const pkg = Package.decode(body)
        if (Result.isFailure(pkg)) throw new Error(`The server sent a bad package: ${pkg.failure.message}`)
        // Copy the payload out of the socket's chunk, which node may reuse.
        this.inbox.push({ ...pkg.success, payload: pkg.success.payload.slice() })
      }
      for (const listener of Array.from(this.#listeners)) listener()
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      this.#closed = true
      for (const listener of Array.from(this.#listeners)) listener()
      for (const listener of Array.from(this.#closeListeners)) listener()
    })
  }

  get isClosed(): boolean {
    return this.#closed
  }

  /** Sends a package; returns its correlation id. */
  send(command: number, payload?: Uint8Array, options?: SendOptions): string {
    const correlationId = options?.correlationId ?? Guid.random()
    const credentials = options?.credentials === undefined
      ? undefined
      : { login: options.credentials.login, password: Redacted.make(options.credentials.password) }
    const frame = Package.encodeFrame({ command, correlationId, payload, credentials })
    this.socket.write(Result.getOrThrow(frame))
    return correlationId
  }

  /** Sends a message of the given schema; returns its correlation id. */
  sendMessage<Desc extends DescMessage>(
    command: number,
    schema: Desc,
    init: MessageInitShape<Desc>,
    options?: SendOptions
  ): string {
    return this.send(command, Result.getOrThrow(Messages.encode(schema, create(schema, init))), options)
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** Takes the first received package that satisfies the predicate, waiting up to `timeout` ms for it. */
  take(
    predicate: (pkg: Package.InboundPackage) => boolean,
    timeout = 10_000
  ): Effect.Effect<Package.InboundPackage, Error> {
    return Effect.callback<Package.InboundPackage, Error>((resume) => {
      const check = () => {
        const index = this.inbox.findIndex(predicate)
        if (index >= 0) {
          cleanup()
          resume(Effect.succeed(this.inbox.splice(index, 1)[0]!))
        } else if (this.#closed) {
          cleanup()
          resume(Effect.fail(new Error("The connection closed before the expected package arrived")))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        resume(Effect.fail(new Error(`No expected package within ${timeout} ms`)))
      }, timeout)
      const cleanup = () => {
        clearTimeout(timer)
        this.#listeners.delete(check)
      }
      this.#listeners.add(check)
      check()
      return Effect.sync(cleanup)
    })
  }

  /** The reply to a correlation id. */
  reply(correlationId: string, timeout?: number): Effect.Effect<Package.InboundPackage, Error> {
    return this.take((pkg) => pkg.correlationId === correlationId, timeout)
  }

  /** Sends a message and decodes the reply, checking its command. */
  request<Req extends DescMessage, Rep extends DescMessage>(
    command: number,
    schema: Req,
    init: MessageInitShape<Req>,
    replyCommand: number,
    replySchema: Rep,
    options?: SendOptions
  ): Effect.Effect<MessageShape<Rep>, Error> {
    const correlationId = this.sendMessage(command, schema, init, options)
    return this.reply(correlationId).pipe(
      Effect.flatMap((pkg) =>
        pkg.command === replyCommand
          ? Effect.succeed(Result.getOrThrow(Messages.decode(replySchema, pkg.payload)))
          : Effect.fail(
            new Error(
              `Expected ${Command.name(replyCommand)}, got ${Command.name(pkg.command)}: ${
                Package.decodeText(pkg.payload)
              }`
            )
          )
      )
    )
  }

  /** Waits until the server closes the connection. */
  closed(timeout = 10_000): Effect.Effect<void, Error> {
    return Effect.callback<void, Error>((resume) => {
      if (this.#closed) return resume(Effect.void)
      const timer = setTimeout(() => {
        this.#closeListeners.delete(done)
        resume(Effect.fail(new Error(`The connection was still open after ${timeout} ms`)))
      }, timeout)
      const done = () => {
        clearTimeout(timer)
        resume(Effect.void)
      }
      this.#closeListeners.add(done)
      return Effect.sync(() => {
        clearTimeout(timer)
        this.#closeListeners.delete(done)
      })
    })
  }
}

/** Connects a raw client, closed with the scope. */
export const connect = (
  port: number,
  host = "127.0.0.1"
): Effect.Effect<RawClient, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<RawClient, Error>((resume) => {
      const socket = Net.connect({ port, host, noDelay: true })
      socket.once("connect", () => resume(Effect.succeed(new RawClient(socket))))
      socket.once("error", (error) => resume(Effect.fail(error)))
    }),
    (client) => Effect.sync(() => client.socket.destroy())
  )

/**
 * Identifies the client with IdentifyClient, as clients since 4.0 do: without it, a client is V1 and
 * gets the event number 2^63-1 as 2^31-1 (docs/protocol.md 4.1).
 */
export const identify = (client: RawClient, version = 1) =>
  client.request(
    C.IdentifyClient,
    Messages.IdentifyClientSchema,
    { version, connectionName: "raw-client" },
    C.ClientIdentified,
    Messages.ClientIdentifiedSchema
  )

/** Connects a raw client and identifies it as a V2 client (see `identify`), closed with the scope. */
export const connectIdentified = (port: number, host = "127.0.0.1") =>
  Effect.tap(connect(port, host), (client) => identify(client))

export const admin: Credentials = { login: "admin", password: "changeit" }

/** The settings of a persistent subscription group, as the tests create it: the server's defaults, then `overrides`. */
export const persistentSettings = (
  stream: string,
  group: string,
  overrides: Partial<MessageInitShape<typeof Messages.CreatePersistentSubscriptionSchema>> = {}
): MessageInitShape<typeof Messages.CreatePersistentSubscriptionSchema> => ({
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
  namedConsumerStrategy: "RoundRobin",
  ...overrides
})

/** A fresh event id in wire order. */
export const eventId = (): Uint8Array => Result.getOrThrow(Guid.toWire(Guid.random()))

const encoder = new TextEncoder()

/** A JSON event for WriteEvents. */
export const newEvent = (
  eventType = "test-event",
  data: unknown = { hello: "world" },
  id: Uint8Array = eventId()
): MessageInitShape<typeof Messages.NewEventSchema> => ({
  eventId: id,
  eventType,
  dataContentType: 1,
  metadataContentType: 0,
  data: encoder.encode(JSON.stringify(data))
})

/** A stream name no other test uses. */
export const streamName = (prefix = "stream"): string => `${prefix}-${Guid.random()}`

/** Appends events over the wire. */
export const append = (
  client: RawClient,
  stream: string,
  expectedVersion: bigint,
  events: ReadonlyArray<MessageInitShape<typeof Messages.NewEventSchema>>,
  options?: SendOptions
) =>
  client.request(
    C.WriteEvents,
    Messages.WriteEventsSchema,
    { eventStreamId: stream, expectedVersion, events: [...events], requireLeader: true },
    C.WriteEventsCompleted,
    Messages.WriteEventsCompletedSchema,
    options
  )

/**
 * Starts a transaction and writes the events to it, both of which must succeed (the expected version is
 * checked only at commit, 4.10); the transaction's id.
 */
export const startTransaction = (
  client: RawClient,
  stream: string,
  expectedVersion: bigint,
  events: ReadonlyArray<MessageInitShape<typeof Messages.NewEventSchema>>,
  options?: SendOptions
) =>
  Effect.gen(function*() {
    const started = yield* client.request(
      C.TransactionStart,
      Messages.TransactionStartSchema,
      { eventStreamId: stream, expectedVersion, requireLeader: true },
      C.TransactionStartCompleted,
      Messages.TransactionStartCompletedSchema,
      options
    )
    if (started.result !== Messages.OperationResult.Success) {
      return yield* Effect.die(new Error(`TransactionStart on ${stream}: result ${started.result}`))
    }
    const written = yield* client.request(
      C.TransactionWrite,
      Messages.TransactionWriteSchema,
      { transactionId: started.transactionId, events: [...events], requireLeader: true },
      C.TransactionWriteCompleted,
      Messages.TransactionWriteCompletedSchema,
      options
    )
    if (written.result !== Messages.OperationResult.Success) {
      return yield* Effect.die(new Error(`TransactionWrite on ${stream}: result ${written.result}`))
    }
    return started.transactionId
  })

/** Commits a transaction. */
export const commitTransaction = (client: RawClient, transactionId: bigint) =>
  client.request(
    C.TransactionCommit,
    Messages.TransactionCommitSchema,
    { transactionId, requireLeader: true },
    C.TransactionCommitCompleted,
    Messages.TransactionCommitCompletedSchema
  )

/** Reads a stream forward over the wire. */
export const readForward = (
  client: RawClient,
  stream: string,
  from: bigint,
  maxCount: number,
  options?: SendOptions & { readonly resolveLinkTos?: boolean }
) =>
  client.request(
    C.ReadStreamEventsForward,
    Messages.ReadStreamEventsSchema,
    {
      eventStreamId: stream,
      fromEventNumber: from,
      maxCount,
      resolveLinkTos: options?.resolveLinkTos ?? false,
      requireLeader: true
    },
    C.ReadStreamEventsForwardCompleted,
    Messages.ReadStreamEventsCompletedSchema,
    options
  )

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** Polls a condition until it holds, failing after `timeout` ms. */
export const eventually = (condition: () => boolean, timeout = 10_000) =>
  Effect.callback<void, Error>((resume) => {
    const deadline = Date.now() + timeout
    const check = () => {
      if (condition()) return resume(Effect.void)
      if (Date.now() > deadline) return resume(Effect.fail(new Error("The condition did not hold in time")))
      timer = setTimeout(check, 10)
    }
    let timer = setTimeout(check, 0)
    return Effect.sync(() => clearTimeout(timer))
  })
