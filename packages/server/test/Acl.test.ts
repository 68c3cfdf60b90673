/**
 * Access decisions (docs/protocol.md 4.7 and 4.13): the defaults, the fallback from a stream's ACL to
 * `$settings` to the built-in defaults, metastreams, `$all`, and anonymous callers in the 20.10 and
 * 23.10 styles.
 */
import { assert, describe, it } from "@effect/vitest"
import { Acl, type Users } from "@photonpump/server"

const admin: Users.User = { login: "admin", groups: ["$admins"] }
const ops: Users.User = { login: "ops", groups: ["$ops"] }
const user1: Users.User = { login: "user1", groups: [] }
const user2: Users.User = { login: "user2", groups: ["readers"] }

const acl = (fields: Partial<Acl.StreamAcl>): Acl.StreamAcl => ({
  read: undefined,
  write: undefined,
  delete: undefined,
  metaRead: undefined,
  metaWrite: undefined,
  ...fields
})

const allowed = (
  user: Users.User | undefined,
  streamId: string,
  operation: Acl.Operation,
  options: {
    readonly acls?: Record<string, Acl.StreamAcl>
    readonly settings?: Acl.SystemSettings
    readonly allowAnonymousStreamAccess?: boolean
  } = {}
) =>
  Acl.isAllowed({
    user,
    streamId,
    operation,
    aclOf: (stream) => options.acls?.[stream],
    settings: options.settings ?? Acl.noSettings,
    allowAnonymousStreamAccess: options.allowAnonymousStreamAccess ?? true
  })

const operations: ReadonlyArray<Acl.Operation> = ["read", "write", "delete", "metaRead", "metaWrite"]

describe("Acl", () => {
  it("lets everyone, anonymous included, do everything to user streams by default", () => {
    for (const operation of operations) {
      for (const user of [undefined, user1, admin]) assert.isTrue(allowed(user, "orders", operation))
    }
  })

  it("keeps system streams to administrators by default", () => {
    for (const operation of operations) {
      assert.isFalse(allowed(undefined, "$system", operation))
      assert.isFalse(allowed(user1, "$system", operation))
      assert.isFalse(allowed(ops, "$system", operation))
      assert.isTrue(allowed(admin, "$system", operation))
    }
  })

  it("reads $all only for administrators by default, and never writes or deletes it", () => {
    assert.isFalse(allowed(undefined, "$all", "read"))
    assert.isFalse(allowed(user1, "$all", "read"))
    assert.isTrue(allowed(admin, "$all", "read"))
    assert.isFalse(allowed(admin, "$all", "write"))
    assert.isFalse(allowed(admin, "$all", "delete"))
    assert.isTrue(allowed(user1, "$all", "read", { acls: { $all: acl({ read: ["$all"] }) } }))
  })

  it("grants a role to users named by it or holding it as a group", () => {
    const acls = { s: acl({ read: ["user1", "readers"] }) }
    assert.isTrue(allowed(user1, "s", "read", { acls }))
    assert.isTrue(allowed(user2, "s", "read", { acls }))
    assert.isFalse(allowed(ops, "s", "read", { acls }))
    assert.isFalse(allowed(undefined, "s", "read", { acls }))
    assert.isTrue(allowed(admin, "s", "read", { acls }))
  })

  it("refuses everyone but administrators an empty role list", () => {
    const acls = { s: acl({ write: [] }) }
    assert.isFalse(allowed(user1, "s", "write", { acls }))
    assert.isTrue(allowed(admin, "s", "write", { acls }))
  })

  it("maps reads and writes of a metastream to $mr and $mw of its stream", () => {
    const acls = { s: acl({ metaRead: ["user1"], metaWrite: ["user2"] }) }
    assert.isTrue(allowed(user1, "$$s", "read", { acls }))
    assert.isFalse(allowed(user2, "$$s", "read", { acls }))
    assert.isTrue(allowed(user2, "$$s", "write", { acls }))
    assert.isFalse(allowed(user1, "$$s", "write", { acls }))
  })

  it("lets nobody, not even an administrator, delete a metastream", () => {
    assert.isFalse(allowed(admin, "$$s", "delete"))
    assert.isFalse(allowed(admin, "$$s", "metaRead"))
  })

  describe("inheritance (the real server's stream_security_inheritance cases)", () => {
    const settings: Acl.SystemSettings = {
      userStreamAcl: acl({ write: ["user1"] }),
      systemStreamAcl: acl({ write: ["user1"] })
    }
    const acls = {
      "user-w-diff": acl({ write: ["user2"] }),
      "user-w-multiple": acl({ write: ["user1", "user2"] }),
      "user-w-restricted": acl({ write: [] }),
      "user-w-all": acl({ write: ["$all"] }),
      "user-r-restricted": acl({ read: ["user1"] }),
      "$sys-w-diff": acl({ write: ["user2"] }),
      "$sys-w-all": acl({ write: ["$all"] })
    }
    const check = (stream: string, operation: Acl.Operation, user: Users.User | undefined) =>
      allowed(user, stream, operation, { acls, settings })

    for (const prefix of ["user", "$sys"]) {
      it(`writes to ${prefix} streams follow stream ACL, then $settings, per permission`, () => {
        assert.isFalse(check(`${prefix}-no-acl`, "write", undefined))
        assert.isTrue(check(`${prefix}-no-acl`, "write", user1))
        assert.isFalse(check(`${prefix}-no-acl`, "write", user2))
        assert.isTrue(check(`${prefix}-no-acl`, "write", admin))
        assert.isFalse(check(`${prefix}-w-diff`, "write", user1))
        assert.isTrue(check(`${prefix}-w-diff`, "write", user2))
        assert.isTrue(check(`${prefix}-w-all`, "write", undefined))
      })
    }

    it("permissions $settings leaves unset fall back to the built-in defaults", () => {
      assert.isTrue(check("user-no-acl", "read", undefined))
      assert.isFalse(check("user-r-restricted", "read", undefined))
      assert.isTrue(check("user-r-restricted", "read", user1))
      assert.isFalse(check("user-r-restricted", "read", user2))
      assert.isFalse(check("$sys-no-acl", "read", user1))
      assert.isTrue(check("$sys-no-acl", "read", admin))
      assert.isTrue(check("user-w-multiple", "write", user2))
      assert.isFalse(check("user-w-restricted", "write", user1))
    })
  })

  it("denies anonymous callers every stream operation when anonymous access is off (23.10)", () => {
    for (const operation of operations) {
      assert.isFalse(allowed(undefined, "orders", operation, { allowAnonymousStreamAccess: false }))
      assert.isTrue(allowed(user1, "orders", operation, { allowAnonymousStreamAccess: false }))
    }
    assert.isFalse(
      allowed(undefined, "s", "read", { allowAnonymousStreamAccess: false, acls: { s: acl({ read: ["$all"] }) } })
    )
  })

  it("reads ACL JSON: a role as a string or an array; anything else makes it invalid", () => {
    const encoder = new TextEncoder()
    assert.deepStrictEqual(
      Acl.settingsFromJson(encoder.encode(`{"$userStreamAcl":{"$r":"$all","$w":["a","b"]}}`)),
      { userStreamAcl: acl({ read: ["$all"], write: ["a", "b"] }), systemStreamAcl: undefined }
    )
    assert.isUndefined(Acl.settingsFromJson(encoder.encode(`{"$userStreamAcl":{"$r":1}}`)))
    assert.isUndefined(Acl.settingsFromJson(encoder.encode(`nonsense`)))
  })
})
