/**
 * What a read returns for each event: the event, and the link it was reached through when links are
 * resolved (projections such as `$ce-` and `$et-` are streams of links, docs/protocol.md 4.8).
 *
 * The common fields of the event (`type`, `eventNumber`, `json()`, `decode()`...) are repeated on the
 * `ResolvedEvent` itself, so that code which does not care about links reads like code over plain
 * events.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type { EventDecodeError } from "./EventStoreError.ts"
import type * as Position from "./Position.ts"
import type { RecordedEvent } from "./RecordedEvent.ts"

/**
 * An event as a read found it.
 *
 * @since 0.1.0
 * @category models
 */
export class ResolvedEvent {
  /**
   * Tells an event from the other items of a subscription's stream (`Subscription.Item`): `CaughtUp`,
   * `FellBehind`, `Checkpoint`.
   */
  readonly _tag = "ResolvedEvent" as const
  /**
   * The event: the link's target when the read resolved a link, otherwise the record that was read.
   * When a link could not be resolved (its target is deleted or truncated), this is the link itself and
   * `isResolved` is false.
   */
  readonly event: RecordedEvent
  /** The link the event was reached through, when links were resolved and the record was a link. */
  readonly link: RecordedEvent | undefined
  readonly #position: Position.Position | undefined
  /** False for a link whose target could not be read. */
  readonly isResolved: boolean

  constructor(
    event: RecordedEvent,
    link: RecordedEvent | undefined,
    position: Position.Position | undefined,
    isResolved: boolean
  ) {
    this.event = event
    this.link = link
    this.#position = position
    this.isResolved = isResolved
  }

  /** The position in `$all` of the record that was read (the link, if any); `$all` reads only. */
  get position(): Position.Position | undefined {
    return this.#position
  }

  /**
   * The record the read actually found in the stream it read: the link when there is one, else the
   * event. Its number is what paging and checkpoints go by.
   */
  get originalEvent(): RecordedEvent {
    return this.link ?? this.event
  }

  /** The stream of the original event. */
  get originalStream(): string {
    return this.originalEvent.stream
  }

  /** The number of the original event in its stream. */
  get originalEventNumber(): bigint {
    return this.originalEvent.eventNumber
  }

  /** The event's stream. */
  get stream(): string {
    return this.event.stream
  }

  /** The event's number in its stream. */
  get eventNumber(): bigint {
    return this.event.eventNumber
  }

  /** The event's id. */
  get id(): string {
    return this.event.id
  }

  /** The event's type. */
  get type(): string {
    return this.event.type
  }

  /** The event's data bytes. */
  get data(): Uint8Array {
    return this.event.data
  }

  /** The event's metadata bytes. */
  get metadata(): Uint8Array {
    return this.event.metadata
  }

  /** Whether the event's data is JSON. */
  get isJson(): boolean {
    return this.event.isJson
  }

  /** When the event was written. */
  get created(): Date {
    return this.event.created
  }

  /** The event's data parsed as JSON; throws a `SyntaxError` when it is not JSON. */
  json<A = unknown>(): A {
    return this.event.json<A>()
  }

  /** The event's data decoded with a `Schema`; fails with `EventDecodeError`. */
  decode<S extends Schema.Top>(schema: S): Effect.Effect<S["Type"], EventDecodeError, S["DecodingServices"]> {
    return this.event.decode(schema)
  }

  toJSON(): unknown {
    const position = this.position
    return {
      _id: "ResolvedEvent",
      event: this.event.toJSON(),
      link: this.link?.toJSON(),
      position: position === undefined ? undefined : { commit: position.commit.toString(), prepare: position.prepare.toString() },
      isResolved: this.isResolved
    }
  }

  toString(): string {
    return this.link === undefined ? this.event.toString() : `${this.event.toString()} (via ${this.link.toString()})`
  }
}
