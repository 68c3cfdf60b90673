/**
 * The ways of getting the service: `layer` (options or a connection string), `layerConfig` (from a
 * `ConfigProvider`) and `connect` (in the caller's scope).
 */
import { assert, layer } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { EventStoreServer } from "@photonpump/server"
import { EventStore, EventStoreError } from "@photonpump/client"
import { failsWith } from "./Assertions.ts"
import { streamName } from "./TestServer.ts"

const Server = Layer.fresh(EventStoreServer.layer({ port: 0 }))

layer(Server, { excludeTestServices: true })("Layers", (it) => {
  it.effect("layer takes a connection string", () =>
    Effect.gen(function*() {
      const { host, port } = yield* EventStoreServer.EventStoreServer
      const rtt = yield* Effect.flatMap(EventStore.EventStore, (es) => es.ping()).pipe(
        Effect.provide(EventStore.layer(`tcp://admin:changeit@${host}:${port}?connectionName=layer-test`), {
          local: true
        })
      )
      assert.isDefined(rtt)
    }))

  it.effect("layerConfig reads the EVENTSTORE_ variables from the ConfigProvider", () =>
    Effect.gen(function*() {
      const { host, port } = yield* EventStoreServer.EventStoreServer
      const provider = ConfigProvider.fromEnv({
        env: {
          EVENTSTORE_HOST: host,
          EVENTSTORE_PORT: String(port),
          EVENTSTORE_USERNAME: "admin",
          EVENTSTORE_PASSWORD: "changeit",
          EVENTSTORE_OPERATION_TIMEOUT: "5s"
        }
      })
      const settings = yield* Effect.map(EventStore.EventStore, (es) => es.settings).pipe(
        Effect.provide(EventStore.layerConfig().pipe(Layer.provide(ConfigProvider.layer(provider))), {
          local: true
        })
      )
      assert.strictEqual(settings.port, port)
      assert.strictEqual(settings.credentials?.username, "admin")
    }))

  it.effect("layerConfig takes a record of one Config per option", () =>
    Effect.gen(function*() {
      const { host, port } = yield* EventStoreServer.EventStoreServer
      const provider = ConfigProvider.fromEnv({ env: { ES_HOST: host, ES_PORT: String(port) } })
      const config = { host: Config.String("ES_HOST"), port: Config.Port("ES_PORT"), connectionName: Config.succeed("wrapped") }
      const settings = yield* Effect.map(EventStore.EventStore, (es) => es.settings).pipe(
        Effect.provide(EventStore.layerConfig(config).pipe(Layer.provide(ConfigProvider.layer(provider))), {
          local: true
        })
      )
      assert.strictEqual(settings.port, port)
      assert.strictEqual(settings.connectionName, "wrapped")
    }))

  it.effect("layerConfig fails with the config's error when a variable is wrong", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromEnv({ env: { EVENTSTORE_PORT: "not a port" } })
      const exit = yield* Effect.exit(
        Effect.provide(Effect.asVoid(EventStore.EventStore), EventStore.layerConfig().pipe(Layer.provide(ConfigProvider.layer(provider))), {
          local: true
        })
      )
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("connect gives the service in the caller's scope and closes it with the scope", () =>
    Effect.gen(function*() {
      const { host, port } = yield* EventStoreServer.EventStoreServer
      const scope = yield* Scope.make()
      const es = yield* Scope.provide(EventStore.connect({ host, port }), scope)
      yield* es.publishEvent(streamName("scoped"), "A")
      yield* Scope.close(scope, Exit.void)
      const error = yield* failsWith(es.ping(), EventStoreError.ConnectionError)
      assert.strictEqual(error.reason, "ClientClosed")
    }))

  it.effect("operations make spans only when tracing is on", () =>
    Effect.gen(function*() {
      const { host, port } = yield* EventStoreServer.EventStoreServer
      const names: Array<string> = []
      const recording = Tracer.make({
        span: (options) => {
          names.push(options.name)
          return new Tracer.NativeSpan(options)
        }
      })
      const traced = yield* EventStore.connect({ host, port, tracing: true })
      const untraced = yield* EventStore.connect({ host, port })
      const stream = streamName("traced")
      yield* Effect.provideService(
        Effect.all([traced.ping(), traced.publishEvent(stream, "A"), untraced.ping(), untraced.get(stream)]),
        Tracer.Tracer,
        recording
      )
      assert.deepStrictEqual(names, ["EventStore.ping", "EventStore.publishEvent"])
    }))

  it.effect("invalid settings fail before connecting", () =>
    Effect.gen(function*() {
      const error = yield* failsWith(EventStore.connect("tcp://localhost:99999"), EventStoreError.InvalidSettings)
      assert.include(error.message, "65535")
    }))
})
