/**
 * Packages: what a frame carries. A package is a command byte, a flags byte, a correlation id in .NET
 * GUID byte order, an optional auth block and a payload (docs/protocol.md 1.2 to 1.5).
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Frame from "./Frame.ts"
import * as Guid from "./Guid.ts"
import * as LengthPrefix from "./internal/LengthPrefix.ts"
import * as Slab from "./internal/Slab.ts"
import { CredentialsTooLong, InvalidUuid, MalformedPackage } from "./ProtocolError.ts"

/**
 * The flag bits of a package.
 *
 * @since 0.1.0
 * @category constants
 */
export const Flags = {
  None: 0x00,
  /** An auth block follows the header. */
  Authenticated: 0x01,
  /** Only for traffic between cluster nodes; external servers refuse it. */
  TrustedWrite: 0x02
} as const

/**
 * The size of the header: command, flags and correlation id.
 *
 * @since 0.1.0
 * @category constants
 */
export const headerLength = 18

/**
 * The most UTF-8 bytes a login or a password can take in the auth block, whose lengths are one byte
 * each. Servers and the .NET client from 20.x accept only 127 bytes each; 5.x accepts 255.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxCredentialLength = 255

/**
 * A login and password. The password is `Redacted` so that it never reaches a log or an error message.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  /**
   * The user name. Keep its first character ASCII: 20.6+ servers read an auth block whose login starts
   * with a byte of 0x80 or more as a bearer token.
   */
  readonly login: string
  readonly password: Redacted.Redacted<string>
}

/**
 * The content of an auth block as a 20.6+ server reads it: a login and password, or a bearer token
 * (the form whose first two bytes are a negative little-endian int16).
 *
 * @since 0.1.0
 * @category models
 */
export type Auth =
  | { readonly _tag: "Basic"; readonly login: string; readonly password: Redacted.Redacted<string> }
  | { readonly _tag: "Bearer"; readonly token: Redacted.Redacted<string> }

/**
 * A package to send.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutboundPackage {
  /** The command byte; see `Command.Command`. */
  readonly command: number
  /** A UUID in its text form; it goes on the wire in .NET GUID byte order. */
  readonly correlationId: string
  /** When given, an auth block is written and the `Authenticated` flag set. */
  readonly credentials?: Credentials | undefined
  /** The payload: an encoded message, UTF-8 text or nothing, depending on the command. */
  readonly payload?: Uint8Array | undefined
}

/**
 * A package that arrived.
 *
 * @since 0.1.0
 * @category models
 */
export interface InboundPackage {
  /** The command byte, known to `Command` or not. */
  readonly command: number
  /** The flags byte as it came, including bits this package does not interpret. */
  readonly flags: number
  /** The correlation id as a lower-case UUID. */
  readonly correlationId: string
  /** The auth block, present exactly when the `Authenticated` flag is set. */
  readonly auth: Auth | undefined
  /** A view into the frame it came in: it is not copied. */
  readonly payload: Uint8Array
}

const encoder = new TextEncoder()
// A leading U+FEFF is part of a login, a password or a message, not a byte order mark to drop: a
// password "\uFEFFchangeit" is not "changeit".
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
const emptyPayload = new Uint8Array(0)

const encodeCredential = (
  field: "login" | "password",
  text: string
): Result.Result<Uint8Array, CredentialsTooLong> => {
  const bytes = encoder.encode(text)
  return bytes.length > maxCredentialLength
    ? Result.fail(new CredentialsTooLong({ field, byteLength: bytes.length }))
    : Result.succeed(bytes)
}

/**
 * The encoded auth blocks of credentials already seen. A client sends the same credentials object with
 * request after request, so it is encoded once rather than on every frame.
 */
const authBlocks = new WeakMap<Credentials, Result.Result<Uint8Array, CredentialsTooLong>>()

const encodeAuthBlock = (credentials: Credentials): Result.Result<Uint8Array, CredentialsTooLong> => {
  let block = authBlocks.get(credentials)
  if (block === undefined) {
    block = Result.flatMap(encodeCredential("login", credentials.login), (login) =>
      Result.map(encodeCredential("password", Redacted.value(credentials.password)), (password) => {
        const bytes = new Uint8Array(2 + login.length + password.length)
        bytes[0] = login.length
        bytes.set(login, 1)
        bytes[1 + login.length] = password.length
        bytes.set(password, 2 + login.length)
        return bytes
      }))
    authBlocks.set(credentials, block)
  }
  return block
}

