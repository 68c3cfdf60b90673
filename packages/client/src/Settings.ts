/**
 * How to reach a node and how to behave on the connection: options (all optional, with the official
 * .NET client's defaults), the resolved `Settings`, connection strings in the style of the legacy
 * clients (`tcp://user:pass@host:1113?requireLeader=false`) and a `Config` reading the same options
 * from the environment.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { Guid, Package } from "@photonpump/protocol"
import * as Credentials from "./Credentials.ts"
import { InvalidSettings } from "./EventStoreError.ts"

/**
 * TLS options. TLS on EventStore's TCP port is direct TLS on connect (docs/protocol.md 9).
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  /** Certificates to trust besides the system's, PEM encoded. */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined
  /** Check the server's certificate (default true). */
  readonly rejectUnauthorized?: boolean | undefined
  /** The host name the certificate must name (default: the host connected to). */
  readonly servername?: string | undefined
}

/**
 * Options for a connection. Every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `localhost`. */
  readonly host?: string | undefined
  /** Default 1113. */
  readonly port?: number | undefined
  /**
   * The connection's default user, authenticated during the handshake and used by every request that
   * does not bring its own credentials. Default: none (anonymous).
   */
  readonly credentials?: Credentials.Credentials | undefined
  /** Shown in the server's logs and statistics. Default `ES-<random uuid>`, as the .NET client. */
  readonly connectionName?: string | undefined
  /** Refuse to be served by a node that is not the leader. Default true, as the .NET client. */
  readonly requireLeader?: boolean | undefined
  /** How long a request may wait for its reply. Default 7 seconds. */
  readonly operationTimeout?: Duration.Input | undefined
  /** How long the line may stay silent before the client sends a heartbeat. Default 750 ms. */
  readonly heartbeatInterval?: Duration.Input | undefined
  /** How long the client waits for any sign of life after a heartbeat. Default 1500 ms. */
  readonly heartbeatTimeout?: Duration.Input | undefined
  /** How long opening the TCP (or TLS) connection may take. Default 1 second, as the .NET client. */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * The most requests (appends, reads, deletes, ...) the connection has sent and awaits replies to at
   * once. Beyond it, a request waits its turn in the client, in the order of the calls, and is sent
   * when a reply (or a timeout) frees a place; its operation timeout runs from the call, so a request
   * that waits longer fails with `Timeout` without ever being sent. Subscriptions and heartbeats are not
   * counted. Default 5,000, as the .NET client's `MaxConcurrentItems`.
   */
  readonly maxConcurrentRequests?: number | undefined
  /** Connect with TLS: `true` for the defaults, or options. Default: plain TCP. */
  readonly tls?: boolean | TlsOptions | undefined
  /**
   * Wrap every operation in a tracing span (`EventStore.publish`, ...). Default false: a span costs
   * about as much client-side time as the rest of a small request.
   */
  readonly tracing?: boolean | undefined
}

