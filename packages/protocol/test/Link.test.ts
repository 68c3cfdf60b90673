import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"
import { Link } from "@photonpump/protocol"

const encoder = new TextEncoder()

describe("Link", () => {
  it("has the event type `$>`", () => {
    assert.strictEqual(Link.eventType, "$>")
  })

  it("reads the data of the captured links (wire-vectors.md sections 2 and 3)", () => {
    assert.deepStrictEqual(Link.parse(encoder.encode("0@Cancellation-d762a534-6bc6-4768-af28-2abcf71a1349")), {
      eventNumber: 0n,
      streamId: "Cancellation-d762a534-6bc6-4768-af28-2abcf71a1349"
    })
    assert.deepStrictEqual(Link.parse(encoder.encode("0@some")), { eventNumber: 0n, streamId: "some" })
  })

  it("reads text as well as bytes", () => {
    assert.deepStrictEqual(Link.parse("93@$ce-Cancellation"), { eventNumber: 93n, streamId: "$ce-Cancellation" })
  })

  it("splits at the first `@`, so stream names may contain `@`", () => {
    assert.deepStrictEqual(Link.parse("5@user@example.com"), { eventNumber: 5n, streamId: "user@example.com" })
  })

  it("reads event numbers as bigints, up to the largest int64", () => {
    assert.deepStrictEqual(Link.parse("9223372036854775807@s"), { eventNumber: 9223372036854775807n, streamId: "s" })
  })

  it("gives undefined for data that does not point at an event", () => {
    const invalid = [
      "",
      "@",
      "0@",
      "@stream",
      "stream",
      "-1@stream",
      "+1@stream",
      " 1@stream",
      "1 @stream",
      "1.5@stream",
      "0x10@stream",
      "one@stream",
      "9223372036854775808@stream"
    ]
    for (const data of invalid) assert.isUndefined(Link.parse(data), JSON.stringify(data))
    assert.isUndefined(Link.parse(new Uint8Array([0xff, 0xfe, 0x40, 0x61])))
  })

  it("formats a target as `<number>@<stream>` in UTF-8", () => {
    assert.deepStrictEqual(Link.format({ eventNumber: 42n, streamId: "ponies-é" }), encoder.encode("42@ponies-é"))
  })

  const target = Arbitrary.schema(Schema.Struct({
    eventNumber: Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 9223372036854775807n })),
    streamId: Schema.String.check(Schema.isNonEmpty())
  })).pipe(
    // Lone surrogates have no UTF-8 form; stream names on the wire are always well-formed.
    Arbitrary.filter(({ streamId }) => new TextDecoder().decode(encoder.encode(streamId)) === streamId)
  )

  it.prop("format then parse gives the target back", [target], ([link]) => {
    assert.deepStrictEqual(Link.parse(Link.format(link)), link)
  })

  const anyBytes = Arbitrary.schema(Schema.Uint8Array)
  const anyString = Arbitrary.schema(Schema.String)

  it.prop("parse never throws", [anyBytes, anyString], ([bytes, text]) => {
    for (const data of [bytes, text]) {
      const parsed = Link.parse(data)
      if (parsed !== undefined) assert.isTrue(parsed.eventNumber >= 0n && parsed.streamId.length > 0)
    }
  })
})
