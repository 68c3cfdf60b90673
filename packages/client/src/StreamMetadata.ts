/**
 * Stream metadata: the settings the server applies to a stream (how many events, or how old, stay
 * readable; where the stream is truncated; who may do what) plus any custom keys of your own. It is
 * stored as JSON in the stream's metastream `$$<stream>` (docs/protocol.md 4.7).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/**
 * Who may do what on a stream. Each list holds user names and roles (`$admins`, `$ops`, `$all` for
 * everyone). A missing list falls back to the server's default ACL.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamAcl {
  readonly readRoles?: ReadonlyArray<string> | undefined
  readonly writeRoles?: ReadonlyArray<string> | undefined
  readonly deleteRoles?: ReadonlyArray<string> | undefined
  readonly metaReadRoles?: ReadonlyArray<string> | undefined
  readonly metaWriteRoles?: ReadonlyArray<string> | undefined
}

/**
 * A stream's metadata. Every key is optional; an absent key means "not set".
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamMetadata {
  /** `$maxCount`: only the last `maxCount` events stay readable. */
  readonly maxCount?: number | undefined
  /** `$maxAge`: events older than this are not readable (whole seconds on the wire). */
  readonly maxAge?: Duration.Duration | undefined
  /** `$tb`: events numbered below this are not readable. */
  readonly truncateBefore?: bigint | undefined
  /** `$cacheControl`: an HTTP caching hint (whole seconds on the wire). */
  readonly cacheControl?: Duration.Duration | undefined
  /** `$tmp`: the stream is temporary (a scavenging hint). */
  readonly tempStream?: boolean | undefined
  /** `$acl`: who may read, write, delete and access the metadata. */
  readonly acl?: StreamAcl | undefined
  /** Your own keys, kept and returned by the server but not interpreted. */
  readonly custom?: Readonly<Record<string, unknown>> | undefined
}

/**
 * What callers may pass where metadata is expected: durations in any `Duration.Input` form, and
 * `truncateBefore` as a number or a bigint.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly maxCount?: number | undefined
  readonly maxAge?: Duration.Input | undefined
  readonly truncateBefore?: bigint | number | undefined
  readonly cacheControl?: Duration.Input | undefined
  readonly tempStream?: boolean | undefined
  readonly acl?: StreamAcl | undefined
  readonly custom?: Readonly<Record<string, unknown>> | undefined
}

/**
 * A stream's metadata as read from the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamMetadataResult {
  readonly stream: string
  /** True when the stream has been hard-deleted; the metadata is then empty. */
  readonly isStreamDeleted: boolean
  /**
   * The number of the metadata event in the metastream: pass it as the expected version of the next
   * `setStreamMetadata` for optimistic concurrency. -1 when the stream has no metadata.
   */
  readonly metastreamVersion: bigint
  readonly metadata: StreamMetadata
}

/**
 * The metadata with nothing set.
 *
 * @since 0.1.0
 * @category constants
 */
export const empty: StreamMetadata = {}

/**
 * Normalises an `Input`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: Input): StreamMetadata => {
  const out: {
    -readonly [K in keyof StreamMetadata]: StreamMetadata[K]
  } = {}
  if (input.maxCount !== undefined) out.maxCount = input.maxCount
  if (input.maxAge !== undefined) out.maxAge = Duration.fromInputUnsafe(input.maxAge)
  if (input.truncateBefore !== undefined) out.truncateBefore = BigInt(input.truncateBefore)
  if (input.cacheControl !== undefined) out.cacheControl = Duration.fromInputUnsafe(input.cacheControl)
  if (input.tempStream !== undefined) out.tempStream = input.tempStream
  if (input.acl !== undefined) out.acl = input.acl
  if (input.custom !== undefined) out.custom = input.custom
  return out
}

/**
 * The metadata keys the server interprets.
 *
 * @since 0.1.0
 * @category constants
 */
export const wellKnownKeys: ReadonlySet<string> = new Set(["$maxCount", "$maxAge", "$tb", "$tmp", "$cacheControl", "$acl"])

const aclKeys = [
  ["$r", "readRoles"],
  ["$w", "writeRoles"],
  ["$d", "deleteRoles"],
  ["$mr", "metaReadRoles"],
  ["$mw", "metaWriteRoles"]
] as const

const roles = (list: ReadonlyArray<string>): unknown => list.length === 1 ? list[0] : list

