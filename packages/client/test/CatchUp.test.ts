/**
 * How a catch-up subscription reads history, over a fake `read` whose requests the connection's writer
 * would send in a later microtask: the next page is asked for, and its request written, before the
 * consumer is handed the current page, so that the server prepares it while the consumer works.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Channel from "effect/Channel"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Command } from "@photonpump/protocol"
import { RecordedEvent } from "../src/RecordedEvent.ts"
import { ResolvedEvent } from "../src/ResolvedEvent.ts"
import * as Subscription from "../src/Subscription.ts"
import type { Connection } from "../src/internal/Connection.ts"
import * as Subscriptions from "../src/internal/Subscription.ts"

const eventAt = (eventNumber: bigint): ResolvedEvent =>
  new ResolvedEvent(
    new RecordedEvent({
      stream: "ponies",
      eventNumber,
      idBytes: new Uint8Array(16),
      type: "PonyJumped",
      data: new Uint8Array(0),
      metadata: new Uint8Array(0),
      isJson: false,
      createdEpochMillis: 0,
      createdTicks: 0n
    }),
    undefined,
    undefined,
    true
  )

describe("Catch-up reading", () => {
  it.live("asks for the next page, and lets its request be written, before handing over the current one", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const pageSize = 3
      const read = (cursor: bigint) =>
        Effect.callback<Subscriptions.Page<bigint>>((resume) => {
          log.push(`request ${cursor}`)
          // The connection's writer runs in a microtask after the request is queued.
          queueMicrotask(() => log.push(`written ${cursor}`))
          const timer = setTimeout(() => {
            const events = Array.from({ length: pageSize }, (_, i) => eventAt(cursor + BigInt(i)))
            resume(Effect.succeed({ events, next: cursor + BigInt(pageSize), isEnd: false }))
          }, 0)
          return Effect.sync(() => clearTimeout(timer))
        })
      const subscription = Stream.fromChannel(
        Channel.fromTransform((_upstream, scope) =>
          Subscriptions.catchUp({
            // History never ends here: the consumer stops first, and nothing subscribes live.
            connection: {} as Connection,
            target: { stream: "ponies", group: undefined, operation: "subscribeTo" },
            request: { command: Command.Command.SubscribeToStream, payload: new Uint8Array(0), credentials: undefined },
            bufferSize: 100,
            batchSize: 100,
            timeout: Duration.seconds(5),
            probe: undefined,
            from: 0n,
            read,
            tracker: Subscriptions.streamTracker(-1n),
            checkpointEveryPages: 0
          }, scope)
        )
      )
      yield* subscription.pipe(
        Stream.take(3 * pageSize),
        Stream.runForEach((item) =>
          Effect.sync(() => {
            if (Subscription.isEvent(item)) log.push(`deliver ${item.originalEventNumber}`)
          })
        )
      )
      for (const page of [0, 3, 6]) {
        const next = page + pageSize
        const written = log.indexOf(`written ${next}`)
        const delivered = log.indexOf(`deliver ${page}`)
        assert.isTrue(
          log.indexOf(`request ${next}`) >= 0 && written >= 0 && written < delivered,
          `page ${page}: ${log.join(", ")}`
        )
      }
    }))
})
