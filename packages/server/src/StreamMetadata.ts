/**
 * Stream metadata: the JSON of the latest event in a stream's metastream `$$<stream>`
 * (docs/protocol.md 4.7). The server reads `$maxCount`, `$maxAge`, `$tb`, `$tmp`, `$cacheControl` and
 * `$acl`, and keeps every other key untouched. Metadata that is not JSON, or whose known keys have the
 * wrong type, counts as no metadata at all, as on the real server.
 *
 * @since 0.1.0
 */
import * as Acl from "./Acl.ts"
import * as Json from "./internal/Json.ts"

/**
 * The event number of a hard-deleted stream's tombstone, 2^63-1 on the wire. Inside the server it is
 * `Infinity`, so that it compares above every real event number; it becomes 2^63-1 at the wire.
 *
 * @since 0.1.0
 * @category constants
 */
export const deletedStream = Number.POSITIVE_INFINITY

/**
 * The event type of metadata events.
 *
 * @since 0.1.0
 * @category constants
 */
export const eventType = "$metadata"

/**
 * What the server makes of a stream's metadata. Absent keys, and the non-positive `$maxCount`,
 * `$maxAge` and `$cacheControl` or negative `$tb` the server ignores, are `undefined`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamMetadata {
  readonly maxCount: number | undefined
  /** In seconds. */
  readonly maxAge: number | undefined
  /** `deletedStream` (2^63-1 on the wire) marks a soft-deleted stream. */
  readonly truncateBefore: number | undefined
  readonly tempStream: boolean | undefined
  /** In seconds. */
  readonly cacheControl: number | undefined
  readonly acl: Acl.StreamAcl | undefined
}

/**
 * No metadata.
 *
 * @since 0.1.0
 * @category constants
 */
export const empty: StreamMetadata = {
  maxCount: undefined,
  maxAge: undefined,
  truncateBefore: undefined,
  tempStream: undefined,
  cacheControl: undefined,
  acl: undefined
}

/**
 * The fixed metadata of every metastream: only the latest metadata event is readable.
 *
 * @since 0.1.0
 * @category constants
 */
export const ofMetastreams: StreamMetadata = { ...empty, maxCount: 1 }

const int64Max = 2n ** 63n - 1n

/** Int64 values beyond what a JS number holds exactly still compare above every real event number. */
const toNumber = (value: bigint): number =>
  value === int64Max ? deletedStream : Number(value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : value)

const invalid = new Error("invalid metadata")

const readInteger = (value: Json.JsonValue | undefined): bigint => {
  if (!Json.isNumber(value)) throw invalid
  const integer = Json.int64(value)
  if (integer === undefined) throw invalid
  return integer
}

/**
 * Reads a parsed metadata document. Returns `empty` for anything that is not a valid metadata object.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromJsonValue = (json: Json.JsonValue | undefined): StreamMetadata => {
  if (!Json.isObject(json)) return empty
  try {
    let maxCount: number | undefined
    let maxAge: number | undefined
    let truncateBefore: number | undefined
    let tempStream: boolean | undefined
    let cacheControl: number | undefined
    let acl: Acl.StreamAcl | undefined
    for (const [key, value] of json) {
      switch (key) {
        case "$maxCount": {
          const n = readInteger(value)
          maxCount = n > 0n ? toNumber(n) : undefined
          break
        }
        case "$maxAge": {
          const n = readInteger(value)
          maxAge = n > 0n ? toNumber(n) : undefined
          break
        }
        case "$tb": {
          const n = readInteger(value)
          truncateBefore = n >= 0n ? toNumber(n) : undefined
          break
        }
        case "$cacheControl": {
          const n = readInteger(value)
          cacheControl = n > 0n ? toNumber(n) : undefined
          break
        }
        case "$tmp": {
          if (typeof value !== "boolean") throw invalid
          tempStream = value
          break
        }
        case "$acl": {
          acl = Acl.fromJson(value)
          if (acl === undefined) throw invalid
          break
        }
      }
    }
    return { maxCount, maxAge, truncateBefore, tempStream, cacheControl, acl }
  } catch {
    return empty
  }
}

/**
 * Reads the data of a metadata event. Returns `empty` for anything that is not valid metadata JSON.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromJsonBytes = (bytes: Uint8Array): StreamMetadata =>
  bytes.length === 0 ? empty : fromJsonValue(Json.parseBytes(bytes))

/**
 * Tells whether metadata marks its stream as soft-deleted (`$tb` = 2^63-1).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSoftDeleted = (metadata: StreamMetadata): boolean => metadata.truncateBefore === deletedStream

const encoder = new TextEncoder()

/**
 * The metadata a soft delete writes: `{"$tb":9223372036854775807}`, nothing else.
 *
 * @since 0.1.0
 * @category encoding
 */
export const softDeleted: Uint8Array = encoder.encode(`{"$tb":${int64Max}}`)

/**
 * The metadata that brings a soft-deleted stream back from `recreateFrom` on: the same JSON object
 * with `$tb` set (in place if it was there, last otherwise). Returns `undefined` when the metadata is
 * not a JSON object, in which case the server leaves it as it is.
 *
 * @since 0.1.0
 * @category encoding
 */
export const withTruncateBefore = (bytes: Uint8Array, recreateFrom: number): Uint8Array | undefined => {
  const json = Json.parseBytes(bytes)
  if (!Json.isObject(json)) return undefined
  json.set("$tb", Json.integer(recreateFrom))
  return encoder.encode(Json.stringify(json))
}

/**
 * The first event number of a stream that reads can return, given its last event number: the larger of
 * 0, `last - $maxCount + 1` and `$tb`.
 *
 * @since 0.1.0
 * @category reading
 */
export const firstReadable = (metadata: StreamMetadata, lastEventNumber: number): number => {
  let min = 0
  if (metadata.maxCount !== undefined) min = Math.max(min, lastEventNumber - metadata.maxCount + 1)
  if (metadata.truncateBefore !== undefined) min = Math.max(min, metadata.truncateBefore)
  return min
}
