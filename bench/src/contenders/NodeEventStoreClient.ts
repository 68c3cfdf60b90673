/**
 * node-eventstore-client 23.10, the established Node client of this protocol, used as its README shows:
 * one connection per run, `appendToStream` from `concurrency` async loops that each await their own
 * request, and `readStreamEventsForward`/`readAllEventsForward` page by page (it has no stream API, so
 * its `iter` row is the same page loop as its `get` row).
 *
 * It connects anonymously: with default credentials it would send them in every package, which costs
 * the server a credentials check per request that photonpump (which authenticates once, in the
 * handshake) does not ask for. Only `$all` reads, which need an admin, carry credentials.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { performance } from "node:perf_hooks"
import EventStore from "node-eventstore-client"
import type { Implementations } from "../Contender.ts"
import * as Events from "../Events.ts"
import { LatencyRecorder, MemorySampler, type RunContext, TimedSection } from "../Measurement.ts"
import {
  type AppendParams,
  type LiveLatencyParams,
  type PersistentParams,
  type SlowSubscriberParams
} from "../Workload.ts"

type Connection = EventStore.EventStoreNodeConnection

const admin = new EventStore.UserCredentials("admin", "changeit")

const silentLogger: EventStore.Logger = { debug() {}, info() {}, error() {} }

const connect = async (context: RunContext): Promise<Connection> => {
  const connection = EventStore.createConnection(
    {
      log: silentLogger,
      verboseLogging: false,
      maxReconnections: 0,
      maxRetries: 0,
      operationTimeout: 30_000,
      failOnNoServerResponse: true
    },
    `tcp://${context.host}:${context.port}`
  )
  // A closed connection emits "error" with its reason; without a listener Node would throw it.
  connection.on("error", () => {})
  const connected = new Promise<void>((resolve) => connection.once("connected", () => resolve()))
  await connection.connect()
  await connected
  return connection
}

const close = (connection: Connection): Promise<void> =>
  new Promise((resolve) => {
    // A connection stuck as in the stalled slow-subscriber run never says "closed": give up after 5 s.
    const giveUp = setTimeout(resolve, 5_000)
    connection.once("closed", () => {
      clearTimeout(giveUp)
      resolve()
    })
    connection.close()
  })

const withConnection = async <A>(context: RunContext, body: (connection: Connection) => Promise<A>): Promise<A> => {
  const connection = await connect(context)
  try {
    return await body(connection)
  } finally {
    await close(connection)
  }
}

const expectCount = (what: string, counted: number, expected: number) => {
  if (counted !== expected) throw new Error(`${what}: read ${counted} events, expected ${expected}`)
}

const appends = (params: AppendParams, context: RunContext) =>
  withConnection(context, async (connection) => {
    const stream = `bench-appends-${randomUUID()}`
    const latencies = new LatencyRecorder(params.operations)
    let sequence = 0
    const event = () => EventStore.createJsonEventData(randomUUID(), Events.body(sequence++), undefined, Events.eventType)
    const request = params.eventsPerOperation === 1
      ? () => connection.appendToStream(stream, EventStore.expectedVersion.any, event())
      : () =>
        connection.appendToStream(
          stream,
          EventStore.expectedVersion.any,
          Array.from({ length: params.eventsPerOperation }, event)
        )
    const appendAll = (operations: number) => {
      let remaining = operations
      const worker = async () => {
        while (remaining > 0) {
          remaining--
          const startedAt = performance.now()
          await request()
          latencies.record(performance.now() - startedAt)
        }
      }
      return Promise.all(Array.from({ length: params.concurrency }, worker))
    }

    await appendAll(params.warmupOperations)
    latencies.reset()
    const section = new TimedSection(context)
    await section.begin()
    await appendAll(params.operations)
    return section.end({
      events: params.operations * params.eventsPerOperation,
      requests: params.operations,
      latency: latencies.summary()
    })
  })

/** Reads a stream to its end page by page, counting the events. */
const readPages = async (connection: Connection, stream: string, pageSize: number) => {
  let events = 0
  let requests = 0
  let from: number | EventStore.StreamEventsSlice["nextEventNumber"] = 0
  while (true) {
    const slice = await connection.readStreamEventsForward(stream, from, pageSize, true)
    requests++
    events += slice.events.length
    if (slice.isEndOfStream) break
    from = slice.nextEventNumber
  }
  return { events, requests }
}

/** Reads the first `count` events of `$all` page by page, counting them. */
const readAll = async (connection: Connection, count: number, pageSize: number) => {
  let events = 0
  let requests = 0
  let position = EventStore.positions.start
  while (events < count) {
    const slice = await connection.readAllEventsForward(position, pageSize, false, admin)
    requests++
    events += Math.min(slice.events.length, count - events)
    if (slice.isEndOfStream) break
    position = slice.nextPosition
  }
  return { events, requests }
}

