/**
 * Volatile subscriptions (docs/protocol.md 3.6, 5.1 and 5.2): every subscription of a node, by stream,
 * and the live feed that pushes each committed event to them.
 *
 * The store announces committed events synchronously, inside the writer's request. Pushing them there
 * would make the writer's reply wait for every subscriber, so events are queued and fanned out in a
 * microtask, after the writer's batch of replies has gone to its socket; an unsubscribe read in the same
 * batch pushes what is queued first, so that no event committed while the subscription lived is lost.
 * Each push is encoded once per event (and once more for subscribers that resolve links) and copied into
 * each subscriber's output with its correlation id; the output of each connection leaves in one socket
 * write per batch. A subscriber that reads too slowly is dropped by its connection's send-queue bound.
 *
 * @since 0.1.0
 */
import { create } from "@bufbuild/protobuf"
import { Command, Messages } from "@photonpump/protocol"
import * as Store from "../Store.ts"
import type * as Node from "./Node.ts"
import * as Protobuf from "./Protobuf.ts"
import * as Replies from "./Replies.ts"
import * as Wire from "./Wire.ts"

const C = Command.Command

/**
 * A volatile subscription.
 *
 * @since 0.1.0
 * @category models
 */
export interface VolatileSubscription {
  readonly connection: Node.Connection
  readonly correlationId: string
  /** The correlation id's wire bytes, copied out of the request. */
  readonly correlationIdBytes: Uint8Array
  /** `""` for `$all`. */
  readonly streamId: string
  readonly resolveLinkTos: boolean
  /** Events at or before the confirmed position are not pushed. */
  readonly lastCommitPosition: number
  /** Events numbered at or below the confirmed last event number are not pushed (-1 for `$all`). */
  readonly lastEventNumber: number
  readonly filter: ((event: Store.RecordedEvent) => boolean) | undefined
  /** Events considered between two CheckpointReached; 0 for none. */
  readonly checkpointInterval: number
  considered: number
}

/**
 * The volatile subscriptions of a node.
 *
 * @since 0.1.0
 * @category models
 */
export class VolatileSubscriptions {
  readonly #node: Node.Node
  readonly #byStream = new Map<string, Array<VolatileSubscription>>()
  #pending: Array<Store.RecordedEvent> = []
  #scheduled = false
  readonly #scratch = new Protobuf.Writer()
  readonly #stopListening: () => void

  constructor(node: Node.Node) {
    this.#node = node
    this.#stopListening = node.store.subscribe((event) => {
      if (this.#byStream.size === 0) return
      this.#pending.push(event)
      if (!this.#scheduled) {
        this.#scheduled = true
        queueMicrotask(() => this.#fanOut())
      }
    })
  }

