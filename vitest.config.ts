import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// vitest 5's reporter calls Map.groupBy when it prints failures; Node 20, which this project supports,
// lacks it (it arrived in Node 21), and without it a failing run reports a crash instead of the failure.
const mapWithGroupBy = Map as unknown as {
  groupBy?: <K, T>(items: Iterable<T>, key: (item: T, index: number) => K) => Map<K, Array<T>>
}
if (mapWithGroupBy.groupBy === undefined) {
  mapWithGroupBy.groupBy = <K, T>(items: Iterable<T>, key: (item: T, index: number) => K) => {
    const groups = new Map<K, Array<T>>()
    let index = 0
    for (const item of items) {
      const k = key(item, index++)
      const group = groups.get(k)
      if (group === undefined) groups.set(k, [item])
      else group.push(item)
    }
    return groups
  }
}

// Tests import each package by its public name and run against its sources, so no build is needed.
const source = (pkg: string) => ({
  find: new RegExp(`^@photonpump/${pkg}$`),
  replacement: fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))
})

export default defineConfig({
  resolve: {
    alias: [source("protocol"), source("server"), source("client")]
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "bench/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
