/**
 * A consumer of a persistent subscription group: the conversation that receives its events, and the
 * batching of its acks and naks.
 *
 * The server sends at most `bufferSize` events that the consumer has not settled (the in-flight limit
 * the client asks for), so the buffer stays within that size. Only redeliveries can push it further:
 * an event the consumer holds past the group's message timeout is given again, and the stale copy
 * still waits in the buffer. The buffer holds twice the in-flight limit; beyond that its oldest events
 * are dropped, which loses nothing, since the server retries every event that is not acked.
 *
 * Acks and naks are batched: they are queued, and sent as one frame per batch (at most 2,000 ids per
 * frame, as the .NET client) when the consumer pulls for more events, when the event loop turns, or
 * when the subscription's scope closes, before the unsubscribe.
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import { create } from "@bufbuild/protobuf"
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { Command as CommandModule, Messages, type Package } from "@photonpump/protocol"
import type { RequestError } from "../EventStoreError.ts"
import { type Acknowledger, type NakAction, PersistentEvent } from "../PersistentSubscription.ts"
import * as Decode from "./Decode.ts"
import { type ConversationError, type LiveOptions, SubscriptionConversation } from "./Subscription.ts"

const Command = CommandModule.Command

/**
 * The most ids one ack or nak frame carries (the .NET client's limit).
 *
 * @internal
 */
export const maxIdsPerFrame = 2000

const nakActions: Record<NakAction, Messages.PersistentSubscriptionNakEvents_NakAction> = {
  Park: Messages.PersistentSubscriptionNakEvents_NakAction.Park,
  Retry: Messages.PersistentSubscriptionNakEvents_NakAction.Retry,
  Skip: Messages.PersistentSubscriptionNakEvents_NakAction.Skip,
  Stop: Messages.PersistentSubscriptionNakEvents_NakAction.Stop
}

interface PendingNaks {
  readonly action: NakAction
  readonly reason: string
  ids: Array<Uint8Array>
}

/**
 * The conversation of one consumer of a group.
 *
 * @internal
 */
export class PersistentConversation extends SubscriptionConversation<PersistentEvent> implements Acknowledger {
  /** `<stream>::<group>`, from the confirmation: what acks and naks name. */
  subscriptionId = ""
  private acks: Array<Uint8Array> = []
  private naks = new Map<string, PendingNaks>()
  private pending = 0
  private scheduled: ReturnType<typeof setImmediate> | undefined = undefined

  receive(pkg: Package.InboundPackage): boolean {
    if (this.ended) return true
    switch (pkg.command) {
      case Command.PersistentSubscriptionStreamEventAppeared: {
        const delivery = Decode.persistentEventAppeared(pkg.payload)
        if (delivery === undefined) return false
        if (Decode.isMalformed(delivery)) return this.malformed(delivery.reason)
        const event = new PersistentEvent(
          delivery.event,
          delivery.link,
          delivery.isResolved,
          delivery.retryCount,
          delivery.ackId,
          this
        )
        const items = this.items
        if (items.length >= this.capacity) items.dropOldest()
        items.push(event)
        if (this.probe !== undefined && items.length > this.probe.bufferHighWater) {
          this.probe.bufferHighWater = items.length
        }
        this.wake()
        return false
      }
      case Command.PersistentSubscriptionConfirmation: {
        const decoded = Messages.decode(Messages.PersistentSubscriptionConfirmationSchema, pkg.payload)
        if (Result.isFailure(decoded)) return this.malformed(decoded.failure.message)
        this.subscriptionId = decoded.success.subscriptionId
        this.confirm()
        return false
      }
      default: {
        const ended = this.receiveCommon(pkg)
        if (ended !== undefined) return ended
        return this.malformed(`unexpected ${CommandModule.name(pkg.command)} in a persistent subscription`)
      }
    }
  }

  ack(id: Uint8Array): void {
    if (this.ended || this.unsubscribing) return
    this.acks.push(id)
    if (this.acks.length >= maxIdsPerFrame) this.sendAcks()
    else this.schedule()
  }

