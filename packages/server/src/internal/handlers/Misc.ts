/**
 * Ping and ScavengeDatabase: the requests that touch no stream.
 *
 * @since 0.1.0
 */
import { create } from "@bufbuild/protobuf"
import { Command, Guid, Messages } from "@photonpump/protocol"
import * as Users from "../../Users.ts"
import * as Node from "../Node.ts"

/**
 * Handles Ping: Pong with the same correlation id and payload.
 *
 * @since 0.1.0
 * @category handlers
 */
export const ping: Node.Handler = (_node, connection, request) =>
  connection.reply(Command.Command.Pong, request.correlationIdBytes, request.payload)

/**
 * Handles ScavengeDatabase. An in-memory node has nothing to scavenge, so an allowed request (from
 * `$admins` or `$ops`) reports a scavenge as started and nothing else happens. The message has no
 * fields, but a payload that does not deserialize as one is still refused with BadRequest.
 *
 * @since 0.1.0
 * @category handlers
 */
export const scavengeDatabase: Node.Handler = (node, connection, request) => {
  if (Node.unwrap(connection, request, Messages.ScavengeDatabaseSchema) === undefined) return
  const user = request.user
  const allowed = user !== undefined && (Users.hasRole(user, Users.admins) || Users.hasRole(user, Users.ops))
  const ScavengeResult = Messages.ScavengeDatabaseResponse_ScavengeResult
  connection.reply(
    Command.Command.ScavengeDatabaseResponse,
    request.correlationIdBytes,
    node.encode(
      Messages.ScavengeDatabaseResponseSchema,
      create(
        Messages.ScavengeDatabaseResponseSchema,
        allowed ? { result: ScavengeResult.Started, scavengeId: Guid.random() } : { result: ScavengeResult.Unauthorized }
      )
    )
  )
}
