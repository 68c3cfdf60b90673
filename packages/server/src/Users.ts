/**
 * The users a node knows and how it checks their credentials. Like a fresh EventStoreDB node, it always
 * has `admin` (in `$admins`) and `ops` (in `$ops`), both with the password `changeit`
 * (docs/protocol.md 4.9 and 8).
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"

/**
 * An authenticated user. A user holds its own login as a role, and the roles of its groups, so that
 * an ACL can name either.
 *
 * @since 0.1.0
 * @category models
 */
export interface User {
  readonly login: string
  readonly groups: ReadonlyArray<string>
}

/**
 * A user account given to the server: a login, a password and the groups (roles) it belongs to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Account {
  readonly login: string
  readonly password: string | Redacted.Redacted<string>
  readonly groups?: ReadonlyArray<string> | undefined
}

/**
 * The role of administrators, who may do anything.
 *
 * @since 0.1.0
 * @category constants
 */
export const admins = "$admins"

/**
 * The role of operators.
 *
 * @since 0.1.0
 * @category constants
 */
export const ops = "$ops"

/**
 * The role that every caller holds, anonymous ones included.
 *
 * @since 0.1.0
 * @category constants
 */
export const everyone = "$all"

/**
 * The accounts every node has.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultAccounts: ReadonlyArray<Account> = [
  { login: "admin", password: Redacted.make("changeit"), groups: [admins] },
  { login: "ops", password: Redacted.make("changeit"), groups: [ops] }
]

/**
 * The users of a node, by login.
 *
 * @since 0.1.0
 * @category models
 */
export interface Users {
  /** The user whose credentials these are, or `undefined` when they are wrong. */
  readonly authenticate: (login: string, password: Redacted.Redacted<string>) => User | undefined
}

/**
 * The users of a node: the default accounts and the given ones. A given account with the login of a
 * default one replaces it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (accounts: ReadonlyArray<Account> = []): Users => {
  const byLogin = new Map<string, { readonly user: User; readonly password: Redacted.Redacted<string> }>()
  for (const account of [...defaultAccounts, ...accounts]) {
    const password = typeof account.password === "string" ? Redacted.make(account.password) : account.password
    byLogin.set(account.login, { user: { login: account.login, groups: account.groups ?? [] }, password })
  }
  return {
    authenticate: (login, password) => {
      const entry = byLogin.get(login)
      return entry !== undefined && Redacted.value(entry.password) === Redacted.value(password) ? entry.user : undefined
    }
  }
}

/**
 * Tells whether a user holds a role: its own login or one of its groups.
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasRole = (user: User, role: string): boolean => user.login === role || user.groups.includes(role)
