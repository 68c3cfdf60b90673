/**
 * Measurements made up for the bench's tests: round figures, with the throughput and whatever else a
 * test cares about given.
 */
import type * as Contender from "../src/Contender.ts"
import type { Measurement } from "../src/Measurement.ts"
import type * as Summary from "../src/Summary.ts"

/** A measurement of 100,000 events at `eventsPerSecond`, with round figures for everything else. */
export const sample = (
  workload: string,
  contender: Contender.Name,
  round: number,
  eventsPerSecond: number,
  extra: Partial<Measurement> = {}
): Summary.Sample => ({
  workload,
  contender,
  round,
  events: 100_000,
  requests: 1_000,
  seconds: 100_000 / eventsPerSecond,
  eventsPerSecond,
  clientCpuMillis: 100,
  serverCpuMillis: 50,
  ...extra
})
