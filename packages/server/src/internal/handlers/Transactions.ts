/**
 * TransactionStart, TransactionWrite and TransactionCommit (docs/protocol.md 4.10). The store buffers a
 * transaction's events and appends them at commit, where the expected version given at start is
 * checked.
 *
 * @since 0.1.0
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Node from "../Node.ts"
import * as Wire from "../Wire.ts"
import { expectedVersion, failure, proposedEvents } from "./Writes.ts"

const OperationResult = Messages.OperationResult

/**
 * Handles TransactionStart.
 *
 * @since 0.1.0
 * @category handlers
 */
export const transactionStart: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.TransactionStartSchema)
  if (message === undefined) return
  if (message.eventStreamId.length === 0) return Node.cannotUnwrap(connection, request, "eventStreamId is empty")
  const expected = expectedVersion(Wire.toNumber(message.expectedVersion))
  if (expected === undefined) {
    return Node.cannotUnwrap(connection, request, `expectedVersion ${message.expectedVersion} is invalid`)
  }
  const reply = (transactionId: bigint, fields: { readonly result: Messages.OperationResult; readonly message?: string }) =>
    connection.reply(
      Command.Command.TransactionStartCompleted,
      request.correlationId,
      node.encode(
        Messages.TransactionStartCompletedSchema,
        create(Messages.TransactionStartCompletedSchema, { transactionId, ...fields })
      )
    )
  if (!node.isAllowed(request.user, message.eventStreamId, "write")) {
    return reply(-1n, failure(OperationResult.AccessDenied))
  }
  const id = node.store.startTransaction(message.eventStreamId, expected)
  reply(BigInt(id), { result: OperationResult.Success })
}

/**
 * Handles TransactionWrite. A write to a transaction the node does not know gets no immediate answer:
 * like the real server, it fails with PrepareTimeout when the prepare timeout runs out.
 *
 * @since 0.1.0
 * @category handlers
 */
export const transactionWrite: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.TransactionWriteSchema)
  if (message === undefined) return
  const events = proposedEvents(message.events)
  if (typeof events === "string") return Node.cannotUnwrap(connection, request, events)
  // Read now: the id is made from the frame on first use, and a reply sent later outlives the frame.
  const correlationId = request.correlationId
  const reply = (fields: { readonly result: Messages.OperationResult; readonly message?: string }) =>
    connection.reply(
      Command.Command.TransactionWriteCompleted,
      correlationId,
      node.encode(
        Messages.TransactionWriteCompletedSchema,
        create(Messages.TransactionWriteCompletedSchema, { transactionId: message.transactionId, ...fields })
      )
    )
  const transactionId = Wire.toNumber(message.transactionId)
  const streamId = node.store.transactionStream(transactionId)
  if (streamId === undefined) {
    return connection.later(node.settings.prepareTimeout, () => reply(failure(OperationResult.PrepareTimeout)))
  }
  if (!node.isAllowed(request.user, streamId, "write")) return reply(failure(OperationResult.AccessDenied))
  node.store.writeTransaction(transactionId, events)
  reply({ result: OperationResult.Success })
}

/**
 * Handles TransactionCommit.
 *
 * @since 0.1.0
 * @category handlers
 */
export const transactionCommit: Node.Handler = (node, connection, request) => {
  const message = Node.unwrap(connection, request, Messages.TransactionCommitSchema)
  if (message === undefined) return
  const reply = (fields: MessageInitShape<typeof Messages.TransactionCommitCompletedSchema>) =>
    connection.reply(
      Command.Command.TransactionCommitCompleted,
      request.correlationId,
      node.encode(
        Messages.TransactionCommitCompletedSchema,
        create(Messages.TransactionCommitCompletedSchema, { ...fields, transactionId: message.transactionId })
      )
    )
  const rejected = (result: Messages.OperationResult) =>
    reply({
      ...failure(result),
      firstEventNumber: Wire.invalidEventNumber,
      lastEventNumber: Wire.invalidEventNumber,
      preparePosition: -1n,
      commitPosition: -1n
    })
  const transactionId = Wire.toNumber(message.transactionId)
  const streamId = node.store.transactionStream(transactionId)
  if (streamId === undefined) return rejected(OperationResult.InvalidTransaction)
  if (!node.isAllowed(request.user, streamId, "write")) return rejected(OperationResult.AccessDenied)
  const result = node.store.commitTransaction(transactionId)
  switch (result.status) {
    case "Success":
      return reply({
        result: OperationResult.Success,
        firstEventNumber: BigInt(result.firstEventNumber),
        lastEventNumber: BigInt(result.lastEventNumber),
        preparePosition: BigInt(result.position),
        commitPosition: BigInt(result.position)
      })
    case "WrongExpectedVersion":
      return rejected(OperationResult.WrongExpectedVersion)
    case "StreamDeleted":
      return rejected(OperationResult.StreamDeleted)
    case "InvalidTransaction":
      return rejected(OperationResult.InvalidTransaction)
  }
}
