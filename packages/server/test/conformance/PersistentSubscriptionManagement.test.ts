/**
 * Conformance of persistent-subscription management and connection, checked by node-eventstore-client
 * and raw packages (protocol.md sections 3.7, 4.13 and 5.4): create, update and delete with every
 * result code and reason text, the `$admins`/`$ops` requirement, settings persisted in
 * `$persistentSubscriptionConfig`, connecting to an unknown group (NotFound) or without read access
 * (AccessDenied), and the confirmation's `stream::group` id, last commit position and last event
 * number.
 *
 * node-eventstore-client quirks worked around here:
 * - it refuses an empty stream name itself, so that request is sent raw;
 * - it folds the reason text into its error message only for Fail, so the other reasons are checked
 *   on raw replies.
 */
import { afterAll, beforeAll, describe, it, assert } from "vitest"
import {
  admin,
  conformanceServer,
  EventStore,
  jsonEvents,
  num,
  ops,
  rejection,
  streamName
} from "./Harness.ts"
import { connectConsumer, createGroup, groupName, settings, subscriptionId } from "./PersistentHarness.ts"
import { RawConnection, readStreamEvents } from "./RawConnection.ts"
import {
  connectToPersistentSubscription,
  createPersistentSubscription,
  deletePersistentSubscription,
  DropReason,
  ManagementResult,
  rawAdmin,
  updatePersistentSubscription
} from "./RawSubscriptions.ts"

const { expectedVersion } = EventStore

const alice = new EventStore.UserCredentials("alice", "alice-password")
const rawAlice = { username: "alice", password: "alice-password" }

const es = conformanceServer({ users: [{ login: "alice", password: "alice-password", groups: [] }] })

let raw: RawConnection
beforeAll(async () => {
  raw = await RawConnection.open(es.server)
})
afterAll(async () => {
  await raw.close()
})

describe("creating a persistent subscription group (protocol.md 5.4)", () => {
  it("succeeds as admin, with reason \"\"", async () => {
    const stream = streamName("create")
    const result = await es.connection.createPersistentSubscription(stream, groupName(), settings(), admin)
    assert.strictEqual(result.status, "success")
    const reply = await createPersistentSubscription(raw, stream, groupName(), {}, rawAdmin)
    assert.deepStrictEqual(reply, { result: ManagementResult.Success, reason: "" })
  })

  it("succeeds as a member of $ops", async () => {
    const result = await es.connection.createPersistentSubscription(streamName("create-ops"), groupName(), settings(), ops)
    assert.strictEqual(result.status, "success")
  })

  it("is denied to anonymous callers and to users outside $admins and $ops", async () => {
    const stream = streamName("create-denied")
    const group = groupName()
    for (const credentials of [undefined, alice]) {
      const error = await rejection(es.connection.createPersistentSubscription(stream, group, settings(), credentials))
      assert.strictEqual(error.message, `Write access denied for stream '${stream}'.`)
    }
    assert.strictEqual((await createPersistentSubscription(raw, stream, group)).result, ManagementResult.AccessDenied)
    assert.strictEqual((await createPersistentSubscription(raw, stream, group, {}, rawAlice)).result, ManagementResult.AccessDenied)
    // Nothing was created: the name is still free.
    assert.strictEqual((await createPersistentSubscription(raw, stream, group, {}, rawAdmin)).result, ManagementResult.Success)
  })

  it("of a group that exists fails with AlreadyExists", async () => {
    const stream = streamName("create-twice")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const error = await rejection(es.connection.createPersistentSubscription(stream, group, settings(), admin))
    assert.strictEqual(error.message, `Subscription group ${group} on stream ${stream} already exists`)
    assert.deepStrictEqual(await createPersistentSubscription(raw, stream, group, {}, rawAdmin), {
      result: ManagementResult.AlreadyExistsOrDoesNotExist,
      reason: `Group '${group}' already exists.`
    })
  })

  it("of the same group name on another stream succeeds: groups are per stream", async () => {
    const group = groupName()
    for (const stream of [streamName("per-stream-a"), streamName("per-stream-b")]) {
      assert.deepStrictEqual(await createPersistentSubscription(raw, stream, group, {}, rawAdmin), {
        result: ManagementResult.Success,
        reason: ""
      })
    }
  })

  it("on $all or on an empty stream name fails with \"Bad stream name.\"", async () => {
    const group = groupName()
    const error = await rejection(es.connection.createPersistentSubscription("$all", group, settings(), admin))
    assert.strictEqual(error.message, `Subscription group ${group} on stream $all failed 'Bad stream name.'`)
    for (const stream of ["$all", ""]) {
      assert.deepStrictEqual(await createPersistentSubscription(raw, stream, group, {}, rawAdmin), {
        result: ManagementResult.Fail,
        reason: "Bad stream name."
      })
    }
  })

  it("with an unknown consumer strategy fails", async () => {
    const stream = streamName("create-strategy")
    const group = groupName()
    const error = await rejection(
      es.connection.createPersistentSubscription(stream, group, settings({ namedConsumerStrategy: "Bogus" }), admin)
    )
    assert.strictEqual(error.message, `Subscription group ${group} on stream ${stream} failed 'Consumer strategy Bogus does not exist.'`)
    assert.deepStrictEqual(
      await createPersistentSubscription(raw, stream, group, { namedConsumerStrategy: "Bogus" }, rawAdmin),
      { result: ManagementResult.Fail, reason: "Consumer strategy Bogus does not exist." }
    )
  })

  it("accepts every documented strategy", async () => {
    const stream = streamName("create-strategies")
    for (const strategy of ["RoundRobin", "DispatchToSingle", "Pinned", "PinnedByCorrelation"]) {
      const reply = await createPersistentSubscription(raw, stream, groupName(strategy), { namedConsumerStrategy: strategy }, rawAdmin)
      assert.deepStrictEqual(reply, { result: ManagementResult.Success, reason: "" }, strategy)
    }
  })

  it("with no strategy name uses prefer_round_robin", async () => {
    const stream = streamName("create-prefer")
    for (const preferRoundRobin of [true, false]) {
      const reply = await createPersistentSubscription(
        raw,
        stream,
        groupName(),
        { namedConsumerStrategy: "", preferRoundRobin },
        rawAdmin
      )
      assert.deepStrictEqual(reply, { result: ManagementResult.Success, reason: "" })
    }
  })

  it("persists the group's settings in $persistentSubscriptionConfig", async () => {
    const before = await es.connection.readStreamEventsBackward("$persistentSubscriptionConfig", -1, 1, false, admin)
    const stream = streamName("create-config")
    const group = groupName("config")
    await createGroup(es.connection, stream, group)
    const after = await es.connection.readStreamEventsBackward("$persistentSubscriptionConfig", -1, 1, false, admin)
    assert.strictEqual(after.status, "success")
    assert.isAbove(num(after.lastEventNumber), before.status === "success" ? num(before.lastEventNumber) : -1)
    const data = after.events[0]!.event!.data!.toString("utf8")
    assert.include(data, stream)
    assert.include(data, group)
  })
})

