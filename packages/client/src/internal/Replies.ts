/**
 * The one place where the server's replies become values or tagged errors: the generic replies any
 * request can get (BadRequest, NotHandled, NotAuthenticated), and the result codes of writes.
 *
 * @internal
 */
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf"
import * as Result from "effect/Result"
import { Command as CommandModule, Messages, Package } from "@photonpump/protocol"
import {
  AccessDenied,
  BadRequest,
  InvalidTransaction,
  type LeaderInfo,
  NotAuthenticated,
  NotHandled,
  ProtocolError,
  StreamDeleted,
  Timeout,
  WrongExpectedVersion
} from "../EventStoreError.ts"
import type * as ExpectedVersion from "../ExpectedVersion.ts"

const Command = CommandModule.Command

/**
 * The replies any request may get instead of the one it expects.
 *
 * @internal
 */
export type GenericReplyError = BadRequest | NotHandled | NotAuthenticated | ProtocolError

const notHandledReasons = ["NotReady", "TooBusy", "NotLeader", "IsReadOnly"] as const

const leaderInfo = (bytes: Uint8Array): LeaderInfo | undefined => {
  if (bytes.length === 0) return undefined
  const decoded = Messages.decode(Messages.NotHandled_LeaderInfoSchema, bytes)
  if (Result.isFailure(decoded)) return undefined
  const info = decoded.success
  return {
    tcpHost: info.externalTcpAddress,
    tcpPort: info.externalTcpPort,
    secureTcpHost: info.externalSecureTcpAddress === "" ? undefined : info.externalSecureTcpAddress,
    secureTcpPort: info.externalSecureTcpPort === 0 ? undefined : info.externalSecureTcpPort,
    httpHost: info.httpAddress,
    httpPort: info.httpPort
  }
}

/**
 * Decodes a reply's payload as `schema`, as `Messages.decode` does, and also refuses a value of an enum
 * this client does not know (a result code or reason no server version sends): the enums are proto2's,
 * closed, and the generated decoder sets such a value aside and reads the field as its default, which
 * would make an unknown result a Success and an unknown NotHandled reason NotReady.
 *
 * @internal
 */
export const decode = <Desc extends DescMessage>(
  schema: Desc,
  payload: Uint8Array
): Result.Result<MessageShape<Desc>, string> => {
  let message: MessageShape<Desc>
  try {
    message = fromBinary(schema, payload, { readUnknownFields: true })
  } catch (cause) {
    return Result.fail(`Malformed ${schema.name} payload: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
  // Fields this client does not know are skipped; a known one set aside held a value it could not take.
  for (const unknown of message.$unknown ?? []) {
    const field = schema.fields.find((field) => field.number === unknown.no)
    if (field !== undefined) {
      return Result.fail(`Malformed ${schema.name} payload: ${field.name} holds a value this client does not know`)
    }
  }
  return Result.succeed(message)
}

/**
 * Decodes the reply a request expects, or turns a generic reply into its error.
 *
 * @internal
 */
export const expect = <Desc extends DescMessage>(
  pkg: Package.InboundPackage,
  operation: string,
  command: number,
  schema: Desc
): Result.Result<MessageShape<Desc>, GenericReplyError> => {
  if (pkg.command === command) {
    const decoded = decode(schema, pkg.payload)
    return Result.isSuccess(decoded)
      ? Result.succeed(decoded.success)
      : Result.fail(new ProtocolError({ operation, reason: decoded.failure }))
  }
  return Result.fail(genericError(pkg, operation))
}

/**
 * The error a reply other than the expected one stands for.
 *
 * @internal
 */
export const genericError = (pkg: Package.InboundPackage, operation: string): GenericReplyError => {
  switch (pkg.command) {
    case Command.BadRequest:
      return new BadRequest({ operation, reason: Package.decodeText(pkg.payload) })
    case Command.NotAuthenticated:
      return new NotAuthenticated({ operation, reason: Package.decodeText(pkg.payload) })
    case Command.NotHandled: {
      const decoded = decode(Messages.NotHandledSchema, pkg.payload)
      if (Result.isFailure(decoded)) return new ProtocolError({ operation, reason: decoded.failure })
      const reason = notHandledReasons[decoded.success.reason]
      if (reason === undefined) {
        return new ProtocolError({ operation, reason: `unknown NotHandled reason ${decoded.success.reason}` })
      }
      return new NotHandled({ operation, reason, leader: leaderInfo(decoded.success.additionalInfo) })
    }
    default:
      return new ProtocolError({ operation, reason: `unexpected reply ${CommandModule.name(pkg.command)}` })
  }
}

/**
 * The error of a read's result other than those it handles: the server's `Error` (`errorResult`, with
 * its text) is a `BadRequest`; a result this client does not know is not understood.
 *
 * @internal
 */
export const readFailure = (
  operation: string,
  result: number,
  errorResult: number,
  text: string
): BadRequest | ProtocolError =>
  result === errorResult
    ? new BadRequest({ operation, reason: text || "the server reported an error" })
    : new ProtocolError({ operation, reason: `unexpected read result ${result}${text === "" ? "" : ` (${text})`}` })

/**
 * What a write's failure is about.
 *
 * @internal
 */
export interface WriteContext {
  readonly operation: string
  readonly stream: string
  readonly expectedVersion: ExpectedVersion.ExpectedVersion
}

/**
 * The error of a write's non-success `OperationResult`.
 *
 * @internal
 */
export const writeFailure = (
  result: Messages.OperationResult,
  context: WriteContext,
  currentVersion: bigint | undefined,
  message: string
): WrongExpectedVersion | StreamDeleted | AccessDenied | Timeout | ProtocolError => {
  switch (result) {
    case Messages.OperationResult.WrongExpectedVersion:
      return new WrongExpectedVersion({
        stream: context.stream,
        expectedVersion: context.expectedVersion,
        actualVersion: currentVersion
      })
    case Messages.OperationResult.StreamDeleted:
      return new StreamDeleted({ stream: context.stream })
    case Messages.OperationResult.AccessDenied:
      return new AccessDenied({ operation: context.operation, stream: context.stream })
    case Messages.OperationResult.PrepareTimeout:
      return new Timeout({ operation: context.operation, source: "PrepareTimeout", timeout: undefined })
    case Messages.OperationResult.CommitTimeout:
      return new Timeout({ operation: context.operation, source: "CommitTimeout", timeout: undefined })
    case Messages.OperationResult.ForwardTimeout:
      return new Timeout({ operation: context.operation, source: "ForwardTimeout", timeout: undefined })
    default:
      return new ProtocolError({
        operation: context.operation,
        reason: `unexpected operation result ${result}${message === "" ? "" : ` (${message})`}`
      })
  }
}

/**
 * The error of a transaction step's non-success `OperationResult`.
 *
 * @internal
 */
export const transactionFailure = (
  result: Messages.OperationResult,
  context: WriteContext,
  transactionId: bigint,
  message: string
): WrongExpectedVersion | StreamDeleted | AccessDenied | InvalidTransaction | Timeout | ProtocolError =>
  result === Messages.OperationResult.InvalidTransaction
    ? new InvalidTransaction({ stream: context.stream, transactionId })
    : writeFailure(result, context, undefined, message)
