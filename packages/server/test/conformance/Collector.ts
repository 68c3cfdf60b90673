/**
 * What subscription callbacks deliver, collected in arrival order, with waits on conditions over it
 * that fail after the operation timeout instead of sleeping: the subscription tests wait for the n-th
 * event or for a drop, never for time to pass.
 */
import { operationTimeoutMillis } from "./Harness.ts"

interface Waiter<A> {
  readonly done: (items: ReadonlyArray<A>) => boolean
  readonly resolve: () => void
}

/** Items pushed by callbacks, and waits for a condition on them. */
export class Collector<A> {
  readonly #items: Array<A> = []
  readonly #waiters = new Set<Waiter<A>>()

  /** Everything collected so far, in arrival order. */
  get items(): ReadonlyArray<A> {
    return this.#items
  }

  /** Adds an item and wakes the waits it satisfies. */
  readonly push = (item: A): void => {
    this.#items.push(item)
    for (const waiter of this.#waiters) {
      if (waiter.done(this.#items)) {
        this.#waiters.delete(waiter)
        waiter.resolve()
      }
    }
  }

  /** Waits until `done` holds for the items collected, failing with `what` after the operation timeout. */
  until(done: (items: ReadonlyArray<A>) => boolean, what: string): Promise<ReadonlyArray<A>> {
    if (done(this.#items)) return Promise.resolve(this.#items)
    return new Promise((resolve, reject) => {
      const waiter: Waiter<A> = {
        done,
        resolve: () => {
          clearTimeout(timer)
          resolve(this.#items)
        }
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        reject(new Error(`timed out waiting for ${what}; collected ${this.#items.length}: ${describe(this.#items)}`))
      }, operationTimeoutMillis)
      this.#waiters.add(waiter)
    })
  }

  /** Waits until at least `count` items have arrived. */
  atLeast(count: number, what = `${count} items`): Promise<ReadonlyArray<A>> {
    return this.until((items) => items.length >= count, what)
  }

  /** Waits for an item matching `predicate` and gives back the first such item. */
  async find(predicate: (item: A) => boolean, what: string): Promise<A> {
    const items = await this.until((items) => items.some(predicate), what)
    return items.find(predicate)!
  }
}

const describe = (items: ReadonlyArray<unknown>): string => {
  const text = JSON.stringify(items.slice(-20), (_, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value
  )
  return text === undefined ? "" : text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text
}

/**
 * Polls `check` until it gives a value other than `undefined`, failing with `what` after the
 * operation timeout: for state the server keeps in streams (checkpoints, parked messages), which no
 * callback announces.
 */
export const eventually = async <A>(check: () => Promise<A | undefined>, what: string): Promise<A> => {
  const deadline = Date.now() + operationTimeoutMillis
  let delay = 5
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, delay))
    delay = Math.min(delay * 2, 100)
  }
}
