/**
 * The connection against peers that misbehave on purpose: small raw TCP peers (`Peer.ts`), written with
 * the protocol package, that complete the handshake and then never answer, hang up mid-request, ignore
 * heartbeats or send garbage. Everything a well-behaved server does is tested against the embedded
 * server in the other test files.
 */
import { assert, describe, it } from "@effect/vitest"
import { create } from "@bufbuild/protobuf"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Command as CommandModule, Guid, Messages, Package } from "@photonpump/protocol"
import { Credentials, EventStore, EventStoreError, NewEvent } from "@photonpump/client"
import { eventually, failsWith } from "./Assertions.ts"
import { confirmation, dropped, type Handler, message, type Peer, peer, send, testCertificate } from "./Peer.ts"

const Command = CommandModule.Command

const writeEventsPayload = Result.getOrThrow(
  Messages.encode(
    Messages.WriteEventsCompletedSchema,
    create(Messages.WriteEventsCompletedSchema, {
      result: Messages.OperationResult.Success,
      firstEventNumber: 0n,
      lastEventNumber: 0n,
      preparePosition: 10n,
      commitPosition: 10n
    })
  )
)

/** A page of `ponies` from `from`: `size` events of a stream of `total`, as a server would send it. */
/** The `from` of every forward stream read `server` has received, in order. */
const forwardReads = (server: { readonly received: ReadonlyArray<Package.InboundPackage> }): Array<number> =>
  server.received.filter((pkg) => pkg.command === Command.ReadStreamEventsForward).map(fromOf)

/**
 * Reads "ponies" through `iter` (pages of 10) in a fiber of its own whose consumer holds on to the first
 * event forever; returns that fiber once the first event is held.
 */
const iterHoldingTheFirstEvent = Effect.fnUntraced(function*(es: EventStore.Service) {
  const firstTaken = yield* Deferred.make<void>()
  const fiber = yield* es.iter("ponies", { batchSize: 10 }).pipe(
    Stream.runForEach((event) =>
      event.eventNumber === 0n ? Effect.andThen(Deferred.succeed(firstTaken, undefined), Effect.never) : Effect.void
    ),
    Effect.forkChild
  )
  yield* Deferred.await(firstTaken)
  return fiber
})

const ponyPage = (from: number, size: number, total: number, data = new TextEncoder().encode("{}")): Uint8Array => {
  const end = Math.min(from + size, total)
  return Result.getOrThrow(Messages.encode(
    Messages.ReadStreamEventsCompletedSchema,
    create(Messages.ReadStreamEventsCompletedSchema, {
      events: Array.from({ length: end - from }, (_, i) => ({
        event: create(Messages.EventRecordSchema, {
          eventStreamId: "ponies",
          eventNumber: BigInt(from + i),
          eventId: Result.getOrThrow(Guid.toWire(Guid.random())),
          eventType: "PonyJumped",
          dataContentType: 1,
          metadataContentType: 0,
          data,
          created: 0n,
          createdEpoch: 1_700_000_000_000n
        })
      })),
      result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Success,
      nextEventNumber: BigInt(end),
      lastEventNumber: BigInt(total - 1),
      isEndOfStream: end >= total,
      lastCommitPosition: 0n
    })
  ))
}

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/** The stream of every WriteEvents `server` has received, in order. */
const writtenStreams = (server: { readonly received: ReadonlyArray<Package.InboundPackage> }): Array<string> =>
  server.received.filter((pkg) => pkg.command === Command.WriteEvents).map((pkg) =>
    Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, pkg.payload)).eventStreamId
  )

/**
 * Confirms subscriptions and their ends, as a server would, for `flushedTo`; the rest is up to `handler`.
 */
const confirmingSubscriptions = (handler: Handler): Handler => (pkg, socket, peer) => {
  switch (pkg.command) {
    case Command.SubscribeToStream:
      return send(socket, Command.SubscriptionConfirmation, pkg.correlationId, confirmation(0n, -1n))
    case Command.UnsubscribeFromStream:
      return send(
        socket,
        Command.SubscriptionDropped,
        pkg.correlationId,
        dropped(Messages.SubscriptionDropped_SubscriptionDropReason.Unsubscribed)
      )
    default:
      return handler(pkg, socket, peer)
  }
}

/** The errors the client README says are worth retrying, as it writes them. */
const transient = (error: EventStoreError.WriteError) =>
  (error instanceof EventStoreError.NotHandled && (error.reason === "NotReady" || error.reason === "TooBusy")) ||
  (error instanceof EventStoreError.Timeout && error.source !== "Client")

/** Answers pings at once, and keeps the reply to each write in `replies`, for the test to send. */
const holdingWrites = (replies: Array<() => void>): Handler => (pkg, socket) => {
  if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
  if (pkg.command !== Command.WriteEvents) return
  replies.push(() => send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload))
}

/**
 * Waits until whatever `es` had sent before the call has reached `server` (whose handler must be
 * `confirmingSubscriptions`): a subscription, which the limit on requests never holds back, goes after
 * it on the same socket.
 */
const flushedTo = Effect.fnUntraced(function*(es: EventStore.Service, server: Peer, marker: string) {
  const subscription = yield* Effect.forkChild(Stream.runDrain(es.subscribeTo(marker)))
  yield* eventually(
    () =>
      server.received.some((pkg) =>
        pkg.command === Command.SubscribeToStream &&
        Result.getOrThrow(Messages.decode(Messages.SubscribeToStreamSchema, pkg.payload)).eventStreamId === marker
      ),
    `the subscription to ${marker}`
  )
  yield* Fiber.interrupt(subscription)
})

