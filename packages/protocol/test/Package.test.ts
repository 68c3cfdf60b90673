import { create } from "@bufbuild/protobuf"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Command, Frame, Guid, Messages, Package, ProtocolError } from "@photonpump/protocol"
import { basicAuth, bearerToken, failsWith, succeeds } from "./Assertions.ts"
import {
  createPersistentSubscriptionBody,
  eventAppearedLinkOnly,
  eventAppearedWithLink,
  heartbeatRequest,
  hex,
  readEventCompleted,
  toHex
} from "./WireVectors.ts"

const encoder = new TextEncoder()
const ping = Command.Command.Ping

const credentials = (login: string, password: string): Package.Credentials => ({
  login,
  password: Redacted.make(password)
})

/** Whether a string has a UTF-8 form (no lone surrogates). */
const wellFormed = (text: string) => new TextDecoder().decode(encoder.encode(text)) === text

/** The body of a frame: what follows the length prefix. */
const bodyOf = (frame: Uint8Array): Uint8Array => frame.subarray(Frame.prefixLength)

/** A package body with the given header fields followed by raw bytes. */
const packageBody = (command: number, flags: number, correlationId: string, rest: Uint8Array): Uint8Array => {
  const body = new Uint8Array(Package.headerLength + rest.length)
  body[0] = command
  body[1] = flags
  Guid.writeUnsafe(correlationId, body, 2)
  body.set(rest, Package.headerLength)
  return body
}