  nak(id: Uint8Array, action: NakAction, reason: string): void {
    if (this.ended || this.unsubscribing) return
    const key = `${action}\u0000${reason}`
    let batch = this.naks.get(key)
    if (batch === undefined) {
      batch = { action, reason, ids: [] }
      this.naks.set(key, batch)
    }
    batch.ids.push(id)
    this.pending++
    if (batch.ids.length >= maxIdsPerFrame) this.sendNaks(batch)
    else this.schedule()
  }

  private schedule(): void {
    if (this.scheduled === undefined) this.scheduled = setImmediate(this.flushScheduled)
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = undefined
    this.flush()
  }

  /** Sends every ack and nak queued so far. */
  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled)
      this.scheduled = undefined
    }
    if (this.acks.length > 0) this.sendAcks()
    if (this.pending > 0) {
      for (const batch of this.naks.values()) {
        if (batch.ids.length > 0) this.sendNaks(batch)
      }
      this.naks.clear()
      this.pending = 0
    }
  }

  /** Whether acks or naks wait to be sent. */
  get hasPending(): boolean {
    return this.acks.length > 0 || this.pending > 0
  }

  private sendAcks(): void {
    const ids = this.acks
    this.acks = []
    if (this.ended) return
    const payload = Messages.encode(
      Messages.PersistentSubscriptionAckEventsSchema,
      create(Messages.PersistentSubscriptionAckEventsSchema, {
        subscriptionId: this.subscriptionId,
        processedEventIds: ids
      })
    )
    if (Result.isSuccess(payload)) {
      this.connection.send(this.correlationId, {
        command: Command.PersistentSubscriptionAckEvents,
        payload: payload.success,
        credentials: this.request.credentials
      })
    }
  }

  private sendNaks(batch: PendingNaks): void {
    const ids = batch.ids
    batch.ids = []
    this.pending -= ids.length
    if (this.ended) return
    const payload = Messages.encode(
      Messages.PersistentSubscriptionNakEventsSchema,
      create(Messages.PersistentSubscriptionNakEventsSchema, {
        subscriptionId: this.subscriptionId,
        processedEventIds: ids,
        message: batch.reason,
        action: nakActions[batch.action]
      })
    )
    if (Result.isSuccess(payload)) {
      this.connection.send(this.correlationId, {
        command: Command.PersistentSubscriptionNakEvents,
        payload: payload.success,
        credentials: this.request.credentials
      })
    }
  }

  /** Sends what is queued, then leaves the group (see `SubscriptionConversation.close`). */
  override close(timeout: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!this.ended) this.flush()
      return super.close(timeout)
    })
  }
}

type Chunk = Arr.NonEmptyReadonlyArray<PersistentEvent>

/**
 * The pull of a consumer of a group: its events, as they come; queued acks and naks go out whenever
 * it pulls.
 *
 * @internal
 */
export const consumer = (
  options: LiveOptions,
  scope: Scope.Scope
): Effect.Effect<Pull.Pull<Chunk, ConversationError>, RequestError> =>
  // Connecting and adding the finalizer that leaves the group go together: interrupted in between, the
  // consumer would stay in the group on the server, holding its events, unknown to anyone.
  Effect.uninterruptible(Effect.suspend(() => {
    const conversation = new PersistentConversation(
      options.connection,
      options.request,
      options.target,
      options.bufferSize,
      options.probe
    )
    const started = conversation.start(options.timeout)
    if (Result.isFailure(started)) return Effect.fail(started.failure)
    const step = (): Pull.Pull<Chunk, ConversationError> => {
      if (conversation.hasPending) conversation.flush()
      const items = conversation.items
      if (items.length > 0) {
        const chunk = items.take(options.batchSize) as unknown as Chunk
        const probe = options.probe
        if (probe !== undefined && chunk.length > probe.chunkHighWater) probe.chunkHighWater = chunk.length
        return Effect.succeed(chunk)
      }
      if (conversation.error !== undefined) return Effect.fail(conversation.error)
      if (conversation.ended) return Cause.done()
      return Effect.flatMap(conversation.changed, step)
    }
    return Effect.as(Scope.addFinalizer(scope, conversation.close(options.timeout)), Effect.suspend(step))
  }))
