/**
 * One client connection: framing, the handshake (IdentifyClient, Authenticate), credentials, heartbeats
 * both ways, dispatch of each request to its handler, and replies (docs/protocol.md 1.7, 6 and 8).
 *
 * The request path is synchronous: each chunk from the socket is cut into frames, every frame is
 * decoded and handled on the spot, and all the replies it produced leave in one socket write. A
 * connection whose unsent bytes pass the node's bound is dropped as a slow reader before its queue
 * can grow without bound, and nothing one connection does can stall another.
 *
 * @since 0.1.0
 */
import { Command, Frame, Guid, Messages, Package } from "@photonpump/protocol"
import * as Result from "effect/Result"
import type * as Net from "node:net"
import type * as Users from "../Users.ts"
import * as Dispatch from "./Dispatch.ts"
import type * as Node from "./Node.ts"
import * as Protobuf from "./Protobuf.ts"

const C = Command.Command

/** How long a connection closed after a BadRequest may take to deliver it before it is destroyed. */
const closeGrace = 1000

/**
 * A client connection.
 *
 * @since 0.1.0
 * @category models
 */
export class Session {
  readonly #socket: Net.Socket
  readonly #node: Node.Node
  readonly #parser: Frame.Parser
  readonly #onClose: (session: Session) => void
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  readonly #connection: Node.Connection
  readonly #name: string
  /** Replies not yet handed to the socket, framed one after the other. */
  readonly #out = new Protobuf.Writer()
  #flushScheduled = false
  #processing = false
  #closing = false
  /** Credentials from Authenticate, used by packages without their own; `user` is unset when they were wrong. */
  #defaultUser: { readonly user: Users.User | undefined } | undefined
  #lastReceivedAt: number
  #lastSentAt: number
  #probeSentAt: number | undefined
  /** Until IdentifyClient says otherwise, a client is V1 (version 0), as the real server assumes. */
  #v1Client = true

