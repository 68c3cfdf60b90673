import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"
import { Ticks } from "@photonpump/protocol"

/** `created` / `created_epoch` pairs of the events captured in wire-vectors.md sections 2 to 4. */
const captured = [
  { ticks: 636511020271871480n, epochMillis: 1515505227187, iso: "2018-01-09T13:40:27.187Z" },
  { ticks: 636511020272185810n, epochMillis: 1515505227218, iso: "2018-01-09T13:40:27.218Z" },
  { ticks: 636743447235763460n, epochMillis: 1538747923576, iso: "2018-10-05T13:58:43.576Z" },
  { ticks: 636513643425648380n, epochMillis: 1515767542564, iso: "2018-01-12T14:32:22.564Z" }
] as const

describe("Ticks", () => {
  it("counts 100 ns units from 0001-01-01, so the Unix epoch is 621355968000000000", () => {
    assert.strictEqual(Ticks.unixEpoch, 621_355_968_000_000_000n)
    assert.strictEqual(Ticks.fromDate(new Date("1970-01-01T00:00:00Z")), Ticks.unixEpoch)
    assert.strictEqual(Ticks.toDate(0n).toISOString(), "0001-01-01T00:00:00.000Z")
  })

  it("reads the `created` ticks of real events as the dates and `created_epoch` the server sent with them", () => {
    for (const event of captured) {
      assert.strictEqual(Ticks.toEpochMillis(event.ticks), event.epochMillis)
      assert.strictEqual(Ticks.toDate(event.ticks).toISOString(), event.iso)
    }
  })

  it("drops precision below a millisecond", () => {
    // 2018-01-09T13:40:27.1871480Z: 0.148 ms past the millisecond.
    assert.strictEqual(Ticks.toEpochMillis(636511020271871480n), 1515505227187)
    assert.strictEqual(Ticks.fromEpochMillis(1515505227187), 636511020271870000n)
  })

  it("ignores the kind bits of DateTime.ToBinary()", () => {
    const utc = 636511020271871480n
    const kindUtc = utc | (1n << 62n)
    assert.strictEqual(Ticks.toEpochMillis(kindUtc), 1515505227187)
    // Kind Local sets the top bit, so the int64 field decodes as a negative bigint.
    const kindLocalAsInt64 = utc - (1n << 63n)
    assert.strictEqual(Ticks.toEpochMillis(kindLocalAsInt64), 1515505227187)
  })

  it("rounds moments before the epoch down to the millisecond, like moments after it", () => {
    assert.strictEqual(Ticks.toEpochMillis(Ticks.unixEpoch - 1n), -1)
    assert.strictEqual(Ticks.toEpochMillis(Ticks.unixEpoch + 1n), 0)
  })

  it("takes milliseconds as numbers (fractions dropped) or bigints", () => {
    assert.strictEqual(Ticks.fromEpochMillis(1515505227187.9), Ticks.fromEpochMillis(1515505227187n))
  })

  const epochMillis = Arbitrary.schema(
    Schema.Int.check(Schema.isBetween({ minimum: -62_135_596_800_000, maximum: 253_402_300_799_999 }))
  )

  it.prop("any millisecond of years 1 to 9999 survives millis -> ticks -> millis and Date -> ticks -> Date", [
    epochMillis
  ], ([millis]) => {
    assert.strictEqual(Ticks.toEpochMillis(Ticks.fromEpochMillis(millis)), millis)
    assert.strictEqual(Ticks.toDate(Ticks.fromDate(new Date(millis))).getTime(), millis)
  })
})
