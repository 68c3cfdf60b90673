/**
 * Calls between the bench's processes over Node's IPC channel: the orchestrator, the server process
 * and one runner process per contender. Either side may call the other (a runner asks the orchestrator
 * to read the server's CPU clock at the edges of its timed section), so every process has a `Peer`
 * that both answers and asks.
 *
 * @since 0.1.0
 */
import type { ChildProcess } from "node:child_process"

type Message =
  | { readonly kind: "call"; readonly id: number; readonly method: string; readonly argument: unknown }
  | { readonly kind: "reply"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly kind: "reply"; readonly id: number; readonly ok: false; readonly error: string }

/** Something that can send and receive IPC messages: a child process, or `process` inside a child. */
interface Channel {
  send?: ((message: Message) => boolean) | undefined
  on(event: "message", listener: (message: Message) => void): unknown
  on(event: "exit" | "disconnect", listener: () => void): unknown
}

/**
 * One end of an IPC channel.
 *
 * @since 0.1.0
 * @category models
 */
export interface Peer {
  /** Calls `method` on the other side and waits for its answer (its error is rethrown here). */
  readonly call: <A>(method: string, argument?: unknown) => Promise<A>
  /** Answers calls of `method` from the other side. */
  readonly handle: (method: string, handler: (argument: any) => unknown) => void
}

/**
 * Makes a peer of a channel: a `ChildProcess` in the parent, `process` in a child.
 *
 * @since 0.1.0
 * @category constructors
 */
export const peer = (channel: ChildProcess | NodeJS.Process, name: string): Peer => {
  const ipc = channel as unknown as Channel
  const handlers = new Map<string, (argument: unknown) => unknown>()
  const waiting = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>()
  let nextId = 0

  const send = (message: Message) => {
    if (ipc.send === undefined) throw new Error(`${name}: no IPC channel (was this process forked?)`)
    ipc.send(message)
  }

  const goneAway = () => {
    for (const [, waiter] of waiting) waiter.reject(new Error(`${name} went away`))
    waiting.clear()
  }
  ipc.on("exit", goneAway)
  ipc.on("disconnect", goneAway)

  ipc.on("message", (message: Message) => {
    if (message.kind === "reply") {
      const waiter = waiting.get(message.id)
      if (waiter === undefined) return
      waiting.delete(message.id)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`${name}: ${message.error}`))
      return
    }
    const handler = handlers.get(message.method)
    const answer = (promise: Promise<unknown>) =>
      promise.then(
        (value) => send({ kind: "reply", id: message.id, ok: true, value }),
        (error: unknown) =>
          send({
            kind: "reply",
            id: message.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error)
          })
      )
    if (handler === undefined) {
      void answer(Promise.reject(new Error(`no handler for ${message.method}`)))
    } else {
      void answer(Promise.resolve().then(() => handler(message.argument)))
    }
  })

  return {
    call: (method, argument) =>
      new Promise((resolve, reject) => {
        const id = nextId++
        waiting.set(id, { resolve, reject })
        send({ kind: "call", id, method, argument })
      }),
    handle: (method, handler) => {
      handlers.set(method, handler)
    }
  }
}
