/**
 * The hand-written decoders of the read path against the generated protobuf code, in both wire styles:
 * every field written (proto2 servers) and default values left out (servers from 22.6).
 */
import { assert, describe, it } from "@effect/vitest"
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf"
import * as Result from "effect/Result"
import { Guid, Messages, Ticks } from "@photonpump/protocol"
import type { ResolvedEvent } from "@photonpump/client"
import * as Decode from "../src/internal/Decode.ts"

const encoder = new TextEncoder()
const id = (uuid: string) => Result.getOrThrow(Guid.toWire(uuid))

const record = (stream: string, eventNumber: bigint, type: string, data: string, extra?: Partial<Messages.EventRecord>) =>
  create(Messages.EventRecordSchema, {
    eventStreamId: stream,
    eventNumber,
    eventId: id("01234567-89ab-cdef-0123-456789abcdef"),
    eventType: type,
    dataContentType: data.startsWith("{") ? 1 : 0,
    metadataContentType: 0,
    data: encoder.encode(data),
    metadata: encoder.encode(`{"m":1}`),
    created: 638_000_000_000_000_000n,
    createdEpoch: 1_700_000_000_000n,
    ...extra
  })

const styles = [
  ["every field written", Messages.encode],
  ["defaults omitted (22.6+)", Messages.encodeOmittingDefaults]
] as const

const encodeWith = <Desc extends DescMessage>(
  encode: typeof Messages.encode,
  schema: Desc,
  init: MessageInitShape<Desc>
) => Result.getOrThrow(encode(schema, create(schema, init)))

const summary = (event: ResolvedEvent.ResolvedEvent) => ({
  stream: event.stream,
  eventNumber: event.eventNumber,
  id: event.id,
  type: event.type,
  isJson: event.isJson,
  data: new TextDecoder().decode(event.data),
  link: event.link === undefined ? undefined : `${event.link.eventNumber}@${event.link.stream}`,
  isResolved: event.isResolved,
  position: event.position
})

/** A stream page of two events, `fields` aside. */
const streamPage = (
  encode: typeof Messages.encode,
  fields: Omit<MessageInitShape<typeof Messages.ReadStreamEventsCompletedSchema>, "$typeName">
) =>
  encodeWith(encode, Messages.ReadStreamEventsCompletedSchema, {
    events: [{ event: record("ponies", 0n, "PonyJumped", "{}") }, { event: record("ponies", 1n, "A", "{}") }],
    result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Success,
    nextEventNumber: 2n,
    lastEventNumber: 9n,
    isEndOfStream: false,
    lastCommitPosition: 1234567890123n,
    ...fields
  })

/** A `$all` page of one event going on at 400/300, `fields` aside. */
const allPage = (encode: typeof Messages.encode, filtered: boolean, fields: Record<string, unknown>) => {
  const common = {
    commitPosition: 10n,
    preparePosition: 10n,
    events: [{ event: record("a", 0n, "A", "{}"), commitPosition: 10n, preparePosition: 10n }],
    nextCommitPosition: 400n,
    nextPreparePosition: 300n,
    result: 0,
    error: ""
  }
  return filtered
    ? encodeWith(
      encode,
      Messages.FilteredReadAllEventsCompletedSchema,
      { ...common, isEndOfStream: false, ...fields } as MessageInitShape<typeof Messages.FilteredReadAllEventsCompletedSchema>
    )
    : encodeWith(
      encode,
      Messages.ReadAllEventsCompletedSchema,
      { ...common, ...fields } as MessageInitShape<typeof Messages.ReadAllEventsCompletedSchema>
    )
}

const pageNext = (bytes: Uint8Array) => Decode.nextPageOf(Decode.streamPageHead(bytes))
const pageLast = (bytes: Uint8Array) => Decode.streamPageHead(bytes)?.last

const decoded = <A>(value: A | Decode.Malformed): A => {
  if (Decode.isMalformed(value)) throw new Error(value.reason)
  return value
}

