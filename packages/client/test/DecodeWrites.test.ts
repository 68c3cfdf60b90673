/**
 * The hand-written decoder of the write replies against the generated code, in both wire styles
 * servers use.
 */
import { assert, describe, it } from "@effect/vitest"
import { create, type MessageInitShape } from "@bufbuild/protobuf"
import * as Result from "effect/Result"
import { Messages } from "@photonpump/protocol"
import * as Decode from "../src/internal/Decode.ts"

const styles = [
  ["every field written", Messages.encode],
  ["defaults omitted (22.6+)", Messages.encodeOmittingDefaults]
] as const

const replies: ReadonlyArray<readonly [string, MessageInitShape<typeof Messages.WriteEventsCompletedSchema>]> = [
  ["a success", {
    result: Messages.OperationResult.Success,
    firstEventNumber: 10n,
    lastEventNumber: 12n,
    preparePosition: 123_456n,
    commitPosition: 123_400n
  }],
  ["a success with 64-bit numbers", {
    result: Messages.OperationResult.Success,
    firstEventNumber: 2n ** 53n + 1n,
    lastEventNumber: 2n ** 62n,
    preparePosition: 9_223_372_036_854_775_807n,
    commitPosition: 2n ** 40n
  }],
  ["a first write, at event 0 and position 0", {
    result: Messages.OperationResult.Success,
    firstEventNumber: 0n,
    lastEventNumber: 0n,
    preparePosition: 0n,
    commitPosition: 0n
  }],
  ["a wrong expected version, with its message and current version", {
    result: Messages.OperationResult.WrongExpectedVersion,
    message: "Wrong expected version: é",
    firstEventNumber: -1n,
    lastEventNumber: -1n,
    preparePosition: -1n,
    commitPosition: -1n,
    currentVersion: 41n
  }],
  ["an access denied, with zero numbers", {
    result: Messages.OperationResult.AccessDenied,
    firstEventNumber: 0n,
    lastEventNumber: 0n
  }]
]

const fields = (reply: Decode.WriteReply | Messages.WriteEventsCompleted) => ({
  result: reply.result,
  message: reply.message,
  firstEventNumber: reply.firstEventNumber,
  lastEventNumber: reply.lastEventNumber,
  preparePosition: reply.preparePosition,
  commitPosition: reply.commitPosition,
  currentVersion: reply.currentVersion
})

describe("Decode.writeEventsCompleted", () => {
  describe.each(styles)("%s", (_style, encode) => {
    it.each(replies)("reads %s as the generated code does", (_name, init) => {
      const bytes = Result.getOrThrow(encode(Messages.WriteEventsCompletedSchema, create(Messages.WriteEventsCompletedSchema, init)))
      const expected = Result.getOrThrow(Messages.decode(Messages.WriteEventsCompletedSchema, bytes))
      const actual = Decode.writeEventsCompleted(bytes)
      if (Decode.isMalformed(actual)) throw new Error(actual.reason)
      assert.deepStrictEqual(fields(actual), fields(expected))
    })
  })

  it("skips fields it does not know", () => {
    // result = WrongExpectedVersion, then an unknown field 15 (varint), then current_version = 3.
    const actual = Decode.writeEventsCompleted(new Uint8Array([0x08, 0x04, 0x78, 0x01, 0x38, 0x03]))
    if (Decode.isMalformed(actual)) throw new Error(actual.reason)
    assert.strictEqual(actual.result, Messages.OperationResult.WrongExpectedVersion)
    assert.strictEqual(actual.currentVersion, 3n)
  })

  it("reports bytes that are not the message instead of throwing", () => {
    assert.isTrue(Decode.isMalformed(Decode.writeEventsCompleted(new Uint8Array([0x18, 0xff]))))
    assert.isTrue(Decode.isMalformed(Decode.writeEventsCompleted(new Uint8Array([0x12, 0x05, 0x41]))))
  })
})
