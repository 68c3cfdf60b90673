/**
 * Server-side filters for reads of `$all` (EventStore 20.6 and later): keep the events whose type, or
 * whose stream name, starts with one of some prefixes or matches a regular expression.
 *
 * @since 0.1.0
 */

/**
 * A filter on `$all`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Filter {
  /** What the filter looks at. */
  readonly on: "EventType" | "StreamName"
  /** How it matches: any of the prefixes, or the (.NET-flavoured) regular expression. */
  readonly match: "Prefix" | "Regex"
  /** The prefixes, or a single regular expression. */
  readonly values: ReadonlyArray<string>
}

/**
 * Events whose type starts with any of the prefixes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const eventTypePrefix = (...prefixes: ReadonlyArray<string>): Filter => ({
  on: "EventType",
  match: "Prefix",
  values: prefixes
})

/**
 * Events whose type matches the regular expression.
 *
 * @since 0.1.0
 * @category constructors
 */
export const eventTypeRegex = (regex: string): Filter => ({ on: "EventType", match: "Regex", values: [regex] })

/**
 * Events of streams whose name starts with any of the prefixes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamNamePrefix = (...prefixes: ReadonlyArray<string>): Filter => ({
  on: "StreamName",
  match: "Prefix",
  values: prefixes
})

/**
 * Events of streams whose name matches the regular expression.
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamNameRegex = (regex: string): Filter => ({ on: "StreamName", match: "Regex", values: [regex] })

/**
 * Every event but the system ones (whose type starts with `$`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const excludeSystemEvents: Filter = eventTypeRegex("^[^\\$].*")
