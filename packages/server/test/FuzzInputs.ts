/**
 * Inputs for the fuzz tests of the node (Fuzz.test.ts): how many cases to check from which seed (the
 * stream model's test takes these too), protobuf written by hand, random messages of the shape of the
 * protocol's, mutations of valid payloads (byte-level, and one that knows protobuf), unknown fields,
 * and byte streams of frames, garbage and length prefixes.
 *
 * The generators are Effect `Arbitrary` values, so that a failing case shrinks and replays. Random
 * messages draw their choices from an arbitrary array of numbers (`Choices`), which shrinks with it.
 */
import type { DescField, DescMessage } from "@bufbuild/protobuf"
import { ScalarType } from "@bufbuild/protobuf"
import { Guid, Package } from "@photonpump/protocol"
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"
import { C, eventId } from "./RawClient.ts"

/**
 * A property's check options: its own seed and runs, unless `PROPERTY_SEED` names another seed for all,
 * and `PROPERTY_RUNS` multiplies the runs.
 */
export const checks = (runs: number, seed: number, size?: number) => ({
  arbitrary: {
    runs: Math.max(1, Math.round(runs * Number(process.env["PROPERTY_RUNS"] ?? "1"))),
    seed: process.env["PROPERTY_SEED"] ?? seed,
    ...(size === undefined ? {} : { size })
  }
})

export const intBetween = (minimum: number, maximum: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))

export const bytesBetween = (minimum: number, maximum: number) =>
  Arbitrary.schema(Schema.Uint8Array.check(Schema.isBetweenLength(minimum, maximum)))

const encoder = new TextEncoder()

export const concat = (parts: ReadonlyArray<ArrayLike<number>>): Uint8Array => {
  const bytes = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    bytes.set(part, offset)
    offset += part.length
  }
  return bytes
}

// ---------------------------------------------------------------------------------------------------
// Frames and packages

/** A length prefix: `length` as a little-endian int32 (1.1). */
export const lengthPrefix = (length: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setInt32(0, length, true)
  return bytes
}

export const readLengthPrefix = (bytes: Uint8Array, offset: number): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(offset, true)

export const frame = (body: Uint8Array): Uint8Array => concat([lengthPrefix(body.length), body])

/** A package body with any flags: header, then whatever parts follow (an auth block, a payload). */
export const packageBody = (
  command: number,
  flags: number,
  correlationId: string,
  ...parts: ReadonlyArray<ArrayLike<number>>
): Uint8Array => {
  const header = new Uint8Array(Package.headerLength)
  header[0] = command
  header[1] = flags
  Guid.writeUnsafe(correlationId, header, 2)
  return concat([header, ...parts])
}

/** An auth block with a login and a password (1.4). */
export const loginBlock = (login: string, password: string): Uint8Array => {
  const loginBytes = encoder.encode(login)
  const passwordBytes = encoder.encode(password)
  return concat([[loginBytes.length], loginBytes, [passwordBytes.length], passwordBytes])
}

/** A bearer-token auth block: the token's length as a negative little-endian int16, then the token (1.4). */
export const tokenBlock = (length: number): Uint8Array => {
  const size = new Uint8Array(2)
  new DataView(size.buffer).setInt16(0, -length, true)
  return concat([size, encoder.encode("t".repeat(length))])
}

// ---------------------------------------------------------------------------------------------------
// Protobuf by hand

/** Protobuf written by hand, so that it can say what no encoder would. */
export class WireWriter {
  readonly bytes: Array<number> = []

  varint(value: bigint): void {
    let rest = BigInt.asUintN(64, value)
    while (rest > 0x7fn) {
      this.bytes.push(Number(rest & 0x7fn) | 0x80)
      rest >>= 7n
    }
    this.bytes.push(Number(rest))
  }

  key(field: number, wireType: number): void {
    this.varint(BigInt(field) * 8n + BigInt(wireType))
  }

  delimited(field: number, content: ArrayLike<number>): void {
    this.key(field, 2)
    this.varint(BigInt(content.length))
    for (let i = 0; i < content.length; i++) this.bytes.push(content[i]!)
  }
}

