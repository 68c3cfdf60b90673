import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

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
    include: ["packages/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
