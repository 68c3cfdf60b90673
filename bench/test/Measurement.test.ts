import { assert, describe, it } from "@effect/vitest"
import { LatencyRecorder, percentile } from "../src/Measurement.ts"

const oneTo = (n: number) => Float64Array.from({ length: n }, (_, i) => i + 1)

describe("percentile", () => {
  it("takes the nearest rank: the smallest value with at least q of the values at or below it", () => {
    const values = oneTo(100)
    assert.strictEqual(percentile(values, 0.5), 50)
    assert.strictEqual(percentile(values, 0.99), 99)
    assert.strictEqual(percentile(values, 1), 100)
    assert.strictEqual(percentile(oneTo(10), 0.99), 10)
    assert.strictEqual(percentile(oneTo(3), 0.5), 2)
  })

  it("stays within the values at the edges", () => {
    assert.strictEqual(percentile(oneTo(5), 0), 1)
    assert.strictEqual(percentile([42], 0.5), 42)
    assert.strictEqual(percentile([42], 0.99), 42)
  })
})

describe("LatencyRecorder", () => {
  it("summarises nothing when nothing was recorded", () => {
    assert.isUndefined(new LatencyRecorder(10).summary())
  })

  it("sorts its samples as numbers before taking percentiles", () => {
    const recorder = new LatencyRecorder(10)
    // As text, "10" < "9": a text sort would make 10 the median.
    for (const millis of [100, 9, 10, 2, 1]) recorder.record(millis)
    assert.deepStrictEqual(recorder.summary(), { p50: 9, p99: 100, max: 100 })
  })

  it("keeps the first `capacity` samples and drops the rest, and starts over on reset", () => {
    const recorder = new LatencyRecorder(3)
    for (const millis of [5, 6, 7, 1000]) recorder.record(millis)
    assert.deepStrictEqual(recorder.summary(), { p50: 6, p99: 7, max: 7 })
    recorder.reset()
    recorder.record(0.25)
    assert.deepStrictEqual(recorder.summary(), { p50: 0.25, p99: 0.25, max: 0.25 })
  })
})
