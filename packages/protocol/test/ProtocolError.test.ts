import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import { ProtocolError } from "@photonpump/protocol"

describe("ProtocolError", () => {
  it("tags every error, so that callers can catch each kind", () => {
    const errors: ReadonlyArray<readonly [ProtocolError.ProtocolError, string]> = [
      [new ProtocolError.InvalidFrameLength({ length: 0, maxLength: 10 }), "InvalidFrameLength"],
      [new ProtocolError.MalformedPackage({ reason: "short" }), "MalformedPackage"],
      [new ProtocolError.CredentialsTooLong({ field: "login", byteLength: 300 }), "CredentialsTooLong"],
      [new ProtocolError.InvalidUuid({ input: "x" }), "InvalidUuid"],
      [new ProtocolError.MalformedPayload({ messageType: "ReadEvent", reason: "premature EOF" }), "MalformedPayload"]
    ]
    for (const [error, tag] of errors) {
      assert.isTrue(Predicate.isTagged(error, tag), tag)
      assert.instanceOf(error, Error)
    }
  })

  it.effect("fails effects and is caught by tag", () =>
    Effect.gen(function*() {
      const caught = yield* Effect.fail(new ProtocolError.InvalidUuid({ input: "nope" })).pipe(
        Effect.catchTag("InvalidUuid", (error) => Effect.succeed(error.input))
      )
      assert.strictEqual(caught, "nope")
    }))

  it("says what was wrong in its message", () => {
    assert.strictEqual(
      new ProtocolError.InvalidFrameLength({ length: -1, maxLength: 67108864 }).message,
      "Invalid frame length -1: a frame holds 1 to 67108864 bytes"
    )
    assert.strictEqual(
      new ProtocolError.MalformedPackage({ reason: "the login is cut short" }).message,
      "Malformed package: the login is cut short"
    )
    assert.strictEqual(
      new ProtocolError.CredentialsTooLong({ field: "password", byteLength: 256 }).message,
      "The password is 256 bytes long in UTF-8; the protocol allows at most 255"
    )
    assert.strictEqual(new ProtocolError.InvalidUuid({ input: "not-a-uuid" }).message, `Not a UUID: "not-a-uuid"`)
    assert.strictEqual(
      new ProtocolError.MalformedPayload({ messageType: "NotHandled", reason: "premature EOF" }).message,
      "Malformed NotHandled payload: premature EOF"
    )
  })

  it("holds no frames before an InvalidFrameLength unless it is given some", () => {
    assert.deepStrictEqual(new ProtocolError.InvalidFrameLength({ length: 0, maxLength: 1 }).framesBefore, [])
    const frames = [new Uint8Array([1])]
    assert.strictEqual(
      new ProtocolError.InvalidFrameLength({ length: 0, maxLength: 1, framesBefore: frames }).framesBefore,
      frames
    )
  })

  it("has no field that could hold a credential", () => {
    const error = new ProtocolError.CredentialsTooLong({ field: "password", byteLength: 300 })
    const keys = Object.keys(error).filter((key) => key !== "stack")
    assert.sameMembers(keys, ["_tag", "byteLength", "field"])
  })
})
