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
 * Decodes a payload as the given message. Fields that are absent read as their defaults; nothing is
 * required.
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
 * Encodes a message, writing every required field even when it holds its default. Fails when a
 * required field has not been set.
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
          field.defaultValue = ""
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
 * bytes, the first enum value) are left out. Sub-messages that are set are always written.
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
