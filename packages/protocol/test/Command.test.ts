import { assert, describe, it } from "@effect/vitest"
import { Command } from "@photonpump/protocol"

describe("Command", () => {
  it("has the bytes of protocol.md section 2", () => {
    assert.strictEqual(Command.Command.HeartbeatRequest, 0x01)
    assert.strictEqual(Command.Command.HeartbeatResponse, 0x02)
    assert.strictEqual(Command.Command.Ping, 0x03)
    assert.strictEqual(Command.Command.Pong, 0x04)
    assert.strictEqual(Command.Command.WriteEvents, 0x82)
    assert.strictEqual(Command.Command.DeleteStreamCompleted, 0x8b)
    assert.strictEqual(Command.Command.ReadEventCompleted, 0xb1)
    assert.strictEqual(Command.Command.FilteredReadAllEventsBackward, 0xbc)
    assert.strictEqual(Command.Command.FilteredReadAllEventsBackwardCompleted, 0xbe)
    assert.strictEqual(Command.Command.PersistentSubscriptionStreamEventAppeared, 0xc7)
    assert.strictEqual(Command.Command.CreatePersistentSubscription, 0xc8)
    assert.strictEqual(Command.Command.CheckpointReached, 0xd3)
    assert.strictEqual(Command.Command.BadRequest, 0xf0)
    assert.strictEqual(Command.Command.ClientIdentified, 0xf6)
  })

  it("gives every command its own byte", () => {
    const bytes = Object.values(Command.Command)
    assert.strictEqual(new Set(bytes).size, bytes.length)
    // 4 liveness + 10 writes + 14 reads + 16 subscriptions + 4 scavenge/filtered + 7 connection-level.
    assert.strictEqual(bytes.length, 55)
  })

  it("knows the commands of the external protocol and nothing else", () => {
    for (const byte of Object.values(Command.Command)) assert.isTrue(Command.isCommand(byte))
    // 0xbd is skipped by every server; 0x05 to 0x17 only travel between cluster nodes.
    for (const byte of [0x00, 0x05, 0x07, 0x17, 0x80, 0x81, 0xbd, 0xd4, 0xf7, 0xff, 256, -1]) {
      assert.isFalse(Command.isCommand(byte), byte.toString(16))
    }
  })

  it("names commands, and unknown bytes by their hex form", () => {
    assert.strictEqual(Command.name(0xc8), "CreatePersistentSubscription")
    assert.strictEqual(Command.name(0x01), "HeartbeatRequest")
    assert.strictEqual(Command.name(0xbd), "0xbd")
    assert.strictEqual(Command.name(0x07), "0x07")
  })
})
