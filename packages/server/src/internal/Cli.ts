/**
 * The command line of the node: its usage text and the parsing of its arguments into options, kept
 * apart from the process (signals, exit codes) so that it can be tested as a function.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import type * as EventStoreServer from "../EventStoreServer.ts"

/**
 * The help text.
 *
 * @since 0.1.0
 * @category constants
 */
export const usage = `Usage: photonpump-server [options]

An in-memory EventStore node speaking EventStore's TCP protocol (the legacy client
protocol of EventStoreDB 5.x to 23.10). Nothing is written to disk: the data lives
as long as the process. Prints "listening on HOST:PORT" once it listens, and stops
cleanly on SIGINT or SIGTERM.

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
  --persistent-subscription-tick <ms>
                               How often persistent subscriptions retry timed-out
                               messages and write checkpoints by time (default 1000)
  --verbose                    Log connections and errors (debug level)
  -h, --help                   Show this help
`

/**
 * What a command line asks for.
 *
 * @since 0.1.0
 * @category models
 */
export type Command =
  | { readonly status: "Help" }
  | { readonly status: "Invalid"; readonly reason: string }
  | { readonly status: "Serve"; readonly options: EventStoreServer.Options; readonly verbose: boolean }

class Invalid {
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

const integer = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (value.trim() === "" || !Number.isInteger(parsed) || parsed < 0) {
    throw new Invalid(`--${name} must be a non-negative integer, got "${value}"`)
  }
  return parsed
}

const user = (spec: string) => {
  const [login, password, groups] = spec.split(":")
  if (login === undefined || login === "" || password === undefined) {
    throw new Invalid(`--user must be login:password[:groups], got "${spec}"`)
  }
  return { login, password, groups: groups === undefined || groups === "" ? [] : groups.split(",") }
}

const millis = (value: number | undefined) => (value === undefined ? undefined : `${value} millis` as const)

/**
 * Parses the arguments of the command line (without the node and script paths).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (args: ReadonlyArray<string>): Command => {
  try {
    const { values } = parseArgs({
      args: [...args],
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
        "persistent-subscription-tick": { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" }
      },
      strict: true,
      allowPositionals: false
    })
    if (values.help === true) return { status: "Help" }
    const port = integer("port", values.port)
    if (port !== undefined && port > 65535) throw new Invalid(`--port must be at most 65535, got ${port}`)
    return {
      status: "Serve",
      verbose: values.verbose === true,
      options: {
        host: values.host ?? "127.0.0.1",
        port: port ?? 1113,
        users: (values.user ?? []).map(user),
        allowAnonymousStreamAccess: values["no-anonymous-access"] !== true,
        omitDefaultValues: values["omit-defaults"] === true,
        heartbeatInterval: millis(integer("heartbeat-interval", values["heartbeat-interval"])),
        heartbeatTimeout: millis(integer("heartbeat-timeout", values["heartbeat-timeout"])),
        maxFrameLength: integer("max-frame-length", values["max-frame-length"]),
        maxSendQueueBytes: integer("max-send-queue", values["max-send-queue"]),
        persistentSubscriptionTick: millis(
          integer("persistent-subscription-tick", values["persistent-subscription-tick"])
        )
      }
    }
  } catch (error) {
    if (error instanceof Invalid) return { status: "Invalid", reason: error.reason }
    return { status: "Invalid", reason: error instanceof Error ? error.message : String(error) }
  }
}
