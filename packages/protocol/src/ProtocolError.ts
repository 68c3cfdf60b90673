/**
 * The ways bytes on the wire can be wrong. Every function of this package that can fail returns one of
 * these as a `Result` failure, so neither side of the wire ever has to catch an exception.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A frame's length prefix is zero, negative or larger than the maximum. It is reported as soon as the
 * four prefix bytes arrive, before any buffer of that size is allocated.
 *
 * `framesBefore` holds the frame bodies that the failing push completed before it reached the bad
 * prefix. Real servers handle those frames before they reply BadRequest and close, and a parser fed
 * the same bytes in smaller chunks would have handed them back already; it is empty on every later
 * push.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidFrameLength extends Data.TaggedError("InvalidFrameLength")<{
  readonly length: number
  readonly maxLength: number
  readonly framesBefore: ReadonlyArray<Uint8Array>
}> {
  constructor(args: {
    readonly length: number
    readonly maxLength: number
    readonly framesBefore?: ReadonlyArray<Uint8Array> | undefined
  }) {
    super({ length: args.length, maxLength: args.maxLength, framesBefore: args.framesBefore ?? [] })
  }

  override get message(): string {
    return `Invalid frame length ${this.length}: a frame holds 1 to ${this.maxLength} bytes`
  }
}

/**
 * A frame's body cannot be a package: it is shorter than the 18-byte header, or its auth block runs
 * past the end of the frame.
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedPackage extends Data.TaggedError("MalformedPackage")<{
  readonly reason: string
}> {
  override get message(): string {
    return `Malformed package: ${this.reason}`
  }
}

/**
 * A login or password does not fit the auth block, whose length fields are a single byte each.
 * The error names the field and its size, never its content.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsTooLong extends Data.TaggedError("CredentialsTooLong")<{
  readonly field: "login" | "password"
  readonly byteLength: number
}> {
  override get message(): string {
    return `The ${this.field} is ${this.byteLength} bytes long in UTF-8; the protocol allows at most 255`
  }
}

/**
 * A string that was meant to be a UUID is not one, or a GUID on the wire is not 16 bytes long.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUuid extends Data.TaggedError("InvalidUuid")<{
  readonly input: string
}> {
  override get message(): string {
    return `Not a UUID: ${JSON.stringify(this.input)}`
  }
}

/**
 * A package's payload does not decode as the message its command calls for, or a message cannot be
 * encoded (for example because a required field is not set).
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedPayload extends Data.TaggedError("MalformedPayload")<{
  readonly messageType: string
  readonly reason: string
}> {
  override get message(): string {
    return `Malformed ${this.messageType} payload: ${this.reason}`
  }
}

/**
 * Any error of this package.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProtocolError = InvalidFrameLength | MalformedPackage | CredentialsTooLong | InvalidUuid | MalformedPayload