/**
 * Options with every default applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly host: string
  readonly port: number
  readonly credentials: Credentials.Credentials | undefined
  readonly connectionName: string
  readonly requireLeader: boolean
  readonly operationTimeout: Duration.Duration
  readonly heartbeatInterval: Duration.Duration
  readonly heartbeatTimeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
  readonly maxConcurrentRequests: number
  readonly tls: TlsOptions | undefined
  readonly tracing: boolean
}

/**
 * The defaults, those of the official .NET TCP client where it has one (docs/protocol.md 6.3).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  host: "localhost",
  port: 1113,
  requireLeader: true,
  operationTimeout: Duration.seconds(7),
  heartbeatInterval: Duration.millis(750),
  heartbeatTimeout: Duration.millis(1500),
  connectTimeout: Duration.seconds(1),
  maxConcurrentRequests: 5000,
  tracing: false
} as const

const invalid = (reason: string): InvalidSettings =>
  new InvalidSettings({ reason, input: undefined, position: undefined, length: undefined })

const positiveDuration = (name: string, input: Duration.Input | undefined, fallback: Duration.Duration) => {
  if (input === undefined) return Result.succeed(fallback)
  const duration = Duration.fromInput(input)
  if (Option.isNone(duration)) return Result.fail(invalid(`${name} is not a duration`))
  if (!Duration.isGreaterThan(duration.value, Duration.zero)) {
    return Result.fail(invalid(`${name} must be longer than zero`))
  }
  return Result.succeed(duration.value)
}

/**
 * Applies the defaults to options, or to the options of a connection string, and checks them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input?: Options | string): Result.Result<Settings, InvalidSettings> => {
  if (typeof input === "string") return Result.flatMap(parseConnectionString(input), make)
  const options = input ?? {}
  const host = options.host ?? defaults.host
  if (host.length === 0) return Result.fail(invalid("the host is empty"))
  const port = options.port ?? defaults.port
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return Result.fail(invalid(`the port must be an integer from 1 to 65535, not ${port}`))
  }
  const maxConcurrentRequests = options.maxConcurrentRequests ?? defaults.maxConcurrentRequests
  if (!Number.isSafeInteger(maxConcurrentRequests) || maxConcurrentRequests < 1) {
    return Result.fail(invalid(`maxConcurrentRequests must be a whole number from 1, not ${maxConcurrentRequests}`))
  }
  if (options.credentials !== undefined) {
    const valid = Package.validateCredentials({
      login: options.credentials.username,
      password: options.credentials.password
    })
    if (Result.isFailure(valid)) return Result.fail(invalid(valid.failure.message))
  }
  return Result.gen(function*() {
    return {
      host,
      port,
      credentials: options.credentials,
      connectionName: options.connectionName ?? `ES-${Guid.random()}`,
      requireLeader: options.requireLeader ?? defaults.requireLeader,
      operationTimeout: yield* positiveDuration("operationTimeout", options.operationTimeout, defaults.operationTimeout),
      heartbeatInterval: yield* positiveDuration(
        "heartbeatInterval",
        options.heartbeatInterval,
        defaults.heartbeatInterval
      ),
      heartbeatTimeout: yield* positiveDuration("heartbeatTimeout", options.heartbeatTimeout, defaults.heartbeatTimeout),
      connectTimeout: yield* positiveDuration("connectTimeout", options.connectTimeout, defaults.connectTimeout),
      maxConcurrentRequests,
      tls: options.tls === true ? {} : options.tls === false ? undefined : options.tls,
      tracing: options.tracing ?? defaults.tracing
    }
  })
}

// -----------------------------------------------------------------------------
// connection strings
// -----------------------------------------------------------------------------

const mask = "*****"

/**
 * Parses a connection string:
 *
 * ```
 * tcp://[user[:password]@]host[:port][/][?key=value&...]
 * ```
 *
 * The user name and password may be percent-encoded. The keys (any case, .NET spellings accepted) are
 * `connectionName`, `requireLeader` (`requireMaster`), `operationTimeout`, `heartbeatInterval`,
 * `heartbeatTimeout`, `connectTimeout` (`clientConnectionTimeout`), `maxConcurrentRequests`
 * (`maxConcurrentItems`), `tls` (`useSslConnection`),
 * `tlsVerifyCert` (`validateServer`), `targetHost` and `tracing`. Durations are milliseconds (`750`) or have a
 * unit (`750ms`, `7s`, `2m`, `7 seconds`).
 *
 * An error names what is wrong and points at it in the string, whose password is masked.
 *
 * @since 0.1.0
 * @category connection strings
 */
