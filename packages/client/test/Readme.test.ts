/**
 * The README's quick start is the demo: the first TypeScript block of the client README is
 * `examples/src/Demo.ts`, byte for byte, so that the code people copy is the code `npm run demo` runs
 * (and CI runs it).
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8")

describe("README", () => {
  it("quick start is examples/src/Demo.ts verbatim", () => {
    const readme = read("../README.md")
    const quickStart = readme.slice(readme.indexOf("## Quick start"))
    const opening = "```ts\n"
    const start = quickStart.indexOf(opening) + opening.length
    const code = quickStart.slice(start, quickStart.indexOf("\n```\n", start) + 1)
    assert.strictEqual(code, read("../../../examples/src/Demo.ts"))
  })
})