/**
 * The JSON text stored in the metastream, keys in the order the server writes them. Custom keys that
 * clash with a well-known key are left out. Throws when a custom value is not serialisable as JSON.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJson = (metadata: StreamMetadata): string => {
  const parts: Array<string> = []
  if (metadata.maxCount !== undefined) parts.push(`"$maxCount":${JSON.stringify(metadata.maxCount)}`)
  if (metadata.maxAge !== undefined) parts.push(`"$maxAge":${Math.floor(Duration.toSeconds(metadata.maxAge))}`)
  if (metadata.truncateBefore !== undefined) parts.push(`"$tb":${metadata.truncateBefore.toString()}`)
  if (metadata.tempStream !== undefined) parts.push(`"$tmp":${metadata.tempStream}`)
  if (metadata.cacheControl !== undefined) {
    parts.push(`"$cacheControl":${Math.floor(Duration.toSeconds(metadata.cacheControl))}`)
  }
  if (metadata.acl !== undefined) {
    const acl: Record<string, unknown> = {}
    for (const [key, field] of aclKeys) {
      const list = metadata.acl[field]
      if (list !== undefined) acl[key] = roles(list)
    }
    parts.push(`"$acl":${JSON.stringify(acl)}`)
  }
  if (metadata.custom !== undefined) {
    for (const [key, value] of Object.entries(metadata.custom)) {
      if (wellKnownKeys.has(key) || value === undefined) continue
      parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`)
    }
  }
  return `{${parts.join(",")}}`
}

const maxEventNumber = 9_223_372_036_854_775_807n

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const positiveInteger = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u > 0 ? u : undefined

const roleList = (u: unknown): ReadonlyArray<string> | undefined => {
  if (typeof u === "string") return [u]
  if (Array.isArray(u) && u.every((r) => typeof r === "string")) return u as ReadonlyArray<string>
  return undefined
}

/**
 * The text of the number that `key` holds at the top level of a JSON object's text, as JSON.parse
 * reads it: the last occurrence when the key repeats, and never one inside a nested value or a string.
 * `undefined` when the key holds something else or is not there. The text must be valid JSON.
 */
const topLevelNumber = (text: string, key: string): string | undefined => {
  let depth = 0
  let found: string | undefined
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === "\"") {
      // A string: find its end, past escaped characters.
      let end = i + 1
      while (text[end] !== "\"") end += text[end] === "\\" ? 2 : 1
      let next = end + 1
      while (next < text.length && /\s/.test(text[next]!)) next++
      if (depth === 1 && text[next] === ":") {
        let value = next + 1
        while (value < text.length && /\s/.test(text[value]!)) value++
        if (JSON.parse(text.slice(i, end + 1)) === key) {
          const number = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(value))
          found = number === null ? undefined : number[0]
        }
        i = value
        continue
      }
      i = end + 1
      continue
    }
    if (c === "{" || c === "[") depth++
    else if (c === "}" || c === "]") depth--
    i++
  }
  return found
}

/**
 * Reads the JSON text of a metadata event. Like the server, it treats text that is not a JSON object
 * as empty metadata, and values of the wrong type (or non-positive counts and ages) as not set.
 * `$tb` keeps its full 64-bit precision (a soft-deleted stream has `$tb` = 2^63-1).
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromJson = (text: string): StreamMetadata => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return empty
  }
  if (!isRecord(parsed)) return empty
  const out: {
    -readonly [K in keyof StreamMetadata]: StreamMetadata[K]
  } = {}
  const maxCount = positiveInteger(parsed["$maxCount"])
  if (maxCount !== undefined) out.maxCount = maxCount
  const maxAge = positiveInteger(parsed["$maxAge"])
  if (maxAge !== undefined) out.maxAge = Duration.seconds(maxAge)
  const tb = parsed["$tb"]
  if (typeof tb === "number" && Number.isInteger(tb) && tb >= 0) {
    // JSON.parse rounds integers beyond 2^53; read those digits from the text itself.
    const exact = Number.isSafeInteger(tb) ? undefined : topLevelNumber(text, "$tb")
    const value = exact !== undefined && /^\d+$/.test(exact) ? BigInt(exact) : BigInt(tb)
    // Event numbers are int64: a larger `$tb` (written as a float, say) hides every event all the same.
    out.truncateBefore = value > maxEventNumber ? maxEventNumber : value
  }
  if (typeof parsed["$tmp"] === "boolean") out.tempStream = parsed["$tmp"]
  const cacheControl = positiveInteger(parsed["$cacheControl"])
  if (cacheControl !== undefined) out.cacheControl = Duration.seconds(cacheControl)
  const acl = parsed["$acl"]
  if (isRecord(acl)) {
    const result: { -readonly [K in keyof StreamAcl]: StreamAcl[K] } = {}
    for (const [key, field] of aclKeys) {
      const list = roleList(acl[key])
      if (list !== undefined) result[field] = list
    }
    out.acl = result
  }
  const custom: Record<string, unknown> = {}
  let hasCustom = false
  for (const [key, value] of Object.entries(parsed)) {
    if (wellKnownKeys.has(key)) continue
    custom[key] = value
    hasCustom = true
  }
  if (hasCustom) out.custom = custom
  return out
}