export const parseConnectionString = (input: string): Result.Result<Options, InvalidSettings> => {
  // Where the password lies, once known, so that errors can echo the string with it masked.
  let passwordSpan: readonly [number, number] | undefined
  const fail = (reason: string, position: number, length: number): Result.Result<never, InvalidSettings> => {
    let shown = input
    let at = position
    if (passwordSpan !== undefined) {
      const [start, end] = passwordSpan
      shown = input.slice(0, start) + mask + input.slice(end)
      const shift = mask.length - (end - start)
      if (at >= end) at += shift
      else if (at >= start) {
        at = start
        length = mask.length
      }
    }
    return Result.fail(new InvalidSettings({ reason, input: shown, position: at, length }))
  }

  const scheme = "tcp://"
  if (!input.toLowerCase().startsWith(scheme)) {
    const end = input.indexOf("://")
    return end > 0 && input.slice(0, end).toLowerCase() === "discover"
      ? fail("cluster discovery (discover://) is not supported yet; use tcp://host:port", 0, end + 3)
      : fail("a connection string starts with tcp://", 0, end > 0 ? end + 3 : Math.min(input.length, 6) || 1)
  }
  let at = scheme.length
  const authorityEnd = (() => {
    for (let i = at; i < input.length; i++) if (input[i] === "/" || input[i] === "?") return i
    return input.length
  })()
  const atSign = input.lastIndexOf("@", authorityEnd - 1)
  const options: { -readonly [K in keyof Options]: Options[K] } = {}

  if (atSign >= at) {
    const userInfo = input.slice(at, atSign)
    const colon = userInfo.indexOf(":")
    const rawUser = colon < 0 ? userInfo : userInfo.slice(0, colon)
    if (colon >= 0) passwordSpan = [at + colon + 1, atSign]
    const rawPassword = colon < 0 ? undefined : userInfo.slice(colon + 1)
    if (rawUser.length === 0) return fail("the user name is empty", at, 1)
    let username: string
    try {
      username = decodeURIComponent(rawUser)
    } catch {
      return fail("the user name is not valid percent-encoding", at, rawUser.length)
    }
    if (rawPassword === undefined) return fail("the user name has no password (user:password@)", at, rawUser.length)
    let password: string
    try {
      password = decodeURIComponent(rawPassword)
    } catch {
      return fail("the password is not valid percent-encoding", passwordSpan![0], rawPassword.length)
    }
    const credentials = Credentials.make(username, password)
    const valid = Package.validateCredentials({ login: credentials.username, password: credentials.password })
    if (Result.isFailure(valid)) {
      return valid.failure.field === "login"
        ? fail(valid.failure.message, at, rawUser.length)
        : fail(valid.failure.message, passwordSpan![0], Math.max(1, rawPassword.length))
    }
    options.credentials = credentials
    at = atSign + 1
  }

  // host
  let hostEnd: number
  if (input[at] === "[") {
    const close = input.indexOf("]", at)
    if (close < 0 || close > authorityEnd) return fail("an IPv6 address needs its closing ]", at, authorityEnd - at)
    options.host = input.slice(at + 1, close)
    if (!/^[0-9a-fA-F:.]+$/.test(options.host)) return fail("not an IPv6 address", at, close + 1 - at)
    hostEnd = close + 1
  } else {
    hostEnd = at
    while (hostEnd < authorityEnd && input[hostEnd] !== ":") hostEnd++
    options.host = input.slice(at, hostEnd)
    if (options.host.length === 0) return fail("the host is missing", at, 1)
    for (let i = at; i < hostEnd; i++) {
      if (!/[A-Za-z0-9._-]/.test(input[i]!)) return fail(`"${input[i]}" cannot appear in a host name`, i, 1)
    }
  }

  // port
  if (hostEnd < authorityEnd) {
    if (input[hostEnd] !== ":") return fail("expected :port after the host", hostEnd, 1)
    const portText = input.slice(hostEnd + 1, authorityEnd)
    if (!/^\d+$/.test(portText)) {
      return fail("the port must be a number", hostEnd + 1, Math.max(1, portText.length))
    }
    const port = Number(portText)
    if (port < 1 || port > 65535) return fail("the port must be from 1 to 65535", hostEnd + 1, portText.length)
    options.port = port
  }

  // path and query
  at = authorityEnd
  if (input[at] === "/") at++
  if (at < input.length && input[at] !== "?") {
    return fail("a connection string has no path; options go after ?", at, input.length - at)
  }
  if (input[at] === "?") {
    at++
    while (at < input.length) {
      let end = input.indexOf("&", at)
      if (end < 0) end = input.length
      const pair = input.slice(at, end)
      if (pair.length > 0) {
        const equals = pair.indexOf("=")
        if (equals <= 0) return fail("expected key=value", at, Math.max(1, pair.length))
        const key = pair.slice(0, equals)
        let value: string
        try {
          value = decodeURIComponent(pair.slice(equals + 1))
        } catch {
          return fail("the value is not valid percent-encoding", at + equals + 1, pair.length - equals - 1)
        }
        const valueAt = at + equals + 1
        const valueLength = Math.max(1, pair.length - equals - 1)
        const applied = applyOption(options, key.toLowerCase(), value)
        if (applied === "unknown") return fail(`unknown option "${key}"`, at, key.length)
        if (applied !== "ok") return fail(`${key}: ${applied}`, valueAt, valueLength)
      }
      at = end + 1
    }
  }
  return Result.succeed(options)
}

