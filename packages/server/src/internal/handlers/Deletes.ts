/**
 * DeleteStream: soft and hard deletes (docs/protocol.md 4.6).
 *
 * @since 0.1.0
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Node from "../Node.ts"
import * as Wire from "../Wire.ts"
import { expectedVersion, failure } from "./Writes.ts"

/**
 * Handles DeleteStream.
 *
 * @since 0.1.0
 * @category handlers
 */
export const deleteStream: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.DeleteStreamSchema)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  const expected = expectedVersion(Wire.toNumber(message.expectedVersion))
  if (expected === undefined) {
    return Node.cannotUnwrap(connection, request, `expectedVersion ${message.expectedVersion} is invalid`)
  }
  const reply = (fields: MessageInitShape<typeof Messages.DeleteStreamCompletedSchema>) =>
    connection.reply(
      Command.Command.DeleteStreamCompleted,
      request.correlationIdBytes,
      node.encode(Messages.DeleteStreamCompletedSchema, create(Messages.DeleteStreamCompletedSchema, fields))
    )
  const rejected = (result: Messages.OperationResult, currentVersion?: bigint) =>
    reply({
      ...failure(result),
      preparePosition: -1n,
      commitPosition: -1n,
      ...(currentVersion === undefined ? {} : { currentVersion })
    })

  if (!node.isAllowed(request.user, message.eventStreamId, "delete")) {
    return rejected(Messages.OperationResult.AccessDenied)
  }
  const result = node.store.deleteStream(message.eventStreamId, expected, message.hardDelete)
  switch (result.status) {
    case "Success":
      return reply({
        result: Messages.OperationResult.Success,
        preparePosition: BigInt(result.position),
        commitPosition: BigInt(result.position)
      })
    case "WrongExpectedVersion":
      // 21.10.5+ and 22.6+ servers report the stream's version, like WriteEventsCompleted does.
      return rejected(Messages.OperationResult.WrongExpectedVersion, BigInt(result.currentVersion))
    case "StreamDeleted":
      return rejected(Messages.OperationResult.StreamDeleted)
  }
}