/** Reads a varint as an unsigned 64-bit value; `undefined` when it runs past the end or over ten bytes. */
const readVarint = (bytes: Uint8Array, at: number): { readonly value: bigint; readonly end: number } | undefined => {
  let value = 0n
  for (let i = 0; i < 10 && at + i < bytes.length; i++) {
    const byte = bytes[at + i]!
    value |= BigInt(byte & 0x7f) << BigInt(7 * i)
    if (byte < 0x80) return { value: BigInt.asUintN(64, value), end: at + i + 1 }
  }
  return undefined
}

/**
 * A field of a payload as the wire has it: where its value starts (after the key), where the content of
 * a length-delimited value starts (after its length), and where it ends.
 */
export interface WireField {
  readonly field: number
  readonly wireType: number
  readonly valueStart: number
  readonly contentStart: number
  readonly end: number
}

/**
 * The top-level fields of a payload, or `undefined` when it is not a sequence of well-formed fields of
 * wire types 0, 1, 2 and 5.
 */
export const wireFields = (bytes: Uint8Array): Array<WireField> | undefined => {
  const fields: Array<WireField> = []
  let at = 0
  while (at < bytes.length) {
    const key = readVarint(bytes, at)
    if (key === undefined || key.value >> 3n === 0n) return undefined
    const wireType = Number(key.value & 7n)
    let contentStart = key.end
    let end: number
    switch (wireType) {
      case 0: {
        const value = readVarint(bytes, key.end)
        if (value === undefined) return undefined
        end = value.end
        break
      }
      case 1:
        end = key.end + 8
        break
      case 2: {
        const length = readVarint(bytes, key.end)
        if (length === undefined) return undefined
        contentStart = length.end
        end = length.end + Number(length.value)
        break
      }
      case 5:
        end = key.end + 4
        break
      default:
        return undefined
    }
    if (end > bytes.length) return undefined
    fields.push({ field: Number(key.value >> 3n), wireType, valueStart: key.end, contentStart, end })
    at = end
  }
  return fields
}

/** The wire type of each field of a message, and the shape of the fields that hold a message. */
export interface WireShape {
  readonly wireTypes: Readonly<Record<number, number>>
  readonly messages?: Readonly<Record<number, WireShape>>
}

/**
 * Whether a payload is a well-formed message of the shape, each known field of its own wire type, all
 * the way down: what a strict protobuf reader, such as the node's, reads.
 */
export const hasShape = (payload: Uint8Array, shape: WireShape): boolean => {
  const fields = wireFields(payload)
  if (fields === undefined) return false
  return fields.every((field) => {
    const wireType = shape.wireTypes[field.field]
    if (wireType !== undefined && wireType !== field.wireType) return false
    const inner = shape.messages?.[field.field]
    return inner === undefined || hasShape(payload.subarray(field.contentStart, field.end), inner)
  })
}

// ---------------------------------------------------------------------------------------------------
// Random messages

/**
 * Choices for the message generator, read off an arbitrary array of numbers: shrinking the array
 * shrinks the choices, and once it runs out every choice is the first, simplest one.
 */
export class Choices {
  readonly #tape: ReadonlyArray<number>
  #at = 0

  constructor(tape: ReadonlyArray<number>) {
    this.#tape = tape
  }

  below(bound: number): number {
    return (this.#tape[this.#at++] ?? 0) % bound
  }

  pick<A>(items: ReadonlyArray<A>): A {
    return items[this.below(items.length)]!
  }

  /** True `percent` times in a hundred; false once the tape has run out. */
  when(percent: number): boolean {
    const value = this.#tape[this.#at++]
    return value !== undefined && value % 100 < percent
  }
}

/** The numbers `Choices` draws from. */
export const tape = Arbitrary.array(intBetween(0, 0xffff), { minLength: 64, maxLength: 400 })

// Sentinels and limits the node reads meaning into: expected versions, the page limit, the first
// record's offset (positions and transaction ids), int32 and int64 bounds, and past 2^53.
const integers: ReadonlyArray<bigint> = [
  0n, 1n, 2n, 3n, -1n, -2n, -3n, -4n, -5n, 10n, 127n, 128n, 192n, 4095n, 4096n, 4097n,
  2n ** 31n - 1n, -(2n ** 31n), 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)
]

