/**
 * The protobuf messages of the protocol (package `EventStore.Client.Messages`), generated from
 * `proto/messages.proto`, and the two ways of putting them on the wire.
 *
 * Encoding follows the rule that works against every server version: every field proto2 calls
 * `required` is written, even when it holds its default (the generated encoder refuses a message that
 * leaves one unset). Decoding treats every field as optional, because servers from 22.6 omit fields
 * that hold their default and real servers leave `event` out of unresolvable links.
 * `encodeOmittingDefaults` writes messages the way 22.6+ servers do, so that clients can be tested
 * against both styles.
 *
 * @since 0.1.0
 */
import { clone, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf"
import type { DescMessage, MessageShape } from "@bufbuild/protobuf"
import { FieldDescriptorProto_Label, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt"
import * as Result from "effect/Result"
import { file_messages } from "./gen/messages_pb.ts"
import { MalformedPayload } from "./ProtocolError.ts"

export * from "./gen/messages_pb.ts"

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/**
 * Decodes a payload as the given message. Nothing is required: a scalar or enum field that is absent
 * reads as its default (0, `0n`, false, "", empty bytes, the first enum value), a repeated field as an
 * empty array, a message field as `undefined`. Fields this protocol does not know are skipped and not
 * kept. Bytes fields are views into `payload`, not copies. Never throws: a payload that is not protobuf
 * is a `MalformedPayload`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = <Desc extends DescMessage>(
  schema: Desc,
  payload: Uint8Array
): Result.Result<MessageShape<Desc>, MalformedPayload> => {
  try {
    return Result.succeed(fromBinary(schema, payload, { readUnknownFields: false }))
  } catch (cause) {
    return Result.fail(new MalformedPayload({ messageType: schema.name, reason: describe(cause) }))
  }
}

/**
 * Encodes a message as proto2 servers and clients expect: every required field is written, even when
 * it holds its default, and an optional field is written when it has been set (to any value). Fails
 * with a `MalformedPayload` naming the field when a required field has not been set, so set every
 * required field in `create(Schema, {...})`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = <Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>
): Result.Result<Uint8Array, MalformedPayload> => {
  try {
    return Result.succeed(toBinary(schema, message, { writeUnknownFields: false }))
  } catch (cause) {
    return Result.fail(new MalformedPayload({ messageType: schema.name, reason: describe(cause) }))
  }
}

/**
 * The same messages described as proto3, so that encoding omits fields holding their default value:
 * the wire style of servers from 22.6 on, which switched to a proto3 file with the same field numbers.
 */
let proto3Registry: ReturnType<typeof createFileRegistry> | undefined
const proto3Schema = (schema: DescMessage): DescMessage => {
  if (proto3Registry === undefined) {
    const file = clone(FileDescriptorProtoSchema, file_messages.proto)
    file.syntax = "proto3"
    const relabel = (messages: typeof file.messageType): void => {
      for (const message of messages) {
        for (const field of message.field) {
          if (field.label === FieldDescriptorProto_Label.REQUIRED) field.label = FieldDescriptorProto_Label.OPTIONAL
          // proto3 has no custom defaults (`[default = Success]`); every default is the zero value.
          delete (field as { defaultValue?: string }).defaultValue
        }
        relabel(message.nestedType)
      }
    }
    relabel(file.messageType)
    proto3Registry = createFileRegistry(file, () => undefined)
  }
  const described = proto3Registry.getMessage(schema.typeName)
  if (described === undefined) throw new Error(`No proto3 description of ${schema.typeName}`)
  return described
}

/**
 * Encodes a message as servers from 22.6 do: fields holding their default value (0, false, "", empty
 * bytes, the first enum value) are left out, set or not, and required fields may be unset. Sub-messages
 * that are set are always written, even empty. Meant for a server emulating 22.6+; a client must use
 * `encode`, because proto2 servers reject requests that leave out required fields.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeOmittingDefaults = <Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>
): Result.Result<Uint8Array, MalformedPayload> => {
  try {
    return Result.succeed(toBinary(proto3Schema(schema), message, { writeUnknownFields: false }))
  } catch (cause) {
    return Result.fail(new MalformedPayload({ messageType: schema.name, reason: describe(cause) }))
  }
}
