/**
 * `@photonpump/protocol`: the wire of EventStore's TCP client protocol, shared by the photonpump client
 * and the embedded server. It knows bytes and messages, nothing about connections.
 *
 * @since 0.1.0
 */

/**
 * The command byte table.
 *
 * @since 0.1.0
 */
export * as Command from "./Command.ts"

/**
 * Length-prefixed frames and the incremental frame parser.
 *
 * @since 0.1.0
 */
export * as Frame from "./Frame.ts"

/**
 * Frames read in place: the memory a socket reads into, laid out so that every frame arrives whole.
 *
 * @since 0.1.0
 */
export * as FrameReader from "./FrameReader.ts"

/**
 * UUIDs in .NET GUID byte order.
 *
 * @since 0.1.0
 */
export * as Guid from "./Guid.ts"

/**
 * Link events (`$>`) and their `<number>@<stream>` data.
 *
 * @since 0.1.0
 */
export * as Link from "./Link.ts"

/**
 * The protobuf messages and how to encode and decode them.
 *
 * @since 0.1.0
 */
export * as Messages from "./Messages.ts"

/**
 * Packages: header, auth block and payload.
 *
 * @since 0.1.0
 */
export * as Package from "./Package.ts"

/**
 * The errors of this package.
 *
 * @since 0.1.0
 */
export * as ProtocolError from "./ProtocolError.ts"

/**
 * .NET ticks and dates.
 *
 * @since 0.1.0
 */
export * as Ticks from "./Ticks.ts"