  /** The number of subscriptions. */
  get size(): number {
    let size = 0
    for (const subscriptions of this.#byStream.values()) size += subscriptions.length
    return size
  }

  /**
   * Subscribes: registers the subscription on the node and its connection and sends the confirmation
   * (docs/protocol.md 5.1). Permissions are the caller's to check.
   */
  subscribe(options: {
    readonly connection: Node.Connection
    readonly correlationId: string
    readonly correlationIdBytes: Uint8Array
    readonly streamId: string
    readonly resolveLinkTos: boolean
    readonly filter?: ((event: Store.RecordedEvent) => boolean) | undefined
    readonly checkpointInterval?: number | undefined
  }): void {
    const { connection, correlationId, streamId } = options
    const store = this.#node.store
    const isAll = streamId.length === 0
    const lastEventNumber = isAll ? -1 : store.lastEventNumber(streamId)
    const subscription: VolatileSubscription = {
      connection,
      correlationId,
      correlationIdBytes: options.correlationIdBytes.slice(),
      streamId,
      resolveLinkTos: options.resolveLinkTos,
      lastCommitPosition: store.lastCommitPosition,
      lastEventNumber,
      filter: options.filter,
      checkpointInterval: Math.max(0, options.checkpointInterval ?? 0),
      considered: 0
    }
    connection.subscriptions.get(correlationId)?.connectionClosed()
    let subscriptions = this.#byStream.get(streamId)
    if (subscriptions === undefined) {
      subscriptions = []
      this.#byStream.set(streamId, subscriptions)
    }
    subscriptions.push(subscription)
    connection.subscriptions.set(correlationId, {
      unsubscribe: () => {
        // Events committed before the unsubscribe (earlier in the same read) still wait for the
        // microtask: push them first, or the subscription would miss them (5.1.3).
        if (this.#pending.length > 0) this.#fanOut()
        if (this.#remove(subscription)) this.#dropped(subscription, Dropped.Unsubscribed)
      },
      connectionClosed: () => {
        this.#remove(subscription)
      }
    })
    // The confirmation of a `$all` subscription has no last event number (22.6+ servers send 0).
    const confirmation = isAll
      ? { lastCommitPosition: BigInt(subscription.lastCommitPosition) }
      : {
        lastCommitPosition: BigInt(subscription.lastCommitPosition),
        lastEventNumber: Wire.eventNumber(connection.isV1Client() ? Wire.eventNumberForV1(lastEventNumber) : lastEventNumber)
      }
    connection.reply(
      C.SubscriptionConfirmation,
      subscription.correlationIdBytes,
      this.#node.encode(Messages.SubscriptionConfirmationSchema, create(Messages.SubscriptionConfirmationSchema, confirmation))
    )
  }

  /** Drops every subscription with Unsubscribed, as a node that shuts down does. */
  shutdown(): void {
    this.#stopListening()
    const all = Array.from(this.#byStream.values()).flat()
    this.#byStream.clear()
    for (const subscription of all) {
      subscription.connection.subscriptions.delete(subscription.correlationId)
      this.#dropped(subscription, Dropped.Unsubscribed)
    }
  }

  #remove(subscription: VolatileSubscription): boolean {
    const { connection, correlationId, streamId } = subscription
    if (connection.subscriptions.get(correlationId) !== undefined) connection.subscriptions.delete(correlationId)
    const subscriptions = this.#byStream.get(streamId)
    if (subscriptions === undefined) return false
    const index = subscriptions.indexOf(subscription)
    if (index < 0) return false
    subscriptions.splice(index, 1)
    if (subscriptions.length === 0) this.#byStream.delete(streamId)
    return true
  }

  #dropped(subscription: VolatileSubscription, reason: Messages.SubscriptionDropped_SubscriptionDropReason): void {
    subscription.connection.reply(
      C.SubscriptionDropped,
      subscription.correlationIdBytes,
      this.#node.encode(Messages.SubscriptionDroppedSchema, create(Messages.SubscriptionDroppedSchema, { reason }))
    )
  }

  #fanOut(): void {
    this.#scheduled = false
    const events = this.#pending
    this.#pending = []
    for (const event of events) {
      const all = this.#byStream.get("")
      const own = this.#byStream.get(event.streamId)
      if (all === undefined && own === undefined) continue
      const push = new Push(this.#node, this.#scratch, event)
      if (all !== undefined) this.#deliver(all, event, push)
      if (own !== undefined) this.#deliver(own, event, push)
    }
  }

  #deliver(subscriptions: ReadonlyArray<VolatileSubscription>, event: Store.RecordedEvent, push: Push): void {
    // A subscriber dropped as a slow reader leaves the list only when its socket has closed, later.
    for (const subscription of subscriptions) {
      if (event.commitPosition <= subscription.lastCommitPosition || event.eventNumber <= subscription.lastEventNumber) {
        continue
      }
      const out = subscription.connection.output()
      if (out === undefined) continue
      if (subscription.filter === undefined || subscription.filter(event)) {
        Replies.copyFrame(
          out,
          push.frame(subscription.resolveLinkTos, subscription.connection.isV1Client()),
          subscription.correlationIdBytes
        )
      }
      if (subscription.checkpointInterval > 0 && ++subscription.considered >= subscription.checkpointInterval) {
        subscription.considered = 0
        subscription.connection.reply(
          C.CheckpointReached,
          subscription.correlationIdBytes,
          this.#node.encode(
            Messages.CheckpointReachedSchema,
            create(Messages.CheckpointReachedSchema, {
              commitPosition: BigInt(event.commitPosition),
              preparePosition: BigInt(event.preparePosition)
            })
          )
        )
      }
    }
  }
}

const Dropped = Messages.SubscriptionDropped_SubscriptionDropReason

/** The StreamEventAppeared frames of one event, encoded on first use. */
class Push {
  readonly #node: Node.Node
  readonly #scratch: Protobuf.Writer
  readonly #event: Store.RecordedEvent
  #plain: Uint8Array | undefined
  #resolved: Uint8Array | undefined
  /** A tombstone's frame for V1 clients, which get its event number as 2^31-1 (4.1). */
  #forV1: Uint8Array | undefined

  constructor(node: Node.Node, scratch: Protobuf.Writer, event: Store.RecordedEvent) {
    this.#node = node
    this.#scratch = scratch
    this.#event = event
  }

  frame(resolveLinkTos: boolean, v1Client: boolean): Uint8Array {
    const event = this.#event
    // Only a tombstone looks different to a V1 client: a link never resolves to one (a hard-deleted
    // stream's events do not read), and a tombstone is no link.
    if (v1Client && event.eventNumber === Store.deletedStream) {
      return (this.#forV1 ??= this.#encode(Wire.resolvedForV1(Wire.resolve(this.#node.store, event, false))))
    }
    // Only links look different when resolved.
    if (resolveLinkTos && event.eventType === "$>") {
      return (this.#resolved ??= this.#encode(Wire.resolve(this.#node.store, event, true)))
    }
    return (this.#plain ??= this.#encode(Wire.resolve(this.#node.store, event, false)))
  }

  #encode(resolved: Wire.Resolved): Uint8Array {
    Replies.streamEventAppeared(
      this.#scratch,
      C.StreamEventAppeared,
      zeroId,
      resolved,
      this.#node.settings.omitDefaultValues
    )
    return this.#scratch.take()!
  }
}

const zeroId = new Uint8Array(16)