/** A decoded stream page of one event, `extra` fields aside. */
const onePage = (extra: Partial<Messages.EventRecord>) =>
  decoded(Decode.readStreamEventsCompleted(Result.getOrThrow(Messages.encodeOmittingDefaults(
    Messages.ReadStreamEventsCompletedSchema,
    create(Messages.ReadStreamEventsCompletedSchema, { events: [{ event: record("s", 0n, "T", "{}", extra) }] })
  ))))

describe("Decode", () => {
  describe.each(styles)("%s", (_style, encode) => {
    it("reads ReadStreamEventsCompleted, with events, links, unresolved links and 64-bit numbers", () => {
      const bytes = encodeWith(encode, Messages.ReadStreamEventsCompletedSchema, {
        events: [
          { event: record("ponies", 0n, "PonyJumped", `{"Pony":"Derpy Hooves"}`) },
          {
            event: record("ponies", 1n, "Ünïcödé", "bytes"),
            link: record("$ce-ponies", 7n, "$>", "1@ponies")
          },
          // Real servers leave `event` out of unresolvable links, and sometimes send empty entries: the
          // proto2 encoder refuses both, so they are only in the other style.
          ...(encode === Messages.encodeOmittingDefaults ? [{ link: record("$ce-ponies", 8n, "$>", "99@gone") }, {}] : [])
        ],
        result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Success,
        nextEventNumber: -1n,
        lastEventNumber: 9223372036854775807n,
        isEndOfStream: true,
        lastCommitPosition: 1234567890123n
      })
      const page = decoded(Decode.readStreamEventsCompleted(bytes))
      assert.strictEqual(page.result, 0)
      assert.strictEqual(page.nextEventNumber, -1n)
      assert.strictEqual(page.lastEventNumber, 9223372036854775807n)
      assert.strictEqual(page.isEndOfStream, true)
      assert.strictEqual(page.lastCommitPosition, 1234567890123n)
      assert.deepStrictEqual(page.events.map(summary), [
        {
          stream: "ponies",
          eventNumber: 0n,
          id: "01234567-89ab-cdef-0123-456789abcdef",
          type: "PonyJumped",
          isJson: true,
          data: `{"Pony":"Derpy Hooves"}`,
          link: undefined,
          isResolved: true,
          position: undefined
        },
        {
          stream: "ponies",
          eventNumber: 1n,
          id: "01234567-89ab-cdef-0123-456789abcdef",
          type: "Ünïcödé",
          isJson: false,
          data: "bytes",
          link: "7@$ce-ponies",
          isResolved: true,
          position: undefined
        },
        ...(encode === Messages.encodeOmittingDefaults
          ? [{
            stream: "$ce-ponies",
            eventNumber: 8n,
            id: "01234567-89ab-cdef-0123-456789abcdef",
            type: "$>",
            isJson: false,
            data: "99@gone",
            link: "8@$ce-ponies",
            isResolved: false,
            position: undefined
          }]
          : [])
      ])
      const first = page.events[0]!.event
      assert.strictEqual(first.created.getTime(), 1_700_000_000_000)
      assert.deepStrictEqual(first.metadataJson(), { m: 1 })
    })

    it("reads a failed ReadStreamEventsCompleted", () => {
      const bytes = encodeWith(encode, Messages.ReadStreamEventsCompletedSchema, {
        result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Error,
        nextEventNumber: -1n,
        lastEventNumber: -1n,
        isEndOfStream: true,
        lastCommitPosition: 0n,
        error: "Read size too big"
      })
      const page = decoded(Decode.readStreamEventsCompleted(bytes))
      assert.strictEqual(page.result, 4)
      assert.strictEqual(page.error, "Read size too big")
      assert.deepStrictEqual(page.events, [])
    })

    it("reads ReadAllEventsCompleted and FilteredReadAllEventsCompleted with positions", () => {
      const events = [
        { event: record("a", 0n, "A", "{}"), commitPosition: 0n, preparePosition: 0n },
        { event: record("b", 5n, "B", "{}"), commitPosition: 300n, preparePosition: 250n }
      ]
      const all = decoded(Decode.readAllEventsCompleted(
        encodeWith(encode, Messages.ReadAllEventsCompletedSchema, {
          commitPosition: 0n,
          preparePosition: 0n,
          events,
          nextCommitPosition: 400n,
          nextPreparePosition: 0n,
          result: Messages.ReadAllEventsCompleted_ReadAllResult.Success,
          error: ""
        }),
        false
      ))
      assert.deepStrictEqual(all.events.map((e) => e.position), [
        { commit: 0n, prepare: 0n },
        { commit: 300n, prepare: 250n }
      ])
      assert.deepStrictEqual(all.nextPosition, { commit: 400n, prepare: 0n })
      assert.strictEqual(all.result, 0)
      const filtered = decoded(Decode.readAllEventsCompleted(
        encodeWith(encode, Messages.FilteredReadAllEventsCompletedSchema, {
          commitPosition: 0n,
          preparePosition: 0n,
          events,
          nextCommitPosition: 400n,
          nextPreparePosition: 400n,
          isEndOfStream: true,
          result: Messages.FilteredReadAllEventsCompleted_FilteredReadAllResult.AccessDenied,
          error: "Access Denied"
        }),
        true
      ))
      assert.strictEqual(filtered.events.length, 2)
      assert.strictEqual(filtered.isEndOfStream, true)
      assert.strictEqual(filtered.result, 3)
      assert.strictEqual(filtered.error, "Access Denied")
    })

    it("reads $all positions of every size, kept as numbers until asked for, equal to the generated decoder's", () => {
      // Zero (left out by 22.6+), small, past 32 bits, the largest exact double, past it, and negative.
      const offsets = [0n, 1n, 300n, 4294967296n + 7n, 9007199254740991n, 9007199254740993n, -1n]
      const events = offsets.flatMap((commit) =>
        offsets.map((prepare) => ({ event: record("a", 0n, "A", "{}"), commitPosition: commit, preparePosition: prepare }))
      )
      // One event resolved only through its link, which keeps its position too.
      events.push({ link: record("$ce-a", 3n, "$>", "0@a"), commitPosition: 5000000000n, preparePosition: 12n } as never)
      const bytes = encodeWith(encode, Messages.ReadAllEventsCompletedSchema, {
        commitPosition: 0n,
        preparePosition: 0n,
        events,
        nextCommitPosition: 0n,
        nextPreparePosition: 0n,
        result: Messages.ReadAllEventsCompleted_ReadAllResult.Success,
        error: ""
      })
      const generated = Result.getOrThrow(Messages.decode(Messages.ReadAllEventsCompletedSchema, bytes))
      const page = decoded(Decode.readAllEventsCompleted(bytes, false))
      assert.strictEqual(page.events.length, generated.events.length)
      page.events.forEach((event, i) => {
        const expected = { commit: generated.events[i]!.commitPosition, prepare: generated.events[i]!.preparePosition }
        assert.deepStrictEqual(event.position, expected)
        // Built once: the same object on every access, and in what `toJSON` shows.
        assert.strictEqual(event.position, event.position)
        assert.deepStrictEqual((event.toJSON() as { position: unknown }).position, {
          commit: expected.commit.toString(),
          prepare: expected.prepare.toString()
        })
      })
      const unresolved = page.events[page.events.length - 1]!
      assert.strictEqual(unresolved.isResolved, false)
      assert.strictEqual(unresolved.eventNumber, 3n)
      assert.deepStrictEqual(unresolved.position, { commit: 5000000000n, prepare: 12n })
    })

    it("reads each event's id from where it lies in the reply; ids not 16 bytes long read as the empty GUID", () => {
      const ids = ["00000000-0000-0000-0000-000000000001", "fedcba98-7654-3210-fedc-ba9876543210"]
      const bytes = streamPage(encode, {
        events: [
          ...ids.map((uuid, n) => ({ event: record("s", BigInt(n), "T", "{}", { eventId: id(uuid) }) })),
          { event: record("s", 2n, "T", "{}", { eventId: new Uint8Array(0) }) },
          { event: record("s", 3n, "T", "{}", { eventId: new Uint8Array(15).fill(7) }) }
        ]
      })
      const page = decoded(Decode.readStreamEventsCompleted(bytes))
      assert.deepStrictEqual(page.events.map((event) => event.id), [...ids, Guid.empty, Guid.empty])
    })

    it("reads the next page's cursor without decoding the events", () => {
      const Results = Messages.ReadStreamEventsCompleted_ReadStreamResult
      assert.strictEqual(pageNext(streamPage(encode, {})), 2n)
      assert.strictEqual(pageNext(streamPage(encode, { result: Results.NotModified })), 2n)
      assert.strictEqual(pageNext(streamPage(encode, { isEndOfStream: true })), undefined)
      assert.strictEqual(pageNext(streamPage(encode, { result: Results.NoStream, events: [] })), undefined)
      assert.strictEqual(pageNext(streamPage(encode, { result: Results.AccessDenied, events: [] })), undefined)
      // Where the stream's pages end, as of the reply; nothing for bytes that are not a reply.
      assert.strictEqual(pageLast(streamPage(encode, {})), 9n)
      assert.strictEqual(pageLast(streamPage(encode, { lastEventNumber: -1n, events: [] })), -1n)
      assert.strictEqual(pageLast(streamPage(encode, {}).subarray(0, 20)), undefined)

      const from = { commit: 10n, prepare: 10n }
      for (const filtered of [false, true]) {
        assert.deepStrictEqual(Decode.allPageNext(allPage(encode, filtered, {}), filtered, from), { commit: 400n, prepare: 300n })
        // A server that does not move on: no next page, rather than the same page forever.
        assert.strictEqual(Decode.allPageNext(allPage(encode, filtered, {}), filtered, { commit: 400n, prepare: 300n }), undefined)
        assert.strictEqual(Decode.allPageNext(allPage(encode, filtered, { result: 3 }), filtered, from), undefined)
      }
      // Unfiltered pages end with the first empty page, filtered ones with the flag.
      assert.strictEqual(Decode.allPageNext(allPage(encode, false, { events: [] }), false, from), undefined)
      assert.deepStrictEqual(Decode.allPageNext(allPage(encode, true, { events: [] }), true, from), { commit: 400n, prepare: 300n })
      assert.strictEqual(Decode.allPageNext(allPage(encode, true, { isEndOfStream: true }), true, from), undefined)
    })

    it("reads ReadEventCompleted, with and without an event", () => {
      const found = decoded(Decode.readEventCompleted(encodeWith(encode, Messages.ReadEventCompletedSchema, {
        result: Messages.ReadEventCompleted_ReadEventResult.Success,
        event: { event: record("ponies", 0n, "PonyJumped", "{}") }
      })))
      assert.strictEqual(found.result, 0)
      assert.strictEqual(found.event?.eventNumber, 0n)
      // NotFound with the empty ResolvedIndexedEvent real servers send: 08 01 12 00.
      const missing = decoded(Decode.readEventCompleted(new Uint8Array([0x08, 0x01, 0x12, 0x00])))
      assert.strictEqual(missing.result, 1)
      assert.strictEqual(missing.event, undefined)
    })
  })

  it("keeps event data as a view into the received bytes", () => {
    const bytes = Result.getOrThrow(Messages.encodeOmittingDefaults(
      Messages.ReadStreamEventsCompletedSchema,
      create(Messages.ReadStreamEventsCompletedSchema, { events: [{ event: record("s", 0n, "T", "{}") }] })
    ))
    const page = decoded(Decode.readStreamEventsCompleted(bytes))
    assert.strictEqual(page.events[0]!.data.buffer, bytes.buffer)
  })

  it("skips unknown fields of every wire type, length-delimited ones by their whole length", () => {
    const known = Result.getOrThrow(Messages.encode(
      Messages.ReadStreamEventsCompletedSchema,
      create(Messages.ReadStreamEventsCompletedSchema, {
        events: [{ event: record("s", 0n, "T", "{}") }],
        result: 0,
        nextEventNumber: 1n,
        lastEventNumber: 0n,
        isEndOfStream: false,
        lastCommitPosition: 0n
      })
    ))
    // Unknown fields before the known ones: 20 (varint), 21 (64-bit), 22 (bytes), 23 (32-bit).
    const unknown = [0xa0, 0x01, 0x96, 0x01, 0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0xb2, 0x01, 0x03, 0x0a, 0x0a, 0x0a, 0xbd, 0x01, 1, 2, 3, 4]
    const bytes = new Uint8Array([...unknown, ...known])
    const page = decoded(Decode.readStreamEventsCompleted(bytes))
    assert.strictEqual(page.events.length, 1)
    assert.strictEqual(page.nextEventNumber, 1n)
    assert.strictEqual(pageNext(bytes), 1n)
    assert.strictEqual(pageLast(bytes), 0n)
  })

  it("decodes repeated and colliding stream ids and event types right (they are cached by their bytes)", () => {
    // Same lengths, same first and last bytes: the same cache slot, different strings.
    const streams = ["axb", "ayb", "axb", "a\u00e9b", "axb", "ayb"]
    const types = ["T1", "T2", "T1", "T1", "Ü", "T2"]
    const bytes = Result.getOrThrow(Messages.encodeOmittingDefaults(
      Messages.ReadStreamEventsCompletedSchema,
      create(Messages.ReadStreamEventsCompletedSchema, {
        events: streams.map((stream, i) => ({ event: record(stream, BigInt(i), types[i]!, "{}") }))
      })
    ))
    for (let round = 0; round < 2; round++) {
      const page = decoded(Decode.readStreamEventsCompleted(bytes))
      assert.deepStrictEqual(page.events.map((e) => e.stream), streams)
      assert.deepStrictEqual(page.events.map((e) => e.type), types)
    }
  })

  it("reads when an event was created from the epoch milliseconds, or from the ticks without them", () => {
    assert.strictEqual(onePage({}).events[0]!.created.getTime(), 1_700_000_000_000)
    // 621355968000000000 ticks is the Unix epoch; 10,000 ticks a millisecond.
    const ticks = onePage({ createdEpoch: 0n, created: 621_355_968_000_000_000n + 10_000n * 1_234n })
    assert.strictEqual(ticks.events[0]!.created.getTime(), 1_234)
  })

  it("makes event numbers, views and creation times from where they lie in the reply, each once, at every size", () => {
    // Event numbers on both sides of 2^30 (kept as plain numbers below it) and of 2^53; creation times
    // past 2^45 and 2^53 milliseconds, before 1970 (a ten-byte varint) and from ticks with the kind bits set.
    const cases: ReadonlyArray<readonly [bigint, Partial<Messages.EventRecord>]> = [
      [0n, { metadata: new Uint8Array(0) }],
      [2n ** 30n - 1n, { createdEpoch: 2n ** 45n + 10n }],
      [2n ** 30n, { createdEpoch: 2n ** 53n + 10n }],
      [2n ** 53n + 1n, { createdEpoch: -86_400_000n }],
      [2n ** 63n - 1n, { createdEpoch: 0n, created: (1n << 62n) | (621_355_968_000_000_000n + 10_000n * 5n) }],
      [7n, { createdEpoch: 0n, created: 0n }]
    ]
    for (const [_style, encode] of styles) {
      const bytes = encodeWith(encode, Messages.ReadStreamEventsCompletedSchema, {
        events: cases.map(([number, extra]) => ({ event: record("s", number, "T", `{"n":"${number}"}`, extra) })),
        result: Messages.ReadStreamEventsCompleted_ReadStreamResult.Success,
        nextEventNumber: -1n,
        lastEventNumber: 7n,
        isEndOfStream: true,
        lastCommitPosition: 0n
      })
      const page = decoded(Decode.readStreamEventsCompleted(bytes))
      const generic = Result.getOrThrow(Messages.decode(Messages.ReadStreamEventsCompletedSchema, bytes))
      assert.strictEqual(page.events.length, cases.length)
      page.events.forEach((event, i) => {
        const expected = generic.events[i]!.event!
        assert.strictEqual(event.eventNumber, expected.eventNumber)
        assert.strictEqual(event.eventNumber, event.eventNumber)
        assert.deepStrictEqual(JSON.parse(event.event.text()), { n: `${expected.eventNumber}` })
        assert.strictEqual(event.data, event.data)
        assert.strictEqual(event.data.buffer, bytes.buffer)
        assert.deepStrictEqual([...event.metadata], [...expected.metadata])
        assert.strictEqual(event.metadata, event.metadata)
        const created = expected.createdEpoch !== 0n
          ? Number(expected.createdEpoch)
          : expected.created === 0n
          ? 0
          : Ticks.toEpochMillis(expected.created)
        // deepStrictEqual: an epoch past what a Date holds gives NaN, on both sides.
        assert.deepStrictEqual(event.created.getTime(), new Date(created).getTime())
        assert.include(JSON.stringify(event), `"dataLength":${expected.data.length},"metadataLength":${expected.metadata.length}`)
      })
    }
  })

  it("skips unknown groups, nested ones included, and reports groups that never end or end wrong", () => {
    // Field 20 as a group holding field 31 (a varint) and a nested group 32, then result 3 (NotModified).
    const group = [0xa3, 0x01, 0xf8, 0x01, 0x05, 0x83, 0x02, 0x84, 0x02, 0xa4, 0x01]
    const page = decoded(Decode.readStreamEventsCompleted(new Uint8Array([...group, 0x10, 0x03])))
    assert.strictEqual(page.result, 3)
    assert.isTrue(Decode.isMalformed(Decode.readStreamEventsCompleted(new Uint8Array([0xa3, 0x01, 0xf8, 0x01, 0x05]))))
    assert.isTrue(Decode.isMalformed(Decode.readStreamEventsCompleted(new Uint8Array([0xa3, 0x01, 0xac, 0x01]))))
    // Deep enough to exhaust the stack, were the nesting not bounded.
    assert.isTrue(Decode.isMalformed(Decode.readStreamEventsCompleted(new Uint8Array(100_000).fill(0x0b))))
  })

  it("reports bytes that are not the message instead of throwing", () => {
    assert.isTrue(Decode.isMalformed(Decode.readStreamEventsCompleted(new Uint8Array([0x0a, 0x05, 0x01]))))
    assert.isTrue(Decode.isMalformed(Decode.readEventCompleted(new Uint8Array([0x08, 0xff]))))
    assert.isTrue(Decode.isMalformed(Decode.readAllEventsCompleted(new Uint8Array([0x0f]), false)))
    // A creation time (fields 9 and 10) that runs past the record, or goes on past ten bytes.
    const stream = [0x0a, 0x01, 0x73]
    for (const tag of [0x48, 0x50]) {
      assert.isTrue(Decode.isMalformed(Decode.decodeEventRecord(new Uint8Array([...stream, tag, 0x80, 0x80]))))
      const eleven = [...Array<number>(10).fill(0xff), 0x01]
      assert.isTrue(Decode.isMalformed(Decode.decodeEventRecord(new Uint8Array([...stream, tag, ...eleven]))))
      const ten = [...Array<number>(9).fill(0xff), 0x01]
      assert.isFalse(Decode.isMalformed(Decode.decodeEventRecord(new Uint8Array([...stream, tag, ...ten]))))
    }
  })
})
