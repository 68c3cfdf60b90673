/**
 * Who may do what to a stream (docs/protocol.md 4.7 and 4.13). A stream's `$acl` (from its metadata)
 * is consulted first, then the defaults in `$settings`, then the built-in defaults: everyone for user
 * streams, `$admins` for system streams. Each permission falls back on its own, so an ACL only has to
 * name what differs from the defaults. Administrators may do anything that can be done at all.
 *
 * @since 0.1.0
 */
import * as Json from "./internal/Json.ts"
import * as Users from "./Users.ts"

/**
 * The five permissions of a stream ACL, each a list of roles or user names; `undefined` means "not set
 * here, ask the defaults".
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamAcl {
  readonly read: ReadonlyArray<string> | undefined
  readonly write: ReadonlyArray<string> | undefined
  readonly delete: ReadonlyArray<string> | undefined
  readonly metaRead: ReadonlyArray<string> | undefined
  readonly metaWrite: ReadonlyArray<string> | undefined
}

/**
 * The system-wide defaults kept in the `$settings` stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface SystemSettings {
  readonly userStreamAcl: StreamAcl | undefined
  readonly systemStreamAcl: StreamAcl | undefined
}

/**
 * An operation on a stream, as far as permissions go.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = "read" | "write" | "delete" | "metaRead" | "metaWrite"

/**
 * The settings of a node nobody has configured.
 *
 * @since 0.1.0
 * @category constants
 */
export const noSettings: SystemSettings = { userStreamAcl: undefined, systemStreamAcl: undefined }

const uniform = (role: string): StreamAcl => {
  const roles = [role]
  return { read: roles, write: roles, delete: roles, metaRead: roles, metaWrite: roles }
}

/**
 * The built-in ACL of user streams: everyone may do everything.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultUserStreamAcl: StreamAcl = uniform(Users.everyone)

/**
 * The built-in ACL of system streams (names starting with `$`): administrators only.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSystemStreamAcl: StreamAcl = uniform(Users.admins)

/**
 * The name of the `$settings` stream.
 *
 * @since 0.1.0
 * @category constants
 */
export const settingsStream = "$settings"

/**
 * The name of the virtual stream of every event, whose ACL governs `$all` reads.
 *
 * @since 0.1.0
 * @category constants
 */
export const allStream = "$all"

/**
 * Tells whether a stream is a system stream: its name starts with `$`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSystemStream = (streamId: string): boolean => streamId.charCodeAt(0) === 0x24

/**
 * Tells whether a stream is a metastream: its name starts with `$$`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isMetastream = (streamId: string): boolean =>
  streamId.charCodeAt(0) === 0x24 && streamId.charCodeAt(1) === 0x24

/**
 * The metastream of a stream.
 *
 * @since 0.1.0
 * @category naming
 */
export const metastreamOf = (streamId: string): string => "$$" + streamId

/**
 * The stream a metastream describes (its name without the first two characters).
 *
 * @since 0.1.0
 * @category naming
 */
export const originalStreamOf = (metastreamId: string): string => metastreamId.slice(2)

const readRoles = (value: Json.JsonValue | undefined): ReadonlyArray<string> | undefined => {
  if (typeof value === "string") return [value]
  if (Array.isArray(value)) {
    const roles: Array<string> = []
    for (const role of value) {
      if (typeof role !== "string") throw invalid
      roles.push(role)
    }
    return roles
  }
  throw invalid
}

const invalid = new Error("invalid ACL")

/**
 * Reads an `$acl`-shaped JSON object. Returns `undefined` when it is not one: a permission that is
 * neither a string nor an array of strings makes the whole ACL invalid, as on the real server.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromJson = (value: Json.JsonValue | undefined): StreamAcl | undefined => {
  if (!Json.isObject(value)) return undefined
  try {
    const role = (key: string) => (value.has(key) ? readRoles(value.get(key)) : undefined)
    return { read: role("$r"), write: role("$w"), delete: role("$d"), metaRead: role("$mr"), metaWrite: role("$mw") }
  } catch {
    return undefined
  }
}

/**
 * Reads the content of a `$settings` event. Returns `undefined` when it is not valid settings JSON.
 *
 * @since 0.1.0
 * @category parsing
 */
export const settingsFromJson = (bytes: Uint8Array): SystemSettings | undefined => {
  const json = Json.parseBytes(bytes)
  if (!Json.isObject(json)) return undefined
  const acl = (key: string): StreamAcl | undefined | null => {
    if (!json.has(key)) return undefined
    return fromJson(json.get(key)) ?? null
  }
  const userStreamAcl = acl("$userStreamAcl")
  const systemStreamAcl = acl("$systemStreamAcl")
  if (userStreamAcl === null || systemStreamAcl === null) return undefined
  return { userStreamAcl, systemStreamAcl }
}

/**
 * What an access decision needs to know about a node and its caller.
 *
 * @since 0.1.0
 * @category models
 */
export interface AccessRequest {
  /** The caller; `undefined` for an anonymous one. */
  readonly user: Users.User | undefined
  readonly streamId: string
  readonly operation: Operation
  /** The `$acl` of a (non-meta) stream, from its metadata. */
  readonly aclOf: (streamId: string) => StreamAcl | undefined
  readonly settings: SystemSettings
  /** False reproduces 23.10, where anonymous callers may not touch streams at all. */
  readonly allowAnonymousStreamAccess: boolean
}

const pick = (acl: StreamAcl | undefined, operation: Operation): ReadonlyArray<string> | undefined =>
  acl === undefined ? undefined : acl[operation]

/**
 * Decides whether a caller may perform an operation on a stream.
 *
 * - Reading `$$s` needs `$mr` on `s`, writing it needs `$mw` on `s`; nobody may delete a metastream or
 *   touch the metadata of one.
 * - Nobody may write to or delete `$all`.
 * - Roles listing `$all` admit everyone; otherwise anonymous callers are refused, administrators are
 *   admitted, and other users need one of the listed roles (their login or a group).
 *
 * @since 0.1.0
 * @category access
 */
export const isAllowed = (request: AccessRequest): boolean => {
  let streamId = request.streamId
  let operation = request.operation
  if (isMetastream(streamId)) {
    if (operation === "read") operation = "metaRead"
    else if (operation === "write") operation = "metaWrite"
    else return false
    streamId = originalStreamOf(streamId)
  }
  if ((operation === "write" || operation === "delete") && streamId === allStream) return false
  if (request.user === undefined && !request.allowAnonymousStreamAccess) return false

  const system = isSystemStream(streamId)
  const builtIn = system ? defaultSystemStreamAcl : defaultUserStreamAcl
  const configured = system ? request.settings.systemStreamAcl : request.settings.userStreamAcl
  const roles = pick(request.aclOf(streamId), operation) ?? pick(configured, operation) ?? builtIn[operation]!

  if (roles.includes(Users.everyone)) return true
  const user = request.user
  if (user === undefined) return false
  if (Users.hasRole(user, Users.admins)) return true
  for (const role of roles) if (Users.hasRole(user, role)) return true
  return false
}
