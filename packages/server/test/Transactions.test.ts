/**
 * Transactions on the wire (docs/protocol.md 4.10): start, write, commit, and the checks at commit.
 */
import { assert, layer } from "@effect/vitest"
import { Messages } from "@photonpump/protocol"
import { EventStoreServer } from "@photonpump/server"
import * as Effect from "effect/Effect"
import { admin, append, C, commitTransaction, connect, newEvent, type RawClient, readForward, streamName } from "./RawClient.ts"

const OperationResult = Messages.OperationResult

const start = (client: RawClient, stream: string, expectedVersion: bigint, credentials?: typeof admin) =>
  client.request(
    C.TransactionStart,
    Messages.TransactionStartSchema,
    { eventStreamId: stream, expectedVersion, requireLeader: true },
    C.TransactionStartCompleted,
    Messages.TransactionStartCompletedSchema,
    credentials === undefined ? undefined : { credentials }
  )

const write = (client: RawClient, transactionId: bigint, count: number) =>
  client.request(
    C.TransactionWrite,
    Messages.TransactionWriteSchema,
    { transactionId, events: Array.from({ length: count }, () => newEvent()), requireLeader: true },
    C.TransactionWriteCompleted,
    Messages.TransactionWriteCompletedSchema
  )

layer(EventStoreServer.layer({ port: 0, prepareTimeout: "300 millis" }), { excludeTestServices: true })(
  "Transactions",
  (it) => {
    it.effect("starts, writes and commits; the events appear at commit, positioned at the commit record", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const stream = streamName()
        const started = yield* start(client, stream, -1n)
        assert.strictEqual(started.result, OperationResult.Success)
        assert.isTrue(started.transactionId > 0n)
        const written = yield* write(client, started.transactionId, 2)
        assert.strictEqual(written.result, OperationResult.Success)
        assert.strictEqual(written.transactionId, started.transactionId)
        yield* write(client, started.transactionId, 1)
        const before = yield* readForward(client, stream, 0n, 10)
        assert.strictEqual(before.result, Messages.ReadStreamEventsCompleted_ReadStreamResult.NoStream)
        const committed = yield* commitTransaction(client, started.transactionId)
        assert.strictEqual(committed.result, OperationResult.Success)
        assert.strictEqual(committed.transactionId, started.transactionId)
        assert.strictEqual(committed.firstEventNumber, 0n)
        assert.strictEqual(committed.lastEventNumber, 2n)
        assert.strictEqual(committed.preparePosition, committed.commitPosition)
        assert.isTrue(committed.commitPosition > started.transactionId)
        const after = yield* readForward(client, stream, 0n, 10)
        assert.strictEqual(after.events.length, 3)
        const page = yield* client.request(
          C.ReadAllEventsBackward,
          Messages.ReadAllEventsSchema,
          { commitPosition: -1n, preparePosition: -1n, maxCount: 4096, resolveLinkTos: false, requireLeader: true },
          C.ReadAllEventsBackwardCompleted,
          Messages.ReadAllEventsCompletedSchema,
          { credentials: admin }
        )
        const mine = page.events.filter((e) => e.event!.eventStreamId === stream)
        assert.strictEqual(mine.length, 3)
        for (const e of mine) {
          assert.strictEqual(e.commitPosition, committed.commitPosition)
          assert.isTrue(e.preparePosition < e.commitPosition)
        }
      }))

    it.effect("checks the expected version at commit", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const stream = streamName()
        const started = yield* start(client, stream, -1n)
        yield* write(client, started.transactionId, 1)
        yield* append(client, stream, -1n, [newEvent()])
        const committed = yield* commitTransaction(client, started.transactionId)
        assert.strictEqual(committed.result, OperationResult.WrongExpectedVersion)
        assert.strictEqual(committed.message, "Wrong expected version.")
      }))

    it.effect("answers a commit of an unknown transaction with InvalidTransaction", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const committed = yield* commitTransaction(client, 987_654_321n)
        assert.strictEqual(committed.result, OperationResult.InvalidTransaction)
        assert.strictEqual(committed.message, "Invalid transaction.")
      }))

    it.effect("answers a write to an unknown transaction with PrepareTimeout once the timeout runs out", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const sent = Date.now()
        const written = yield* write(client, 987_654_321n, 1)
        assert.strictEqual(written.result, OperationResult.PrepareTimeout)
        assert.strictEqual(written.message, "Prepare phase timeout.")
        assert.isAtLeast(Date.now() - sent, 250)
      }))

    it.effect("refuses to start a transaction on a stream the caller may not write", () =>
      Effect.gen(function*() {
        const { port } = yield* EventStoreServer.EventStoreServer
        const client = yield* connect(port)
        const denied = yield* start(client, "$" + streamName(), -2n)
        assert.strictEqual(denied.result, OperationResult.AccessDenied)
        assert.strictEqual(denied.transactionId, -1n)
        const allowed = yield* start(client, "$" + streamName(), -2n, admin)
        assert.strictEqual(allowed.result, OperationResult.Success)
      }))
  }
)
