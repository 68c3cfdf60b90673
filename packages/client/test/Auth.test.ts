/**
 * Credentials: the connection's default user, per-call credentials, access control, and the promise
 * that a password never shows in a log line or an error message.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import { Credentials, EventStore, EventStoreError, NewEvent } from "@photonpump/client"
import { failsWith } from "./Assertions.ts"
import { admin, serverAddress, serverAndClient, streamName } from "./TestServer.ts"

const readerPassword = "s3cret-reader-pw"
const wrongPassword = "wr0ng-pa55word"
const reader = Credentials.make("reader", readerPassword)
const impostor = Credentials.make("reader", wrongPassword)

/** Connects a further client to the test's server. */
const connectTo = (options?: Parameters<typeof EventStore.connect>[0] & object) =>
  Effect.flatMap(serverAddress, ({ host, port }) => EventStore.connect({ ...options, host, port }))

/** Everything the effect logs, at every level, as the lines a logger would print, causes included. */
const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const collector = Logger.make((options) => {
    lines.push(Logger.formatSimple.log(options))
    lines.push(Cause.pretty(options.cause))
  })
  return effect.pipe(
    Effect.provide(Logger.layer([collector])),
    Effect.provideService(References.MinimumLogLevel, "All"),
    Effect.map((a) => [a, lines] as const)
  )
}

const serverOptions = {
  users: [{ login: "reader", password: readerPassword, groups: [] }],
  allowAnonymousStreamAccess: true
}

layer(serverAndClient({ credentials: undefined }, serverOptions), { excludeTestServices: true })("Auth", (it) => {
  describe("default credentials", () => {
    it.effect("authenticate during the handshake and serve every request", () =>
      Effect.gen(function*() {
        const es = yield* connectTo({ credentials: admin })
        yield* es.getAll({ maxCount: 1 })
      }))

    it.effect("that are wrong fail the connection, naming the user but never the password", () =>
      Effect.gen(function*() {
        const error = yield* failsWith(connectTo({ credentials: impostor }), EventStoreError.ConnectionError)
        assert.strictEqual(error.reason, "AuthenticationFailed")
        assert.include(error.message, "reader")
        assert.notInclude(error.message, wrongPassword)
        assert.notInclude(String(error), wrongPassword)
        assert.notInclude(JSON.stringify(error), wrongPassword)
      }))
  })

  describe("per-call credentials", () => {
    it.effect("let an anonymous connection read what only admins may", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const denied = yield* failsWith(es.getAll(), EventStoreError.AccessDenied)
        assert.strictEqual(denied.stream, "$all")
        yield* es.getAll({ credentials: admin })
        yield* Stream.runDrain(Stream.take(es.iterAll({ credentials: admin }), 1))
      }))

    it.effect("that are wrong fail the call with NotAuthenticated, never showing the password", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const error = yield* failsWith(
          es.publishEvent(streamName("auth"), "A", { credentials: impostor }),
          EventStoreError.NotAuthenticated
        )
        assert.notInclude(error.message, wrongPassword)
        assert.notInclude(JSON.stringify(error), wrongPassword)
        // The connection is fine.
        yield* es.ping()
      }))
  })

  describe("access control", () => {
    it.effect("stream ACLs are enforced per user, for reads, writes and deletes", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("guarded")
        yield* es.publishEvent(stream, "Created", { credentials: admin })
        yield* es.setStreamMetadata(
          stream,
          { acl: { readRoles: ["reader"], writeRoles: ["$admins"], deleteRoles: ["$admins"] } },
          { credentials: admin }
        )
        yield* failsWith(es.get(stream), EventStoreError.AccessDenied)
        yield* failsWith(es.getEvent(stream, 0), EventStoreError.AccessDenied)
        assert.strictEqual((yield* es.get(stream, { credentials: reader })).events.length, 1)
        const write = yield* failsWith(
          es.publishEvent(stream, "Nope", { credentials: reader }),
          EventStoreError.AccessDenied
        )
        assert.strictEqual(write.stream, stream)
        yield* failsWith(es.deleteStream(stream, { credentials: reader }), EventStoreError.AccessDenied)
        yield* es.deleteStream(stream, { credentials: admin })
      }))

    it.effect("transactions start with the caller's credentials and keep them", () =>
      Effect.gen(function*() {
        const es = yield* EventStore.EventStore
        const stream = streamName("tx-acl")
        yield* es.setStreamMetadata(stream, { acl: { writeRoles: ["$admins"] } }, { credentials: admin })
        yield* failsWith(
          Effect.flatMap(es.startTransaction(stream), (tx) => tx.commit()),
          EventStoreError.AccessDenied
        )
        const tx = yield* es.startTransaction(stream, { credentials: admin })
        yield* tx.write([NewEvent.make("A")])
        const result = yield* tx.commit()
        assert.strictEqual(result.lastEventNumber, 0n)
      }))
  })

  describe("logs", () => {
    it.effect("never contain a password, whatever happens", () =>
      Effect.gen(function*() {
        const [, lines] = yield* captureLogs(
          Effect.scoped(Effect.gen(function*() {
            const es = yield* connectTo({ credentials: reader })
            yield* es.ping()
            yield* Effect.flip(es.getAll({ credentials: impostor }))
            yield* Effect.flip(connectTo({ credentials: impostor }))
            yield* Effect.logInfo("settings", es.settings)
          }))
        )
        assert.isAbove(lines.length, 0)
        for (const line of lines) {
          assert.notInclude(line, readerPassword)
          assert.notInclude(line, wrongPassword)
          assert.notInclude(line, "changeit")
        }
      }))
  })
})

describe("Credentials", () => {
  it("show the password redacted", () => {
    assert.notInclude(JSON.stringify(reader), readerPassword)
    assert.notInclude(String(reader.password), readerPassword)
  })
})