describe("updating a persistent subscription group (protocol.md 5.4)", () => {
  it("succeeds as admin", async () => {
    const stream = streamName("update")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const result = await es.connection.updatePersistentSubscription(stream, group, settings({ maxRetryCount: 3 }), admin)
    assert.strictEqual(result.status, "success")
    assert.deepStrictEqual(await updatePersistentSubscription(raw, stream, group, {}, rawAdmin), {
      result: ManagementResult.Success,
      reason: ""
    })
  })

  it("of a group that does not exist fails with DoesNotExist", async () => {
    const stream = streamName("update-absent")
    const group = groupName()
    const error = await rejection(es.connection.updatePersistentSubscription(stream, group, settings(), admin))
    assert.strictEqual(error.message, `Subscription group ${group} on stream ${stream} does not exist`)
    assert.deepStrictEqual(await updatePersistentSubscription(raw, stream, group, {}, rawAdmin), {
      result: ManagementResult.AlreadyExistsOrDoesNotExist,
      reason: `Group '${group}' does not exist.`
    })
  })

  it("is denied to anonymous callers and to users outside $admins and $ops", async () => {
    const stream = streamName("update-denied")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const error = await rejection(es.connection.updatePersistentSubscription(stream, group, settings(), alice))
    assert.strictEqual(error.message, `Write access denied for stream '${stream}'.`)
    assert.strictEqual((await updatePersistentSubscription(raw, stream, group)).result, ManagementResult.AccessDenied)
  })

  it("with an unknown consumer strategy fails", async () => {
    const stream = streamName("update-strategy")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    assert.deepStrictEqual(
      await updatePersistentSubscription(raw, stream, group, { namedConsumerStrategy: "Bogus" }, rawAdmin),
      { result: ManagementResult.Fail, reason: "Consumer strategy Bogus does not exist." }
    )
  })
})

describe("deleting a persistent subscription group (protocol.md 5.4)", () => {
  it("succeeds as admin, after which the name is free again", async () => {
    const stream = streamName("delete")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const result = await es.connection.deletePersistentSubscription(stream, group, admin)
    assert.strictEqual(result.status, "success")
    await createGroup(es.connection, stream, group)
    assert.deepStrictEqual(await deletePersistentSubscription(raw, stream, group, rawAdmin), {
      result: ManagementResult.Success,
      reason: ""
    })
  })

  it("of a group that does not exist fails with DoesNotExist", async () => {
    const stream = streamName("delete-absent")
    const group = groupName()
    const error = await rejection(es.connection.deletePersistentSubscription(stream, group, admin))
    assert.strictEqual(error.message, `Subscription group ${group} on stream ${stream} does not exist`)
    assert.strictEqual(
      (await deletePersistentSubscription(raw, stream, group, rawAdmin)).result,
      ManagementResult.AlreadyExistsOrDoesNotExist
    )
  })

  it("is denied to anonymous callers and to users outside $admins and $ops", async () => {
    const stream = streamName("delete-denied")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const error = await rejection(es.connection.deletePersistentSubscription(stream, group, alice))
    assert.strictEqual(error.message, `Write access denied for stream '${stream}'.`)
    assert.strictEqual((await deletePersistentSubscription(raw, stream, group)).result, ManagementResult.AccessDenied)
    // The group is still there.
    assert.strictEqual((await deletePersistentSubscription(raw, stream, group, rawAdmin)).result, ManagementResult.Success)
  })
})

