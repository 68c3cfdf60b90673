/**
 * Settings without a server: the defaults, option checks, connection strings (and the errors that
 * point at their bad part, password masked) and `Settings.config` over a `ConfigProvider`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Credentials, EventStoreError, Settings } from "@photonpump/client"
import { checks } from "./Properties.ts"

const read = (env: Record<string, string>) => Settings.config.parse(ConfigProvider.fromEnv({ env }))

const parse = (input: string) => Settings.parseConnectionString(input)

const parseError = (input: string) => {
  const result = parse(input)
  if (Result.isSuccess(result)) throw new Error(`expected ${input} to be refused`)
  return result.failure
}

describe("Settings", () => {
  describe("defaults", () => {
    it("are those of the official client", () => {
      const settings = Result.getOrThrow(Settings.make())
      assert.strictEqual(settings.host, "localhost")
      assert.strictEqual(settings.port, 1113)
      assert.strictEqual(settings.requireLeader, true)
      assert.strictEqual(Duration.toMillis(settings.operationTimeout), 7000)
      assert.strictEqual(Duration.toMillis(settings.heartbeatInterval), 750)
      assert.strictEqual(Duration.toMillis(settings.heartbeatTimeout), 1500)
      assert.strictEqual(Duration.toMillis(settings.connectTimeout), 1000)
      assert.strictEqual(settings.maxConcurrentRequests, 5000)
      assert.strictEqual(settings.credentials, undefined)
      assert.strictEqual(settings.tls, undefined)
      assert.match(settings.connectionName, /^ES-[0-9a-f-]{36}$/)
    })

    it("keep what the options set", () => {
      const settings = Result.getOrThrow(Settings.make({
        host: "es.internal",
        port: 2113,
        requireLeader: false,
        operationTimeout: "2 seconds",
        heartbeatInterval: Duration.millis(100),
        connectionName: "orders",
        maxConcurrentRequests: 64,
        tls: true
      }))
      assert.strictEqual(settings.maxConcurrentRequests, 64)
      assert.strictEqual(settings.host, "es.internal")
      assert.strictEqual(settings.port, 2113)
      assert.strictEqual(settings.requireLeader, false)
      assert.strictEqual(Duration.toMillis(settings.operationTimeout), 2000)
      assert.strictEqual(Duration.toMillis(settings.heartbeatInterval), 100)
      assert.strictEqual(settings.connectionName, "orders")
      assert.deepStrictEqual(settings.tls, {})
    })

    it("refuse a port out of range, an empty host and non-positive durations", () => {
      const port = Settings.make({ port: 70000 })
      assert.isTrue(Result.isFailure(port) && port.failure.reason.includes("70000"))
      assert.isTrue(Result.isFailure(Settings.make({ host: "" })))
      const timeout = Settings.make({ operationTimeout: 0 })
      assert.isTrue(Result.isFailure(timeout) && timeout.failure.reason.includes("operationTimeout"))
      for (const maxConcurrentRequests of [0, -1, 2.5, Number.NaN, Infinity]) {
        const limit = Settings.make({ maxConcurrentRequests })
        assert.isTrue(Result.isFailure(limit) && limit.failure.reason.includes("maxConcurrentRequests"))
      }
    })

    it("refuse credentials too long for the protocol, without showing them", () => {
      const result = Settings.make({ credentials: Credentials.make("admin", "x".repeat(300)) })
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        assert.include(result.failure.message, "password")
        assert.notInclude(result.failure.message, "xxxx")
      }
    })
  })

  describe("connection strings", () => {
    it("read user, password, host and port", () => {
      const options = Result.getOrThrow(parse("tcp://admin:changeit@db.example.com:1114"))
      assert.strictEqual(options.host, "db.example.com")
      assert.strictEqual(options.port, 1114)
      assert.strictEqual(options.credentials?.username, "admin")
      assert.strictEqual(Redacted.value(options.credentials!.password), "changeit")
    })

    it("need neither credentials nor a port", () => {
      const options = Result.getOrThrow(parse("tcp://localhost"))
      assert.strictEqual(options.host, "localhost")
      assert.strictEqual(options.port, undefined)
      assert.strictEqual(options.credentials, undefined)
      assert.strictEqual(Result.getOrThrow(Settings.make("tcp://localhost/")).port, 1113)
    })

    it("decode percent-encoded credentials", () => {
      const options = Result.getOrThrow(parse("tcp://us%40er:p%3Ass%40word@127.0.0.1:1113"))
      assert.strictEqual(options.credentials?.username, "us@er")
      assert.strictEqual(Redacted.value(options.credentials!.password), "p:ss@word")
    })

    it("read IPv6 hosts", () => {
      const options = Result.getOrThrow(parse("tcp://[::1]:1113"))
      assert.strictEqual(options.host, "::1")
      assert.strictEqual(options.port, 1113)
    })

    it("read options in any case, with the .NET spellings", () => {
      const options = Result.getOrThrow(
        parse(
          "tcp://localhost:1113?connectionName=billing&RequireMaster=false&operationTimeout=2500" +
            "&HeartBeatInterval=1s&heartbeatTimeout=3%20seconds&ClientConnectionTimeout=250ms&MaxConcurrentItems=100"
        )
      )
      assert.strictEqual(options.maxConcurrentRequests, 100)
      assert.strictEqual(Result.getOrThrow(parse("tcp://localhost?maxConcurrentRequests=7")).maxConcurrentRequests, 7)
      assert.strictEqual(options.connectionName, "billing")
      assert.strictEqual(options.requireLeader, false)
      assert.strictEqual(Duration.toMillis(options.operationTimeout as Duration.Duration), 2500)
      assert.strictEqual(Duration.toMillis(options.heartbeatInterval as Duration.Duration), 1000)
      assert.strictEqual(Duration.toMillis(options.heartbeatTimeout as Duration.Duration), 3000)
      assert.strictEqual(Duration.toMillis(options.connectTimeout as Duration.Duration), 250)
    })

    it("read TLS options", () => {
      const options = Result.getOrThrow(parse("tcp://localhost?tls=true&tlsVerifyCert=false&targetHost=es.local"))
      assert.deepStrictEqual(options.tls, { rejectUnauthorized: false, servername: "es.local" })
      assert.strictEqual(Result.getOrThrow(parse("tcp://localhost?useSslConnection=false")).tls, undefined)
    })

    it("refuse another scheme, pointing at it", () => {
      const error = parseError("http://localhost:1113")
      assert.strictEqual(error.position, 0)
      assert.strictEqual(error.length, 7)
      assert.include(error.message, "tcp://")
      assert.include(parseError("discover://cluster:2113").reason, "discovery")
    })

    it("refuse a bad port, pointing at it", () => {
      const error = parseError("tcp://localhost:11x3")
      assert.strictEqual(error.position, 16)
      assert.include(error.reason, "port")
      assert.include(error.message, "\n  tcp://localhost:11x3\n                  ^^^^")
      const range = parseError("tcp://localhost:99999")
      assert.include(range.reason, "65535")
      assert.strictEqual(range.position, 16)
    })

    it("refuse a bad host character, pointing at it", () => {
      const error = parseError("tcp://local host:1113")
      assert.strictEqual(error.position, 11)
      assert.strictEqual(error.length, 1)
    })

    it("refuse an unknown option, pointing at its name", () => {
      const error = parseError("tcp://localhost:1113?connectionName=a&retries=3")
      assert.include(error.reason, "retries")
      assert.strictEqual(error.position, 38)
      assert.strictEqual(error.length, 7)
    })

    it("refuse a bad option value, pointing at the value", () => {
      const error = parseError("tcp://localhost:1113?operationTimeout=soon")
      assert.include(error.reason, "operationTimeout")
      assert.strictEqual(error.position, 38)
      assert.strictEqual(error.length, 4)
      assert.include(parseError("tcp://localhost?requireLeader=maybe").reason, "true or false")
      for (const value of ["0", "-3", "2.5", "many", "99999999999999999999"]) {
        const error = parseError(`tcp://localhost?maxConcurrentRequests=${value}`)
        assert.include(error.reason, "whole number")
        assert.strictEqual(error.position, 38)
      }
    })

    it("refuse a path", () => {
      const error = parseError("tcp://localhost:1113/streams")
      assert.strictEqual(error.position, 21)
    })

    it("refuse a user without a password", () => {
      assert.include(parseError("tcp://admin@localhost").reason, "password")
    })

    it("never show the password in an error, and keep pointing at the right place", () => {
      const error = parseError("tcp://admin:s3cr3t-pa55@localhost:12a4")
      assert.notInclude(error.message, "s3cr3t")
      assert.notInclude(error.input ?? "", "s3cr3t")
      assert.strictEqual(error.input, "tcp://admin:*****@localhost:12a4")
      assert.strictEqual(error.position, "tcp://admin:*****@localhost:".length)
      const option = parseError("tcp://admin:s3cr3t-pa55@localhost?x=1")
      assert.notInclude(option.message, "s3cr3t")
      assert.strictEqual(option.input!.slice(option.position!, option.position! + option.length!), "x")
    })

    it("feed Settings.make", () => {
      const settings = Result.getOrThrow(Settings.make("tcp://ops:changeit@127.0.0.1:4321?requireLeader=false"))
      assert.strictEqual(settings.port, 4321)
      assert.strictEqual(settings.requireLeader, false)
      assert.strictEqual(settings.credentials?.username, "ops")
      assert.isTrue(Result.isFailure(Settings.make("tcp://")))
    })
  })

  describe("connection strings, by property", () => {
    const options = checks(500)
    const text = Arbitrary.schema(Schema.String.check(Schema.isMaxLength(30)))
    /** Text a URL can carry percent-encoded: no lone surrogate. */
    const encodable = Arbitrary.filter(text, (value) => {
      try {
        encodeURIComponent(value)
        return true
      } catch {
        return false
      }
    })
    const hostName = Arbitrary.schema(Schema.String.check(Schema.isPattern(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}$/)))
    const port = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })))
    /** A password no other part of a generated string can contain. */
    const password = Arbitrary.map(encodable, (rest) => `Pw-${rest}-wP`)

    it.prop(
      "any string parses or is refused with an InvalidSettings that points inside it, never a throw",
      [text, text],
      ([head, tail]) => {
        for (const input of [head, `tcp://${head}`, `tcp://${head}:${tail}`, `tcp://a:b@${head}?${tail}`]) {
          const result = parse(input)
          if (Result.isFailure(result)) {
            const error = result.failure
            assert.instanceOf(error, EventStoreError.InvalidSettings)
            assert.isString(error.message)
            if (error.position !== undefined) assert.isAtMost(error.position, (error.input ?? input).length)
          }
        }
      },
      options
    )

    it.prop(
      "a password never shows in an error, whatever surrounds it",
      [encodable, password, text, text],
      ([user, secret, host, rest]) => {
        const input = `tcp://${encodeURIComponent(user === "" ? "u" : user)}:${encodeURIComponent(secret)}@${host}${rest}`
        const result = parse(input)
        if (Result.isSuccess(result)) return
        const error = result.failure
        for (const shown of [error.message, error.input ?? "", String(error), JSON.stringify(error)]) {
          assert.notInclude(shown, secret)
          assert.notInclude(shown, encodeURIComponent(secret))
        }
      },
      options
    )

    it.prop(
      "user, password, host and port read back as written, whatever characters the credentials hold",
      [encodable, password, hostName, port],
      ([user, secret, host, portNumber]) => {
        const username = user === "" ? "u" : user
        const input = `tcp://${encodeURIComponent(username)}:${encodeURIComponent(secret)}@${host}:${portNumber}`
        const options = Result.getOrThrow(parse(input))
        assert.strictEqual(options.host, host)
        assert.strictEqual(options.port, portNumber)
        assert.strictEqual(options.credentials?.username, username)
        assert.strictEqual(Redacted.value(options.credentials!.password), secret)
      },
      options
    )
  })

  describe("config", () => {
    it.effect("reads the EVENTSTORE_ variables", () =>
      Effect.gen(function*() {
        const options = yield* read({
          EVENTSTORE_HOST: "es.internal",
          EVENTSTORE_PORT: "2113",
          EVENTSTORE_USERNAME: "admin",
          EVENTSTORE_PASSWORD: "changeit",
          EVENTSTORE_REQUIRE_LEADER: "false",
          EVENTSTORE_OPERATION_TIMEOUT: "3s",
          EVENTSTORE_MAX_CONCURRENT_REQUESTS: "250"
        })
        assert.strictEqual(options.maxConcurrentRequests, 250)
        assert.strictEqual(options.host, "es.internal")
        assert.strictEqual(options.port, 2113)
        assert.strictEqual(options.credentials?.username, "admin")
        assert.strictEqual(Redacted.value(options.credentials!.password), "changeit")
        assert.strictEqual(options.requireLeader, false)
        assert.strictEqual(Duration.toMillis(options.operationTimeout as Duration.Duration), 3000)
      }))

    it.effect("reads nothing when nothing is set", () =>
      Effect.gen(function*() {
        const options = yield* read({})
        assert.deepStrictEqual(options, {})
      }))

    it.effect("lets the variables override a connection string", () =>
      Effect.gen(function*() {
        const options = yield* read({
          EVENTSTORE_CONNECTION_STRING: "tcp://admin:changeit@db:1113?connectionName=x",
          EVENTSTORE_PORT: "1114"
        })
        assert.strictEqual(options.host, "db")
        assert.strictEqual(options.port, 1114)
        assert.strictEqual(options.connectionName, "x")
        assert.strictEqual(options.credentials?.username, "admin")
      }))

    it.effect("refuses a user name without a password, and a bad connection string without its password", () =>
      Effect.gen(function*() {
        const lone = yield* Effect.flip(read({ EVENTSTORE_USERNAME: "admin" }))
        assert.include(lone.message, "EVENTSTORE_PASSWORD")
        const bad = yield* Effect.flip(read({ EVENTSTORE_CONNECTION_STRING: "tcp://admin:hunter2@db:x" }))
        assert.include(bad.message, "port")
        assert.notInclude(bad.message, "hunter2")
        const limit = yield* Effect.flip(read({ EVENTSTORE_MAX_CONCURRENT_REQUESTS: "0" }))
        assert.include(limit.message, "EVENTSTORE_MAX_CONCURRENT_REQUESTS")
      }))
  })
})