// Values that mean something for a field of that name, so that random requests get past validation
// and meet each other's streams, groups and events instead of being refused one after the other.
const integerHints: ReadonlyArray<readonly [RegExp, ReadonlyArray<bigint>]> = [
  [/^expectedVersion$/, [-2n, -2n, -1n, -4n, 0n, 1n, 2n, -3n, -5n]],
  [/^(eventNumber|fromEventNumber|startFrom)$/, [-1n, 0n, 1n, 2n, 5n, 2n ** 63n - 1n, -2n]],
  [/^(maxCount|maxSearchWindow|checkpointInterval)$/, [1n, 2n, 10n, 4096n, 4097n, 0n, -1n]],
  [/Position$/, [0n, -1n, 128n, 300n, 2n ** 63n - 1n, -2n]],
  [/ContentType$/, [0n, 1n, 2n]],
  [/^allowedInFlightMessages$/, [0n, 1n, 10n, -1n, 2n ** 31n - 1n]]
]

const streams = [
  "fuzz",
  "fuzz",
  "fuzz-2",
  "$$fuzz",
  "$$fuzz-2",
  "$$",
  "",
  "$all",
  "$settings",
  "$persistentSubscriptionConfig"
]
const groups = ["group", "group", "group-2", "fuzz::group", ""]
const strategies = ["RoundRobin", "DispatchToSingle", "Pinned", "PinnedByCorrelation", "", "NoSuchStrategy"]

const textHints: ReadonlyArray<readonly [RegExp, ReadonlyArray<string>]> = [
  [/^eventStreamId$/, streams],
  [/^(subscriptionGroupName|subscriptionId)$/, groups],
  [/^namedConsumerStrategy$/, strategies],
  [/^eventType$/, ["fuzzed", "fuzzed", "$>", "$metadata", "$streamDeleted", "", "é"]],
  // Filter data: prefixes and regular expressions, some that do not compile.
  [/^data$/, ["fuzz", "^fuzz", "fuzz.*", "(", "[", "$", ""]]
]

// Any text at all: the names above, names the node keeps for itself, and a long one.
const texts: ReadonlyArray<string> = [
  ...streams,
  ...groups,
  ...strategies,
  "$persistentsubscription-fuzz::group-parked",
  "\uFEFFfuzz",
  "🦄",
  "x".repeat(300)
]

// A few event ids shared by every request, so that writes meet the idempotency rules and acks and naks
// name messages in flight.
const sharedIds: ReadonlyArray<Uint8Array> = Array.from({ length: 4 }, () => eventId())

// Event data the node parses: links, metadata, correlation ids, and things that only look like them.
const payloads: ReadonlyArray<Uint8Array> = [
  "0@fuzz", "1@fuzz-2", "0@$$fuzz", "9223372036854775807@fuzz", "x@fuzz", "-1@fuzz", `{"$maxCount":1}`, `{"$tb":1}`,
  `{"$tb":9223372036854775807}`, `{"$maxAge":1}`, `{"$acl":{"$r":"$admins"}}`, `{"$acl":{"$r":[1]}}`,
  `{"$correlationId":"c"}`, "{}", "[]", "2", "not json", `{"$maxCount":`
].map((data) => encoder.encode(data))

const hinted = <A>(hints: ReadonlyArray<readonly [RegExp, ReadonlyArray<A>]>, name: string) =>
  hints.find(([pattern]) => pattern.test(name))?.[1]

const randomInteger = (choices: Choices, name: string): bigint => {
  const hint = hinted(integerHints, name)
  if (hint !== undefined && choices.when(70)) return choices.pick(hint)
  return choices.when(70) ? choices.pick(integers) : BigInt(choices.below(0x10000))
}

const randomBytes = (choices: Choices, length: number) => Array.from({ length }, () => choices.below(256))

const randomText = (choices: Choices, name: string): ArrayLike<number> => {
  const hint = hinted(textHints, name)
  if (hint !== undefined && choices.when(80)) return encoder.encode(choices.pick(hint))
  switch (choices.below(4)) {
    case 0:
    case 1:
      return encoder.encode(choices.pick(texts))
    case 2:
      return encoder.encode(Array.from({ length: choices.below(12) }, () => choices.pick([..."abz$:-@é"])).join(""))
    default:
      // Not UTF-8.
      return [0x66, 0xff, 0xfe, 0xc3]
  }
}