describe("connecting to a persistent subscription group (protocol.md 5.4)", () => {
  it("is confirmed with the stream::group id, the last commit position and the stream's last event number", async () => {
    const stream = streamName("connect")
    const group = groupName()
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(3))
    await createGroup(es.connection, stream, group, { startFrom: -1 })
    const lastCommitPosition = num((await readStreamEvents(raw, "forward", streamName("probe"), 0, 1)).lastCommitPosition)
    const subscription = connectToPersistentSubscription(raw, stream, group, 10)
    const confirmation = await subscription.persistentConfirmation()
    assert.strictEqual(confirmation.subscriptionId, subscriptionId(stream, group))
    assert.strictEqual(num(confirmation.lastEventNumber), 2)
    assert.isAtLeast(num(confirmation.lastCommitPosition), lastCommitPosition)
    subscription.unsubscribe()
    assert.strictEqual(await subscription.dropped(), DropReason.Unsubscribed)
  })

  it("to a group on a stream that does not exist yet is confirmed with last event number -1", async () => {
    const stream = streamName("connect-empty")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const subscription = connectToPersistentSubscription(raw, stream, group, 10)
    assert.strictEqual(num((await subscription.persistentConfirmation()).lastEventNumber), -1)
    subscription.unsubscribe()
    assert.strictEqual(await subscription.dropped(), DropReason.Unsubscribed)
  })

  it("through the client gives a subscription that receives events and stops as userInitiated", async () => {
    const stream = streamName("connect-client")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const consumer = await connectConsumer(es.connection, stream, group)
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(1))
    const [event] = await consumer.events.atLeast(1, "the event")
    assert.strictEqual(num(event!.originalEventNumber), 0)
    consumer.subscription.stop()
    assert.strictEqual((await consumer.drops.atLeast(1, "the drop"))[0]!.reason, "userInitiated")
  })

  it("to a group that does not exist is dropped with NotFound", async () => {
    const stream = streamName("connect-unknown")
    await es.connection.appendToStream(stream, expectedVersion.noStream, jsonEvents(1))
    const error = await rejection(connectConsumer(es.connection, stream, "no-such-group"))
    assert.strictEqual(error.message, "Subscription not found")
    const subscription = connectToPersistentSubscription(raw, stream, "no-such-group", 10)
    assert.strictEqual(await subscription.dropped(), DropReason.NotFound)
    // A group of the same name on another stream is another group.
    const other = streamName("connect-other")
    await createGroup(es.connection, other, "shared-name")
    const elsewhere = connectToPersistentSubscription(raw, stream, "shared-name", 10)
    assert.strictEqual(await elsewhere.dropped(), DropReason.NotFound)
  })

  it("to a group that was deleted is dropped with NotFound", async () => {
    const stream = streamName("connect-deleted")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    await es.connection.deletePersistentSubscription(stream, group, admin)
    const subscription = connectToPersistentSubscription(raw, stream, group, 10)
    assert.strictEqual(await subscription.dropped(), DropReason.NotFound)
  })

  it("without read access to the stream is dropped with AccessDenied", async () => {
    const stream = streamName("connect-denied")
    const group = groupName()
    await es.connection.setStreamMetadataRaw(stream, expectedVersion.noStream, { $acl: { $r: "$admins" } }, admin)
    await createGroup(es.connection, stream, group)
    const error = await rejection(connectConsumer(es.connection, stream, group, { credentials: alice }))
    assert.strictEqual(error.message, "You do not have access to the stream.")
    const subscription = connectToPersistentSubscription(raw, stream, group, 10, rawAlice)
    assert.strictEqual(await subscription.dropped(), DropReason.AccessDenied)
    const allowed = connectToPersistentSubscription(raw, stream, group, 10, rawAdmin)
    assert.strictEqual((await allowed.persistentConfirmation()).subscriptionId, subscriptionId(stream, group))
  })

  it("with wrong credentials is answered NotAuthenticated", async () => {
    const stream = streamName("connect-wrong")
    const group = groupName()
    await createGroup(es.connection, stream, group)
    const error = await rejection(
      connectConsumer(es.connection, stream, group, { credentials: new EventStore.UserCredentials("alice", "wrong") })
    )
    assert.strictEqual(error.message, "Not Authenticated")
  })
})
