import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Guid, ProtocolError } from "@photonpump/protocol"
import { failsWith } from "./Assertions.ts"
import { hex, toHex } from "./WireVectors.ts"

const sixteenBytes = Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(16, 16)))

describe("Guid", () => {
  describe("the .NET byte order (protocol.md 1.3)", () => {
    it("reverses the first three groups and keeps the last eight bytes as written", () => {
      const wire = Result.getOrThrow(Guid.toWire("01234567-89ab-cdef-0123-456789abcdef"))
      assert.strictEqual(toHex(wire), "67 45 23 01 ab 89 ef cd 01 23 45 67 89 ab cd ef")
      assert.deepStrictEqual(
        Guid.fromWire(hex("67 45 23 01 ab 89 ef cd 01 23 45 67 89 ab cd ef")),
        Result.succeed("01234567-89ab-cdef-0123-456789abcdef")
      )
    })

    it("reads the correlation id of the captured heartbeat as the test that captured it asserts", () => {
      const id = hex("9f 65 81 c1 0b 80 58 4b a8 5d 5f d3 fd c5 23 b9")
      assert.deepStrictEqual(Guid.fromWire(id), Result.succeed("c181659f-800b-4b58-a85d-5fd3fdc523b9"))
    })

    it("reads 16 bytes at any offset of a larger buffer", () => {
      const buffer = hex("ff ff 67 45 23 01 ab 89 ef cd 01 23 45 67 89 ab cd ef ff")
      assert.strictEqual(Guid.readUnsafe(buffer, 2), "01234567-89ab-cdef-0123-456789abcdef")
    })

    it("writes 16 bytes at any offset of a larger buffer, touching nothing else", () => {
      const buffer = new Uint8Array(20).fill(0xff)
      assert.isTrue(Guid.writeUnsafe("01234567-89ab-cdef-0123-456789abcdef", buffer, 3))
      assert.strictEqual(toHex(buffer), "ff ff ff 67 45 23 01 ab 89 ef cd 01 23 45 67 89 ab cd ef ff")
    })
  })

  describe("text forms", () => {
    it("accepts upper, lower and mixed case and always gives lower case back", () => {
      const upper = Result.getOrThrow(Guid.toWire("C181659F-800B-4B58-A85D-5FD3FDC523B9"))
      const mixed = Result.getOrThrow(Guid.toWire("c181659F-800b-4B58-a85D-5fd3FDC523b9"))
      assert.deepStrictEqual(upper, mixed)
      assert.deepStrictEqual(Guid.fromWire(upper), Result.succeed("c181659f-800b-4b58-a85d-5fd3fdc523b9"))
    })

    it("refuses anything but the canonical 8-4-4-4-12 form, with InvalidUuid naming the input", () => {
      const invalid = [
        "",
        "c181659f800b4b58a85d5fd3fdc523b9",
        "{c181659f-800b-4b58-a85d-5fd3fdc523b9}",
        " c181659f-800b-4b58-a85d-5fd3fdc523b9",
        "c181659f-800b-4b58-a85d-5fd3fdc523b",
        "c181659f-800b-4b58-a85d-5fd3fdc523b9a",
        "c181659f-800b-4b58-a85d_5fd3fdc523b9",
        "c181659f0-800b-4b58-a85d-5fd3fdc523b",
        "g181659f-800b-4b58-a85d-5fd3fdc523b9",
        "c181659f-800b-4b58-a85d-5fd3fdc523bZ",
        "c181659f-800b-4b58-a8-d-5fd3fdc523b9",
        "c181659f-800b-4b58-a85d-5fd3fdc523\u00e9\u00e9"
      ]
      for (const input of invalid) {
        assert.isFalse(Guid.isUuid(input), input)
        const error = failsWith(Guid.toWire(input), ProtocolError.InvalidUuid, input)
        assert.strictEqual(error.input, input)
      }
    })

    it("leaves the target untouched when the text is not a UUID", () => {
      const buffer = new Uint8Array(16).fill(0xaa)
      assert.isFalse(Guid.writeUnsafe("01234567-89ab-cdef-0123-456789abcdeg", buffer, 0))
      assert.deepStrictEqual(buffer, new Uint8Array(16).fill(0xaa))
    })

    it("refuses wire GUIDs that are not exactly 16 bytes", () => {
      for (const length of [0, 15, 17]) {
        const error = failsWith(Guid.fromWire(new Uint8Array(length)), ProtocolError.InvalidUuid)
        assert.strictEqual(error.input, `<${length} bytes>`)
      }
    })
  })

  describe("constants and constructors", () => {
    it("has the all-zero UUID, which is all-zero on the wire too", () => {
      assert.deepStrictEqual(Guid.toWire(Guid.empty), Result.succeed(new Uint8Array(16)))
    })

    it("makes random version 4 UUIDs in the canonical form", () => {
      const a = Guid.random()
      const b = Guid.random()
      assert.isTrue(Guid.isUuid(a))
      assert.notStrictEqual(a, b)
      assert.strictEqual(a[14], "4")
    })
  })

  describe("properties", () => {
    it.prop("any 16 bytes survive wire -> text -> wire", [sixteenBytes], ([bytes]) => {
      const text = Result.getOrThrow(Guid.fromWire(bytes))
      assert.isTrue(Guid.isUuid(text))
      assert.deepStrictEqual(Guid.toWire(text), Result.succeed(bytes))
      assert.deepStrictEqual(Guid.toWire(text.toUpperCase()), Result.succeed(bytes))
    })

    it.prop("random UUIDs survive text -> wire -> text", [Arbitrary.schema(Schema.Number)], () => {
      const uuid = Guid.random()
      assert.deepStrictEqual(Result.flatMap(Guid.toWire(uuid), Guid.fromWire), Result.succeed(uuid))
    })

    const anyString = Arbitrary.schema(Schema.String)

    it.prop("any string is either a UUID or an InvalidUuid, never a throw", [anyString], ([text]) => {
      const result = Guid.toWire(text)
      assert.strictEqual(Result.isSuccess(result), Guid.isUuid(text))
      if (!Guid.isUuid(text)) failsWith(result, ProtocolError.InvalidUuid)
    })
  })
})
