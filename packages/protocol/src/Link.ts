/**
 * Link events: events of type `$>` whose data, `"<eventNumber>@<streamId>"`, points at another event.
 * Projections such as `$ce-` and `$et-` are made of them (docs/protocol.md 4.8).
 *
 * @since 0.1.0
 */

/**
 * The event type of a link.
 *
 * @since 0.1.0
 * @category constants
 */
export const eventType = "$>"

/**
 * Where a link points.
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkTarget {
  /** The number of the event linked to, in its stream. */
  readonly eventNumber: bigint
  /** The stream of the event linked to. */
  readonly streamId: string
}

/** Event numbers are int64: a larger number cannot name an event. */
const maxEventNumber = 9_223_372_036_854_775_807n

// A leading U+FEFF belongs to the text (a stream's name may start with one), not a byte order mark.
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
const encoder = new TextEncoder()

/**
 * Reads a link's data. Returns `undefined` when it is not of the form `<number>@<stream>` with a
 * decimal number from 0 to 2^63-1 and a non-empty stream name: the server treats such a link as one
 * that cannot be resolved. The stream name is everything after the first `@`, so it may hold `@`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (data: Uint8Array | string): LinkTarget | undefined => {
  const text = typeof data === "string" ? data : decoder.decode(data)
  const at = text.indexOf("@")
  if (at <= 0 || at === text.length - 1) return undefined
  const digits = text.slice(0, at)
  if (!/^\d+$/.test(digits)) return undefined
  const eventNumber = BigInt(digits)
  if (eventNumber > maxEventNumber) return undefined
  return { eventNumber, streamId: text.slice(at + 1) }
}

/**
 * The data of a link to the given event.
 *
 * @since 0.1.0
 * @category encoding
 */
export const format = (target: LinkTarget): Uint8Array => encoder.encode(`${target.eventNumber}@${target.streamId}`)
