/**
 * A contender's process (forked by the orchestrator, `node Runner.js <contender>`): it loads only that
 * contender's code, so the contenders never share a heap, a JIT or an event loop, and it runs the
 * workloads it is sent. The orchestrator answers its questions about the server (CPU clock, stream
 * lengths). Disconnecting the IPC channel ends the process.
 *
 * @since 0.1.0
 */
import * as Contender from "./Contender.ts"
import * as Ipc from "./Ipc.ts"
import type { Params } from "./Workload.ts"

const loaders: Record<Contender.Name, () => Promise<Contender.Implementations>> = {
  "photonpump": () => import("./contenders/Photonpump.ts").then((module) => module.implementations),
  "node-eventstore-client": () =>
    import("./contenders/NodeEventStoreClient.ts").then((module) => module.implementations),
  "raw-socket": () => import("./contenders/RawSocket.ts").then((module) => module.implementations),
  "raw-socket-one-page": () => import("./contenders/RawSocket.ts").then((module) => module.onePageImplementations)
}

const name = process.argv[2] as Contender.Name
const load = loaders[name]
if (load === undefined) throw new Error(`unknown contender ${name}`)
const implementations = await load()
const parent = Ipc.peer(process, "orchestrator")

parent.handle("families", () => Object.keys(implementations))

parent.handle("run", ({ params, host, port, profile }: { params: Params; host: string; port: number; profile?: string }) =>
  Contender.run(implementations, params, {
    host,
    port,
    sectionProfile: profile,
    serverCpu: () => parent.call<number>("serverCpu"),
    lastEventNumber: (stream) => parent.call<number>("lastEventNumber", stream),
    appendInServer: (stream, events) => parent.call<void>("append", { stream, events })
  }))

process.on("disconnect", () => {
  // Exit on our own (rather than being killed) so that --cpu-prof can write its profile.
  setTimeout(() => process.exit(0), 1_000).unref()
})
