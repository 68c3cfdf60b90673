/**
 * A small JSON reader and writer for stream metadata and system settings. `JSON.parse` will not do:
 * the server must tell integers from other numbers and read int64 values such as `$tb` =
 * 9223372036854775807 exactly, and rewriting metadata must keep the keys in their order.
 *
 * @since 0.1.0
 */

/**
 * A JSON number kept as written.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonNumber {
  readonly _tag: "Number"
  readonly text: string
}

/**
 * A parsed JSON value. Objects are `Map`s, so that key order survives a rewrite.
 *
 * @since 0.1.0
 * @category models
 */
export type JsonValue = null | boolean | string | JsonNumber | ReadonlyArray<JsonValue> | JsonObject

/**
 * A JSON object, keys in document order; a repeated key keeps its first place and its last value.
 *
 * @since 0.1.0
 * @category models
 */
export type JsonObject = Map<string, JsonValue>

class SyntaxFailure {
  readonly _tag = "SyntaxFailure"
}
const syntaxFailure = new SyntaxFailure()

const isWhitespace = (code: number): boolean => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09

/**
 * Parses a JSON document. Returns `undefined` when the text is not JSON.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): JsonValue | undefined => {
  let at = 0
  const skipWhitespace = () => {
    while (at < text.length && isWhitespace(text.charCodeAt(at))) at++
  }
  const expect = (literal: string) => {
    if (!text.startsWith(literal, at)) throw syntaxFailure
    at += literal.length
  }
  const readString = (): string => {
    // The opening quote is at `at`.
    const start = at
    at++
    let escaped = false
    while (at < text.length) {
      const code = text.charCodeAt(at)
      if (code === 0x22) break
      if (code < 0x20) throw syntaxFailure
      if (code === 0x5c) {
        escaped = true
        at++
      }
      at++
    }
    if (at >= text.length) throw syntaxFailure
    at++
    const raw = text.slice(start, at)
    if (!escaped) return raw.slice(1, -1)
    try {
      return JSON.parse(raw) as string
    } catch {
      throw syntaxFailure
    }
  }
  const readNumber = (): JsonNumber => {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(at, at + 400))
    if (match === null) throw syntaxFailure
    at += match[0].length
    return { _tag: "Number", text: match[0] }
  }
  const readValue = (depth: number): JsonValue => {
    if (depth > 64) throw syntaxFailure
    skipWhitespace()
    const code = text.charCodeAt(at)
    switch (code) {
      case 0x7b: {
        at++
        const object: JsonObject = new Map()
        skipWhitespace()
        if (text.charCodeAt(at) === 0x7d) {
          at++
          return object
        }
        while (true) {
          skipWhitespace()
          if (text.charCodeAt(at) !== 0x22) throw syntaxFailure
          const key = readString()
          skipWhitespace()
          expect(":")
          object.set(key, readValue(depth + 1))
          skipWhitespace()
          const next = text.charCodeAt(at++)
          if (next === 0x7d) return object
          if (next !== 0x2c) throw syntaxFailure
        }
      }
      case 0x5b: {
        at++
        const array: Array<JsonValue> = []
        skipWhitespace()
        if (text.charCodeAt(at) === 0x5d) {
          at++
          return array
        }
        while (true) {
          array.push(readValue(depth + 1))
          skipWhitespace()
          const next = text.charCodeAt(at++)
          if (next === 0x5d) return array
          if (next !== 0x2c) throw syntaxFailure
        }
      }
      case 0x22:
        return readString()
      case 0x74:
        expect("true")
        return true
      case 0x66:
        expect("false")
        return false
      case 0x6e:
        expect("null")
        return null
      default:
        return readNumber()
    }
  }
  try {
    const value = readValue(0)
    skipWhitespace()
    return at === text.length ? value : undefined
  } catch (error) {
    if (error === syntaxFailure) return undefined
    throw error
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * Parses UTF-8 bytes as a JSON document. Returns `undefined` when they are not UTF-8 JSON.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBytes = (bytes: Uint8Array): JsonValue | undefined => {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    return undefined
  }
  // A byte order mark is allowed in front of a JSON document.
  return parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
}

/**
 * Tells whether a value is a JSON object.
 *
 * @since 0.1.0
 * @category guards
 */
export const isObject = (value: JsonValue | undefined): value is JsonObject => value instanceof Map

/**
 * Tells whether a value is a JSON number.
 *
 * @since 0.1.0
 * @category guards
 */
export const isNumber = (value: JsonValue | undefined): value is JsonNumber =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Map)

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

/**
 * The value of a JSON number written as an integer that fits an int64, or `undefined` for any other
 * number (a fraction, an exponent, or something out of range), as .NET's JSON reader sees it.
 *
 * @since 0.1.0
 * @category conversions
 */
export const int64 = (value: JsonNumber): bigint | undefined => {
  if (!/^-?\d+$/.test(value.text)) return undefined
  const integer = BigInt(value.text)
  return integer < int64Min || integer > int64Max ? undefined : integer
}

/**
 * Writes a value as compact JSON, numbers exactly as they were read.
 *
 * @since 0.1.0
 * @category printing
 */
export const stringify = (value: JsonValue): string => {
  if (value === null) return "null"
  if (typeof value === "boolean") return value ? "true" : "false"
  if (typeof value === "string") return JSON.stringify(value)
  if (value instanceof Map) {
    const members: Array<string> = []
    for (const [key, member] of value) members.push(`${JSON.stringify(key)}:${stringify(member)}`)
    return `{${members.join(",")}}`
  }
  if (Array.isArray(value)) return `[${value.map(stringify).join(",")}]`
  return (value as JsonNumber).text
}

/**
 * A JSON number for an integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const integer = (value: number | bigint): JsonNumber => ({ _tag: "Number", text: String(value) })