  constructor(socket: Net.Socket, node: Node.Node, onClose: (session: Session) => void) {
    this.#socket = socket
    this.#node = node
    this.#onClose = onClose
    this.#parser = Frame.makeParser({ maxLength: node.settings.maxFrameLength })
    this.#name = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`
    const now = Date.now()
    this.#lastReceivedAt = now
    this.#lastSentAt = now
    this.#connection = {
      output: () => this.#output(),
      reply: (command, correlationId, payload) => this.#reply(command, correlationId, payload),
      badRequest: (correlationId, reason) => this.#reply(C.BadRequest, correlationId, Package.encodeText(reason)),
      subscriptions: new Map(),
      isV1Client: () => this.#v1Client,
      later: (delay, f) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer)
          if (this.#closing) return
          const mark = this.#out.position
          try {
            f()
          } catch (error) {
            // A timer runs outside any request: a failure must close this connection, not the process.
            this.#out.rewind(mark)
            const reason = error instanceof Error ? error.message : String(error)
            this.#node.logDebug(`Connection ${this.#name}: error in a delayed reply: ${reason}`)
            this.#fail(Guid.empty, `Error while processing package. Error: ${reason}`)
          }
        }, delay)
        this.#timers.add(timer)
      }
    }
    socket.setNoDelay(true)
    socket.on("data", (chunk: Buffer) => this.#receive(chunk))
    socket.on("error", (error) => node.logDebug(`Connection ${this.#name} failed: ${error.message}`))
    socket.on("close", () => {
      this.#closing = true
      for (const timer of this.#timers) clearTimeout(timer)
      this.#timers.clear()
      this.#out.take()
      const subscriptions = Array.from(this.#connection.subscriptions.values())
      this.#connection.subscriptions.clear()
      // Its persistent-subscription consumers leave their groups together: one by one, what the first
      // had in flight would go to the next, which can no longer get it, and be retried once more when
      // that one leaves (5.4 step 8: retried once).
      const consumers = subscriptions.flatMap((subscription) => subscription.consumer ?? [])
      if (consumers.length > 0) node.persistent.disconnect(...consumers)
      for (const subscription of subscriptions) {
        try {
          subscription.connectionClosed()
        } catch (error) {
          node.logDebug(`Connection ${this.#name}: error while ending a subscription: ${String(error)}`)
        }
      }
      node.logDebug(`Connection ${this.#name} closed`)
      this.#onClose(this)
    })
    node.logDebug(`Connection ${this.#name} opened`)
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.#closing = true
    this.#socket.destroy()
  }

  /**
   * Closes the connection after handing what is queued (such as the drops of a node that shuts down)
   * to the socket; a client that does not take it within a second is cut off.
   */
  close(): void {
    if (this.#closing) return
    this.#flush()
    this.#closing = true
    this.#socket.end()
    const timer = setTimeout(() => this.#socket.destroy(), closeGrace)
    timer.unref()
    this.#timers.add(timer)
  }

  /**
   * Probes an idle client and drops one that never answered, as the real server does: after
   * `heartbeatInterval` without receiving anything it sends a HeartbeatRequest, and closes the
   * connection if nothing arrives within `heartbeatTimeout`. It also sends a HeartbeatRequest when it
   * has sent nothing for `heartbeatInterval`, so that the client's own heartbeats stay satisfied.
   */
  checkHeartbeat(now: number): void {
    if (this.#closing) return
    const { heartbeatInterval, heartbeatTimeout } = this.#node.settings
    if (this.#probeSentAt !== undefined) {
      if (this.#lastReceivedAt < this.#probeSentAt) {
        if (now - this.#probeSentAt >= heartbeatTimeout) {
          this.#node.logDebug(`Connection ${this.#name} closed: HEARTBEAT TIMEOUT`)
          this.destroy()
        }
        return
      }
      this.#probeSentAt = undefined
    }
    if (now - this.#lastReceivedAt >= heartbeatInterval) {
      this.#probeSentAt = now
      this.#reply(C.HeartbeatRequest, Guid.random(), emptyPayload)
    } else if (now - this.#lastSentAt >= heartbeatInterval) {
      this.#reply(C.HeartbeatRequest, Guid.random(), emptyPayload)
    }
  }

  #receive(chunk: Uint8Array): void {
    if (this.#closing) return
    this.#lastReceivedAt = Date.now()
    // Views of a plain Uint8Array are cheaper to cut than views of a Buffer, and frames are cut a lot.
    const frames = this.#parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    // A bad length prefix ends the connection, but like the real server the node first serves the
    // frames the chunk completed before it.
    const bodies = Result.isFailure(frames) ? frames.failure.framesBefore : frames.success
    this.#processing = true
    try {
      for (const body of bodies) {
        this.#handleFrame(body)
        if (this.#closing) break
      }
    } finally {
      this.#processing = false
    }
    if (Result.isFailure(frames)) {
      return this.#fail(Guid.empty, `Invalid TCP frame received. Error: ${frames.failure.message}.`)
    }
    this.#flush()
  }

  #handleFrame(body: Uint8Array): void {
    let pkg: Package.InboundPackage
    if (body.length >= Package.headerLength && (body[1]! & Package.Flags.Authenticated) === 0) {
      // The common case needs no auth block: read the header in place, the correlation id lazily.
      pkg = new Inbound(body)
    } else {
      const decoded = Package.decode(body)
      if (Result.isFailure(decoded)) {
        return this.#fail(Guid.empty, `Received bad network package. Error: ${decoded.failure.message}`)
      }
      pkg = decoded.success
    }
    const mark = this.#out.position
    try {
      this.#handlePackage(pkg, body.subarray(2, 18))
    } catch (error) {
      // Drop whatever part of a reply the failed handler had written.
      this.#out.rewind(mark)
      const reason = error instanceof Error ? error.message : String(error)
      this.#node.logDebug(`Connection ${this.#name}: error while processing ${Command.name(pkg.command)}: ${reason}`)
      this.#fail(pkg.correlationId, `Error while processing package. Error: ${reason}`)
    }
  }

  #handlePackage(pkg: Package.InboundPackage, correlationIdBytes: Uint8Array): void {
    if ((pkg.flags & Package.Flags.TrustedWrite) !== 0) {
      return this.#fail(pkg.correlationId, "Trusted writes aren't accepted over the external TCP interface")
    }
    switch (pkg.command) {
      case C.HeartbeatResponse:
        return
      case C.HeartbeatRequest:
        return this.#reply(C.HeartbeatResponse, correlationIdBytes, emptyPayload)
      case C.IdentifyClient: {
        const message = Messages.decode(Messages.IdentifyClientSchema, pkg.payload)
        // A server that cannot read IdentifyClient logs it and does not answer.
        if (Result.isFailure(message)) {
          return this.#node.logDebug(`Connection ${this.#name}: bad IdentifyClient: ${message.failure.message}`)
        }
        this.#node.logDebug(
          `Connection ${this.#name} identified as '${message.success.connectionName}', version ${message.success.version}`
        )
        // The real server keeps the version as a byte: 0 is V1 (4.1). Other versions than 0 and 1, which
        // protocol.md does not name, get V2's replies here.
        this.#v1Client = (message.success.version & 0xff) === 0
        return this.#reply(C.ClientIdentified, pkg.correlationId, emptyPayload)
      }
      case C.BadRequest:
        return this.#node.logDebug(
          `Connection ${this.#name} sent BadRequest: ${Package.decodeText(pkg.payload) || "<reason missing>"}`
        )
      case C.Authenticate: {
        if (pkg.auth === undefined) {
          return this.#notAuthenticated(pkg.correlationId, "No user credentials provided.")
        }
        const user = this.#authenticate(pkg.auth)
        this.#defaultUser = { user }
        return user === undefined
          ? this.#notAuthenticated(pkg.correlationId, "Unauthorized")
          : this.#reply(C.Authenticated, pkg.correlationId, emptyPayload)
      }
    }
    let user: Users.User | undefined
    if (pkg.auth !== undefined) {
      user = this.#authenticate(pkg.auth)
      if (user === undefined) return this.#notAuthenticated(pkg.correlationId, "Not Authenticated")
    } else if (this.#defaultUser !== undefined) {
      user = this.#defaultUser.user
      if (user === undefined) return this.#notAuthenticated(pkg.correlationId, "Not Authenticated")
    }
    const request = new Request(pkg, correlationIdBytes, user)
    const handler = Dispatch.handlerOf(pkg.command)
    if (handler === undefined) {
      return this.#connection.badRequest(
        pkg.correlationId,
        `Could not unwrap network package for command ${Command.name(pkg.command)}.\n`
      )
    }
    handler(this.#node, this.#connection, request)
  }

  #authenticate(auth: Package.Auth): Users.User | undefined {
    // Bearer tokens need the commercial OAuth plugin; this node knows none.
    return "login" in auth ? this.#node.users.authenticate(auth.login, auth.password) : undefined
  }

  #notAuthenticated(correlationId: string, reason: string): void {
    this.#reply(C.NotAuthenticated, correlationId, Package.encodeText(reason))
  }

  /**
   * The output buffer, for one reply, or `undefined` when the connection takes no more replies. A
   * client whose unsent bytes passed the bound is dropped here, as the real server does.
   */
  #output(): Protobuf.Writer | undefined {
    if (this.#closing) return undefined
    const unsent = this.#socket.writableLength
    if (unsent > this.#node.settings.maxSendQueueBytes) {
      this.#fail(Guid.empty, `Connection pending send bytes is too large: ${unsent}.`)
      return undefined
    }
    this.#scheduleFlush()
    return this.#out
  }

  #reply(command: number, correlationId: string | Uint8Array, payload: Uint8Array): void {
    const out = this.#output()
    if (out !== undefined) this.#write(out, command, correlationId, payload)
  }

  #write(out: Protobuf.Writer, command: number, correlationId: string | Uint8Array, payload: Uint8Array): void {
    out.frame(command, correlationId, payload.length)
    out.buffer.set(payload, out.position)
    out.position += payload.length
  }

  #scheduleFlush(): void {
    if (!this.#processing && !this.#flushScheduled) {
      this.#flushScheduled = true
      queueMicrotask(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushScheduled = false
    const bytes = this.#out.take()
    if (bytes === undefined || this.#socket.destroyed) return
    this.#lastSentAt = Date.now()
    this.#socket.write(bytes)
    // Nothing left unsent: the kernel has copied the bytes, and the next replies may go in the same
    // buffer. Otherwise the socket still holds them, and the next replies take a buffer of their own.
    if (this.#socket.writableLength === 0) this.#out.reuse()
  }

  /** Sends BadRequest and closes the connection (after what was already queued). */
  #fail(correlationId: string, reason: string): void {
    if (this.#closing) return
    this.#node.logDebug(`Closing connection ${this.#name}: ${reason}`)
    this.#write(this.#out, C.BadRequest, correlationId, Package.encodeText(reason))
    this.#closing = true
    this.#flush()
    this.#socket.end()
    const timer = setTimeout(() => this.#socket.destroy(), closeGrace)
    timer.unref()
    this.#timers.add(timer)
  }
}

const emptyPayload = new Uint8Array(0)

/** A request as handlers see it; a class, so that the correlation id getter stays on the fast path. */
class Request implements Node.Request {
  readonly #pkg: Package.InboundPackage
  readonly command: number
  readonly correlationIdBytes: Uint8Array
  readonly payload: Uint8Array
  readonly user: Users.User | undefined

  constructor(pkg: Package.InboundPackage, correlationIdBytes: Uint8Array, user: Users.User | undefined) {
    this.#pkg = pkg
    this.command = pkg.command
    this.correlationIdBytes = correlationIdBytes
    this.payload = pkg.payload
    this.user = user
  }

  get correlationId(): string {
    return this.#pkg.correlationId
  }
}

/** A package without an auth block, read in place; its correlation id becomes a string only if asked for. */
class Inbound implements Package.InboundPackage {
  readonly #body: Uint8Array
  #correlationId: string | undefined
  readonly command: number
  readonly flags: number
  readonly auth = undefined
  readonly payload: Uint8Array

  constructor(body: Uint8Array) {
    this.#body = body
    this.command = body[0]!
    this.flags = body[1]!
    this.payload = body.subarray(Package.headerLength)
  }

  get correlationId(): string {
    return (this.#correlationId ??= Guid.readUnsafe(this.#body, 2))
  }
}
