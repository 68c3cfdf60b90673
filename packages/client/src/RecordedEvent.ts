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
import { int64At } from "./internal/Reader.ts"

const decoder = new TextDecoder("utf-8")

/**
 * What a `RecordedEvent` is built from, for events made by hand (in tests of read models, say). The
 * client builds its events straight from the server's replies instead.
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
   * Where the 16 bytes of the id start in `idBytes`, when `idBytes` holds more than the id; absent when
   * `idBytes` is just the id.
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

/** `createdOffset` when the creation time is not in the bytes but in `#createdMillis`. */
const createdNotInBytes = -1

/**
 * An event read from a stream.
 *
 * @since 0.1.0
 * @category models
 */
export class RecordedEvent {
  /** The stream the event belongs to. */
  readonly stream: string
  /** Its type, for example `PonyJumped`. */
  readonly type: string
  /** Whether the data was written as JSON. */
  readonly isJson: boolean
  /** The reply the event was read from (data, metadata, id and creation time are in it), or the id's bytes. */
  readonly #bytes: Uint8Array
  /** A number while it is small, made the bigint on first use and kept. */
  #eventNumber: number | bigint
  readonly #dataStart: number
  readonly #dataEnd: number
  readonly #metadataStart: number
  readonly #metadataEnd: number
  #data: Uint8Array | undefined
  #metadata: Uint8Array | undefined
  /** Where the 16 bytes of the id start in `#bytes`; -1 when the id is not 16 bytes (the empty GUID). */
  readonly #idOffset: number
  /**
   * Where the creation time's varint starts in `#bytes`: at `n >= 0` epoch milliseconds, at `-n - 2`
   * .NET ticks; `createdNotInBytes` when `#createdMillis` holds it.
   */
  readonly #createdOffset: number
  readonly #createdMillis: number
  #id: string | undefined

  constructor(fields: Fields)
  // The decoder's way in (`internal/Decode.ts`, `fromReply`): where the fields lie in the reply, so that
  // the views, the bigint and the date an event may never be asked for are made only when asked for.
  constructor(
    fields: Fields | undefined,
    bytes?: Uint8Array,
    stream?: string,
    type?: string,
    isJson?: boolean,
    eventNumber?: number | bigint,
    dataStart?: number,
    dataEnd?: number,
    metadataStart?: number,
    metadataEnd?: number,
    idOffset?: number,
    createdOffset?: number
  ) {
    if (fields !== undefined) {
      const ownBytes = fields.idOffset === undefined && fields.idBytes.length === 16
      this.stream = fields.stream
      this.type = fields.type
      this.isJson = fields.isJson
      this.#bytes = fields.idBytes
      this.#eventNumber = fields.eventNumber
      this.#dataStart = 0
      this.#dataEnd = 0
      this.#metadataStart = 0
      this.#metadataEnd = 0
      this.#data = fields.data
      this.#metadata = fields.metadata
      this.#idOffset = fields.idOffset ?? (ownBytes ? 0 : -1)
      this.#createdOffset = createdNotInBytes
      this.#createdMillis = fields.createdEpochMillis !== undefined
        ? Number(fields.createdEpochMillis)
        : fields.createdTicks === 0n
        ? 0
        : Ticks.toEpochMillis(fields.createdTicks)
    } else {
      this.stream = stream!
      this.type = type!
      this.isJson = isJson!
      this.#bytes = bytes!
      this.#eventNumber = eventNumber!
      this.#dataStart = dataStart!
      this.#dataEnd = dataEnd!
      this.#metadataStart = metadataStart!
      this.#metadataEnd = metadataEnd!
      this.#data = undefined
      this.#metadata = undefined
      this.#idOffset = idOffset!
      this.#createdOffset = createdOffset!
      this.#createdMillis = 0
    }
    this.#id = undefined
  }

  /** Its number in that stream: 0 for the first event. */
  get eventNumber(): bigint {
    const number = this.#eventNumber
    if (typeof number === "bigint") return number
    const big = BigInt(number)
    this.#eventNumber = big
    return big
  }

  /** The data, as stored. A view into the received bytes. */
  get data(): Uint8Array {
    return this.#data ??= this.#view(this.#dataStart, this.#dataEnd)
  }

  /** The metadata, as stored (empty when there is none). A view into the received bytes. */
  get metadata(): Uint8Array {
    return this.#metadata ??= this.#view(this.#metadataStart, this.#metadataEnd)
  }

  #view(start: number, end: number): Uint8Array {
    return start === end ? emptyBytes : this.#bytes.subarray(start, end)
  }

  /** The event id, a UUID. */
  get id(): string {
    if (this.#id === undefined) this.#id = this.#idOffset >= 0 ? Guid.readUnsafe(this.#bytes, this.#idOffset) : Guid.empty
    return this.#id
  }

  /** When the server wrote the event. */
  get created(): Date {
    const offset = this.#createdOffset
    if (offset === createdNotInBytes) return new Date(this.#createdMillis)
    if (offset >= 0) return new Date(Number(int64At(this.#bytes, offset)))
    return Ticks.toDate(int64At(this.#bytes, -offset - 2))
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
    const created = this.created
    return {
      _id: "RecordedEvent",
      stream: this.stream,
      eventNumber: this.eventNumber.toString(),
      id: this.id,
      type: this.type,
      isJson: this.isJson,
      // A time past what a Date holds must not make logging an event throw.
      created: Number.isNaN(created.getTime()) ? "Invalid Date" : created.toISOString(),
      dataLength: this.#data?.length ?? this.#dataEnd - this.#dataStart,
      metadataLength: this.#metadata?.length ?? this.#metadataEnd - this.#metadataStart
    }
  }

  toString(): string {
    return `${this.type} #${this.eventNumber}@${this.stream}`
  }
}

const emptyBytes = new Uint8Array(0)

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)
