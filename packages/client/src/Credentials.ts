/**
 * A user name and password, sent in the auth block of a package. The password is `Redacted` from the
 * moment it is given to the moment its bytes are written to the socket, so it never shows in a log,
 * an error message or an inspected value.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"

/**
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * Wraps a user name and password; a plain-text password is redacted at once.
 *
 * Keep user names starting with an ASCII character: servers from 20.6 read an auth block whose first
 * byte is 0x80 or more as a bearer token, so a name such as "Émile" reaches them as a malformed token.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (username: string, password: string | Redacted.Redacted<string>): Credentials => ({
  username,
  password: Redacted.isRedacted(password) ? password : Redacted.make(password, { label: "password" })
})

/**
 * The default administrator of an EventStore node, `admin` / `changeit`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultAdmin: Credentials = make("admin", "changeit")
