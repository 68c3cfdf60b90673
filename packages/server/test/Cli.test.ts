/**
 * The command line: its arguments, and the built `photonpump-server` binary as a user runs it (it
 * prints `listening on HOST:PORT`, serves, and exits 0 on SIGTERM and SIGINT).
 */
import { assert, describe, it } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Cli from "../src/internal/Cli.ts"
import { append, connect, newEvent, streamName } from "./RawClient.ts"

const binary = fileURLToPath(new URL("../dist/bin/photonpump-server.js", import.meta.url))

describe("Command line", () => {
  it("defaults to 127.0.0.1:1113 and the 20.10 behaviour", () => {
    const command = Cli.parse([])
    assert.strictEqual(command.status, "Serve")
    if (command.status !== "Serve") return
    assert.strictEqual(command.options.host, "127.0.0.1")
    assert.strictEqual(command.options.port, 1113)
    assert.isTrue(command.options.allowAnonymousStreamAccess)
    assert.isFalse(command.options.omitDefaultValues)
    assert.isFalse(command.verbose)
  })

  it("reads every option", () => {
    const command = Cli.parse([
      "--host",
      "0.0.0.0",
      "--port",
      "2113",
      "--user",
      "alice:secret:$admins,readers",
      "--user",
      "bob:pw",
      "--no-anonymous-access",
      "--omit-defaults",
      "--heartbeat-interval",
      "500",
      "--heartbeat-timeout",
      "250",
      "--max-frame-length",
      "1024",
      "--max-send-queue",
      "2048",
      "--persistent-subscription-tick",
      "50",
      "--verbose"
    ])
    assert.deepStrictEqual(command, {
      status: "Serve",
      verbose: true,
      options: {
        host: "0.0.0.0",
        port: 2113,
        users: [
          { login: "alice", password: "secret", groups: ["$admins", "readers"] },
          { login: "bob", password: "pw", groups: [] }
        ],
        allowAnonymousStreamAccess: false,
        omitDefaultValues: true,
        heartbeatInterval: "500 millis",
        heartbeatTimeout: "250 millis",
        maxFrameLength: 1024,
        maxSendQueueBytes: 2048,
        persistentSubscriptionTick: "50 millis"
      }
    })
  })

  it("asks for help with --help or -h", () => {
    assert.deepStrictEqual(Cli.parse(["--help"]), { status: "Help" })
    assert.deepStrictEqual(Cli.parse(["-h"]), { status: "Help" })
    assert.include(Cli.usage, "--no-anonymous-access")
    assert.include(Cli.usage, "--omit-defaults")
    assert.include(Cli.usage, "--user")
  })

  for (
    const [args, reason] of [
      [["--port", "http"], "--port must be a non-negative integer"],
      [["--port", "70000"], "--port must be at most 65535"],
      [["--user", "nopassword"], "--user must be login:password[:groups]"],
      [["--bogus"], "Unknown option '--bogus'"],
      [["extra"], "Unexpected argument 'extra'"]
    ] as const
  ) {
    it(`refuses ${args.join(" ")}`, () => {
      const command = Cli.parse(args)
      assert.strictEqual(command.status, "Invalid")
      if (command.status === "Invalid") assert.include(command.reason, reason)
    })
  }

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.live(`the built binary prints where it listens, serves, and exits 0 on ${signal}`, () =>
      Effect.gen(function*() {
        const child = ChildProcess.spawn(process.execPath, [binary, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] })
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
        const line = yield* Effect.callback<string, Error>((resume) => {
          let output = ""
          child.stdout.on("data", (chunk: Buffer) => {
            output += chunk.toString()
            if (output.includes("\n")) resume(Effect.succeed(output.split("\n")[0]!))
          })
          child.once("exit", (code) => resume(Effect.fail(new Error(`exited with ${code} before listening`))))
        })
        const match = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line)
        assert.isNotNull(match, line)
        const client = yield* connect(Number(match![1]))
        const written = yield* append(client, streamName(), -1n, [newEvent()])
        assert.strictEqual(written.result, Messages.OperationResult.Success)
        child.kill(signal)
        const code = yield* Effect.promise(() => exited)
        assert.strictEqual(code, 0)
        yield* client.closed()
      }))
  }
})
