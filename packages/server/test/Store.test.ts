/**
 * The store as plain functions: the expected-version decision table (docs/protocol.md 4.2), positions
 * (4.3), the read formulas with the document's worked examples (4.4, 4.5), deletes (4.6), metadata
 * (4.7), links (4.8), transactions (4.10) and the live feed of committed events.
 */
import { assert, describe, it } from "@effect/vitest"
import { Guid, Link } from "@photonpump/protocol"
import { Store, StreamMetadata } from "@photonpump/server"
import * as Result from "effect/Result"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const event = (eventType = "test", data: unknown = {}): Store.ProposedEvent => ({
  eventId: Result.getOrThrow(Guid.toWire(Guid.random())),
  eventType,
  isJson: true,
  data: encoder.encode(JSON.stringify(data)),
  metadata: new Uint8Array(0)
})

/** The n-th of a series of distinct event ids: cheaper than random GUIDs for 150,000 events. */
const countedId = (n: number): Uint8Array => {
  const id = new Uint8Array(16)
  new DataView(id.buffer).setUint32(0, n + 1, true)
  id[15] = 0xaa
  return id
}

const nth = (n: number): Store.ProposedEvent => ({ ...event(), eventId: countedId(n) })

const events = (n: number, eventType = "test") => Array.from({ length: n }, (_, i) => event(eventType, { i }))

const metadataEvent = (json: unknown): Store.ProposedEvent => ({
  ...event("$metadata"),
  data: encoder.encode(typeof json === "string" ? json : JSON.stringify(json))
})

const success = (result: Store.WriteResult | Store.CommitResult) => {
  if (result.status !== "Success") throw new Error(`Expected Success, got ${result.status}`)
  return result
}

const slice = (result: Store.StreamSlice) => {
  if (result.status !== "Success") throw new Error(`Expected Success, got ${result.status}`)
  return result
}

const allSlice = (result: Store.AllSlice) => {
  if (result.status !== "Success") throw new Error(`Expected Success, got ${result.status}`)
  return result
}

const numbers = (page: { readonly events: ReadonlyArray<Store.RecordedEvent> }) =>
  page.events.map((e) => e.eventNumber)

const { Any, NoStream, StreamExists } = Store.ExpectedVersion

const withTen = () => {
  const store = Store.make()
  success(store.append("s", NoStream, events(10)))
  return store
}

const truncated = () => {
  const store = withTen()
  success(store.append("$$s", Any, [metadataEvent({ $maxCount: 3 })]))
  return store
}

const link = (target: string, eventType = Link.eventType): Store.ProposedEvent => ({
  ...event(eventType),
  isJson: false,
  data: encoder.encode(target)
})

const metadataOf = (store: Store.Store, stream: string) => {
  const read = store.readEvent("$$" + stream, -1)
  if (read.status !== "Success" || read.event === undefined) return undefined
  return { version: read.event.eventNumber, json: JSON.parse(decoder.decode(read.event.data)) }
}

