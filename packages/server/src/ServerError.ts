/**
 * The error of an embedded node that cannot start.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The node could not listen on its host and port (the port is taken, the host is not an address of
 * this machine, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Data.TaggedError("ServerError")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Could not listen on ${this.host}:${this.port}: ${reason}`
  }
}
