import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { Frame, Guid, Link, Messages, Package, ProtocolError, Ticks } from "@photonpump/protocol"
import { failsWith, succeeds } from "./Assertions.ts"
import {
  createPersistentSubscriptionBody,
  eventAppearedLinkOnly,
  eventAppearedWithLink,
  hex,
  readEventCompleted,
  toHex
} from "./WireVectors.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The payload of a captured frame. */
const payloadOf = (frame: Uint8Array): Uint8Array =>
  succeeds(Package.decode(frame.subarray(Frame.prefixLength))).payload

const uuid = (bytes: Uint8Array): string => succeeds(Guid.fromWire(bytes))
const text = (bytes: Uint8Array): string => decoder.decode(bytes)

/** Every message type of the protocol, nested ones included. */
const allSchemas: ReadonlyArray<DescMessage> = (() => {
  const out: Array<DescMessage> = []
  const visit = (message: DescMessage) => {
    out.push(message)
    message.nestedMessages.forEach(visit)
  }
  Messages.file_messages.messages.forEach(visit)
  return out
})()

/**
 * The value of every field of a message, defaults included, as a plain object. (A decoded proto2
 * message keeps its defaults on its prototype, where a spread does not see them.)
 */
const fieldsOf = (schema: DescMessage, message: object): Record<string, unknown> =>
  Object.fromEntries(
    schema.fields.map((field) => [field.localName, (message as Record<string, unknown>)[field.localName]])
  )

/** The hex of a message encoded with every required field. */
const encodedHex = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string =>
  toHex(succeeds(Messages.encode(schema, message)))

/** A message encoded (by default with every required field) and decoded again. */
const roundTrip = <Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  encode: typeof Messages.encode = Messages.encode
): MessageShape<Desc> => succeeds(Messages.decode(schema, succeeds(encode(schema, message))))

const intBetween = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))

/** Whether a message type has a field proto2 requires. */
const LEGACY_REQUIRED = 3
const hasRequiredField = (schema: DescMessage) => schema.fields.some((field) => field.presence === LEGACY_REQUIRED)

