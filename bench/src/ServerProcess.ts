/**
 * The embedded server, in a process of its own (forked by the orchestrator): the server's work then
 * never shares an event loop or a heap with the contender being measured, its CPU time can be read
 * on its own (`process.cpuUsage`), and it can be profiled on its own (`--cpu-prof`).
 *
 * The orchestrator calls `start`, `seed` (streams written straight into the store, no wire), `append`
 * (the same, for a runner, while its subscriber runs), `cpu` and `lastEventNumber`; disconnecting the IPC channel stops the server and ends the process.
 *
 * @since 0.1.0
 */
import { randomFillSync } from "node:crypto"
import { EventStoreServer, Store } from "@photonpump/server"
import * as Events from "./Events.ts"
import * as Ipc from "./Ipc.ts"

const parent = Ipc.peer(process, "orchestrator")
let server: EventStoreServer.Started | undefined

const running = (): EventStoreServer.Started => {
  if (server === undefined) throw new Error("the server has not been started")
  return server
}

parent.handle("start", async () => {
  server = await EventStoreServer.start({ port: 0 })
  return { host: server.host, port: server.port }
})

/** Appends `events` events to `stream` in batches of 1,000, calling `between` after each batch. */
const appendBatches = async (stream: string, events: number, between: () => Promise<void> | void) => {
  const store = running().store
  const batch = 1_000
  for (let first = 0; first < events; first += batch) {
    const proposed: Array<Store.ProposedEvent> = []
    // One draw of random bytes per batch: one per event id would cost more than the rest of seeding.
    const ids = randomFillSync(new Uint8Array(16 * batch))
    for (let i = first; i < Math.min(events, first + batch); i++) {
      proposed.push({
        eventId: ids.subarray(16 * (i - first), 16 * (i - first + 1)),
        eventType: Events.eventType,
        isJson: true,
        data: Events.bodyBytes(i),
        metadata: new Uint8Array(0)
      })
    }
    const result = store.append(stream, Store.ExpectedVersion.Any, proposed)
    if (result.status !== "Success") throw new Error(`appending to ${stream}: ${result.status}`)
    await between()
  }
  return store.lastEventNumber(stream)
}

parent.handle("seed", ({ stream, events }: { stream: string; events: number }) => appendBatches(stream, events, () => {}))

// A writer racing live subscribers: the event loop turns between batches, so that the server sends
// what each batch gave its subscribers while the writer goes on.
parent.handle("append", ({ stream, events }: { stream: string; events: number }) =>
  appendBatches(stream, events, () => new Promise<void>((resolve) => setImmediate(resolve))))

parent.handle("cpu", () => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
})

parent.handle("lastEventNumber", (stream: string) => running().store.lastEventNumber(stream))

process.on("disconnect", () => {
  void (server?.close() ?? Promise.resolve()).then(() => {
    // Exit on our own (rather than being killed) so that --cpu-prof can write its profile.
    setTimeout(() => process.exit(0), 1_000).unref()
  })
})
