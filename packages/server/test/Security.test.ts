/**
 * Access control on the wire (docs/protocol.md 4.13): AccessDenied (valid or anonymous caller without
 * permission) versus NotAuthenticated (wrong credentials), per-stream ACLs in metadata, defaults from
 * `$settings`, and the 23.10 refusal of anonymous callers.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import { admin, append, C, connect, newEvent, readForward, streamName, text } from "./RawClient.ts"

const OperationResult = Messages.OperationResult
const ReadStreamResult = Messages.ReadStreamEventsCompleted_ReadStreamResult
const encoder = new TextEncoder()

const users = [
  { login: "reader", password: "r", groups: ["readers"] },
  { login: "writer", password: "w", groups: [] }
]
const reader = { login: "reader", password: "r" }
const writer = { login: "writer", password: "w" }

const json = (eventType: string, value: unknown) => ({ ...newEvent(eventType), data: encoder.encode(JSON.stringify(value)) })

describe("Security", () => {
  layer(EventStoreServer.layer({ port: 0, users }), { excludeTestServices: true })("with stream ACLs", (it) => {
    it.effect("applies a stream's $acl per operation: AccessDenied for the wrong user", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const stream = streamName()
        const acl = { $acl: { $r: "readers", $w: "writer", $mr: "$all" } }
        yield* append(client, "$$" + stream, -1n, [json("$metadata", acl)])
        const byWriter = yield* append(client, stream, -2n, [newEvent()], { credentials: writer })
        assert.strictEqual(byWriter.result, OperationResult.Success)
        const byReader = yield* append(client, stream, -2n, [newEvent()], { credentials: reader })
        assert.strictEqual(byReader.result, OperationResult.AccessDenied)
        const anonymous = yield* readForward(client, stream, 0n, 10)
        assert.strictEqual(anonymous.result, ReadStreamResult.AccessDenied)
        assert.strictEqual(anonymous.error, "Access Denied")
        assert.strictEqual(anonymous.nextEventNumber, -1n)
        assert.isTrue(anonymous.isEndOfStream)
        const read = yield* readForward(client, stream, 0n, 10, { credentials: reader })
        assert.strictEqual(read.events.length, 1)
        const asAdmin = yield* readForward(client, stream, 0n, 10, { credentials: admin })
        assert.strictEqual(asAdmin.events.length, 1)
        // $mw was not given, so it falls back to the default ($all): anyone may rewrite the metadata.
        const rewrite = yield* append(client, "$$" + stream, -2n, [json("$metadata", {})], { credentials: reader })
        assert.strictEqual(rewrite.result, OperationResult.Success)
      }))

    it.effect("answers wrong credentials with NotAuthenticated, never AccessDenied", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const id = client.sendMessage(
          C.ReadStreamEventsForward,
          Messages.ReadStreamEventsSchema,
          { eventStreamId: streamName(), fromEventNumber: 0n, maxCount: 1, resolveLinkTos: false, requireLeader: true },
          { credentials: { login: "reader", password: "wrong" } }
        )
        const reply = yield* client.reply(id)
        assert.strictEqual(reply.command, C.NotAuthenticated)
        assert.strictEqual(text(reply.payload), "Not Authenticated")
      }))

    it.effect("takes the defaults of streams without an ACL from $settings", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const system = "$" + streamName()
        const denied = yield* append(client, system, -2n, [newEvent()], { credentials: writer })
        assert.strictEqual(denied.result, OperationResult.AccessDenied)
        const settings = json("$settings", { $systemStreamAcl: { $w: ["writer", "$admins"] } })
        const written = yield* append(client, "$settings", -2n, [settings], { credentials: admin })
        assert.strictEqual(written.result, OperationResult.Success)
        const allowed = yield* append(client, system, -2n, [newEvent()], { credentials: writer })
        assert.strictEqual(allowed.result, OperationResult.Success)
        // Reading system streams still falls back to the built-in default: administrators only.
        const read = yield* readForward(client, system, 0n, 10, { credentials: writer })
        assert.strictEqual(read.result, ReadStreamResult.AccessDenied)
        yield* append(client, "$settings", -2n, [json("$settings", {})], { credentials: admin })
      }))

    it.effect("lets non-administrators read $all when its metadata allows", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const readAll = () =>
          client.request(
            C.ReadAllEventsForward,
            Messages.ReadAllEventsSchema,
            { commitPosition: 0n, preparePosition: 0n, maxCount: 1, resolveLinkTos: false, requireLeader: true },
            C.ReadAllEventsForwardCompleted,
            Messages.ReadAllEventsCompletedSchema,
            { credentials: reader }
          )
        const before = yield* readAll()
        assert.strictEqual(before.result, Messages.ReadAllEventsCompleted_ReadAllResult.AccessDenied)
        yield* append(client, "$$$all", -2n, [json("$metadata", { $acl: { $r: "readers" } })], { credentials: admin })
        const after = yield* readAll()
        assert.strictEqual(after.result, Messages.ReadAllEventsCompleted_ReadAllResult.Success)
      }))
  })

  layer(EventStoreServer.layer({ port: 0, users, allowAnonymousStreamAccess: false }), { excludeTestServices: true })(
    "with anonymous access off (23.10)",
    (it) => {
      it.effect("refuses anonymous callers with AccessDenied and serves authenticated ones", () =>
        Effect.gen(function*() {
          const { port } = yield* EventStoreServer.EventStoreServer
          const client = yield* connect(port)
          const stream = streamName()
          const anonymousWrite = yield* append(client, stream, -2n, [newEvent()])
          assert.strictEqual(anonymousWrite.result, OperationResult.AccessDenied)
          const anonymousRead = yield* readForward(client, stream, 0n, 10)
          assert.strictEqual(anonymousRead.result, ReadStreamResult.AccessDenied)
          const written = yield* append(client, stream, -2n, [newEvent()], { credentials: writer })
          assert.strictEqual(written.result, OperationResult.Success)
          yield* client.reply(client.send(C.Authenticate, undefined, { credentials: reader }))
          const read = yield* readForward(client, stream, 0n, 10)
          assert.strictEqual(read.events.length, 1)
          // Ping and heartbeats stay open to anonymous callers.
          const other = yield* connect(port)
          assert.strictEqual((yield* other.reply(other.send(C.Ping))).command, C.Pong)
        }))
    }
  )
})
