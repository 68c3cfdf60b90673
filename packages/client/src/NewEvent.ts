/**
 * An event to write: a type, a body (any JSON-serialisable value, or raw bytes), optional metadata,
 * and an id. The id makes writes idempotent: re-sending an event with the same id after a timeout does
 * not write it twice (docs/protocol.md 4.2), so it defaults to a fresh random UUID chosen when the
 * `NewEvent` is made, not when it is sent.
 *
 * @since 0.1.0
 */
import { Guid } from "@photonpump/protocol"

/**
 * An event to write.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewEvent {
  /** A UUID. */
  readonly id: string
  readonly type: string
  /** Raw bytes are written as they are; any other value is serialised as JSON when the event is sent. */
  readonly body: unknown
  /** Whether the data is flagged as JSON on the server (which projections and `$by_category` care about). */
  readonly isJson: boolean
  /** Raw bytes, or a value serialised as JSON; `undefined` for none. */
  readonly metadata: unknown
}

/**
 * Options for `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The event's data: raw bytes, or any value serialisable as JSON. */
  readonly body?: unknown
  /** Metadata: raw bytes, or any value serialisable as JSON. */
  readonly metadata?: unknown
  /** The event id (a UUID); a random one by default. */
  readonly id?: string | undefined
  /**
   * Flags the data as JSON. Defaults to true for values and false for raw bytes; set it for bytes that
   * already hold JSON.
   */
  readonly isJson?: boolean | undefined
}

/**
 * Makes an event to write.
 *
 * @example
 * ```ts
 * import { NewEvent } from "@photonpump/client"
 *
 * const jumped = NewEvent.make("PonyJumped", { body: { Pony: "Derpy Hooves", Height: 10, Distance: 13 } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (type: string, options?: Options): NewEvent => {
  const body = options?.body
  return {
    id: options?.id ?? Guid.random(),
    type,
    body,
    isJson: options?.isJson ?? !(body instanceof Uint8Array),
    metadata: options?.metadata
  }
}

/**
 * An event whose data is the given bytes, flagged as binary.
 *
 * @since 0.1.0
 * @category constructors
 */
export const binary = (
  type: string,
  data: Uint8Array,
  options?: Omit<Options, "body" | "isJson">
): NewEvent => make(type, { ...options, body: data, isJson: false })

/**
 * An event whose data is a value serialised as JSON.
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = (type: string, value: unknown, options?: Omit<Options, "body" | "isJson">): NewEvent =>
  make(type, { ...options, body: value, isJson: true })