const parseBoolean = (value: string): boolean | undefined => {
  const lower = value.toLowerCase()
  return lower === "true" || lower === "1" || lower === "yes"
    ? true
    : lower === "false" || lower === "0" || lower === "no"
    ? false
    : undefined
}

const parseCount = (value: string): number | undefined => {
  if (!/^\s*\d+\s*$/.test(value)) return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined
}

const units: Record<string, number> = {
  ms: 1,
  millis: 1,
  s: 1000,
  sec: 1000,
  seconds: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minutes: 60_000,
  minute: 60_000
}

/**
 * Reads a duration as written in a connection string or an environment variable: milliseconds, or a
 * number with a unit.
 *
 * @since 0.1.0
 * @category connection strings
 */
export const parseDuration = (value: string): Duration.Duration | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value)
  if (match === null) return undefined
  const unit = match[2]!.toLowerCase()
  const factor = unit === "" ? 1 : units[unit]
  if (factor === undefined) return undefined
  const millis = Number(match[1]) * factor
  return millis > 0 ? Duration.millis(millis) : undefined
}

const applyOption = (
  options: { -readonly [K in keyof Options]: Options[K] },
  key: string,
  value: string
): "ok" | "unknown" | string => {
  const duration = (): Duration.Duration | string => parseDuration(value) ?? "expected a duration such as 750, 750ms or 7s"
  const boolean = (): boolean | string => parseBoolean(value) ?? "expected true or false"
  const tls = (): TlsOptions => typeof options.tls === "object" ? options.tls : {}
  switch (key) {
    case "connectionname":
      if (value.length === 0) return "the connection name is empty"
      options.connectionName = value
      return "ok"
    case "requireleader":
    case "requiremaster": {
      const b = boolean()
      if (typeof b === "string") return b
      options.requireLeader = b
      return "ok"
    }
    case "operationtimeout":
    case "heartbeatinterval":
    case "heartbeattimeout":
    case "connecttimeout":
    case "clientconnectiontimeout": {
      const d = duration()
      if (typeof d === "string") return d
      if (key === "operationtimeout") options.operationTimeout = d
      else if (key === "heartbeatinterval") options.heartbeatInterval = d
      else if (key === "heartbeattimeout") options.heartbeatTimeout = d
      else options.connectTimeout = d
      return "ok"
    }
    case "maxconcurrentrequests":
    case "maxconcurrentitems":
    case "maxconcurrentitem": {
      const n = parseCount(value)
      if (n === undefined) return "expected a whole number from 1"
      options.maxConcurrentRequests = n
      return "ok"
    }
    case "tls":
    case "usesslconnection": {
      const b = boolean()
      if (typeof b === "string") return b
      options.tls = b ? tls() : undefined
      return "ok"
    }
    case "tlsverifycert":
    case "validateserver": {
      const b = boolean()
      if (typeof b === "string") return b
      options.tls = { ...tls(), rejectUnauthorized: b }
      return "ok"
    }
    case "tracing": {
      const b = boolean()
      if (typeof b === "string") return b
      options.tracing = b
      return "ok"
    }
    case "targethost":
      if (value.length === 0) return "the target host is empty"
      options.tls = { ...tls(), servername: value }
      return "ok"
    default:
      return "unknown"
  }
}

// -----------------------------------------------------------------------------
// config
// -----------------------------------------------------------------------------

const configFailure = (message: string): Config.Config<never> =>
  Config.fail(new ConfigProvider.SourceError({ message }))

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