/**
 * Checks that credentials fit the auth block, so that a client can refuse them when it is configured
 * rather than at its first request.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateCredentials = (credentials: Credentials): Result.Result<Credentials, CredentialsTooLong> =>
  Result.map(encodeAuthBlock(credentials), () => credentials)

/**
 * Encodes a package as a whole frame, length prefix included, in a single buffer. The `Authenticated`
 * flag is set exactly when credentials are given. Fails with `CredentialsTooLong` when the login or the
 * password is over 255 bytes in UTF-8, and with `InvalidUuid` when the correlation id is not a UUID.
 *
 * A small frame may be a view into a larger shared buffer (allocating many small buffers is slow): use
 * its `byteOffset` and `byteLength` along with its `buffer`, or just the view.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeFrame = (
  pkg: OutboundPackage
): Result.Result<Uint8Array, CredentialsTooLong | InvalidUuid> => {
  const payload = pkg.payload ?? emptyPayload
  let auth: Uint8Array | undefined
  if (pkg.credentials !== undefined) {
    const block = encodeAuthBlock(pkg.credentials)
    if (Result.isFailure(block)) return block
    auth = block.success
  }
  const authLength = auth === undefined ? 0 : auth.length
  const bodyLength = headerLength + authLength + payload.length
  const frame = Slab.allocate(Frame.prefixLength + bodyLength)
  if (!Guid.writeUnsafe(pkg.correlationId, frame, Frame.prefixLength + 2)) {
    return Result.fail(new InvalidUuid({ input: pkg.correlationId }))
  }
  LengthPrefix.write(frame, 0, bodyLength)
  frame[Frame.prefixLength] = pkg.command
  frame[Frame.prefixLength + 1] = auth === undefined ? Flags.None : Flags.Authenticated
  let offset = Frame.prefixLength + headerLength
  if (auth !== undefined) {
    frame.set(auth, offset)
    offset += auth.length
  }
  frame.set(payload, offset)
  return Result.succeed(frame)
}

/**
 * Options for decoding packages.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /**
   * Read an auth block whose first two bytes form a negative little-endian int16 as a bearer token,
   * as servers from 20.6 do. Defaults to true.
   */
  readonly bearerTokens?: boolean | undefined
}

const readAuth = (
  body: Uint8Array,
  bearerTokens: boolean
): Result.Result<readonly [Auth, number], MalformedPackage> => {
  const start = headerLength
  if (body.length < start + 2) {
    return Result.fail(new MalformedPackage({ reason: "the auth block is cut short" }))
  }
  if (bearerTokens) {
    const asInt16 = (body[start]! | (body[start + 1]! << 8)) << 16 >> 16
    if (asInt16 < 0) {
      const tokenLength = -asInt16
      const end = start + 2 + tokenLength
      if (end > body.length) return Result.fail(new MalformedPackage({ reason: "the bearer token is cut short" }))
      const token = Redacted.make(decoder.decode(body.subarray(start + 2, end)))
      return Result.succeed([{ _tag: "Bearer", token }, end] as const)
    }
  }
  const loginLength = body[start]!
  const loginEnd = start + 1 + loginLength
  if (loginEnd >= body.length) return Result.fail(new MalformedPackage({ reason: "the login is cut short" }))
  const passwordLength = body[loginEnd]!
  const passwordEnd = loginEnd + 1 + passwordLength
  if (passwordEnd > body.length) return Result.fail(new MalformedPackage({ reason: "the password is cut short" }))
  const login = decoder.decode(body.subarray(start + 1, loginEnd))
  const password = Redacted.make(decoder.decode(body.subarray(loginEnd + 1, passwordEnd)))
  return Result.succeed([{ _tag: "Basic", login, password }, passwordEnd] as const)
}

/**
 * Decodes the body of a frame (what follows the length prefix) as a package. The payload is a view into
 * `body`, not a copy.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (body: Uint8Array, options?: DecodeOptions): Result.Result<InboundPackage, MalformedPackage> => {
  if (body.length < headerLength) {
    return Result.fail(
      new MalformedPackage({ reason: `a package is at least ${headerLength} bytes long, this one is ${body.length}` })
    )
  }
  const command = body[0]!
  const flags = body[1]!
  const correlationId = Guid.readUnsafe(body, 2)
  if ((flags & Flags.Authenticated) === 0) {
    return Result.succeed({ command, flags, correlationId, auth: undefined, payload: body.subarray(headerLength) })
  }
  const auth = readAuth(body, options?.bearerTokens ?? true)
  if (Result.isFailure(auth)) return Result.fail(auth.failure)
  const [credentials, end] = auth.success
  return Result.succeed({ command, flags, correlationId, auth: credentials, payload: body.subarray(end) })
}

/**
 * Decodes a text payload (BadRequest, NotAuthenticated), replacing invalid UTF-8 rather than failing.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeText = (payload: Uint8Array): string => decoder.decode(payload)

/**
 * Encodes a text payload (BadRequest, NotAuthenticated).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeText = (text: string): Uint8Array => encoder.encode(text)