describe("Store", () => {
  describe("expected version", () => {
    it("NoStream creates a stream and numbers its events from 0", () => {
      const store = Store.make()
      const result = success(store.append("s", NoStream, events(3)))
      assert.strictEqual(result.firstEventNumber, 0)
      assert.strictEqual(result.lastEventNumber, 2)
      assert.strictEqual(store.lastEventNumber("s"), 2)
    })

    it("NoStream on an existing stream is a wrong expected version carrying the current version", () => {
      const store = withTen()
      assert.deepStrictEqual(store.append("s", NoStream, events(1)), {
        status: "WrongExpectedVersion",
        currentVersion: 9
      })
    })

    it("an exact version equal to the last event number appends", () => {
      const store = withTen()
      const result = success(store.append("s", 9, events(2)))
      assert.strictEqual(result.firstEventNumber, 10)
      assert.strictEqual(result.lastEventNumber, 11)
    })

    it("an exact version above the last event number is a wrong expected version", () => {
      const store = withTen()
      assert.deepStrictEqual(store.append("s", 10, events(1)), { status: "WrongExpectedVersion", currentVersion: 9 })
      assert.deepStrictEqual(store.append("new", 0, events(1)), { status: "WrongExpectedVersion", currentVersion: -1 })
    })

    it("Any appends whatever the stream's state", () => {
      const store = Store.make()
      assert.strictEqual(success(store.append("s", Any, events(1))).firstEventNumber, 0)
      assert.strictEqual(success(store.append("s", Any, events(1))).firstEventNumber, 1)
    })

    it("StreamExists fails on a missing stream and succeeds on an existing one", () => {
      const store = Store.make()
      assert.deepStrictEqual(store.append("s", StreamExists, events(1)), {
        status: "WrongExpectedVersion",
        currentVersion: -1
      })
      success(store.append("s", NoStream, events(1)))
      assert.strictEqual(success(store.append("s", StreamExists, events(1))).firstEventNumber, 1)
    })

    it("StreamExists counts a stream that only has metadata as existing", () => {
      const store = Store.make()
      success(store.append("$$s", NoStream, [metadataEvent({ custom: 1 })]))
      assert.strictEqual(success(store.append("s", StreamExists, events(1))).firstEventNumber, 0)
    })

    it("StreamExists on a soft-deleted stream is StreamDeleted", () => {
      const store = withTen()
      success(store.deleteStream("s", Any, false))
      assert.deepStrictEqual(store.append("s", StreamExists, events(1)), { status: "StreamDeleted" })
    })

    it("every write to a hard-deleted stream is StreamDeleted, including its metadata", () => {
      const store = withTen()
      success(store.deleteStream("s", Any, true))
      for (const expected of [Any, NoStream, StreamExists, 9, 10]) {
        assert.deepStrictEqual(store.append("s", expected, events(1)), { status: "StreamDeleted" })
      }
      assert.deepStrictEqual(store.append("$$s", Any, [metadataEvent({})]), { status: "StreamDeleted" })
    })

    describe("idempotency", () => {
      it("re-sending with NoStream reports the original numbers and position and writes nothing", () => {
        const store = Store.make()
        const batch = events(3)
        const first = success(store.append("s", NoStream, batch))
        const again = success(store.append("s", NoStream, batch))
        assert.deepStrictEqual(again, first)
        assert.strictEqual(store.lastEventNumber("s"), 2)
      })

      it("re-sending with the exact version of the original write is idempotent", () => {
        const store = withTen()
        const batch = events(2)
        const first = success(store.append("s", 9, batch))
        const again = success(store.append("s", 9, batch))
        assert.deepStrictEqual(again, first)
        assert.strictEqual(store.lastEventNumber("s"), 11)
      })

      it("re-sending a prefix of what was written is idempotent for that prefix", () => {
        const store = Store.make()
        const batch = events(3)
        success(store.append("s", NoStream, batch))
        const again = success(store.append("s", NoStream, batch.slice(0, 2)))
        assert.strictEqual(again.firstEventNumber, 0)
        assert.strictEqual(again.lastEventNumber, 1)
      })

      it("with an exact version, a first id that differs is a wrong expected version", () => {
        const store = withTen()
        assert.deepStrictEqual(store.append("s", 4, events(1)), { status: "WrongExpectedVersion", currentVersion: 9 })
      })

      it("with an exact version, a later id that differs (or runs past the end) is a wrong expected version", () => {
        const store = Store.make()
        const batch = events(2)
        success(store.append("s", NoStream, batch))
        assert.deepStrictEqual(store.append("s", NoStream, [batch[0]!, event()]), {
          status: "WrongExpectedVersion",
          currentVersion: 1
        })
        assert.deepStrictEqual(store.append("s", NoStream, [...batch, event()]), {
          status: "WrongExpectedVersion",
          currentVersion: 1
        })
      })

      it("with an exact version below the current one, an empty list is a wrong expected version", () => {
        const store = withTen()
        assert.deepStrictEqual(store.append("s", 3, []), { status: "WrongExpectedVersion", currentVersion: 9 })
      })

      it("re-sending with Any is idempotent and reports the original numbers and position", () => {
        const store = withTen()
        const batch = events(2)
        const first = success(store.append("s", Any, batch))
        success(store.append("s", Any, events(5)))
        const again = success(store.append("s", Any, batch))
        assert.deepStrictEqual(again, first)
        assert.strictEqual(store.lastEventNumber("s"), 16)
      })

      it("with Any, a known first id followed by an unknown one is a wrong expected version", () => {
        const store = withTen()
        const batch = events(1)
        success(store.append("s", Any, batch))
        assert.deepStrictEqual(store.append("s", Any, [batch[0]!, event()]), {
          status: "WrongExpectedVersion",
          currentVersion: 10
        })
      })

      it("with Any, ids known in another stream are written as new events", () => {
        const store = Store.make()
        const batch = events(2)
        success(store.append("a", Any, batch))
        const other = success(store.append("b", Any, batch))
        assert.strictEqual(other.firstEventNumber, 0)
        assert.strictEqual(store.lastEventNumber("b"), 1)
      })

      it("the cache of ids for Any forgets the oldest ids once it is full and keeps the newest", () => {
        const store = Store.make()
        const size = Store.idempotencyCacheSize
        const extra = 5
        const written = size + extra
        for (let start = 0; start < written; start += 1000) {
          const batch = Array.from({ length: Math.min(1000, written - start) }, (_, i) => nth(start + i))
          success(store.append("s", Any, batch))
        }
        assert.strictEqual(store.lastEventNumber("s"), written - 1)
        // The newest `size` ids are remembered: the oldest of them and the last are idempotent.
        for (const n of [extra, written - 1]) {
          const again = success(store.append("s", Any, [nth(n)]))
          assert.strictEqual(again.firstEventNumber, n)
          assert.strictEqual(again.lastEventNumber, n)
        }
        assert.strictEqual(store.lastEventNumber("s"), written - 1)
        // The first `extra` were evicted: not known any more, so a re-send with Any writes them again
        // (docs/protocol.md 4.2, step 3).
        for (let n = 0; n < extra; n++) {
          const again = success(store.append("s", Any, [nth(n)]))
          assert.strictEqual(again.firstEventNumber, written + n)
        }
        assert.strictEqual(store.lastEventNumber("s"), written + extra - 1)
        // The re-sent events are remembered again, under their new numbers.
        assert.strictEqual(success(store.append("s", Any, [nth(0)])).firstEventNumber, written)
      })

      it("an id remembered twice stays remembered when its older entry is evicted", () => {
        const store = Store.make()
        const size = Store.idempotencyCacheSize
        const twice = event()
        success(store.append("a", Any, [twice]))
        // The same id in another stream replaces the cache's entry for it.
        success(store.append("b", Any, [twice]))
        for (let start = 0; start < size - 2; start += 1000) {
          success(store.append("filler", Any, events(Math.min(1000, size - 2 - start))))
        }
        // One more event evicts the first entry (stream "a"); the entry for "b" is younger.
        success(store.append("filler", Any, events(1)))
        assert.strictEqual(success(store.append("b", Any, [twice])).firstEventNumber, 0)
        assert.strictEqual(store.lastEventNumber("b"), 0)
        assert.strictEqual(success(store.append("a", Any, [twice])).firstEventNumber, 1)
      })

      it("re-sending with the version that is now current appends duplicates", () => {
        const store = Store.make()
        const batch = events(1)
        success(store.append("s", NoStream, batch))
        const duplicate = success(store.append("s", 0, batch))
        assert.strictEqual(duplicate.firstEventNumber, 1)
        assert.strictEqual(store.lastEventNumber("s"), 1)
      })
    })

    it("an empty write reports first = current + 1 and last = current", () => {
      const store = withTen()
      const result = success(store.append("s", Any, []))
      assert.strictEqual(result.firstEventNumber, 10)
      assert.strictEqual(result.lastEventNumber, 9)
      const fresh = success(store.append("fresh", NoStream, []))
      assert.strictEqual(fresh.firstEventNumber, 0)
      assert.strictEqual(fresh.lastEventNumber, -1)
    })
  })

  describe("positions", () => {
    it("gives each event commit = prepare = the offset of its own record, after the epoch record", () => {
      const store = Store.make()
      const a = event("a", { x: 1 })
      const b = event("b", { y: 2 })
      success(store.append("s", NoStream, [a, b]))
      const [first, second] = slice(store.readStreamForward("s", 0, 2)).events
      assert.strictEqual(first!.commitPosition, Store.epochRecordSize)
      assert.strictEqual(first!.preparePosition, first!.commitPosition)
      const firstSize = Store.recordOverhead + "s".length + "a".length + a.data.length
      assert.strictEqual(first!.size, firstSize)
      assert.strictEqual(second!.commitPosition, first!.commitPosition + firstSize)
      assert.strictEqual(store.writerCheckpoint, second!.commitPosition + second!.size)
    })

    it("reports the position of the last event of a write, and keeps it as the last commit position", () => {
      const store = Store.make()
      const result = success(store.append("s", NoStream, events(3)))
      const last = slice(store.readStreamBackward("s", -1, 1)).events[0]!
      assert.strictEqual(result.position, last.commitPosition)
      assert.strictEqual(store.lastCommitPosition, last.commitPosition)
    })

    it("moves the writer but not the last commit position on an empty write", () => {
      const store = withTen()
      const lastCommit = store.lastCommitPosition
      const writer = store.writerCheckpoint
      const result = success(store.append("s", Any, []))
      assert.strictEqual(result.position, writer)
      assert.isTrue(store.writerCheckpoint > writer)
      assert.strictEqual(store.lastCommitPosition, lastCommit)
    })

    it("strictly increases across streams", () => {
      const store = Store.make()
      success(store.append("a", Any, events(2)))
      success(store.append("b", Any, events(2)))
      success(store.append("a", Any, events(2)))
      const all = allSlice(store.readAllForward(0, 0, 100)).events
      for (let i = 1; i < all.length; i++) assert.isTrue(all[i]!.commitPosition > all[i - 1]!.commitPosition)
      assert.deepStrictEqual(all.map((e) => e.streamId), ["a", "a", "b", "b", "a", "a"])
    })

    it("counts stream ids and event types in UTF-8 bytes", () => {
      const store = Store.make()
      const proposed = event("é")
      success(store.append("ü", NoStream, [proposed]))
      const recorded = slice(store.readStreamForward("ü", 0, 1)).events[0]!
      assert.strictEqual(recorded.size, Store.recordOverhead + 2 + 2 + proposed.data.length)
    })
  })

  describe("stream reads", () => {
    it("forward: the worked examples of docs/protocol.md 4.4", () => {
      const store = withTen()
      const first = slice(store.readStreamForward("s", 0, 5))
      assert.deepStrictEqual(numbers(first), [0, 1, 2, 3, 4])
      assert.strictEqual(first.nextEventNumber, 5)
      assert.isFalse(first.isEndOfStream)
      const second = slice(store.readStreamForward("s", 5, 5))
      assert.deepStrictEqual(numbers(second), [5, 6, 7, 8, 9])
      assert.strictEqual(second.nextEventNumber, 10)
      assert.isTrue(second.isEndOfStream)
      const beyond = slice(store.readStreamForward("s", 20, 10))
      assert.deepStrictEqual(numbers(beyond), [])
      assert.strictEqual(beyond.nextEventNumber, 10)
      assert.isTrue(beyond.isEndOfStream)
      assert.strictEqual(beyond.lastEventNumber, 9)
    })

    it("backward: the worked examples of docs/protocol.md 4.4", () => {
      const store = withTen()
      const first = slice(store.readStreamBackward("s", -1, 5))
      assert.deepStrictEqual(numbers(first), [9, 8, 7, 6, 5])
      assert.strictEqual(first.nextEventNumber, 4)
      assert.isFalse(first.isEndOfStream)
      const second = slice(store.readStreamBackward("s", 4, 5))
      assert.deepStrictEqual(numbers(second), [4, 3, 2, 1, 0])
      assert.strictEqual(second.nextEventNumber, -1)
      assert.isTrue(second.isEndOfStream)
    })

    it("backward from beyond the end returns what exists, newest first", () => {
      const store = withTen()
      const page = slice(store.readStreamBackward("s", 15, 10))
      assert.deepStrictEqual(numbers(page), [9, 8, 7, 6])
      assert.strictEqual(page.nextEventNumber, 5)
      assert.isFalse(page.isEndOfStream)
    })

    it("reads a missing stream as NoStream with last event number -1", () => {
      const store = Store.make()
      assert.deepStrictEqual(store.readStreamForward("nope", 0, 10), { status: "NoStream", lastEventNumber: -1 })
      assert.deepStrictEqual(store.readStreamBackward("nope", -1, 10), { status: "NoStream", lastEventNumber: -1 })
    })

    describe("$maxCount", () => {

      it("hides all but the last $maxCount events from forward reads", () => {
        const store = truncated()
        const page = slice(store.readStreamForward("s", 0, 100))
        assert.deepStrictEqual(numbers(page), [7, 8, 9])
        assert.strictEqual(page.nextEventNumber, 10)
        assert.isTrue(page.isEndOfStream)
      })

      it("answers a forward page that ends before the first readable event with next = that event", () => {
        const store = truncated()
        const page = slice(store.readStreamForward("s", 0, 5))
        assert.deepStrictEqual(numbers(page), [])
        assert.strictEqual(page.nextEventNumber, 7)
        assert.isFalse(page.isEndOfStream)
      })

      it("ends backward reads at the first readable event", () => {
        const store = truncated()
        const page = slice(store.readStreamBackward("s", -1, 100))
        assert.deepStrictEqual(numbers(page), [9, 8, 7])
        assert.strictEqual(page.nextEventNumber, -1)
        assert.isTrue(page.isEndOfStream)
        const before = slice(store.readStreamBackward("s", 5, 2))
        assert.deepStrictEqual(numbers(before), [])
        assert.isTrue(before.isEndOfStream)
      })

      it("makes ReadEvent answer NotFound below the first readable event", () => {
        const store = truncated()
        assert.strictEqual(store.readEvent("s", 6).status, "NotFound")
        assert.strictEqual(store.readEvent("s", 7).status, "Success")
      })
    })

    it("$tb hides the events before it", () => {
      const store = withTen()
      success(store.append("$$s", Any, [metadataEvent({ $tb: 4 })]))
      assert.deepStrictEqual(numbers(slice(store.readStreamForward("s", 0, 100))), [4, 5, 6, 7, 8, 9])
      assert.strictEqual(store.readEvent("s", 3).status, "NotFound")
    })

    it("$maxAge hides events older than it, by the store's clock", () => {
      let now = 1_000_000
      const store = Store.make({ now: () => now })
      success(store.append("s", NoStream, events(2)))
      now += 60_000
      success(store.append("s", Any, events(2)))
      success(store.append("$$s", Any, [metadataEvent({ $maxAge: 30 })]))
      const page = slice(store.readStreamForward("s", 0, 10))
      assert.deepStrictEqual(numbers(page), [2, 3])
      assert.strictEqual(store.readEvent("s", 0).status, "NotFound")
      assert.deepStrictEqual(numbers(slice(store.readStreamBackward("s", -1, 10))), [3, 2])
    })

    it("ReadEvent: -1 is the last event; numbers beyond the end are NotFound", () => {
      const store = withTen()
      const last = store.readEvent("s", -1)
      assert.strictEqual(last.status === "Success" ? last.event?.eventNumber : undefined, 9)
      assert.strictEqual(store.readEvent("s", 10).status, "NotFound")
      assert.strictEqual(store.readEvent("missing", 0).status, "NoStream")
    })

    it("reading the metadata of an existing stream that has none is Success without an event", () => {
      const store = withTen()
      assert.deepStrictEqual(store.readEvent("$$s", -1), { status: "Success", event: undefined })
      assert.deepStrictEqual(store.readEvent("$$missing", -1), { status: "NoStream" })
    })

    it("keeps only the latest event of a metastream readable", () => {
      const store = Store.make()
      success(store.append("$$s", Any, [metadataEvent({ a: 1 }), metadataEvent({ a: 2 })]))
      assert.deepStrictEqual(numbers(slice(store.readStreamForward("$$s", 0, 10))), [1])
      assert.strictEqual(store.readEvent("$$s", 0).status, "NotFound")
    })
  })

  describe("$all reads", () => {
    it("forward: returns events at or after the position; next is the end of the last record and 0", () => {
      const store = withTen()
      const first = allSlice(store.readAllForward(0, 0, 4))
      assert.deepStrictEqual(numbers(first), [0, 1, 2, 3])
      const last = first.events[3]!
      assert.deepStrictEqual(first.next, { commit: last.commitPosition + last.size, prepare: 0 })
      assert.deepStrictEqual(first.position, { commit: 0, prepare: 0 })
      const second = allSlice(store.readAllForward(first.next.commit, first.next.prepare, 100))
      assert.deepStrictEqual(numbers(second), [4, 5, 6, 7, 8, 9])
      assert.isTrue(second.isEndOfStream)
      const empty = allSlice(store.readAllForward(second.next.commit, second.next.prepare, 100))
      assert.strictEqual(empty.events.length, 0)
      assert.deepStrictEqual(empty.next, second.next)
    })

    it("forward from an event's own position includes that event", () => {
      const store = withTen()
      const third = allSlice(store.readAllForward(0, 0, 3)).events[2]!
      const page = allSlice(store.readAllForward(third.commitPosition, third.preparePosition, 1))
      assert.strictEqual(page.events[0], third)
    })

    it("backward: returns events whose record ends at or before the position; next is the last one's start", () => {
      const store = withTen()
      const first = allSlice(store.readAllBackward(-1, -1, 4))
      assert.deepStrictEqual(numbers(first), [9, 8, 7, 6])
      assert.deepStrictEqual(first.position, { commit: store.writerCheckpoint, prepare: store.writerCheckpoint })
      const sixth = first.events[3]!
      assert.deepStrictEqual(first.next, { commit: sixth.commitPosition, prepare: sixth.preparePosition })
      const second = allSlice(store.readAllBackward(first.next.commit, first.next.prepare, 100))
      assert.deepStrictEqual(numbers(second), [5, 4, 3, 2, 1, 0])
      assert.isTrue(second.isEndOfStream)
    })

    it("(-1, -1) forward is the end of the log; any other negative position is invalid", () => {
      const store = withTen()
      const end = allSlice(store.readAllForward(-1, -1, 10))
      assert.strictEqual(end.events.length, 0)
      assert.deepStrictEqual(store.readAllForward(-1, 0, 10), { status: "InvalidPosition" })
      assert.deepStrictEqual(store.readAllBackward(0, -2, 10), { status: "InvalidPosition" })
    })

    it("a filtered read looks at no more than the search window and says where to go on", () => {
      const store = Store.make()
      success(store.append("s", Any, [...events(3, "skip"), ...events(2, "keep"), ...events(3, "skip")]))
      const filter = { matches: (e: Store.RecordedEvent) => e.eventType === "keep", maxSearchWindow: 3 }
      const first = allSlice(store.readAllForward(0, 0, 10, filter))
      assert.deepStrictEqual(numbers(first), [])
      assert.isFalse(first.isEndOfStream)
      const second = allSlice(store.readAllForward(first.next.commit, first.next.prepare, 10, filter))
      assert.deepStrictEqual(numbers(second), [3, 4])
      assert.isFalse(second.isEndOfStream)
      const third = allSlice(store.readAllForward(second.next.commit, second.next.prepare, 10, filter))
      assert.deepStrictEqual(numbers(third), [])
      assert.isTrue(third.isEndOfStream)
      const backward = allSlice(store.readAllBackward(-1, -1, 10, { ...filter, maxSearchWindow: 100 }))
      assert.deepStrictEqual(numbers(backward), [4, 3])
      assert.isTrue(backward.isEndOfStream)
    })

    it("stops a filtered read at max_count matches", () => {
      const store = Store.make()
      success(store.append("s", Any, events(10, "keep")))
      const filter = { matches: () => true, maxSearchWindow: 100 }
      const page = allSlice(store.readAllForward(0, 0, 4, filter))
      assert.deepStrictEqual(numbers(page), [0, 1, 2, 3])
      assert.isFalse(page.isEndOfStream)
    })
  })

  describe("deletes", () => {
    it("a soft delete makes reads answer NoStream with the real last event number", () => {
      const store = Store.make()
      success(store.append("s", NoStream, events(2)))
      success(store.deleteStream("s", 1, false))
      assert.deepStrictEqual(store.readStreamForward("s", 0, 100), { status: "NoStream", lastEventNumber: 1 })
      assert.strictEqual(store.readEvent("s", 0).status, "NoStream")
      assert.strictEqual(metadataOf(store, "s")!.json.$tb, Number("9223372036854775807"))
      assert.isTrue(StreamMetadata.isSoftDeleted(store.metadataOf("s")))
    })

    for (const [name, expected] of [["Any", Any], ["NoStream", NoStream], ["the exact version", 1]] as const) {
      it(`writing with ${name} recreates a soft-deleted stream, numbering on and setting $tb`, () => {
        const store = Store.make()
        success(store.append("s", NoStream, events(2)))
        success(store.deleteStream("s", 1, false))
        const batch = events(3)
        const result = success(store.append("s", expected, batch))
        assert.strictEqual(result.firstEventNumber, 2)
        assert.strictEqual(result.lastEventNumber, 4)
        const page = slice(store.readStreamForward("s", 0, 100))
        assert.deepStrictEqual(numbers(page), [2, 3, 4])
        assert.strictEqual(page.lastEventNumber, 4)
        assert.deepStrictEqual(metadataOf(store, "s"), { version: 1, json: { $tb: 2 } })
      })
    }

    it("recreation happens for the first write only", () => {
      const store = Store.make()
      success(store.append("s", NoStream, events(2)))
      success(store.deleteStream("s", 1, false))
      success(store.append("s", NoStream, events(3)))
      assert.deepStrictEqual(store.append("s", NoStream, events(1)), { status: "WrongExpectedVersion", currentVersion: 4 })
    })

    it("recreation keeps the other metadata keys", () => {
      const store = Store.make()
      success(store.append("s", NoStream, events(2)))
      success(store.append("$$s", NoStream, [metadataEvent(
        `{"$tb":9223372036854775807,"$maxCount":100,"$acl":{"$d":"some-role"},"key1":true,"key2":17,"key3":"some value"}`
      )]))
      success(store.append("s", 1, events(3)))
      assert.deepStrictEqual(metadataOf(store, "s"), {
        version: 1,
        json: { $tb: 2, $maxCount: 100, $acl: { $d: "some-role" }, key1: true, key2: 17, key3: "some value" }
      })
    })

    it("writing JSON metadata to an empty soft-deleted stream undeletes it with $tb 0", () => {
      const store = Store.make()
      success(store.deleteStream("s", NoStream, false))
      success(store.append("$$s", 0, [metadataEvent({ $maxCount: 100, key1: true })]))
      assert.deepStrictEqual(store.readStreamForward("s", 0, 100), { status: "NoStream", lastEventNumber: -1 })
      assert.deepStrictEqual(metadataOf(store, "s"), { version: 2, json: { $maxCount: 100, key1: true, $tb: 0 } })
    })

    it("writing JSON metadata to a soft-deleted stream with events undeletes it after its last event", () => {
      const store = Store.make()
      success(store.append("s", NoStream, events(2)))
      success(store.deleteStream("s", 1, false))
      success(store.append("$$s", 0, [metadataEvent({ $maxCount: 100 })]))
      const page = slice(store.readStreamForward("s", 0, 100))
      assert.strictEqual(page.lastEventNumber, 1)
      assert.deepStrictEqual(numbers(page), [])
      assert.deepStrictEqual(metadataOf(store, "s"), { version: 2, json: { $maxCount: 100, $tb: 2 } })
    })

    it("writing non-JSON metadata to a soft-deleted stream replaces its metadata and nothing else", () => {
      const store = Store.make()
      success(store.append("s", NoStream, events(2)))
      success(store.deleteStream("s", 1, false))
      success(store.append("$$s", 0, [{ ...metadataEvent({}), data: new Uint8Array(256) }]))
      assert.deepStrictEqual(numbers(slice(store.readStreamForward("s", 0, 100))), [0, 1])
      assert.strictEqual(store.lastEventNumber("$$s"), 1)
    })

    it("a soft-deleted stream can be hard-deleted", () => {
      const store = Store.make()
      success(store.append("s", NoStream, events(2)))
      success(store.deleteStream("s", 1, false))
      success(store.deleteStream("s", Any, true))
      assert.deepStrictEqual(store.readStreamForward("s", 0, 10), { status: "StreamDeleted" })
      assert.deepStrictEqual(store.readEvent("$$s", -1), { status: "StreamDeleted" })
    })

    it("a hard delete writes a $streamDeleted tombstone numbered 2^63-1 into $all", () => {
      const store = withTen()
      const result = success(store.deleteStream("s", 9, true))
      const tombstone = allSlice(store.readAllBackward(-1, -1, 1)).events[0]!
      assert.strictEqual(tombstone.eventType, Store.streamDeletedEventType)
      assert.strictEqual(tombstone.eventNumber, Store.deletedStream)
      assert.strictEqual(tombstone.data.length, 0)
      assert.strictEqual(result.position, tombstone.commitPosition)
      assert.strictEqual(store.lastEventNumber("s"), Store.deletedStream)
      assert.strictEqual(store.lastEventNumber("$$s"), Store.deletedStream)
      assert.deepStrictEqual(store.readStreamBackward("s", -1, 10), { status: "StreamDeleted" })
      assert.deepStrictEqual(store.readEvent("s", 0), { status: "StreamDeleted" })
    })

    it("deleting a hard-deleted stream again is StreamDeleted; a soft-deleted one may be deleted again", () => {
      const store = withTen()
      success(store.deleteStream("s", Any, false))
      success(store.deleteStream("s", Any, false))
      success(store.deleteStream("s", Any, true))
      assert.deepStrictEqual(store.deleteStream("s", Any, true), { status: "StreamDeleted" })
    })

    it("deleting a missing stream with Any or NoStream succeeds; with an exact version it does not", () => {
      const store = Store.make()
      success(store.deleteStream("a", Any, false))
      success(store.deleteStream("b", NoStream, true))
      assert.deepStrictEqual(store.deleteStream("c", 0, false), { status: "WrongExpectedVersion", currentVersion: -1 })
    })

    it("deletes check the expected version like writes", () => {
      const store = withTen()
      assert.deepStrictEqual(store.deleteStream("s", 3, true), { status: "WrongExpectedVersion", currentVersion: 9 })
      assert.deepStrictEqual(store.deleteStream("s", NoStream, true), {
        status: "WrongExpectedVersion",
        currentVersion: 9
      })
    })
  })

  describe("metadata", () => {
    it("reads the well-known keys and ignores the others", () => {
      const metadata = StreamMetadata.fromJsonBytes(encoder.encode(
        `{"$maxCount":5,"$maxAge":60,"$tb":2,"$tmp":true,"$cacheControl":10,"$acl":{"$r":"$all","$w":["a","b"]},"x":{"y":[1]}}`
      ))
      assert.deepStrictEqual(metadata, {
        maxCount: 5,
        maxAge: 60,
        truncateBefore: 2,
        tempStream: true,
        cacheControl: 10,
        acl: { read: ["$all"], write: ["a", "b"], delete: undefined, metaRead: undefined, metaWrite: undefined }
      })
    })

    it("treats non-positive $maxCount, $maxAge and $cacheControl, and negative $tb, as unset", () => {
      const metadata = StreamMetadata.fromJsonBytes(
        encoder.encode(`{"$maxCount":0,"$maxAge":-1,"$cacheControl":0,"$tb":-5}`)
      )
      assert.deepStrictEqual(metadata, StreamMetadata.empty)
    })

    it("reads $tb 9223372036854775807 exactly, as the soft-delete marker", () => {
      assert.isTrue(StreamMetadata.isSoftDeleted(StreamMetadata.fromJsonBytes(StreamMetadata.softDeleted)))
      assert.isFalse(
        StreamMetadata.isSoftDeleted(StreamMetadata.fromJsonBytes(encoder.encode(`{"$tb":9223372036854775806}`)))
      )
    })

    for (
      const bad of [
        `not json`,
        `[1,2]`,
        `{"$maxCount":"5"}`,
        `{"$maxCount":5.5}`,
        `{"$tb":99999999999999999999}`,
        `{"$tmp":1}`,
        `{"$acl":{"$r":5}}`,
        `{"$acl":"x"}`
      ]
    ) {
      it(`counts ${bad} as no metadata at all`, () => {
        assert.deepStrictEqual(StreamMetadata.fromJsonBytes(encoder.encode(bad)), StreamMetadata.empty)
      })
    }

    it("ignores metadata events that are not flagged as JSON", () => {
      const store = withTen()
      success(store.append("$$s", Any, [{ ...metadataEvent({ $maxCount: 1 }), isJson: false }]))
      assert.strictEqual(store.metadataOf("s").maxCount, undefined)
      assert.strictEqual(slice(store.readStreamForward("s", 0, 100)).events.length, 10)
    })

    it("follows the latest metadata event", () => {
      const store = withTen()
      success(store.append("$$s", Any, [metadataEvent({ $maxCount: 1 })]))
      assert.strictEqual(store.metadataOf("s").maxCount, 1)
      success(store.append("$$s", Any, [metadataEvent({ $maxCount: 2 })]))
      assert.strictEqual(store.metadataOf("s").maxCount, 2)
    })

    it("reads system settings from the latest event of $settings", () => {
      const store = Store.make()
      assert.deepStrictEqual(store.settings(), { userStreamAcl: undefined, systemStreamAcl: undefined })
      success(store.append("$settings", Any, [{
        ...event("$settings"),
        data: encoder.encode(JSON.stringify({ $userStreamAcl: { $w: "user1" } }))
      }]))
      assert.deepStrictEqual(store.settings().userStreamAcl?.write, ["user1"])
      assert.strictEqual(store.settings().systemStreamAcl, undefined)
    })
  })

  describe("links", () => {

    it("resolves a link to the event it names", () => {
      const store = withTen()
      success(store.append("links", Any, [link("3@s")]))
      const recorded = slice(store.readStreamForward("links", 0, 1)).events[0]!
      assert.strictEqual(store.resolveLink(recorded)?.eventNumber, 3)
      assert.strictEqual(store.resolveLink(recorded)?.streamId, "s")
    })

    for (
      const [name, setup, target] of [
        ["a missing event", () => withTen(), "30@s"],
        ["a missing stream", () => withTen(), "0@nowhere"],
        ["bad data", () => withTen(), "three@s"],
        ["a hard-deleted stream", () => {
          const store = withTen()
          success(store.deleteStream("s", Any, true))
          return store
        }, "3@s"],
        ["a truncated event", () => {
          const store = withTen()
          success(store.append("$$s", Any, [metadataEvent({ $tb: 5 })]))
          return store
        }, "3@s"]
      ] as const
    ) {
      it(`does not resolve a link to ${name}`, () => {
        const store = setup()
        success(store.append("links", Any, [link(target)]))
        const recorded = slice(store.readStreamForward("links", 0, 1)).events[0]!
        assert.isUndefined(store.resolveLink(recorded))
      })
    }
  })

  describe("transactions", () => {
    it("makes events visible only at commit, positioned at the commit record", () => {
      const store = Store.make()
      const id = store.startTransaction("t", NoStream)
      assert.isTrue(store.writeTransaction(id, events(2)))
      success(store.append("other", Any, events(1)))
      assert.deepStrictEqual(store.readStreamForward("t", 0, 10), { status: "NoStream", lastEventNumber: -1 })
      const result = success(store.commitTransaction(id))
      assert.strictEqual(result.firstEventNumber, 0)
      assert.strictEqual(result.lastEventNumber, 1)
      const written = slice(store.readStreamForward("t", 0, 10)).events
      for (const e of written) {
        assert.strictEqual(e.commitPosition, result.position)
        assert.isTrue(e.preparePosition < e.commitPosition)
      }
      assert.isTrue(written[0]!.preparePosition < written[1]!.preparePosition)
      assert.strictEqual(store.lastCommitPosition, result.position)
      const all = allSlice(store.readAllForward(0, 0, 10)).events
      assert.deepStrictEqual(all.map((e) => e.streamId), ["other", "t", "t"])
    })

    it("returns the offset of its begin record as the transaction id", () => {
      const store = withTen()
      const writer = store.writerCheckpoint
      assert.strictEqual(store.startTransaction("t", Any), writer)
    })

    it("checks the expected version at commit, not at start", () => {
      const store = Store.make()
      const id = store.startTransaction("t", NoStream)
      store.writeTransaction(id, events(1))
      success(store.append("t", NoStream, events(1)))
      assert.deepStrictEqual(store.commitTransaction(id), { status: "WrongExpectedVersion", currentVersion: 0 })
    })

    it("refuses unknown transactions", () => {
      const store = Store.make()
      assert.isFalse(store.writeTransaction(12345, events(1)))
      assert.deepStrictEqual(store.commitTransaction(12345), { status: "InvalidTransaction" })
    })

    it("reads a transaction's events forward and backward across pages of $all", () => {
      const store = Store.make()
      success(store.append("a", Any, events(1)))
      const id = store.startTransaction("t", Any)
      store.writeTransaction(id, events(3))
      success(store.commitTransaction(id))
      success(store.append("b", Any, events(1)))
      const forward: Array<Store.RecordedEvent> = []
      let position: Store.Position = { commit: 0, prepare: 0 }
      while (true) {
        const page = allSlice(store.readAllForward(position.commit, position.prepare, 1))
        if (page.events.length === 0) break
        forward.push(...page.events)
        position = page.next
      }
      assert.deepStrictEqual(forward.map((e) => `${e.streamId}${e.eventNumber}`), ["a0", "t0", "t1", "t2", "b0"])
      const backward: Array<Store.RecordedEvent> = []
      position = { commit: -1, prepare: -1 }
      while (true) {
        const page = allSlice(store.readAllBackward(position.commit, position.prepare, 1))
        if (page.events.length === 0) break
        backward.push(...page.events)
        position = page.next
      }
      assert.deepStrictEqual(backward.map((e) => `${e.streamId}${e.eventNumber}`), ["b0", "t2", "t1", "t0", "a0"])
    })

    it("committing again is checked again, and so is idempotent", () => {
      const store = Store.make()
      const id = store.startTransaction("t", NoStream)
      store.writeTransaction(id, events(2))
      const first = success(store.commitTransaction(id))
      const again = success(store.commitTransaction(id))
      assert.strictEqual(again.firstEventNumber, first.firstEventNumber)
      assert.strictEqual(again.lastEventNumber, first.lastEventNumber)
      assert.strictEqual(store.lastEventNumber("t"), 1)
    })
  })

  describe("live feed", () => {
    it("calls listeners once per committed event, in commit order, after the operation", () => {
      const store = Store.make()
      const seen: Array<string> = []
      const stop = store.subscribe((e) => {
        // The store is complete when listeners run: the event can be read back.
        assert.notStrictEqual(store.readEvent(e.streamId, -1).status, "NoStream")
        seen.push(`${e.streamId}:${e.eventNumber}`)
      })
      success(store.append("s", NoStream, events(2)))
      success(store.deleteStream("s", 1, false))
      success(store.append("s", Any, events(1)))
      const id = store.startTransaction("t", Any)
      store.writeTransaction(id, events(1))
      success(store.commitTransaction(id))
      stop()
      success(store.append("s", Any, events(1)))
      // The soft delete writes $$s:0; recreating s writes s:2 and then the new metadata $$s:1.
      assert.deepStrictEqual(seen, ["s:0", "s:1", "$$s:0", "s:2", "$$s:1", "t:0"])
    })

    it("keeps calling the other listeners when one throws, and reports the error", () => {
      const errors: Array<unknown> = []
      const store = Store.make({ onListenerError: (error) => errors.push(error) })
      const seen: Array<number> = []
      store.subscribe(() => {
        throw new Error("listener bug")
      })
      store.subscribe((e) => seen.push(e.eventNumber))
      const result = success(store.append("s", NoStream, events(2)))
      assert.strictEqual(result.lastEventNumber, 1)
      assert.deepStrictEqual(seen, [0, 1])
      assert.strictEqual(errors.length, 2)
    })

    it("announces nothing for rejected writes", () => {
      const store = withTen()
      let count = 0
      store.subscribe(() => count++)
      store.append("s", 3, events(1))
      store.append("s", NoStream, [])
      assert.strictEqual(count, 0)
    })
  })
})