describe("Package", () => {
  describe("decoding the captured frames (wire-vectors.md)", () => {
    it("section 1: a HeartbeatRequest with no payload", () => {
      const pkg = succeeds(Package.decode(bodyOf(heartbeatRequest)))
      assert.strictEqual(heartbeatRequest.length - Frame.prefixLength, 18)
      assert.strictEqual(pkg.command, Command.Command.HeartbeatRequest)
      assert.strictEqual(pkg.flags, Package.Flags.None)
      assert.strictEqual(pkg.correlationId, "c181659f-800b-4b58-a85d-5fd3fdc523b9")
      assert.isUndefined(pkg.auth)
      assert.strictEqual(pkg.payload.length, 0)
    })

    it("section 2: a PersistentSubscriptionStreamEventAppeared of 495 bytes, 477 of them payload", () => {
      assert.strictEqual(eventAppearedWithLink.length, 499)
      assert.strictEqual(toHex(eventAppearedWithLink.subarray(0, 4)), "ef 01 00 00")
      const pkg = succeeds(Package.decode(bodyOf(eventAppearedWithLink)))
      assert.strictEqual(pkg.command, Command.Command.PersistentSubscriptionStreamEventAppeared)
      assert.strictEqual(pkg.command, 0xc7)
      assert.strictEqual(pkg.flags, 0)
      assert.strictEqual(pkg.correlationId, "f192d72f-7abd-4ae4-ae05-f206873c749d")
      assert.strictEqual(pkg.payload.length, 477)
    })

    it("section 3: the link-only PersistentSubscriptionStreamEventAppeared, length 185", () => {
      assert.strictEqual(eventAppearedLinkOnly.length - Frame.prefixLength, 185)
      const pkg = succeeds(Package.decode(bodyOf(eventAppearedLinkOnly)))
      assert.strictEqual(pkg.command, 0xc7)
      assert.strictEqual(pkg.flags, 0)
      assert.strictEqual(pkg.correlationId, "5a2fc08b-6b9b-4b5e-977e-d07be396fbc7")
      assert.strictEqual(pkg.payload.length, 185 - 18)
    })

    it("section 4: a ReadEventCompleted, length 156", () => {
      assert.strictEqual(readEventCompleted.length - Frame.prefixLength, 156)
      const pkg = succeeds(Package.decode(bodyOf(readEventCompleted)))
      assert.strictEqual(pkg.command, Command.Command.ReadEventCompleted)
      assert.strictEqual(pkg.flags, 0)
      assert.strictEqual(pkg.correlationId, "364ab9f3-fe6c-436d-a365-bead2e1ce36b")
      assert.strictEqual(pkg.payload.length, 156 - 18)
    })

    it("gives the payload as a view into the body, not a copy", () => {
      const body = bodyOf(readEventCompleted)
      const pkg = succeeds(Package.decode(body))
      assert.strictEqual(pkg.payload.buffer, body.buffer)
      assert.strictEqual(pkg.payload.byteOffset, body.byteOffset + Package.headerLength)
    })
  })

  describe("encoding byte for byte", () => {
    it("section 5: the CreatePersistentSubscription request, 99 bytes after the prefix 63 00 00 00", () => {
      const payload = succeeds(Messages.encode(
        Messages.CreatePersistentSubscriptionSchema,
        create(Messages.CreatePersistentSubscriptionSchema, {
          subscriptionGroupName: "best-subscription",
          eventStreamId: "$ce-Cancellation",
          resolveLinkTos: true,
          startFrom: 0n,
          messageTimeoutMilliseconds: 30000,
          recordStatistics: false,
          liveBufferSize: 32,
          readBatchSize: 64,
          bufferSize: 128,
          maxRetryCount: 10,
          preferRoundRobin: true,
          checkpointAfterTime: 2000,
          checkpointMaxCount: 1000,
          checkpointMinCount: 10,
          subscriberMaxCount: 0,
          namedConsumerStrategy: "RoundRobin"
        })
      ))
      const frame = succeeds(Package.encodeFrame({
        command: Command.Command.CreatePersistentSubscription,
        correlationId: "8ff5727b-58a9-4805-823a-451d5eb307f7",
        payload
      }))
      assert.strictEqual(toHex(frame.subarray(0, 4)), "63 00 00 00")
      assert.strictEqual(toHex(bodyOf(frame)), toHex(createPersistentSubscriptionBody))
    })

    it("section 6: an authenticated Ping, 24 00 00 00 | 03 | 01 | id | 08 username | 08 password", () => {
      const correlationId = Guid.random()
      const frame = succeeds(Package.encodeFrame({
        command: Command.Command.Ping,
        correlationId,
        credentials: credentials("username", "password")
      }))
      const expected = [
        "24 00 00 00",
        "03",
        "01",
        toHex(succeeds(Guid.toWire(correlationId))),
        "08",
        toHex(encoder.encode("username")),
        "08",
        toHex(encoder.encode("password"))
      ].join(" ")
      assert.strictEqual(toHex(frame), expected)
      assert.strictEqual(frame.length, 4 + 36)
    })

    it("protocol.md 1.6: a HeartbeatRequest with the correlation id of 1.3", () => {
      const frame = succeeds(Package.encodeFrame({
        command: Command.Command.HeartbeatRequest,
        correlationId: "01234567-89ab-cdef-0123-456789abcdef"
      }))
      assert.strictEqual(toHex(frame), "12 00 00 00 01 00 67 45 23 01 ab 89 ef cd 01 23 45 67 89 ab cd ef")
    })

    it("protocol.md 1.6: admin/changeit follows the id as 05 admin 08 changeit, before the payload", () => {
      const payload = hex("08 01")
      const frame = succeeds(Package.encodeFrame({
        command: Command.Command.IdentifyClient,
        correlationId: "01234567-89ab-cdef-0123-456789abcdef",
        credentials: credentials("admin", "changeit"),
        payload
      }))
      const length = 18 + 1 + 5 + 1 + 8 + payload.length
      assert.strictEqual(frame[0], length)
      assert.strictEqual(frame.length, 4 + length)
      assert.strictEqual(frame[5], Package.Flags.Authenticated)
      assert.strictEqual(
        toHex(frame.subarray(22)),
        "05 61 64 6d 69 6e 08 63 68 61 6e 67 65 69 74 08 01"
      )
    })

    it("never sets the Authenticated flag without credentials", () => {
      const frame = succeeds(Package.encodeFrame({ command: ping, correlationId: Guid.empty, payload: hex("01 02") }))
      assert.strictEqual(frame[5], Package.Flags.None)
      assert.strictEqual(toHex(frame.subarray(22)), "01 02")
    })
  })

  describe("credentials", () => {
    it("accepts logins and passwords of up to 255 UTF-8 bytes", () => {
      const longest = credentials("l".repeat(255), "é".repeat(127) + "p")
      const frame = succeeds(Package.encodeFrame({ command: ping, correlationId: Guid.random(), credentials: longest }))
      const pkg = succeeds(Package.decode(bodyOf(frame)))
      assert.deepStrictEqual(basicAuth(pkg.auth), { login: "l".repeat(255), password: "é".repeat(127) + "p" })
      assert.deepStrictEqual(Package.validateCredentials(longest), Result.succeed(longest))
    })

    it("keeps a leading U+FEFF in a login and a password: it is a character, not a byte order mark", () => {
      const frame = succeeds(
        Package.encodeFrame({ command: ping, correlationId: Guid.random(), credentials: credentials("\uFEFFadmin", "\uFEFFchangeit") })
      )
      // A login whose first byte is 0x80 or more reads as a bearer token unless tokens are off (1.4).
      const pkg = succeeds(Package.decode(bodyOf(frame), { bearerTokens: false }))
      assert.deepStrictEqual(basicAuth(pkg.auth), { login: "\uFEFFadmin", password: "\uFEFFchangeit" })
      assert.strictEqual(Package.decodeText(hex("ef bb bf 78")), "\uFEFFx")
    })

    it("refuses a login over 255 UTF-8 bytes at encode time with CredentialsTooLong", () => {
      const error = failsWith(
        Package.encodeFrame({
          command: ping,
          correlationId: Guid.random(),
          credentials: credentials("x".repeat(256), "changeit")
        }),
        ProtocolError.CredentialsTooLong
      )
      assert.strictEqual(error.field, "login")
      assert.strictEqual(error.byteLength, 256)
    })

    it("counts UTF-8 bytes, not characters: 128 × é is 256 bytes", () => {
      const error = failsWith(
        Package.validateCredentials(credentials("admin", "é".repeat(128))),
        ProtocolError.CredentialsTooLong
      )
      assert.strictEqual(error.field, "password")
      assert.strictEqual(error.byteLength, 256)
    })

    it("never puts the password in the error", () => {
      const password = "hunter2-".repeat(40)
      const error = failsWith(
        Package.encodeFrame({ command: ping, correlationId: Guid.empty, credentials: credentials("admin", password) }),
        ProtocolError.CredentialsTooLong
      )
      for (const rendered of [error.message, String(error), JSON.stringify(error), error.stack ?? ""]) {
        assert.notInclude(rendered, "hunter2")
      }
      assert.include(error.message, "password")
    })

    it("gives the same frame for credentials encoded before", () => {
      const admin = credentials("admin", "changeit")
      const first = succeeds(Package.encodeFrame({ command: ping, correlationId: Guid.empty, credentials: admin }))
      const second = succeeds(Package.encodeFrame({ command: ping, correlationId: Guid.empty, credentials: admin }))
      assert.deepStrictEqual(first, second)
      assert.notStrictEqual(first, second)
    })
  })

  describe("invalid correlation ids", () => {
    it("are an InvalidUuid naming the input", () => {
      for (const correlationId of ["", "not-a-uuid", "01234567-89ab-cdef-0123-456789abcdeg"]) {
        const error = failsWith(Package.encodeFrame({ command: ping, correlationId }), ProtocolError.InvalidUuid)
        assert.strictEqual(error.input, correlationId)
      }
    })
  })

  describe("decoding auth blocks", () => {
    const id = "01234567-89ab-cdef-0123-456789abcdef"

    it("reads login and password, and the payload after them", () => {
      const body = packageBody(0x82, 0x01, id, hex("05 61 64 6d 69 6e 08 63 68 61 6e 67 65 69 74 0a 0b"))
      const pkg = succeeds(Package.decode(body))
      assert.strictEqual(pkg.flags, Package.Flags.Authenticated)
      assert.deepStrictEqual(basicAuth(pkg.auth), { login: "admin", password: "changeit" })
      assert.strictEqual(toHex(pkg.payload), "0a 0b")
    })

    it("reads empty login and password", () => {
      const pkg = succeeds(Package.decode(packageBody(0x03, 0x01, id, hex("00 00"))))
      assert.deepStrictEqual(basicAuth(pkg.auth), { login: "", password: "" })
      assert.strictEqual(pkg.payload.length, 0)
    })

    it("reads a bearer token when the first two bytes are a negative little-endian int16 (20.6+)", () => {
      const token = "eyJhbGciOiJIUzI1NiJ9.e30.sig"
      const length = encoder.encode(token).length
      const negative = (0x10000 - length) & 0xffff
      const rest = new Uint8Array([negative & 0xff, negative >> 8, ...encoder.encode(token), 0x0c])
      const pkg = succeeds(Package.decode(packageBody(0x82, 0x01, id, rest)))
      assert.strictEqual(bearerToken(pkg.auth), token)
      assert.strictEqual(toHex(pkg.payload), "0c")
    })

    it("reads the same bytes as login and password when bearer tokens are off, as 5.x servers and clients do", () => {
      // 0xfe as a login length: 254 bytes of login that are not there.
      const rest = hex("fe ff 61 62")
      const error = failsWith(
        Package.decode(packageBody(0x82, 0x01, id, rest), { bearerTokens: false }),
        ProtocolError.MalformedPackage
      )
      assert.include(error.message, "login")
    })

    it("reads a login whose first byte is 0x80 or more as a token on 20.6+ (why logins should start in ASCII)", () => {
      // login "é" (c3 a9), password "p": the first two bytes, 02 c3, read as the int16 0xc302, negative.
      const body = packageBody(0x82, 0x01, id, hex("02 c3 a9 01 70"))
      const asLogin = succeeds(Package.decode(body, { bearerTokens: false }))
      assert.deepStrictEqual(basicAuth(asLogin.auth), { login: "é", password: "p" })
      const asToken = failsWith(Package.decode(body), ProtocolError.MalformedPackage)
      assert.include(asToken.message, "bearer token")
    })

    it("refuses auth blocks cut short with MalformedPackage", () => {
      const cutShort = [
        "",
        "05",
        "05 61 64 6d 69 6e",
        "05 61 64 6d 69",
        "05 61 64 6d 69 6e 08 63 68 61 6e 67 65 69",
        "ff",
        "00",
        // a bearer token of 16 bytes with 3 present
        "f0 ff 61 62 63"
      ]
      for (const rest of cutShort) {
        const body = packageBody(0x82, 0x01, id, hex(rest))
        const error = failsWith(Package.decode(body), ProtocolError.MalformedPackage, rest)
        assert.include(error.message, "cut short")
      }
    })
  })

  describe("malformed packages", () => {
    it("refuses anything shorter than the 18-byte header with MalformedPackage", () => {
      for (let length = 0; length < 18; length++) {
        const body = bodyOf(heartbeatRequest).subarray(0, length)
        const error = failsWith(Package.decode(body), ProtocolError.MalformedPackage)
        assert.include(error.message, String(length))
      }
    })

    it("passes on flags it does not interpret", () => {
      const pkg = succeeds(Package.decode(packageBody(0x82, Package.Flags.TrustedWrite, Guid.empty, hex("01"))))
      assert.strictEqual(pkg.flags, Package.Flags.TrustedWrite)
      assert.isUndefined(pkg.auth)
      assert.strictEqual(toHex(pkg.payload), "01")
    })
  })

  describe("text payloads (BadRequest, NotAuthenticated)", () => {
    it("are plain UTF-8", () => {
      const reason = "That's not an acceptable message, man"
      assert.deepStrictEqual(Package.encodeText(reason), encoder.encode(reason))
      const text = "Dude, like who even are you? ✓"
      assert.strictEqual(Package.decodeText(Package.encodeText(text)), text)
      assert.strictEqual(Package.decodeText(new Uint8Array(0)), "")
    })

    it("replace invalid UTF-8 rather than fail", () => {
      assert.strictEqual(Package.decodeText(hex("61 ff 62")), "a\ufffdb")
    })
  })

  describe("properties", () => {
    const outbound = Arbitrary.schema(Schema.Struct({
      command: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 })),
      payload: Schema.Uint8Array,
      credentials: Schema.optional(Schema.Struct({
        login: Schema.String.check(Schema.isMaxLength(60)),
        password: Schema.String.check(Schema.isMaxLength(60))
      }))
    }))

    const idBytes = Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(16, 16)))

    it.prop("encodeFrame then decode give the package back, with or without credentials", [outbound, idBytes], ([
      pkg,
      id
    ]) => {
      const correlationId = succeeds(Guid.fromWire(id))
      const given = pkg.credentials
      const creds = given !== undefined && wellFormed(given.login) && wellFormed(given.password)
        ? credentials(given.login, given.password)
        : undefined
      const frame = succeeds(
        Package.encodeFrame({ command: pkg.command, correlationId, credentials: creds, payload: pkg.payload })
      )
      const frames = succeeds(Frame.makeParser().push(frame))
      assert.lengthOf(frames, 1)
      // 5.x-style decoding: a login starting at 0x80 would read as a token otherwise.
      const decoded = succeeds(Package.decode(frames[0]!, { bearerTokens: false }))
      assert.strictEqual(decoded.command, pkg.command)
      assert.strictEqual(decoded.correlationId, correlationId)
      assert.deepStrictEqual(decoded.payload, pkg.payload)
      if (creds === undefined) {
        assert.strictEqual(decoded.flags, Package.Flags.None)
        assert.isUndefined(decoded.auth)
      } else {
        assert.strictEqual(decoded.flags, Package.Flags.Authenticated)
        assert.deepStrictEqual(basicAuth(decoded.auth), {
          login: creds.login,
          password: Redacted.value(creds.password)
        })
      }
    }, { arbitrary: { runs: 300, size: 40 } })

    it.prop(
      "decode of random bytes gives a package or a MalformedPackage, never a throw",
      [Arbitrary.schema(Schema.Uint8Array), Arbitrary.schema(Schema.Boolean)],
      ([bytes, bearerTokens]) => {
        // Half the time, force the Authenticated flag so that the auth block parser sees random input.
        const body = bytes.length > 1 && bearerTokens
          ? Uint8Array.from(bytes, (byte, i) => i === 1 ? byte | 1 : byte)
          : bytes
        const decoded = Package.decode(body, { bearerTokens })
        if (Result.isFailure(decoded)) assert.instanceOf(decoded.failure, ProtocolError.MalformedPackage)
        else assert.isTrue(decoded.success.payload.length <= body.length - Package.headerLength)
      },
      { arbitrary: { runs: 1000, size: 60 } }
    )
  })
})