const durationConfig = (name: string): Config.Config<Duration.Duration | undefined> =>
  optional(
    Config.String(name).pipe(
      Config.flatMap((text) => {
        const duration = parseDuration(text)
        return duration === undefined
          ? configFailure(`${name}: expected a duration such as 750, 750ms or 7s`)
          : Config.succeed(duration)
      })
    )
  )

/**
 * Options read from the environment (or any `ConfigProvider`):
 *
 * | variable | option |
 * |---|---|
 * | `EVENTSTORE_CONNECTION_STRING` | a whole connection string; the variables below override its parts |
 * | `EVENTSTORE_HOST`, `EVENTSTORE_PORT` | `host`, `port` |
 * | `EVENTSTORE_USERNAME`, `EVENTSTORE_PASSWORD` | `credentials` (both or neither) |
 * | `EVENTSTORE_CONNECTION_NAME` | `connectionName` |
 * | `EVENTSTORE_REQUIRE_LEADER` | `requireLeader` |
 * | `EVENTSTORE_OPERATION_TIMEOUT`, `EVENTSTORE_HEARTBEAT_INTERVAL`, `EVENTSTORE_HEARTBEAT_TIMEOUT`, `EVENTSTORE_CONNECT_TIMEOUT` | durations |
 * | `EVENTSTORE_MAX_CONCURRENT_REQUESTS` | `maxConcurrentRequests` |
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  connectionString: optional(Config.String("EVENTSTORE_CONNECTION_STRING")),
  host: optional(Config.String("EVENTSTORE_HOST")),
  port: optional(Config.Port("EVENTSTORE_PORT")),
  username: optional(Config.String("EVENTSTORE_USERNAME")),
  password: optional(Config.Redacted("EVENTSTORE_PASSWORD")),
  connectionName: optional(Config.String("EVENTSTORE_CONNECTION_NAME")),
  requireLeader: optional(Config.Boolean("EVENTSTORE_REQUIRE_LEADER")),
  operationTimeout: durationConfig("EVENTSTORE_OPERATION_TIMEOUT"),
  heartbeatInterval: durationConfig("EVENTSTORE_HEARTBEAT_INTERVAL"),
  heartbeatTimeout: durationConfig("EVENTSTORE_HEARTBEAT_TIMEOUT"),
  connectTimeout: durationConfig("EVENTSTORE_CONNECT_TIMEOUT"),
  maxConcurrentRequests: optional(
    Config.String("EVENTSTORE_MAX_CONCURRENT_REQUESTS").pipe(
      Config.flatMap((text) => {
        const n = parseCount(text)
        return n === undefined
          ? configFailure("EVENTSTORE_MAX_CONCURRENT_REQUESTS: expected a whole number from 1")
          : Config.succeed(n)
      })
    )
  )
}).pipe(
  Config.flatMap((values): Config.Config<Options> => {
    let base: Options = {}
    if (values.connectionString !== undefined) {
      const parsed = parseConnectionString(values.connectionString)
      if (Result.isFailure(parsed)) {
        return configFailure(`EVENTSTORE_CONNECTION_STRING: ${parsed.failure.message}`)
      }
      base = parsed.success
    }
    if ((values.username === undefined) !== (values.password === undefined)) {
      return configFailure("EVENTSTORE_USERNAME and EVENTSTORE_PASSWORD must be set together")
    }
    const credentials = values.username === undefined
      ? base.credentials
      : Credentials.make(values.username, values.password as Redacted.Redacted<string>)
    return Config.succeed(withoutUndefined({
      ...base,
      host: values.host ?? base.host,
      port: values.port ?? base.port,
      credentials,
      connectionName: values.connectionName ?? base.connectionName,
      requireLeader: values.requireLeader ?? base.requireLeader,
      operationTimeout: values.operationTimeout ?? base.operationTimeout,
      heartbeatInterval: values.heartbeatInterval ?? base.heartbeatInterval,
      heartbeatTimeout: values.heartbeatTimeout ?? base.heartbeatTimeout,
      connectTimeout: values.connectTimeout ?? base.connectTimeout,
      maxConcurrentRequests: values.maxConcurrentRequests ?? base.maxConcurrentRequests
    }))
  })
)

const withoutUndefined = (options: Options): Options => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value
  return out as Options
}
