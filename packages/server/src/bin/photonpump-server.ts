#!/usr/bin/env node
/**
 * The command line of the embedded node: `photonpump-server --host 127.0.0.1 --port 1113` prints
 * `listening on HOST:PORT` once it listens and stops cleanly on SIGINT or SIGTERM. `--help` lists the
 * options.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as References from "effect/References"
import * as EventStoreServer from "../EventStoreServer.ts"
import * as Cli from "../internal/Cli.ts"

const command = Cli.parse(process.argv.slice(2))

if (command.status === "Help") {
  process.stdout.write(Cli.usage)
} else if (command.status === "Invalid") {
  process.stderr.write(`photonpump-server: ${command.reason}\n\n${Cli.usage}`)
  process.exitCode = 2
} else {
  const program = Effect.gen(function*() {
    const server = yield* EventStoreServer.make(command.options)
    process.stdout.write(`listening on ${server.host}:${server.port}\n`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.catchTag("ServerError", (error) =>
      Effect.sync(() => {
        process.stderr.write(`photonpump-server: ${error.message}\n`)
        process.exitCode = 1
      })),
    Effect.provideService(References.MinimumLogLevel, command.verbose ? "Debug" : "Info")
  )
  NodeRuntime.runMain(program, {
    // SIGINT and SIGTERM interrupt the program: stopping on request is a clean exit.
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? Number(process.exitCode ?? 0) : 1)
  })
}