describe("Messages", () => {
  describe("the captured server messages (wire-vectors.md)", () => {
    it("section 2: a persistent subscription delivering a category link and the event it resolves to", () => {
      const payload = payloadOf(eventAppearedWithLink)
      const message = succeeds(Messages.decode(Messages.PersistentSubscriptionStreamEventAppearedSchema, payload))
      assert.strictEqual(message.retryCount, 0)
      const event = message.event?.event
      const link = message.event?.link
      if (event === undefined || link === undefined) return assert.fail("expected both event and link")

      assert.strictEqual(event.eventStreamId, "Cancellation-d762a534-6bc6-4768-af28-2abcf71a1349")
      assert.strictEqual(event.eventNumber, 0n)
      assert.strictEqual(uuid(event.eventId), "1d073650-79de-354f-8825-c1a7ae810ba8")
      assert.strictEqual(event.eventType, "cancellation_started")
      assert.strictEqual(event.dataContentType, 1)
      assert.strictEqual(event.metadataContentType, 1)
      assert.strictEqual(
        text(event.data),
        `{"order_id": "123", "cancellation_id": "d762a534-6bc6-4768-af28-2abcf71a1349"}`
      )
      assert.deepStrictEqual(event.metadata, new Uint8Array(0))
      assert.strictEqual(event.created, 636511020271871480n)
      assert.strictEqual(Ticks.toDate(event.created).toISOString(), "2018-01-09T13:40:27.187Z")
      assert.strictEqual(event.createdEpoch, 1515505227187n)

      assert.strictEqual(link.eventStreamId, "$ce-Cancellation")
      assert.strictEqual(link.eventNumber, 93n)
      assert.strictEqual(uuid(link.eventId), "34116ccc-d433-4b93-bbd1-1c79d9101675")
      assert.strictEqual(link.eventType, Link.eventType)
      assert.strictEqual(link.dataContentType, 0)
      assert.strictEqual(link.metadataContentType, 0)
      assert.deepStrictEqual(Link.parse(link.data), {
        eventNumber: 0n,
        streamId: "Cancellation-d762a534-6bc6-4768-af28-2abcf71a1349"
      })
      assert.deepStrictEqual(JSON.parse(text(link.metadata)), {
        $v: "1:-1:1:3",
        $c: 34407610,
        $p: 34407610,
        $o: "Cancellation-d762a534-6bc6-4768-af28-2abcf71a1349",
        $causedBy: "1d073650-79de-354f-8825-c1a7ae810ba8"
      })
      assert.strictEqual(link.created, 636511020272185810n)
      assert.strictEqual(link.createdEpoch, 1515505227218n)
      assert.strictEqual(Ticks.toEpochMillis(link.created), 1515505227218)

      // The record sizes the document gives, and the very bytes the server sent, come back on encoding.
      assert.strictEqual(payload.length, 477)
      assert.strictEqual(succeeds(Messages.encode(Messages.EventRecordSchema, event)).length, 196)
      assert.strictEqual(succeeds(Messages.encode(Messages.EventRecordSchema, link)).length, 272)
      assert.strictEqual(
        toHex(succeeds(Messages.encode(Messages.PersistentSubscriptionStreamEventAppearedSchema, message))),
        toHex(payload)
      )
    })

    it("section 3: a link whose target is gone, with the \"required\" event absent", () => {
      const payload = payloadOf(eventAppearedLinkOnly)
      const message = succeeds(Messages.decode(Messages.PersistentSubscriptionStreamEventAppearedSchema, payload))
      assert.isDefined(message.event)
      assert.isUndefined(message.event?.event)
      const link = message.event?.link
      if (link === undefined) return assert.fail("expected the link")
      assert.strictEqual(link.eventStreamId, "$et-turtle")
      assert.strictEqual(link.eventNumber, 0n)
      assert.strictEqual(uuid(link.eventId), "7a8c472c-c92e-4520-990d-a749f6020ba1")
      assert.strictEqual(link.eventType, "$>")
      assert.strictEqual(link.dataContentType, 0)
      assert.strictEqual(link.metadataContentType, 0)
      assert.strictEqual(text(link.data), "0@some")
      assert.deepStrictEqual(Link.parse(link.data), { eventNumber: 0n, streamId: "some" })
      assert.deepStrictEqual(JSON.parse(text(link.metadata)), {
        $v: "4:-1:1:3",
        $c: 1093482,
        $p: 1093482,
        $causedBy: "74791386-1386-1386-1386-153874791386"
      })
      assert.strictEqual(link.created, 636743447235763460n)
      assert.strictEqual(Ticks.toDate(link.created).toISOString(), "2018-10-05T13:58:43.576Z")
      assert.strictEqual(link.createdEpoch, 1538747923576n)

      // A server must be able to send the same: encoding it gives the captured bytes.
      assert.strictEqual(
        toHex(succeeds(Messages.encode(Messages.PersistentSubscriptionStreamEventAppearedSchema, message))),
        toHex(payload)
      )
    })

    it("section 4: ReadEventCompleted, Success, an event and no link or error", () => {
      const payload = payloadOf(readEventCompleted)
      const message = succeeds(Messages.decode(Messages.ReadEventCompletedSchema, payload))
      assert.strictEqual(message.result, Messages.ReadEventCompleted_ReadEventResult.Success)
      assert.strictEqual(message.error, "")
      assert.isUndefined(message.event?.link)
      const event = message.event?.event
      if (event === undefined) return assert.fail("expected the event")
      assert.strictEqual(event.eventStreamId, "d7924d75-82bf-4764-959d-10612ba29873")
      assert.strictEqual(event.eventNumber, 0n)
      assert.strictEqual(uuid(event.eventId), "7b65277d-1668-4445-bf1a-5deb90ebdcd6")
      assert.strictEqual(event.eventType, "thing_happened")
      assert.strictEqual(event.dataContentType, 1)
      assert.strictEqual(event.metadataContentType, 1)
      assert.strictEqual(text(event.data), `{"thing": 1, "happening": true}`)
      assert.deepStrictEqual(event.metadata, new Uint8Array(0))
      assert.strictEqual(event.created, 636513643425648380n)
      assert.strictEqual(Ticks.toDate(event.created).toISOString(), "2018-01-12T14:32:22.564Z")
      assert.strictEqual(event.createdEpoch, 1515767542564n)
      assert.strictEqual(encodedHex(Messages.ReadEventCompletedSchema, message), toHex(payload))
    })

    it("section 5: the CreatePersistentSubscription payload, with required fields holding 0 or false written", () => {
      const payload = createPersistentSubscriptionBody.subarray(Package.headerLength)
      const message = create(Messages.CreatePersistentSubscriptionSchema, {
        subscriptionGroupName: "best-subscription",
        eventStreamId: "$ce-Cancellation",
        resolveLinkTos: true,
        startFrom: 0n,
        messageTimeoutMilliseconds: 30000,
        recordStatistics: false,
        liveBufferSize: 32,
        readBatchSize: 64,
        bufferSize: 128,
        maxRetryCount: 10,
        preferRoundRobin: true,
        checkpointAfterTime: 2000,
        checkpointMaxCount: 1000,
        checkpointMinCount: 10,
        subscriberMaxCount: 0,
        namedConsumerStrategy: "RoundRobin"
      })
      const encoded = succeeds(Messages.encode(Messages.CreatePersistentSubscriptionSchema, message))
      assert.strictEqual(toHex(encoded), toHex(payload))
      for (const zero of ["20 00", "30 00", "78 00"]) assert.include(toHex(encoded), zero)
      const decoded = succeeds(Messages.decode(Messages.CreatePersistentSubscriptionSchema, payload))
      assert.strictEqual(decoded.subscriptionGroupName, "best-subscription")
      assert.strictEqual(decoded.messageTimeoutMilliseconds, 30000)
      assert.strictEqual(decoded.bufferSize, 128)
      assert.strictEqual(decoded.checkpointMaxCount, 1000)
      assert.strictEqual(decoded.namedConsumerStrategy, "RoundRobin")
    })

    describe("section 7: small payloads", () => {
      const results = [
        [1, "NotFound"],
        [2, "NoStream"],
        [3, "StreamDeleted"],
        [4, "Error"],
        [5, "AccessDenied"]
      ] as const

      for (const [result, name] of results) {
        it(`ReadEventCompleted 08 0${result} 12 00: ${name} with an empty ResolvedIndexedEvent`, () => {
          const payload = hex(`08 0${result} 12 00`)
          const message = succeeds(Messages.decode(Messages.ReadEventCompletedSchema, payload))
          assert.strictEqual(message.result, Messages.ReadEventCompleted_ReadEventResult[name])
          assert.strictEqual(message.result, result)
          assert.isDefined(message.event)
          assert.isUndefined(message.event?.event)
          assert.isUndefined(message.event?.link)
          // What a server sends for a failed read: the empty event is written, the event inside it is not.
          const reply = create(Messages.ReadEventCompletedSchema, {
            result,
            event: create(Messages.ResolvedIndexedEventSchema)
          })
          assert.strictEqual(encodedHex(Messages.ReadEventCompletedSchema, reply), toHex(payload))
        })
      }

      it("NotHandled 08 02 41: NotLeader followed by a truncated tag is a MalformedPayload", () => {
        const decoded = Messages.decode(Messages.NotHandledSchema, hex("08 02 41"))
        const error = failsWith(decoded, ProtocolError.MalformedPayload)
        assert.strictEqual(error.messageType, "NotHandled")
        assert.include(error.message, "NotHandled")
        assert.strictEqual(
          succeeds(Messages.decode(Messages.NotHandledSchema, hex("08 02"))).reason,
          Messages.NotHandled_NotHandledReason.NotLeader
        )
      })
    })
  })

  describe("protocol.md 1.6 worked examples", () => {
    it("IdentifyClient{version=1, connection_name=\"ES-x\"} is 08 01 12 04 45 53 2d 78", () => {
      const message = create(Messages.IdentifyClientSchema, { version: 1, connectionName: "ES-x" })
      assert.strictEqual(encodedHex(Messages.IdentifyClientSchema, message), "08 01 12 04 45 53 2d 78")
    })

    it("expected version -2 is a plain 10-byte varint, not zig-zag", () => {
      const message = create(Messages.WriteEventsSchema, {
        eventStreamId: "s",
        expectedVersion: -2n,
        requireLeader: false
      })
      const encoded = succeeds(Messages.encode(Messages.WriteEventsSchema, message))
      assert.strictEqual(toHex(encoded), "0a 01 73 10 fe ff ff ff ff ff ff ff ff 01 20 00")
      assert.strictEqual(succeeds(Messages.decode(Messages.WriteEventsSchema, encoded)).expectedVersion, -2n)
    })
  })

  describe("encoding", () => {
    it("writes required fields that hold their default", () => {
      const message = create(Messages.WriteEventsCompletedSchema, {
        result: Messages.OperationResult.Success,
        firstEventNumber: 0n,
        lastEventNumber: 0n
      })
      assert.strictEqual(encodedHex(Messages.WriteEventsCompletedSchema, message), "08 00 18 00 20 00")
    })

    it("writes optional fields only when they are set", () => {
      const message = create(Messages.DeleteStreamSchema, { eventStreamId: "s", expectedVersion: 3n, requireLeader: true })
      assert.strictEqual(encodedHex(Messages.DeleteStreamSchema, message), "0a 01 73 10 03 18 01")
      message.hardDelete = false
      assert.match(encodedHex(Messages.DeleteStreamSchema, message), / 18 01 20 00$/)
    })

    it("refuses, as a MalformedPayload and not a throw, a message whose required field is not set", () => {
      const message = create(Messages.ReadEventSchema, { eventStreamId: "s", eventNumber: 0n, resolveLinkTos: false })
      const error = failsWith(Messages.encode(Messages.ReadEventSchema, message), ProtocolError.MalformedPayload)
      assert.strictEqual(error.messageType, "ReadEvent")
      assert.include(error.reason, "require_leader")
    })

    it("refuses an empty message of every type with a required field, and encodes the others", () => {
      for (const schema of allSchemas) {
        const encoded = Messages.encode(schema, create(schema))
        if (hasRequiredField(schema)) failsWith(encoded, ProtocolError.MalformedPayload, schema.name)
        else assert.isTrue(Result.isSuccess(encoded), schema.name)
      }
    })

    it("lets a resolved event go without its event, as servers send links whose target is gone", () => {
      // "required" in EventStore's .proto, optional in ours (see proto/messages.proto).
      assert.isFalse(hasRequiredField(Messages.ResolvedIndexedEventSchema))
      const resolved = create(Messages.ResolvedEventSchema, { commitPosition: 5n, preparePosition: 4n })
      assert.strictEqual(toHex(succeeds(Messages.encode(Messages.ResolvedEventSchema, resolved))), "18 05 20 04")
    })
  })

  describe("encoding as 22.6+ servers do (encodeOmittingDefaults)", () => {
    it("leaves out fields holding their default", () => {
      const message = create(Messages.WriteEventsCompletedSchema, {
        result: Messages.OperationResult.Success,
        firstEventNumber: 0n,
        lastEventNumber: 0n,
        message: ""
      })
      const omitted = succeeds(Messages.encodeOmittingDefaults(Messages.WriteEventsCompletedSchema, message))
      assert.strictEqual(omitted.length, 0)
      message.lastEventNumber = 3n
      assert.strictEqual(
        toHex(succeeds(Messages.encodeOmittingDefaults(Messages.WriteEventsCompletedSchema, message))),
        "20 03"
      )
    })

    it("does not refuse messages whose required fields are unset", () => {
      const message = create(Messages.ReadEventSchema, { eventStreamId: "s" })
      const omitted = succeeds(Messages.encodeOmittingDefaults(Messages.ReadEventSchema, message))
      assert.strictEqual(toHex(omitted), "0a 01 73")
    })

    it("writes sub-messages that are set, even empty", () => {
      const reply = create(Messages.ReadEventCompletedSchema, {
        result: Messages.ReadEventCompleted_ReadEventResult.NotFound,
        event: create(Messages.ResolvedIndexedEventSchema)
      })
      assert.strictEqual(
        toHex(succeeds(Messages.encodeOmittingDefaults(Messages.ReadEventCompletedSchema, reply))),
        "08 01 12 00"
      )
    })

    it("gives the captured event back with event number 0 and empty metadata left out", () => {
      const message = succeeds(
        Messages.decode(Messages.ReadEventCompletedSchema, payloadOf(readEventCompleted))
      )
      const omitted = succeeds(Messages.encodeOmittingDefaults(Messages.ReadEventCompletedSchema, message))
      // 08 00 (result Success), 10 00 (event number 0) and 42 00 (empty metadata) go, and the record's
      // length, now 126, takes one byte rather than two.
      assert.strictEqual(omitted.length, payloadOf(readEventCompleted).length - 7)
      const decoded = succeeds(Messages.decode(Messages.ReadEventCompletedSchema, omitted))
      assert.strictEqual(decoded.result, Messages.ReadEventCompleted_ReadEventResult.Success)
      assert.strictEqual(decoded.event?.event?.eventNumber, 0n)
      assert.deepStrictEqual(decoded.event?.event?.metadata, new Uint8Array(0))
      assert.deepStrictEqual(decoded.event?.event?.data, message.event?.event?.data)
      assert.strictEqual(decoded.event?.event?.created, message.event?.event?.created)
    })
  })

  describe("decoding", () => {
    it("reads every field of every message as its default when the payload is empty", () => {
      for (const schema of allSchemas) {
        const message = succeeds(Messages.decode(schema, new Uint8Array(0)), schema.name) as Record<string, unknown>
        for (const field of schema.fields) {
          const value = message[field.localName]
          const where = `${schema.name}.${field.name}`
          switch (field.fieldKind) {
            case "list":
              assert.deepStrictEqual(value, [], where)
              break
            case "message":
              assert.isUndefined(value, where)
              break
            case "enum":
              assert.strictEqual(value, 0, where)
              break
            case "scalar":
              assert.include([0, 0n, false, ""], value instanceof Uint8Array ? "" : value, where)
              if (value instanceof Uint8Array) assert.strictEqual(value.length, 0, where)
              break
            case "map":
              assert.fail(`unexpected map field ${where}`)
          }
        }
      }
    })

    it("reads a 22.6+ stream slice that leaves out result, numbers and end of stream when they are 0", () => {
      const slice = succeeds(Messages.decode(Messages.ReadStreamEventsCompletedSchema, hex("30 07")))
      assert.strictEqual(slice.result, Messages.ReadStreamEventsCompleted_ReadStreamResult.Success)
      assert.strictEqual(slice.nextEventNumber, 0n)
      assert.strictEqual(slice.lastEventNumber, 0n)
      assert.isFalse(slice.isEndOfStream)
      assert.strictEqual(slice.lastCommitPosition, 7n)
    })

    it("skips fields it does not know, and does not keep them", () => {
      // IdentifyClient{version=1} followed by field 15, a varint, that no version of the protocol has.
      const message = succeeds(Messages.decode(Messages.IdentifyClientSchema, hex("08 01 78 05")))
      assert.strictEqual(message.version, 1)
      assert.strictEqual(toHex(succeeds(Messages.encode(Messages.IdentifyClientSchema, message))), "08 01")
    })

    it("reads int64 extremes as bigints: the tombstone 2^63-1 and -1", () => {
      const message = create(Messages.ReadStreamEventsSchema, {
        eventStreamId: "s",
        fromEventNumber: 9223372036854775807n,
        maxCount: -1,
        resolveLinkTos: true,
        requireLeader: false
      })
      const decoded = roundTrip(Messages.ReadStreamEventsSchema, message)
      assert.strictEqual(decoded.fromEventNumber, 9223372036854775807n)
      assert.strictEqual(decoded.maxCount, -1)
    })

    it("gives a MalformedPayload, naming the message type, for malformed protobuf", () => {
      const malformed = [
        "08", // a varint cut short
        "08 ff", // still cut short
        "08 ff ff ff ff ff ff ff ff ff ff 01", // a varint of 11 bytes
        "0a 05 61 62", // a length past the end
        "12 ff ff ff ff 0f", // a string of 4 GiB
        "0f", // wire type 7 does not exist
        "0e", // nor does 6
        "00 01", // field number 0
        "0b 08 01" // a group that never ends
      ]
      for (const bytes of malformed) {
        const decoded = Messages.decode(Messages.IdentifyClientSchema, hex(bytes))
        const error = failsWith(decoded, ProtocolError.MalformedPayload, bytes)
        assert.strictEqual(error.messageType, "IdentifyClient", bytes)
      }
    })
  })

  describe("properties", () => {
    const int32 = intBetween(-2147483648, 2147483647)
    const int64 = Schema.BigInt.check(
      Schema.isBetweenBigInt({ minimum: -9223372036854775808n, maximum: 9223372036854775807n })
    )
    /** Strings with a UTF-8 form, as every string on the wire has. */
    const wireString = Schema.String.check(
      Schema.makeFilter((value: string) => decoder.decode(encoder.encode(value)) === value)
    )
    const guid = Schema.Uint8Array.check(Schema.isBetweenLength(16, 16))

    const newEvent = Schema.Struct({
      eventId: guid,
      eventType: wireString,
      dataContentType: int32,
      metadataContentType: int32,
      data: Schema.Uint8Array,
      metadata: Schema.optional(Schema.Uint8Array)
    })
    const writeEvents = Arbitrary.schema(Schema.Struct({
      eventStreamId: wireString,
      expectedVersion: int64,
      events: Schema.Array(newEvent),
      requireLeader: Schema.Boolean
    }))

    const toMessage = (write: typeof writeEvents extends Arbitrary.Arbitrary<infer A> ? A : never) =>
      create(Messages.WriteEventsSchema, {
        eventStreamId: write.eventStreamId,
        expectedVersion: write.expectedVersion,
        requireLeader: write.requireLeader,
        events: write.events.map(({ metadata, ...event }) =>
          create(Messages.NewEventSchema, metadata === undefined ? event : { ...event, metadata })
        )
      })

    it.prop("WriteEvents with any NewEvents survives encode -> decode", [writeEvents], ([write]) => {
      const decoded = roundTrip(Messages.WriteEventsSchema, toMessage(write))
      assert.strictEqual(decoded.eventStreamId, write.eventStreamId)
      assert.strictEqual(decoded.expectedVersion, write.expectedVersion)
      assert.strictEqual(decoded.requireLeader, write.requireLeader)
      assert.strictEqual(decoded.events.length, write.events.length)
      decoded.events.forEach((event, i) => {
        const sent = write.events[i]!
        assert.deepStrictEqual(event.eventId, sent.eventId)
        assert.strictEqual(event.eventType, sent.eventType)
        assert.strictEqual(event.dataContentType, sent.dataContentType)
        assert.strictEqual(event.metadataContentType, sent.metadataContentType)
        assert.deepStrictEqual(event.data, sent.data)
        assert.deepStrictEqual(event.metadata, sent.metadata ?? new Uint8Array(0))
      })
    }, { arbitrary: { runs: 200, size: 20 } })

    it.prop("WriteEvents encoded as 22.6+ servers do decodes to the same values", [writeEvents], ([write]) => {
      const message = toMessage(write)
      const full = roundTrip(Messages.WriteEventsSchema, message)
      const omitted = roundTrip(Messages.WriteEventsSchema, message, Messages.encodeOmittingDefaults)
      assert.strictEqual(omitted.eventStreamId, full.eventStreamId)
      assert.strictEqual(omitted.expectedVersion, full.expectedVersion)
      assert.strictEqual(omitted.requireLeader, full.requireLeader)
      assert.deepStrictEqual(
        omitted.events.map((event) => fieldsOf(Messages.NewEventSchema, event)),
        full.events.map((event) => fieldsOf(Messages.NewEventSchema, event))
      )
    }, { arbitrary: { runs: 200, size: 20 } })

    const eventRecord = Schema.Struct({
      eventStreamId: wireString,
      eventNumber: int64,
      eventId: guid,
      eventType: wireString,
      dataContentType: int32,
      metadataContentType: int32,
      data: Schema.Uint8Array,
      metadata: Schema.Uint8Array,
      created: int64,
      createdEpoch: int64
    })
    const slice = Arbitrary.schema(Schema.Struct({
      events: Schema.Array(Schema.Struct({ event: Schema.optional(eventRecord), link: Schema.optional(eventRecord) })),
      result: intBetween(0, 5),
      nextEventNumber: int64,
      lastEventNumber: int64,
      isEndOfStream: Schema.Boolean,
      lastCommitPosition: int64,
      error: Schema.optional(wireString)
    }))

    it.prop("ReadStreamEventsCompleted, link-only and empty events too, survives encode -> decode in both styles", [
      slice
    ], ([sent]) => {
      const message = create(Messages.ReadStreamEventsCompletedSchema, {
        ...sent,
        result: sent.result as Messages.ReadStreamEventsCompleted_ReadStreamResult,
        error: sent.error ?? "",
        events: sent.events.map(({ event, link }) =>
          create(Messages.ResolvedIndexedEventSchema, {
            ...(event === undefined ? {} : { event: create(Messages.EventRecordSchema, event) }),
            ...(link === undefined ? {} : { link: create(Messages.EventRecordSchema, link) })
          })
        )
      })
      for (const encode of [Messages.encode, Messages.encodeOmittingDefaults]) {
        const decoded = roundTrip(Messages.ReadStreamEventsCompletedSchema, message, encode)
        assert.strictEqual(decoded.result, sent.result)
        assert.strictEqual(decoded.nextEventNumber, sent.nextEventNumber)
        assert.strictEqual(decoded.lastEventNumber, sent.lastEventNumber)
        assert.strictEqual(decoded.isEndOfStream, sent.isEndOfStream)
        assert.strictEqual(decoded.lastCommitPosition, sent.lastCommitPosition)
        assert.strictEqual(decoded.error, sent.error ?? "")
        assert.strictEqual(decoded.events.length, sent.events.length)
        decoded.events.forEach((resolved, i) => {
          for (const key of ["event", "link"] as const) {
            const record = resolved[key]
            const expected = sent.events[i]![key]
            if (expected === undefined) {
              assert.isUndefined(record)
              continue
            }
            if (record === undefined) return assert.fail(`expected ${key} ${i}`)
            assert.deepStrictEqual(fieldsOf(Messages.EventRecordSchema, record), expected)
          }
        })
      }
    }, { arbitrary: { runs: 150, size: 10 } })

    it.prop(
      "decode of random bytes as any message gives a message or a MalformedPayload, never a throw",
      [Arbitrary.schema(Schema.Uint8Array), Arbitrary.schema(intBetween(0, allSchemas.length - 1))],
      ([bytes, index]) => {
        const schema = allSchemas[index]!
        const decoded = Messages.decode(schema, bytes)
        if (Result.isFailure(decoded)) {
          assert.instanceOf(decoded.failure, ProtocolError.MalformedPayload)
          assert.strictEqual(decoded.failure.messageType, schema.name)
        } else {
          assert.strictEqual(decoded.success.$typeName, schema.typeName)
        }
      },
      { arbitrary: { runs: 2000, size: 60 } }
    )

    it.prop(
      "decode of a real payload with random bytes overwritten never throws",
      [Arbitrary.array(Arbitrary.schema(Schema.Tuple([intBetween(0, 476), intBetween(0, 255)])))],
      ([edits]) => {
        const payload = Uint8Array.from(payloadOf(eventAppearedWithLink))
        for (const [at, byte] of edits) payload[at] = byte
        const decoded = Messages.decode(Messages.PersistentSubscriptionStreamEventAppearedSchema, payload)
        if (Result.isFailure(decoded)) assert.instanceOf(decoded.failure, ProtocolError.MalformedPayload)
        else assert.isDefined(decoded.success)
      },
      { arbitrary: { runs: 1000, size: 10 } }
    )
  })
})
