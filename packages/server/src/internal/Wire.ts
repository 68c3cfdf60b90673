/**
 * Conversions between the store's JS numbers and the wire's int64 values, and link resolution for
 * replies.
 *
 * Inside the server event numbers and positions are JS numbers: a node would need 2^53 events or bytes
 * before they lose precision, far more than memory holds. The tombstone number 2^63-1 is `Infinity`
 * inside and exact on the wire.
 *
 * @since 0.1.0
 */
import * as Store from "../Store.ts"
import * as StoredEvent from "./StoredEvent.ts"

/**
 * The tombstone event number on the wire.
 *
 * @since 0.1.0
 * @category constants
 */
export const deletedStreamOnWire = 9_223_372_036_854_775_807n

/**
 * `EventNumber.Invalid`, the sentinel of failed write replies.
 *
 * @since 0.1.0
 * @category constants
 */
export const invalidEventNumber = -2_147_483_648n

/**
 * An event number for the wire.
 *
 * @since 0.1.0
 * @category conversions
 */
export const eventNumber = (n: number): bigint => (n === Store.deletedStream ? deletedStreamOnWire : BigInt(n))

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * An int64 from the wire as a JS number. Values beyond 2^53 are clamped: they still compare above every
 * event number or position the store can hold.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toNumber = (n: bigint): number =>
  n > maxSafe ? Number.MAX_SAFE_INTEGER : n < -maxSafe ? -Number.MAX_SAFE_INTEGER : Number(n)

/**
 * A stored event resolved for a reply: `event` is the target of a resolved link, the event itself, or
 * absent for a link that could not be resolved; `link` is the link when links were resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly event: Store.RecordedEvent | undefined
  readonly link: Store.RecordedEvent | undefined
  /** The event as it sits in `$all`: the link when there is one. */
  readonly original: Store.RecordedEvent
}

/**
 * Resolves an event for a reply (docs/protocol.md 4.8).
 *
 * @since 0.1.0
 * @category encoding
 */
export const resolve = (store: Store.Store, event: Store.RecordedEvent, resolveLinkTos: boolean): Resolved => {
  if (!resolveLinkTos || event.eventType !== "$>") return { event, link: undefined, original: event }
  return { event: store.resolveLink(event), link: event, original: event }
}

/**
 * `int.MaxValue`: the event number 2^63-1 as clients that never identified themselves (V1 clients, from
 * before event numbers were 64-bit) get it (docs/protocol.md 4.1).
 *
 * @since 0.1.0
 * @category constants
 */
export const deletedStreamForV1 = 2_147_483_647

/**
 * An event number as a V1 client gets it: 2^63-1 becomes 2^31-1 (docs/protocol.md 4.1).
 *
 * @since 0.1.0
 * @category conversions
 */
export const eventNumberForV1 = (n: number): number => (n === Store.deletedStream ? deletedStreamForV1 : n)

/** The tombstones re-encoded for V1 clients, each made once, when first sent to one. */
const tombstonesForV1 = new WeakMap<Store.RecordedEvent, Store.RecordedEvent>()

/**
 * An event as a V1 client gets it: a tombstone (event number 2^63-1) re-encoded with 2^31-1, any other
 * event as it is (docs/protocol.md 4.1).
 *
 * @since 0.1.0
 * @category conversions
 */
export const eventForV1 = (event: Store.RecordedEvent): Store.RecordedEvent => {
  if (event.eventNumber !== Store.deletedStream) return event
  let downgraded = tombstonesForV1.get(event)
  if (downgraded === undefined) {
    downgraded = StoredEvent.of({
      streamId: event.streamId,
      eventNumber: deletedStreamForV1,
      eventId: event.eventId,
      eventType: event.eventType,
      isJson: event.isJson,
      data: event.data,
      metadata: event.metadata,
      created: event.created,
      commitPosition: event.commitPosition,
      preparePosition: event.preparePosition,
      size: event.size,
      commitEnd: event.commitEnd
    })
    tombstonesForV1.set(event, downgraded)
  }
  return downgraded
}

/**
 * A resolved event as a V1 client gets it: both records through `eventForV1`, the position unchanged.
 *
 * @since 0.1.0
 * @category conversions
 */
export const resolvedForV1 = (resolved: Resolved): Resolved => {
  const { event, link } = resolved
  if (event?.eventNumber !== Store.deletedStream && link?.eventNumber !== Store.deletedStream) return resolved
  return {
    event: event === undefined ? undefined : eventForV1(event),
    link: link === undefined ? undefined : eventForV1(link),
    original: resolved.original
  }
}
