/**
 * An event as stored: its stream, number, id, type, data and metadata bytes, and when it was written.
 * The data and metadata are views into the bytes received from the server, not copies: keep them only
 * as long as you need them, or copy them with `slice()`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Guid, Ticks } from "@photonpump/protocol"
import { EventDecodeError } from "./EventStoreError.ts"

const decoder = new TextDecoder("utf-8")

/**
 * What a `RecordedEvent` is built from. The client builds these from the server's replies.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  readonly stream: string
  readonly eventNumber: bigint
  /** The event id in .NET GUID byte order, as on the wire. */
  readonly idBytes: Uint8Array
  /**
   * Where the 16 bytes of the id start in `idBytes`, when `idBytes` holds more than the id (the client
   * passes the whole reply rather than a view of it per event); absent when `idBytes` is just the id.
   */
  readonly idOffset?: number | undefined
  readonly type: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  readonly isJson: boolean
  /** Milliseconds since the Unix epoch, or `undefined` when only `createdTicks` is known. */
  readonly createdEpochMillis: bigint | number | undefined
  /** .NET ticks (`DateTime.ToBinary()`), 0 when unknown. */
  readonly createdTicks: bigint
}

/**
 * An event read from a stream.
 *
 * @since 0.1.0
 * @category models
 */
export class RecordedEvent {
  /** The stream the event belongs to. */
  readonly stream: string
  /** Its number in that stream: 0 for the first event. */
  readonly eventNumber: bigint
  /** Its type, for example `PonyJumped`. */
  readonly type: string
  /** The data, as stored. A view into the received bytes. */
  readonly data: Uint8Array
  /** The metadata, as stored (empty when there is none). A view into the received bytes. */
  readonly metadata: Uint8Array
  /** Whether the data was written as JSON. */
  readonly isJson: boolean
  readonly #idBytes: Uint8Array
  /** Where the id starts in `#idBytes`; -1 when `#idBytes` is the id field itself (any length). */
  readonly #idOffset: number
  readonly #createdEpochMillis: bigint | number | undefined
  readonly #createdTicks: bigint
  #id: string | undefined

  constructor(fields: Fields) {
    this.stream = fields.stream
    this.eventNumber = fields.eventNumber
    this.type = fields.type
    this.data = fields.data
    this.metadata = fields.metadata
    this.isJson = fields.isJson
    this.#idBytes = fields.idBytes
    this.#idOffset = fields.idOffset ?? -1
    this.#createdEpochMillis = fields.createdEpochMillis
    this.#createdTicks = fields.createdTicks
  }

  /** The event id, a UUID. */
  get id(): string {
    if (this.#id === undefined) {
      const offset = this.#idOffset
      this.#id = offset >= 0
        ? Guid.readUnsafe(this.#idBytes, offset)
        : this.#idBytes.length === 16
        ? Guid.readUnsafe(this.#idBytes, 0)
        : Guid.empty
    }
    return this.#id
  }

  /** When the server wrote the event. */
  get created(): Date {
    if (this.#createdEpochMillis !== undefined) return new Date(Number(this.#createdEpochMillis))
    return this.#createdTicks === 0n ? new Date(0) : Ticks.toDate(this.#createdTicks)
  }

  /** The data as text (UTF-8). */
  text(): string {
    return decoder.decode(this.data)
  }

  /**
   * The data parsed as JSON. Throws a `SyntaxError` when it is not JSON: use `decode` for a typed
   * failure instead.
   */
  json<A = unknown>(): A {
    return JSON.parse(decoder.decode(this.data)) as A
  }

  /** The metadata parsed as JSON, or `undefined` when the event has none. Throws when it is not JSON. */
  metadataJson<A = unknown>(): A | undefined {
    return this.metadata.length === 0 ? undefined : JSON.parse(decoder.decode(this.metadata)) as A
  }

  /**
   * Parses the data as JSON and decodes it with a `Schema`. Fails with `EventDecodeError` when the data
   * is not JSON or does not match.
   */
  decode<S extends Schema.Top>(
    schema: S
  ): Effect.Effect<S["Type"], EventDecodeError, S["DecodingServices"]> {
    let parsed: unknown
    try {
      parsed = JSON.parse(decoder.decode(this.data))
    } catch (cause) {
      return Effect.fail(this.#decodeError(`the data is not JSON (${describe(cause)})`, undefined))
    }
    return Schema.decodeUnknownEffect(schema)(parsed).pipe(
      Effect.mapError((issue) => this.#decodeError(issue.message, issue))
    )
  }

  #decodeError(reason: string, issue: Schema.SchemaError | undefined): EventDecodeError {
    return new EventDecodeError({
      stream: this.stream,
      eventNumber: this.eventNumber,
      eventType: this.type,
      reason,
      issue
    })
  }

  toJSON(): unknown {
    return {
      _id: "RecordedEvent",
      stream: this.stream,
      eventNumber: this.eventNumber.toString(),
      id: this.id,
      type: this.type,
      isJson: this.isJson,
      created: this.created.toISOString(),
      dataLength: this.data.length,
      metadataLength: this.metadata.length
    }
  }

  toString(): string {
    return `${this.type} #${this.eventNumber}@${this.stream}`
  }
}

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)