const randomByteField = (choices: Choices, name: string): ArrayLike<number> => {
  if (/^(eventId|processedEventIds)$/.test(name) && choices.when(70)) return choices.pick(sharedIds)
  switch (choices.below(5)) {
    case 0:
      return randomBytes(choices, 16)
    case 1:
      return choices.pick(payloads)
    case 2:
      return new Uint8Array(16)
    case 3:
      return eventId()
    default:
      return randomBytes(choices, choices.below(24))
  }
}

/** Writes one occurrence of a field with a random value of its type. */
const writeField = (field: DescField, choices: Choices, out: WireWriter, depth: number): void => {
  if (field.fieldKind === "map") return
  if (field.message !== undefined) {
    return out.delimited(field.number, depth < 3 ? randomMessage(field.message, choices, depth + 1) : [])
  }
  switch (field.scalar) {
    case ScalarType.STRING:
      return out.delimited(field.number, randomText(choices, field.localName))
    case ScalarType.BYTES:
      return out.delimited(field.number, randomByteField(choices, field.localName))
    case ScalarType.BOOL:
      out.key(field.number, 0)
      return out.varint(choices.pick([0n, 1n, 2n, 2n ** 40n]))
    default:
      // Every other field of the protocol's messages is an int32, an int64 or an enum: a varint.
      out.key(field.number, 0)
      return out.varint(randomInteger(choices, field.localName))
  }
}

/**
 * A message of the schema's shape with random values: most fields present (some twice, where the last
 * one wins), lists of up to three, now and then an unknown field.
 */
export const randomMessage = (schema: DescMessage, choices: Choices, depth = 0): Array<number> => {
  const out = new WireWriter()
  for (const field of schema.fields) {
    const occurrences = field.fieldKind === "list" ? choices.below(4) : choices.when(85) ? (choices.when(5) ? 2 : 1) : 0
    for (let i = 0; i < occurrences; i++) writeField(field, choices, out, depth)
  }
  if (choices.when(10)) {
    out.key(choices.pick([15, 99, 2 ** 29 - 1, 1, 2]), choices.pick([0, 1, 2, 5]))
    out.bytes.push(...randomBytes(choices, choices.below(10)))
  }
  return out.bytes
}

// ---------------------------------------------------------------------------------------------------
// Mutations of valid payloads

/** Rewrites the value of one of the top-level varint fields of a payload, if it has any. */
const rewriteVarint = (
  bytes: Array<number>,
  which: number,
  rewrite: (value: bigint) => Array<number>
): Array<number> => {
  const varints = (wireFields(Uint8Array.from(bytes)) ?? []).filter((field) => field.wireType === 0)
  const chosen = varints[which % Math.max(1, varints.length)]
  if (chosen === undefined) return bytes
  const value = readVarint(Uint8Array.from(bytes), chosen.valueStart)!.value
  return [...bytes.slice(0, chosen.valueStart), ...rewrite(value), ...bytes.slice(chosen.end)]
}

/** A value in ten bytes: what it is to any protobuf decoder, which reads an overlong varint as the short one. */
const overlong = (value: bigint): Array<number> =>
  Array.from({ length: 10 }, (_, i) => {
    const group = Number((value >> BigInt(7 * i)) & 0x7fn)
    return i < 9 ? group | 0x80 : group & 0x01
  })

/** A value with bits added above its low 32: the same to a decoder that reads an int32 field, another int64. */
const widened = (value: bigint, high: bigint): Array<number> => {
  const out = new WireWriter()
  out.varint(BigInt.asUintN(64, value + (high << 32n)))
  return out.bytes
}

export const mutation = Arbitrary.schema(Schema.Struct({
  kind: Schema.Literals(["flip", "set", "insert", "remove", "truncate", "overlong", "widen"]),
  at: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1000 })),
  value: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 })),
  inserted: Schema.Uint8Array.check(Schema.isBetweenLength(1, 6))
}))

export type Mutation = typeof mutation extends Arbitrary.Arbitrary<infer A> ? A : never

/**
 * Flips, overwrites, inserts, removes or cuts off bytes, or rewrites a varint field: the long way, or
 * with bits above the 32 an int32 has.
 */
