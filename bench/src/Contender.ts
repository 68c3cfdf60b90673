/**
 * A contender is one way of talking to the server: photonpump, node-eventstore-client, the raw socket
 * that sets the ceiling, or the raw socket reading one page at a time (the reference for readers that
 * wait for each page). It implements the workload families it can run; the orchestrator
 * skips the others (the raw socket decodes nothing, so it has no memory row).
 *
 * Extension point (issue 5, phase 2): a subscription family is one more optional key of
 * `Implementations`, typed by its `Params` case in `Workload.ts`.
 *
 * @since 0.1.0
 */
import type { Measurement, RunContext } from "./Measurement.ts"
import type { Family, Params } from "./Workload.ts"

/**
 * How a contender runs one family of workloads: connect, warm up, time the work between
 * `TimedSection.begin` and `end`, disconnect.
 *
 * @since 0.1.0
 * @category models
 */
export type Implementation<P extends Params> = (params: P, context: RunContext) => Promise<Measurement>

/**
 * The families a contender implements.
 *
 * @since 0.1.0
 * @category models
 */
export type Implementations = { readonly [F in Family]?: Implementation<Extract<Params, { family: F }>> }

/**
 * The names of the contenders, in the order the reports list them.
 *
 * @since 0.1.0
 * @category models
 */
export const names = ["photonpump", "node-eventstore-client", "raw-socket", "raw-socket-one-page"] as const

/**
 * A contender's name.
 *
 * @since 0.1.0
 * @category models
 */
export type Name = typeof names[number]

/**
 * How the reports label each contender.
 *
 * @since 0.1.0
 * @category models
 */
export const labels: Record<Name, string> = {
  "photonpump": "photonpump",
  "node-eventstore-client": "node-eventstore-client",
  "raw-socket": "raw socket (ceiling)",
  "raw-socket-one-page": "raw socket, one page in flight"
}

/**
 * Runs `params` with the implementation of its family.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (implementations: Implementations, params: Params, context: RunContext): Promise<Measurement> => {
  const implementation = implementations[params.family] as Implementation<Params> | undefined
  if (implementation === undefined) return Promise.reject(new Error(`${params.family} is not implemented`))
  return implementation(params, context)
}