/**
 * Subscribes to a stream from its start (`subscribeToStreamFrom`) and counts events until `count` have
 * arrived, then stops the subscription. A drop before that fails the run.
 */
const catchUp = (connection: Connection, stream: string, count: number, readBatchSize: number) =>
  new Promise<{ events: number; requests: number }>((resolve, reject) => {
    let events = 0
    const subscription = connection.subscribeToStreamFrom(
      stream,
      null,
      true,
      () => {
        events++
        if (events === count) {
          subscription.stop()
          resolve({ events, requests: Math.ceil(events / readBatchSize) })
        }
      },
      undefined,
      (_, reason, error) => {
        if (events < count) reject(new Error(`${stream}: subscription dropped (${reason}) after ${events} events: ${error}`))
      },
      undefined,
      readBatchSize
    )
  })

/**
 * A volatile subscription (`subscribeToStream`) to a fresh stream, and a writer that appends each
 * event once the one before is both confirmed and received: the subscriber stamps each arrival, the
 * writer waits for the stamp after its append is confirmed.
 */
const liveLatency = (params: LiveLatencyParams, context: RunContext) =>
  withConnection(context, async (connection) => {
    const stream = `bench-live-${randomUUID()}`
    const arrivals: Array<number> = []
    let waiting: ((arrivedAt: number) => void) | undefined
    let dropped: Error | undefined
    const subscription = await connection.subscribeToStream(
      stream,
      false,
      () => {
        const arrivedAt = performance.now()
        if (waiting === undefined) {
          arrivals.push(arrivedAt)
        } else {
          const resume = waiting
          waiting = undefined
          resume(arrivedAt)
        }
      },
      (_, reason, error) => {
        dropped = new Error(`${stream}: subscription dropped (${reason}): ${error}`)
      }
    )
    const nextArrival = () =>
      arrivals.length > 0
        ? Promise.resolve(arrivals.shift()!)
        : new Promise<number>((resolve) => {
          waiting = resolve
        })
    const latencies = new LatencyRecorder(params.events)
    let sequence = 0
    const oneByOne = async (events: number) => {
      for (let i = 0; i < events; i++) {
        if (dropped !== undefined) throw dropped
        const startedAt = performance.now()
        await connection.appendToStream(
          stream,
          EventStore.expectedVersion.any,
          EventStore.createJsonEventData(randomUUID(), Events.body(sequence++), undefined, Events.eventType)
        )
        latencies.record((await nextArrival()) - startedAt)
      }
    }
    await oneByOne(params.warmupEvents)
    latencies.reset()
    const section = new TimedSection(context)
    await section.begin()
    await oneByOne(params.events)
    const measurement = await section.end({ events: params.events, requests: params.events, latency: latencies.summary() })
    subscription.unsubscribe()
    return measurement
  })

/** The group settings photonpump's defaults give (those of the .NET client), starting from event 0. */
const groupSettings = new EventStore.PersistentSubscriptionSettings(
  false,
  0,
  false,
  30_000,
  10,
  500,
  20,
  500,
  2_000,
  10,
  1_000,
  0,
  EventStore.SystemConsumerStrategies.RoundRobin
)

/**
 * Consumes `count` events of a persistent subscription group with explicit acks (autoAck off), then
 * reads one event on the same connection: the server handles a connection's frames in order, so that
 * reply comes once the last ack has been processed (the client has no ping).
 */
const consumeGroup = (connection: Connection, stream: string, group: string, count: number, bufferSize: number) =>
  new Promise<{ events: number; requests: number }>((resolve, reject) => {
    let events = 0
    void connection.connectToPersistentSubscription(
      stream,
      group,
      (subscription, event) => {
        subscription.acknowledge(event)
        events++
        if (events === count) {
          connection.readStreamEventsForward(stream, 0, 1, false).then(() => {
            subscription.stop()
            resolve({ events, requests: events })
          }, reject)
        }
      },
      (_, reason, error) => {
        if (events < count) reject(new Error(`${stream}: subscription dropped (${reason}) after ${events} events: ${error}`))
      },
      admin,
      bufferSize,
      false
    ).catch(reject)
  })