export const mutate = (payload: Uint8Array, mutations: ReadonlyArray<Mutation>): Uint8Array => {
  let bytes = Array.from(payload)
  for (const { at, inserted, kind, value } of mutations) {
    const position = at % (bytes.length + 1)
    switch (kind) {
      case "flip":
        if (bytes.length > 0) bytes[position % bytes.length]! ^= 1 << (value % 8)
        break
      case "set":
        if (bytes.length > 0) bytes[position % bytes.length] = value
        break
      case "insert":
        bytes.splice(position, 0, ...inserted)
        break
      case "remove":
        bytes.splice(position, 1 + (value % 4))
        break
      case "truncate":
        bytes = bytes.slice(0, position)
        break
      case "overlong":
        bytes = rewriteVarint(bytes, at, overlong)
        break
      case "widen":
        bytes = rewriteVarint(bytes, at, (old) => widened(old, (BigInt(value) << 23n) | BigInt(at)))
        break
    }
  }
  return Uint8Array.from(bytes)
}

/**
 * A field no message of the protocol has, of any wire type, a group included: decoders skip unknown
 * fields, so it changes nothing about the request it is added to.
 */
export const unknownField = Arbitrary.all({
  field: Arbitrary.schema(Schema.Literals([15, 16, 99, 2047, 2 ** 29 - 1])),
  wireType: Arbitrary.schema(Schema.Literals([0, 1, 2, 3, 5])),
  value: Arbitrary.schema(Schema.Literals([0n, 1n, 300n, -1n, 2n ** 63n - 1n])),
  bytes: bytesBetween(8, 8)
}).pipe(
  Arbitrary.map(({ bytes, field, value, wireType }) => {
    const out = new WireWriter()
    out.key(field, wireType)
    switch (wireType) {
      case 0:
        out.varint(value)
        break
      case 1:
        out.bytes.push(...bytes)
        break
      case 2:
        out.varint(BigInt(bytes.length))
        out.bytes.push(...bytes)
        break
      case 3:
        // A group: fields up to the end-group tag of the same number.
        out.key(1, 0)
        out.varint(value)
        out.delimited(2, bytes)
        out.key(field, 4)
        break
      case 5:
        out.bytes.push(...bytes.subarray(0, 4))
        break
    }
    return Uint8Array.from(out.bytes)
  })
)

// ---------------------------------------------------------------------------------------------------
// Byte streams

/**
 * A piece of a byte stream: a frame (of a few commands, with either defined flag, and any body), raw
 * bytes, or a length prefix of any kind with what follows it.
 */
export const streamSegment = (maxFrameLength: number) =>
  Arbitrary.all({
    kind: Arbitrary.schema(Schema.Literals(["frame", "frame", "bytes", "prefix"])),
    command: Arbitrary.schema(
      Schema.Literals([C.Ping, C.Ping, C.HeartbeatRequest, C.WriteEvents, C.ReadEvent, C.Authenticate, 0x99])
    ),
    flags: intBetween(0, 3),
    id: bytesBetween(16, 16),
    bytes: bytesBetween(0, 40),
    length: Arbitrary.schema(Schema.Literals([0, -1, 17, 18, 19, 24, 40, maxFrameLength + 1, 0x7fffffff, -0x80000000]))
  }).pipe(
    Arbitrary.map(({ bytes, command, flags, id, kind, length }) => {
      switch (kind) {
        case "frame":
          return frame(concat([[command, flags], id, bytes]))
        case "bytes":
          return bytes
        case "prefix":
          return concat([lengthPrefix(length), bytes])
      }
    })
  )

/**
 * Pads a stream with zeros so that it ends on a frame boundary, or at a bad length prefix: the node
 * then holds no frame in part, and what it must do with the stream is decided.
 */
export const completed = (stream: Uint8Array, maxFrameLength: number): Uint8Array => {
  const parts: Array<ArrayLike<number>> = [stream]
  let length = stream.length
  const padTo = (end: number) => {
    if (end > length) {
      parts.push(new Uint8Array(end - length))
      length = end
    }
  }
  let offset = 0
  while (offset < length) {
    padTo(offset + 4)
    const frameLength = readLengthPrefix(concat(parts), offset)
    if (frameLength < 1 || frameLength > maxFrameLength) break
    padTo(offset + 4 + frameLength)
    offset += 4 + frameLength
  }
  return concat(parts)
}

/** Cuts bytes into chunks at the given offsets. */
export const cut = (bytes: Uint8Array, offsets: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(offsets.map((offset) => Math.min(offset, bytes.length)))]
  points.sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}
