#!/usr/bin/env node
/**
 * The command line of the embedded node: `photonpump-server --host 127.0.0.1 --port 1113` prints
 * `listening on HOST:PORT` once it listens and stops cleanly on SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as References from "effect/References"
import { parseArgs } from "node:util"
import * as EventStoreServer from "../EventStoreServer.ts"

const usage = `Usage: photonpump-server [options]

An in-memory EventStore node speaking EventStore's TCP protocol (the legacy client
protocol of EventStoreDB 5.x to 23.10). Nothing is written to disk: the data lives
as long as the process.

Options:
  --host <address>             Address to listen on (default 127.0.0.1)
  --port <port>                Port to listen on; 0 picks a free one (default 1113)
  --user <login:password[:groups]>
                               Add a user; groups are comma-separated roles, e.g.
                               --user alice:secret:$admins,readers. Repeatable.
                               admin/changeit ($admins) and ops/changeit ($ops)
                               always exist.
  --no-anonymous-access        Deny anonymous callers every stream operation, as
                               EventStoreDB 23.10 does by default (the default here
                               is the 20.10 behaviour: stream ACLs decide)
  --omit-defaults              Encode replies as 22.6+ servers do, leaving out
                               fields that hold their default value
  --heartbeat-interval <ms>    Probe a connection after this much silence (default 2000)
  --heartbeat-timeout <ms>     Drop a probed connection that stays silent this long
                               (default 1000)
  --max-frame-length <bytes>   Largest frame accepted (default 67108864)
  --max-send-queue <bytes>     Unsent bytes after which a slow reader is dropped
                               (default 10485760)
  --verbose                    Log connections and errors (debug level)
  -h, --help                   Show this help
`

const fail = (message: string): never => {
  process.stderr.write(`photonpump-server: ${message}\n\n${usage}`)
  process.exit(2)
}

const integer = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 0) fail(`--${name} must be a non-negative integer, got "${value}"`)
  return parsed
}

const parseUser = (spec: string) => {
  const [login, password, groups] = spec.split(":")
  if (login === undefined || login === "" || password === undefined) {
    return fail(`--user must be login:password[:groups], got "${spec}"`)
  }
  return { login, password, groups: groups === undefined || groups === "" ? [] : groups.split(",") }
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        host: { type: "string" },
        port: { type: "string" },
        user: { type: "string", multiple: true },
        "no-anonymous-access": { type: "boolean" },
        "omit-defaults": { type: "boolean" },
        "heartbeat-interval": { type: "string" },
        "heartbeat-timeout": { type: "string" },
        "max-frame-length": { type: "string" },
        "max-send-queue": { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" }
      },
      strict: true
    }).values
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
})()

if (parsed.help === true) {
  process.stdout.write(usage)
  process.exit(0)
}

const heartbeatInterval = integer("heartbeat-interval", parsed["heartbeat-interval"])
const heartbeatTimeout = integer("heartbeat-timeout", parsed["heartbeat-timeout"])
const options: EventStoreServer.Options = {
  host: parsed.host ?? "127.0.0.1",
  port: integer("port", parsed.port) ?? 1113,
  users: (parsed.user ?? []).map(parseUser),
  allowAnonymousStreamAccess: parsed["no-anonymous-access"] !== true,
  omitDefaultValues: parsed["omit-defaults"] === true,
  heartbeatInterval: heartbeatInterval === undefined ? undefined : `${heartbeatInterval} millis`,
  heartbeatTimeout: heartbeatTimeout === undefined ? undefined : `${heartbeatTimeout} millis`,
  maxFrameLength: integer("max-frame-length", parsed["max-frame-length"]),
  maxSendQueueBytes: integer("max-send-queue", parsed["max-send-queue"])
}

const program = Effect.gen(function*() {
  const server = yield* EventStoreServer.make(options)
  process.stdout.write(`listening on ${server.host}:${server.port}\n`)
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.catchTag("ServerError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`photonpump-server: ${error.message}\n`)
      process.exitCode = 1
    })),
  Effect.provideService(References.MinimumLogLevel, parsed.verbose === true ? "Debug" : "Info")
)

NodeRuntime.runMain(program, {
  disableErrorReporting: false,
  // A signal interrupts the program; stopping on request is a clean exit.
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? (process.exitCode as number | undefined) ?? 0 : 1)
})