/**
 * Forks `effect` and returns its fiber once the fiber has started it: a request has been submitted
 * (the first thing each operation does, in the same step) by the time this returns.
 */
const startedInFork = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(Effect.andThen(Deferred.succeed(started, undefined), effect))
    yield* Deferred.await(started)
    return fiber
  })

/** `length` bytes of a pattern seeded by `seed`, to tell one event's data from another's. */
const pattern = (seed: number, length: number): Uint8Array<ArrayBuffer> =>
  Uint8Array.from({ length }, (_, i) => (i * 7 + seed) % 251)

/** Where a ReadStreamEventsForward request starts. */
const fromOf = (pkg: Package.InboundPackage): number =>
  Number(Result.getOrThrow(Messages.decode(Messages.ReadStreamEventsSchema, pkg.payload)).fromEventNumber)

describe("Connection", () => {
  it.live("fails to connect with a typed error naming host and port when nothing listens", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(peer(() => {}), (p) => p.port))
      const error = yield* failsWith(EventStore.connect({ host: "127.0.0.1", port }), EventStoreError.ConnectionError)
      assert.strictEqual(error.reason, "ConnectFailed")
      assert.strictEqual(error.host, "127.0.0.1")
      assert.strictEqual(error.port, port)
      assert.include(error.message, `127.0.0.1:${port}`)
    }))

  it.live("gives up the handshake after the operation timeout", () =>
    Effect.gen(function*() {
      const silent = yield* peer(() => {}, { raw: true })
      const error = yield* failsWith(
        EventStore.connect({ host: "127.0.0.1", port: silent.port, operationTimeout: "200 millis" }),
        EventStoreError.ConnectionError
      )
      assert.strictEqual(error.reason, "HandshakeTimeout")
      assert.include(error.message, `127.0.0.1:${silent.port}`)
      assert.strictEqual(silent.received[0]?.command, Command.IdentifyClient)
      // The failed attempt let go of its socket at once, not when the caller's scope closes.
      yield* eventually(() => silent.sockets[0]?.closed === true, "the socket to close")
    }))

  it.live("authenticates, then identifies itself as a version 1 client with its connection name", () =>
    Effect.gen(function*() {
      const server = yield* peer(() => {})
      yield* EventStore.connect({
        host: "127.0.0.1",
        port: server.port,
        credentials: Credentials.make("admin", "changeit"),
        connectionName: "ponies-app"
      })
      const [authenticate, identify] = server.received
      assert.strictEqual(authenticate?.command, Command.Authenticate)
      assert.strictEqual(authenticate?.auth !== undefined && "login" in authenticate.auth ? authenticate.auth.login : undefined, "admin")
      assert.strictEqual(identify?.command, Command.IdentifyClient)
      const message = Result.getOrThrow(Messages.decode(Messages.IdentifyClientSchema, identify!.payload))
      assert.strictEqual(message.version, 1)
      assert.strictEqual(message.connectionName, "ponies-app")
    }))

  it.live("a request that gets no reply times out, and the connection goes on serving", () =>
    Effect.gen(function*() {
      let pings = 0
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping && pings++ > 0) send(socket, Command.Pong, pkg.correlationId, pkg.payload)
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const error = yield* failsWith(es.ping({ timeout: "150 millis" }), EventStoreError.Timeout)
      assert.strictEqual(error.source, "Client")
      assert.strictEqual(Duration.toMillis(error.timeout!), 150)
      const rtt = yield* es.ping()
      assert.isTrue(Duration.isGreaterThanOrEqualTo(rtt, Duration.zero))
    }))

  it.live("requests with different timeouts each time out on their own, whatever order they are sent in", () =>
    Effect.gen(function*() {
      const server = yield* peer(() => {})
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      // The long one first: the short one, sent after it, must not wait for the long one's deadline.
      const long = yield* Effect.forkChild(failsWith(es.ping({ timeout: "1500 millis" }), EventStoreError.Timeout))
      yield* eventually(() => server.received.some((pkg) => pkg.command === Command.Ping), "the first ping")
      const started = Date.now()
      const short = yield* failsWith(es.ping({ timeout: "100 millis" }), EventStoreError.Timeout)
      assert.isBelow(Date.now() - started, 1_400)
      assert.strictEqual(Duration.toMillis(short.timeout!), 100)
      const longError = yield* Fiber.join(long)
      assert.isAtLeast(Date.now() - started, 1_000)
      assert.strictEqual(longError.source, "Client")
      assert.strictEqual(Duration.toMillis(longError.timeout!), 1500)
    }))

  it.live("a peer that hangs up mid-request fails every pending request at once, and later ones fast", () =>
    Effect.gen(function*() {
      const server = yield* peer((_pkg, socket, self) => {
        if (self.received.filter((p) => p.command === Command.WriteEvents).length === 3) socket.destroy()
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, operationTimeout: "30 seconds" })
      const started = Date.now()
      const results = yield* Effect.all(
        [1, 2, 3].map((n) =>
          failsWith(es.publishEvent("ponies", "PonyJumped", { body: { n } }), EventStoreError.ConnectionError)
        ),
        { concurrency: "unbounded" }
      )
      assert.isBelow(Date.now() - started, 5_000)
      for (const error of results) assert.strictEqual(error.reason, "Closed")
      const later = yield* Effect.flip(es.ping())
      assert.strictEqual(later, results[0])
    }))

  it.live("answers the server's heartbeats at once, with the same correlation id", () =>
    Effect.gen(function*() {
      const answered = yield* Deferred.make<string>()
      const probe = Guid.random()
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.IdentifyClient) {
          send(socket, Command.ClientIdentified, pkg.correlationId)
          send(socket, Command.HeartbeatRequest, probe)
        } else if (pkg.command === Command.HeartbeatResponse) {
          Deferred.doneUnsafe(answered, Exit.succeed(pkg.correlationId))
        }
      }, { raw: true })
      yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      assert.strictEqual(yield* Deferred.await(answered), probe)
    }))

  it.live("sends its own heartbeat when the line is idle", () =>
    Effect.gen(function*() {
      const server = yield* peer(() => {})
      yield* EventStore.connect({ host: "127.0.0.1", port: server.port, heartbeatInterval: "50 millis" })
      yield* eventually(
        () => server.received.some((p) => p.command === Command.HeartbeatRequest),
        "a heartbeat from the client"
      )
    }))

  it.live("treats an unanswered heartbeat as a dead connection", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.IdentifyClient) send(socket, Command.ClientIdentified, pkg.correlationId)
      }, { raw: true })
      const es = yield* EventStore.connect({
        host: "127.0.0.1",
        port: server.port,
        heartbeatInterval: "50 millis",
        heartbeatTimeout: "100 millis",
        operationTimeout: "30 seconds"
      })
      const error = yield* failsWith(es.getEvent("ponies", 0), EventStoreError.ConnectionError)
      assert.strictEqual(error.reason, "HeartbeatTimeout")
      yield* eventually(() => server.sockets[0]!.closed, "the client to close the socket")
    }))

  it.live("closes the connection on a connection-wide BadRequest", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) send(socket, Command.BadRequest, Guid.empty, Package.encodeText("go away"))
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const error = yield* failsWith(es.ping(), EventStoreError.ConnectionError)
      assert.strictEqual(error.reason, "ProtocolViolation")
      assert.include(error.message, "go away")
    }))

  it.live("closes the connection when the server's framing is broken, after the whole frames before it", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command !== Command.Ping) return
        const pong = Result.getOrThrow(Package.encodeFrame({ command: Command.Pong, correlationId: pkg.correlationId }))
        const garbage = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        const chunk = new Uint8Array(pong.length + garbage.length)
        chunk.set(pong)
        chunk.set(garbage, pong.length)
        socket.write(chunk)
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      // The Pong arrived whole, in the same chunk as the broken prefix: it still answers the ping.
      yield* es.ping()
      const error = yield* failsWith(es.ping(), EventStoreError.ConnectionError)
      assert.strictEqual(error.reason, "ProtocolViolation")
      assert.include(error.detail, "frame length")
    }))

  it.live("reads replies of any size intact, however the server's bytes are cut into writes", () =>
    Effect.gen(function*() {
      // Reply k is a page read from k: `count` events whose data is `length` bytes of a pattern seeded
      // by k. Once every request is in, the replies go out back to back, cut at awkward places (inside
      // a length prefix, one byte at a time, across several replies), one write after another.
      const pages = [
        { count: 1, length: 2 },
        { count: 1, length: 70_000 },
        { count: 200, length: 300 },
        { count: 1, length: 1_000_000 },
        { count: 3, length: 0 },
        { count: 40, length: 5_000 }
      ]
      const requests: Array<Package.InboundPackage> = []
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId)
        if (pkg.command !== Command.ReadStreamEventsForward) return
        requests.push(pkg)
        if (requests.length < pages.length) return
        const replies = requests.map((request) => {
          const k = fromOf(request)
          const { count, length } = pages[k]!
          return Result.getOrThrow(Package.encodeFrame({
            command: Command.ReadStreamEventsForwardCompleted,
            correlationId: request.correlationId,
            payload: ponyPage(k, count, k + count, pattern(k, length))
          }))
        })
        const bytes = Buffer.concat(replies)
        const cuts = [1, 2, 3, 5, 9, 30, 31, 70_000, 70_001, 500_000, 1_100_000, bytes.length - 1, bytes.length]
        let at = 0
        const writeNext = (): void => {
          const cut = cuts.shift()
          if (cut === undefined) return
          const piece = bytes.subarray(at, cut)
          at = cut
          socket.write(piece, () => writeNext())
        }
        writeNext()
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const slices = yield* Effect.all(
        pages.map(({ count }, k) => es.get("ponies", { fromEventNumber: k, maxCount: count })),
        { concurrency: "unbounded" }
      )
      const check = (k: number): void => {
        const { count, length } = pages[k]!
        const slice = slices[k]!
        assert.strictEqual(slice.events.length, count, `page ${k}`)
        const expected = pattern(k, length)
        for (const event of slice.events) assert.deepStrictEqual(event.event!.data, expected, `page ${k}`)
      }
      for (let k = 0; k < pages.length; k++) check(k)
      // Read after it, and in other memory: the first reply is still what it was.
      yield* es.ping()
      check(0)
    }))

  it.live("answers a request's BadRequest, NotHandled and NotAuthenticated replies with their errors", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command !== Command.ReadEvent) return
        const stream = Result.getOrThrow(Messages.decode(Messages.ReadEventSchema, pkg.payload)).eventStreamId
        if (stream === "bad") send(socket, Command.BadRequest, pkg.correlationId, Package.encodeText("nope"))
        if (stream === "who") send(socket, Command.NotAuthenticated, pkg.correlationId, Package.encodeText("Not Authenticated"))
        if (stream === "elsewhere") {
          const info = Result.getOrThrow(Messages.encode(
            Messages.NotHandled_LeaderInfoSchema,
            create(Messages.NotHandled_LeaderInfoSchema, {
              externalTcpAddress: "10.0.0.2",
              externalTcpPort: 1113,
              httpAddress: "10.0.0.2",
              httpPort: 2113
            })
          ))
          send(
            socket,
            Command.NotHandled,
            pkg.correlationId,
            Result.getOrThrow(Messages.encode(
              Messages.NotHandledSchema,
              create(Messages.NotHandledSchema, { reason: Messages.NotHandled_NotHandledReason.NotLeader, additionalInfo: info })
            ))
          )
        }
        if (stream === "garbled") send(socket, Command.ReadEventCompleted, pkg.correlationId, new Uint8Array([0x0a, 0xff]))
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const bad = yield* failsWith(es.getEvent("bad", 0), EventStoreError.BadRequest)
      assert.strictEqual(bad.reason, "nope")
      yield* failsWith(es.getEvent("who", 0), EventStoreError.NotAuthenticated)
      const elsewhere = yield* failsWith(es.getEvent("elsewhere", 0), EventStoreError.NotHandled)
      {
        assert.strictEqual(elsewhere.reason, "NotLeader")
        assert.strictEqual(elsewhere.leader?.tcpHost, "10.0.0.2")
        assert.strictEqual(elsewhere.leader?.tcpPort, 1113)
      }
      yield* failsWith(es.getEvent("garbled", 0), EventStoreError.ProtocolError)
      // None of these took the connection down.
      yield* es.ping()
    }))

  it.live("an append retried on NotReady and TooBusy, as the README shows, is sent again with the same event id", () =>
    Effect.gen(function*() {
      const reasons = [Messages.NotHandled_NotHandledReason.NotReady, Messages.NotHandled_NotHandledReason.TooBusy]
      const server = yield* peer((pkg, socket) => {
        if (pkg.command !== Command.WriteEvents) return
        const reason = reasons.shift()
        if (reason === undefined) return send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload)
        send(socket, Command.NotHandled, pkg.correlationId, message(Messages.NotHandledSchema, { reason }))
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const event = NewEvent.make("OrderPlaced", { body: { total: 10 } })
      const result = yield* es.publish("orders-1", [event]).pipe(
        Effect.retry({ while: transient, schedule: Schedule.exponential("10 millis"), times: 5 })
      )
      assert.strictEqual(result.firstEventNumber, 0n)
      const ids = server.received.filter((pkg) => pkg.command === Command.WriteEvents).map((pkg) =>
        Guid.fromWire(Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, pkg.payload)).events[0]!.eventId)
      )
      assert.deepStrictEqual(ids.map((id) => Result.getOrThrow(id)), [event.id, event.id, event.id])
    }))

  it.live("sends requireLeader and credentials as the connection and each call say", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.WriteEvents) send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload)
      })
      const writes = () =>
        server.received.filter((p) => p.command === Command.WriteEvents).map((p) => ({
          requireLeader: Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, p.payload)).requireLeader,
          login: p.auth !== undefined && "login" in p.auth ? p.auth.login : undefined
        }))
      const byDefault = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      yield* byDefault.publishEvent("s", "A")
      yield* byDefault.publishEvent("s", "A", { requireLeader: false, credentials: Credentials.make("ops", "changeit") })
      const relaxed = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, requireLeader: false })
      yield* relaxed.publishEvent("s", "A")
      assert.deepStrictEqual(writes(), [
        { requireLeader: true, login: undefined },
        { requireLeader: false, login: "ops" },
        { requireLeader: false, login: undefined }
      ])
    }))

  it.live("puts the frames of requests issued together into one socket write", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.WriteEvents) send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload)
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const clientSocket = server.sockets[0]!
      let chunks = 0
      clientSocket.on("data", () => chunks++)
      const results = yield* Effect.all(
        Array.from({ length: 200 }, (_, n) => es.publishEvent("ponies", "PonyJumped", { body: { n } })),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.length, 200)
      // 200 frames, written together, arrive in a handful of TCP reads rather than 200.
      assert.isBelow(chunks, 20)
    }))

  it.live("connects over TLS, checking the server's certificate", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) send(socket, Command.Pong, pkg.correlationId, pkg.payload)
      }, { tls: true })
      const es = yield* EventStore.connect({
        host: "127.0.0.1",
        port: server.port,
        tls: { ca: testCertificate, servername: "localhost" }
      })
      yield* es.ping()
      const untrusted = yield* failsWith(
        EventStore.connect({ host: "127.0.0.1", port: server.port, tls: true }),
        EventStoreError.ConnectionError
      )
      assert.strictEqual(untrusted.reason, "ConnectFailed")
      assert.include(untrusted.message, `127.0.0.1:${server.port}`)
      const unchecked = yield* EventStore.connect(`tcp://127.0.0.1:${server.port}?tls=true&tlsVerifyCert=false`)
      yield* unchecked.ping()
    }))

  it.live("fails requests still pending when its scope closes", () =>
    Effect.gen(function*() {
      const server = yield* peer(() => {})
      const fiber = yield* Effect.scoped(
        Effect.gen(function*() {
          const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
          const pending = yield* Effect.forkDetach(failsWith(es.ping(), EventStoreError.ConnectionError))
          yield* eventually(() => server.received.some((p) => p.command === Command.Ping), "the ping")
          return pending
        })
      )
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason, "ClientClosed")
    }))

  it.live("many concurrent appends with mixed outcomes, answered out of order, each get their own reply", () =>
    Effect.gen(function*() {
      // Stream "ok-n" succeeds with event number n, "wev-n" is a wrong expected version at n, "bad-n" a
      // BadRequest, "silent-n" is never answered. Replies go out in reverse order, once all have arrived.
      const total = 120
      const held: Array<() => void> = []
      const server = yield* peer((pkg, socket) => {
        if (pkg.command !== Command.WriteEvents) return
        const stream = Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, pkg.payload)).eventStreamId
        const [kind, n] = stream.split("-") as [string, string]
        const number = BigInt(n)
        const reply = (): void => {
          if (kind === "ok") {
            send(socket, Command.WriteEventsCompleted, pkg.correlationId, Result.getOrThrow(Messages.encode(
              Messages.WriteEventsCompletedSchema,
              create(Messages.WriteEventsCompletedSchema, {
                result: Messages.OperationResult.Success,
                firstEventNumber: number,
                lastEventNumber: number,
                preparePosition: number * 10n,
                commitPosition: number * 10n
              })
            )))
          } else if (kind === "wev") {
            send(socket, Command.WriteEventsCompleted, pkg.correlationId, Result.getOrThrow(Messages.encode(
              Messages.WriteEventsCompletedSchema,
              create(Messages.WriteEventsCompletedSchema, {
                result: Messages.OperationResult.WrongExpectedVersion,
                message: "wrong",
                firstEventNumber: -1n,
                lastEventNumber: -1n,
                currentVersion: number
              })
            )))
          } else if (kind === "bad") {
            send(socket, Command.BadRequest, pkg.correlationId, Package.encodeText(`bad ${n}`))
          }
        }
        if (held.length >= total) return reply()
        held.push(reply)
        if (held.length === total) for (let i = held.length - 1; i >= 0; i--) held[i]!()
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, operationTimeout: "30 seconds" })
      const kinds = ["ok", "wev", "bad", "silent"] as const
      const outcomes = yield* Effect.all(
        Array.from({ length: total }, (_, n) => {
          const kind = kinds[n % kinds.length]!
          return Effect.exit(
            es.publishEvent(`${kind}-${n}`, "PonyJumped", {
              body: { n },
              expectedVersion: kind === "wev" ? 0n : undefined,
              timeout: kind === "silent" ? "1 second" : undefined
            })
          ).pipe(Effect.map((exit) => ({ n, kind, exit })))
        }),
        { concurrency: "unbounded" }
      )
      for (const { exit, kind, n } of outcomes) {
        if (kind === "ok") {
          assert.isTrue(Exit.isSuccess(exit), `ok-${n}`)
          if (Exit.isSuccess(exit)) {
            assert.strictEqual(exit.value.firstEventNumber, BigInt(n))
            assert.strictEqual(exit.value.position.commit, BigInt(n) * 10n)
          }
          continue
        }
        assert.isTrue(Exit.isFailure(exit), `${kind}-${n}`)
        const found = Exit.findError(exit)
        const value = Result.isSuccess(found) ? found.success : undefined
        if (kind === "wev") {
          assert.instanceOf(value, EventStoreError.WrongExpectedVersion)
          assert.strictEqual((value as EventStoreError.WrongExpectedVersion).stream, `wev-${n}`)
          assert.strictEqual((value as EventStoreError.WrongExpectedVersion).actualVersion, BigInt(n))
        } else if (kind === "bad") {
          assert.instanceOf(value, EventStoreError.BadRequest)
          assert.strictEqual((value as EventStoreError.BadRequest).reason, `bad ${n}`)
        } else {
          assert.instanceOf(value, EventStoreError.Timeout)
          assert.strictEqual((value as EventStoreError.Timeout).operation, "publishEvent")
          assert.strictEqual(Duration.toMillis((value as EventStoreError.Timeout).timeout!), 1000)
        }
      }
      // The connection is unharmed.
      const after = yield* es.publishEvent("ok-7", "PonyJumped")
      assert.strictEqual(after.firstEventNumber, 7n)
    }))

  it.live("an append interrupted while it waits drops its late reply, and the connection goes on serving", () =>
    Effect.gen(function*() {
      let first: (() => void) | undefined
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command !== Command.WriteEvents) return
        const reply = () => send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload)
        if (first === undefined) first = reply
        else reply()
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, operationTimeout: "30 seconds" })
      const waiting = yield* Effect.forkChild(es.publishEvent("ponies", "PonyJumped"))
      yield* eventually(() => first !== undefined, "the first write")
      yield* Fiber.interrupt(waiting)
      const exit = yield* Fiber.await(waiting)
      assert.isTrue(Exit.hasInterrupts(exit))
      // Its reply comes after all: nobody is resumed twice, and later appends get their own replies.
      first!()
      yield* es.ping()
      const next = yield* es.publishEvent("ponies", "PonyJumped")
      assert.strictEqual(next.firstEventNumber, 0n)
    }))

  it.live("a batch mixing appends with other requests, with and without credentials, reaches the server intact", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command === Command.WriteEvents) send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload)
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const ops = Array.from({ length: 150 }, (_, n) =>
        n % 3 === 0
          ? Effect.asVoid(es.ping())
          : n % 3 === 1
          ? Effect.asVoid(es.publishEvent(`s-${n}`, "PonyJumped", { body: { n, text: "é".repeat(n) } }))
          : Effect.asVoid(es.publishEvent(`s-${n}`, "PonyJumped", { body: { n }, credentials: Credentials.make("ops", "x") })))
      yield* Effect.all(ops, { concurrency: "unbounded" })
      const writes = server.received.filter((p) => p.command === Command.WriteEvents).map((p) => {
        const message = Result.getOrThrow(Messages.decode(Messages.WriteEventsSchema, p.payload))
        const body = JSON.parse(new TextDecoder().decode(message.events[0]!.data)) as { n: number; text?: string }
        assert.strictEqual(message.eventStreamId, `s-${body.n}`)
        if (body.n % 3 === 1) assert.strictEqual(body.text, "é".repeat(body.n))
        return body.n
      })
      const expected = Array.from({ length: 150 }, (_, n) => n).filter((n) => n % 3 !== 0)
      assert.strictEqual(writes.length, expected.length)
      assert.deepStrictEqual(new Set(writes), new Set(expected))
      assert.strictEqual(server.received.filter((p) => p.command === Command.Ping).length, 50)
    }))

  it.live("appends time out each at its own deadline under the connection's one timer, and late replies are dropped", () =>
    Effect.gen(function*() {
      const held: Array<() => void> = []
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command === Command.WriteEvents) {
          held.push(() => send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload))
        }
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, operationTimeout: "30 seconds" })
      const finished: Array<number> = []
      const started = Date.now()
      // Sent longest first: each must fail at its own deadline, not at the earliest or the latest.
      const outcomes = yield* Effect.all(
        [900, 300, 600].map((millis) =>
          failsWith(es.publishEvent("ponies", "PonyJumped", { timeout: Duration.millis(millis) }), EventStoreError.Timeout)
            .pipe(Effect.tap(() => Effect.sync(() => finished.push(millis))))
        ),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(finished, [300, 600, 900])
      assert.isAtLeast(Date.now() - started, 900)
      assert.deepStrictEqual(outcomes.map((error) => Duration.toMillis(error.timeout!)), [900, 300, 600])
      for (const error of outcomes) {
        assert.strictEqual(error.source, "Client")
        assert.strictEqual(error.operation, "publishEvent")
      }
      // The replies come after all: nobody waits for them any more, and the connection goes on serving.
      for (const reply of held) reply()
      yield* es.ping()
    }))

  it.live("sends at most maxConcurrentRequests requests at once, and the others in call order as replies free places", () =>
    Effect.gen(function*() {
      const replies: Array<() => void> = []
      let answering = false
      let unanswered = 0
      let mostUnanswered = 0
      const server = yield* peer(confirmingSubscriptions((pkg, socket) => {
        if (pkg.command !== Command.WriteEvents) return
        mostUnanswered = Math.max(mostUnanswered, ++unanswered)
        const reply = () => {
          unanswered--
          send(socket, Command.WriteEventsCompleted, pkg.correlationId, writeEventsPayload)
        }
        if (answering) reply()
        else replies.push(reply)
      }))
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, maxConcurrentRequests: 3 })
      const appends = yield* Effect.forkChild(
        Effect.forEach(range(8), (n) => es.publishEvent(`s-${n}`, "PonyJumped"), { concurrency: "unbounded" })
      )
      yield* eventually(() => writtenStreams(server).length === 3, "three writes")
      yield* flushedTo(es, server, "marker-1")
      assert.deepStrictEqual(writtenStreams(server), ["s-0", "s-1", "s-2"])
      // A reply frees one place, whichever request it answers: the next write in call order takes it.
      replies[1]!()
      yield* eventually(() => writtenStreams(server).length === 4, "a fourth write")
      yield* flushedTo(es, server, "marker-2")
      assert.deepStrictEqual(writtenStreams(server), ["s-0", "s-1", "s-2", "s-3"])
      answering = true
      for (const reply of [replies[0]!, replies[2]!, replies[3]!]) reply()
      const results = yield* Fiber.join(appends)
      assert.strictEqual(results.length, 8)
      assert.deepStrictEqual(writtenStreams(server), range(8).map((n) => `s-${n}`))
      assert.strictEqual(mostUnanswered, 3)
    }))

  it.live("a request waiting for a place times out at its own deadline, unsent, and the next one takes the place", () =>
    Effect.gen(function*() {
      const replies: Array<() => void> = []
      const server = yield* peer(confirmingSubscriptions(holdingWrites(replies)))
      const es = yield* EventStore.connect({
        host: "127.0.0.1",
        port: server.port,
        maxConcurrentRequests: 1,
        operationTimeout: "30 seconds"
      })
      const first = yield* Effect.forkChild(es.publishEvent("s-0", "PonyJumped"))
      yield* eventually(() => writtenStreams(server).length === 1, "the first write")
      const started = performance.now()
      const write = yield* failsWith(
        es.publishEvent("s-1", "PonyJumped", { timeout: "150 millis" }),
        EventStoreError.Timeout
      )
      assert.isAtLeast(performance.now() - started, 140)
      assert.strictEqual(write.source, "Client")
      assert.strictEqual(write.operation, "publishEvent")
      assert.strictEqual(Duration.toMillis(write.timeout!), 150)
      const ping = yield* failsWith(es.ping({ timeout: "100 millis" }), EventStoreError.Timeout)
      assert.strictEqual(ping.operation, "ping")
      const third = yield* Effect.forkChild(es.publishEvent("s-2", "PonyJumped"))
      yield* flushedTo(es, server, "marker")
      assert.deepStrictEqual(writtenStreams(server), ["s-0"])
      replies[0]!()
      yield* Fiber.join(first)
      yield* eventually(() => replies.length === 2, "the third write")
      replies[1]!()
      yield* Fiber.join(third)
      assert.deepStrictEqual(writtenStreams(server), ["s-0", "s-2"])
      assert.isFalse(server.received.some((pkg) => pkg.command === Command.Ping))
      // The places freed by the timed-out requests were never taken: one request at a time still.
      yield* es.ping()
    }))

  it.live("a request whose caller is interrupted while it waits for a place is never sent", () =>
    Effect.gen(function*() {
      const replies: Array<() => void> = []
      const server = yield* peer(confirmingSubscriptions(holdingWrites(replies)))
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, maxConcurrentRequests: 1 })
      const first = yield* Effect.forkChild(es.publishEvent("s-0", "PonyJumped"))
      yield* eventually(() => writtenStreams(server).length === 1, "the first write")
      // Each caller is inside its request (waiting for a place) once it has signalled that it started.
      const waitingWrite = yield* startedInFork(es.publishEvent("s-1", "PonyJumped"))
      const waitingPing = yield* startedInFork(es.ping())
      const waitingRead = yield* startedInFork(es.get("ponies"))
      yield* Fiber.interrupt(waitingWrite)
      yield* Fiber.interrupt(waitingPing)
      yield* Fiber.interrupt(waitingRead)
      replies[0]!()
      yield* Fiber.join(first)
      const last = yield* Effect.forkChild(es.publishEvent("s-2", "PonyJumped"))
      yield* eventually(() => replies.length === 2, "the last write")
      replies[1]!()
      yield* Fiber.join(last)
      assert.deepStrictEqual(writtenStreams(server), ["s-0", "s-2"])
      assert.isFalse(server.received.some((pkg) => pkg.command === Command.Ping))
      assert.isFalse(server.received.some((pkg) => pkg.command === Command.ReadStreamEventsForward))
    }))

  it.live("a sent request whose caller has gone keeps its place until its reply comes", () =>
    Effect.gen(function*() {
      const pongs: Array<() => void> = []
      const server = yield* peer(confirmingSubscriptions((pkg, socket) => {
        if (pkg.command === Command.Ping) pongs.push(() => send(socket, Command.Pong, pkg.correlationId, pkg.payload))
      }))
      const es = yield* EventStore.connect({
        host: "127.0.0.1",
        port: server.port,
        maxConcurrentRequests: 1,
        operationTimeout: "30 seconds"
      })
      const gone = yield* Effect.forkChild(es.ping())
      yield* eventually(() => pongs.length === 1, "the first ping")
      yield* Fiber.interrupt(gone)
      // The server still works on the first: the second waits for its reply.
      const next = yield* startedInFork(es.ping())
      yield* flushedTo(es, server, "marker")
      assert.strictEqual(pongs.length, 1)
      pongs[0]!()
      yield* eventually(() => pongs.length === 2, "the second ping")
      pongs[1]!()
      yield* Fiber.join(next)
    }))

  it.live("requests waiting for a place fail at once with the connection when it dies", () =>
    Effect.gen(function*() {
      const server = yield* peer(confirmingSubscriptions(() => {}))
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, maxConcurrentRequests: 1 })
      const sent = yield* Effect.forkChild(Effect.flip(es.publishEvent("s-0", "PonyJumped")))
      yield* eventually(() => writtenStreams(server).length === 1, "the first write")
      const waiting = yield* Effect.forkChild(
        Effect.all([Effect.flip(es.publishEvent("s-1", "PonyJumped")), Effect.flip(es.ping())], {
          concurrency: "unbounded"
        })
      )
      yield* flushedTo(es, server, "marker")
      for (const socket of server.sockets) socket.destroy()
      const first = yield* Fiber.join(sent)
      const [write, ping] = yield* Fiber.join(waiting)
      for (const error of [first, write, ping]) assert.instanceOf(error, EventStoreError.ConnectionError)
      assert.deepStrictEqual(writtenStreams(server), ["s-0"])
    }))

  it.live("iter asks for the next page when one arrives, reads at most sixteen ahead, and stopping leaves nothing pending", () =>
    Effect.gen(function*() {
      // Pages are answered at once, except, once `holding` is set, the seventh (from 60), which the test
      // sends itself, late.
      const held: Array<Package.InboundPackage> = []
      let holding = false
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command !== Command.ReadStreamEventsForward) return
        if (holding && fromOf(pkg) === 60) return held.push(pkg)
        send(socket, Command.ReadStreamEventsForwardCompleted, pkg.correlationId, ponyPage(fromOf(pkg), 10, 1000))
      })
      const reads = () => forwardReads(server)
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const fiber = yield* iterHoldingTheFirstEvent(es)
      // While the consumer holds the first page: the first page and a guess, then, once the first reply
      // shows the stream goes on, up to sixteen pages (pages of 10: 1,600 events' worth at most, and
      // small ones, well within 512 KiB) asked for or waiting, the last fourteen in one go; with
      // fifteen waiting there is no room for another batch of eight, and nothing more is asked for.
      yield* eventually(() => reads().length === 16, "fifteen pages read ahead")
      yield* es.ping()
      assert.deepStrictEqual(reads(), Array.from({ length: 16 }, (_, i) => i * 10))
      yield* Fiber.interrupt(fiber)

      // A consumer that goes on: page 60 is asked for, and interrupted while waiting for it.
      holding = true
      const seen: Array<bigint> = []
      const second = yield* es.iter("ponies", { batchSize: 10 }).pipe(
        Stream.runForEach((event) =>
          Effect.sync(() => {
            seen.push(event.eventNumber)
          })
        ),
        Effect.forkChild
      )
      yield* eventually(() => held.length === 1 && seen.length === 60, "the reader waiting for page 60")
      yield* Fiber.interrupt(second)
      // Its late reply is dropped, and the connection goes on serving.
      send(server.sockets[0]!, Command.ReadStreamEventsForwardCompleted, held[0]!.correlationId, ponyPage(60, 10, 1000))
      yield* es.ping()
      assert.deepStrictEqual(seen, Array.from({ length: 60 }, (_, i) => BigInt(i)))
    }))

  it.live("iter under a limit of two requests reads the whole stream with at most two pages asked for at once", () =>
    Effect.gen(function*() {
      let unanswered = 0
      let mostUnanswered = 0
      const server = yield* peer((pkg, socket) => {
        if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
        if (pkg.command !== Command.ReadStreamEventsForward) return
        mostUnanswered = Math.max(mostUnanswered, ++unanswered)
        // Answered a little later, so that the requests asked for meanwhile meet the limit.
        setTimeout(() => {
          unanswered--
          send(socket, Command.ReadStreamEventsForwardCompleted, pkg.correlationId, ponyPage(fromOf(pkg), 10, 300))
        }, 1)
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port, maxConcurrentRequests: 2 })
      const events = yield* Stream.runCollect(es.iter("ponies", { batchSize: 10 }))
      assert.deepStrictEqual(events.map((event) => event.eventNumber), Array.from({ length: 300 }, (_, i) => BigInt(i)))
      assert.strictEqual(mostUnanswered, 2)
      // Stopped early, it cancels what it asked for, waiting or sent, and the connection goes on serving.
      const first = yield* Stream.runCollect(Stream.take(es.iter("ponies", { batchSize: 10 }), 15))
      assert.strictEqual(first.length, 15)
      yield* es.ping()
    }))

  it.live("iter reads fewer pages ahead when they are large: no more than 512 KiB of replies, two pages at least", () =>
    Effect.gen(function*() {
      // Pages of 10 events of 40 KB (~400 KB a page: one fits the budget, and the read-ahead keeps two
      // pages) and of 60 KB (~600 KB: none does), then of 4 KB (~41 KB: twelve pages, asked for six at
      // a time; behind the eleven waiting there is no room for six more).
      for (const [eventBytes, reads] of [[40_000, 3], [60_000, 3], [4_000, 12]] as const) {
        const data = new Uint8Array(eventBytes).fill(0x20)
        const server = yield* peer((pkg, socket) => {
          if (pkg.command === Command.Ping) return send(socket, Command.Pong, pkg.correlationId, pkg.payload)
          if (pkg.command !== Command.ReadStreamEventsForward) return
          send(socket, Command.ReadStreamEventsForwardCompleted, pkg.correlationId, ponyPage(fromOf(pkg), 10, 10_000, data))
        })
        const asked = () => forwardReads(server)
        const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
        const fiber = yield* iterHoldingTheFirstEvent(es)
        // The page the consumer holds, and the pages asked for or waiting behind it.
        yield* eventually(() => asked().length === reads, `${reads} pages asked for`)
        // Nothing more comes: the pings' replies are behind any request already written.
        for (let i = 0; i < 3; i++) yield* es.ping()
        assert.deepStrictEqual(asked(), Array.from({ length: reads }, (_, i) => i * 10), `events of ${eventBytes} bytes`)
        yield* Fiber.interrupt(fiber)
      }
    }))

  it.live("iter fails with a later page's error after every event of the pages before it", () =>
    Effect.gen(function*() {
      const server = yield* peer((pkg, socket) => {
        if (pkg.command !== Command.ReadStreamEventsForward) return
        if (fromOf(pkg) === 0) {
          return send(socket, Command.ReadStreamEventsForwardCompleted, pkg.correlationId, ponyPage(0, 10, 1000))
        }
        send(socket, Command.NotHandled, pkg.correlationId, Result.getOrThrow(Messages.encode(
          Messages.NotHandledSchema,
          create(Messages.NotHandledSchema, { reason: Messages.NotHandled_NotHandledReason.NotReady })
        )))
      })
      const es = yield* EventStore.connect({ host: "127.0.0.1", port: server.port })
      const seen: Array<bigint> = []
      const error = yield* failsWith(
        Stream.runForEach(es.iter("ponies", { batchSize: 10 }), (event) =>
          Effect.sync(() => {
            seen.push(event.eventNumber)
          })),
        EventStoreError.NotHandled
      )
      assert.strictEqual(error.operation, "iter")
      assert.deepStrictEqual(seen, Array.from({ length: 10 }, (_, i) => BigInt(i)))
    }))
})