const persistent = (params: PersistentParams, context: RunContext) =>
  withConnection(context, async (connection) => {
    for (const seed of [params.warmup, params]) {
      await connection.createPersistentSubscription(seed.stream, params.group, groupSettings, admin)
    }
    await consumeGroup(connection, params.warmup.stream, params.group, params.warmup.events, params.bufferSize)
    const section = new TimedSection(context)
    await section.begin()
    const counted = await consumeGroup(connection, params.stream, params.group, params.events, params.bufferSize)
    const measurement = await section.end(counted)
    expectCount(params.stream, counted.events, params.events)
    return measurement
  })

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/**
 * A catch-up subscription (`subscribeToStreamFrom`) from the start of a fresh stream that pauses
 * every `pauseEvery` events (its handler returns a promise, which the client awaits) while the server
 * appends as fast as it can, from the moment the subscription is live. The client drops the
 * subscription (ProcessingQueueOverflow) once 10,000 live events wait; the subscriber then restarts
 * from the last event it processed, and the restarts are counted.
 *
 * Against a writer in another process, the connection has been seen to close under the flood (the
 * subscription drops with `catchUpError`, "connection is closed"), and a resubscribed catch-up to
 * deliver nothing more: either ends the run as `stalled`, with the events it did process (after 10 s
 * without progress, for the second), rather than failing or hanging the bench.
 */
const slowSubscriber = (params: SlowSubscriberParams, context: RunContext) =>
  withConnection(context, async (connection) => {
    const stream = `bench-slow-${randomUUID()}`
    const section = new TimedSection(context)
    const sampler = new MemorySampler()
    await section.begin()
    sampler.start()
    let writer: Promise<void> | undefined
    let processed = 0
    let restarts = 0
    let stalled = false
    let checkpoint: EventStore.ResolvedEvent["originalEventNumber"] | null = null
    await new Promise<void>((resolve) => {
      let lastProgress = -1
      const watchdog = setInterval(() => {
        if (processed === lastProgress) {
          stalled = true
          finish()
        }
        lastProgress = processed
      }, 10_000)
      const finish = () => {
        clearInterval(watchdog)
        resolve()
      }
      const subscribe = () => {
        const subscription = connection.subscribeToStreamFrom(
          stream,
          checkpoint,
          false,
          (_, event) => {
            processed++
            checkpoint = event.originalEventNumber
            if (processed === params.events) {
              subscription.stop()
              finish()
              return
            }
            return processed % params.pauseEvery === 0 ? sleep(params.pauseMillis) : undefined
          },
          () => {
            writer ??= context.appendInServer(stream, params.events)
          },
          (_, reason, error) => {
            if (processed >= params.events) return
            // The reason as the client spells it (its typings do not export the enumeration).
            if (reason === "processingQueueOverflow") {
              restarts++
              subscribe()
            } else {
              // Seen: the connection itself closes under the flood ("catchUpError ... is closed"); with
              // no reconnection the run cannot go on. Cut short and reported as stalled, with the reason.
              console.error(`${stream}: subscription dropped (${reason}) after ${processed} events: ${error}`)
              stalled = true
              finish()
            }
          }
        )
      }
      subscribe()
    })
    await (writer ?? Promise.resolve())
    const memory = sampler.stop()
    const measurement = await section.end({ events: processed, requests: processed, memory, restarts, stalled })
    if (!stalled) expectCount(stream, processed, params.events)
    return measurement
  })

/**
 * node-eventstore-client's implementations.
 *
 * @since 0.1.0
 * @category contenders
 */
export const implementations: Implementations = {
  appends,

  streamRead: (params, context) =>
    withConnection(context, async (connection) => {
      for (let pass = 0; pass < params.warmupPasses; pass++) await readPages(connection, params.warmup.stream, params.pageSize)
      const section = new TimedSection(context)
      await section.begin()
      const counted = await readPages(connection, params.stream, params.pageSize)
      const measurement = await section.end(counted)
      expectCount(params.stream, counted.events, params.events)
      return measurement
    }),

  allRead: (params, context) =>
    withConnection(context, async (connection) => {
      for (let pass = 0; pass < params.warmupPasses; pass++) await readAll(connection, params.warmupEvents, params.pageSize)
      const section = new TimedSection(context)
      await section.begin()
      const counted = await readAll(connection, params.events, params.pageSize)
      const measurement = await section.end(counted)
      expectCount("$all", counted.events, params.events)
      return measurement
    }),

  catchUp: (params, context) =>
    withConnection(context, async (connection) => {
      await catchUp(connection, params.warmup.stream, params.warmup.events, params.readBatchSize)
      const section = new TimedSection(context)
      await section.begin()
      const counted = await catchUp(connection, params.stream, params.events, params.readBatchSize)
      const measurement = await section.end(counted)
      expectCount(params.stream, counted.events, params.events)
      return measurement
    }),

  liveLatency,

  persistent,

  slowSubscriber,

  memoryRead: (params, context) =>
    withConnection(context, async (connection) => {
      const warmed = await readPages(connection, params.warmup.stream, params.pageSize)
      expectCount(params.warmup.stream, warmed.events, params.warmup.events)
      const section = new TimedSection(context)
      const sampler = new MemorySampler()
      await section.begin()
      sampler.start()
      const counted = await readPages(connection, params.stream, params.pageSize)
      const memory = sampler.stop()
      const measurement = await section.end({ ...counted, memory })
      expectCount(params.stream, counted.events, params.events)
      return measurement
    })
}
