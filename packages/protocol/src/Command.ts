/**
 * The command byte that opens every package, and what each one is called. This table is the single
 * place where the protocol's command numbers live (docs/protocol.md section 2).
 *
 * @since 0.1.0
 */

/**
 * Every command byte a client or an external server uses. The commands that only travel between
 * cluster nodes (replication, 0x05 to 0x17) are left out: a node that receives one on its external
 * interface treats it as unknown.
 *
 * @since 0.1.0
 * @category constants
 */
export const Command = {
  HeartbeatRequest: 0x01,
  HeartbeatResponse: 0x02,
  Ping: 0x03,
  Pong: 0x04,

  WriteEvents: 0x82,
  WriteEventsCompleted: 0x83,
  TransactionStart: 0x84,
  TransactionStartCompleted: 0x85,
  TransactionWrite: 0x86,
  TransactionWriteCompleted: 0x87,
  TransactionCommit: 0x88,
  TransactionCommitCompleted: 0x89,
  DeleteStream: 0x8a,
  DeleteStreamCompleted: 0x8b,

  ReadEvent: 0xb0,
  ReadEventCompleted: 0xb1,
  ReadStreamEventsForward: 0xb2,
  ReadStreamEventsForwardCompleted: 0xb3,
  ReadStreamEventsBackward: 0xb4,
  ReadStreamEventsBackwardCompleted: 0xb5,
  ReadAllEventsForward: 0xb6,
  ReadAllEventsForwardCompleted: 0xb7,
  ReadAllEventsBackward: 0xb8,
  ReadAllEventsBackwardCompleted: 0xb9,
  FilteredReadAllEventsForward: 0xba,
  FilteredReadAllEventsForwardCompleted: 0xbb,
  FilteredReadAllEventsBackward: 0xbc,
  // 0xbd is unused by every server version.
  FilteredReadAllEventsBackwardCompleted: 0xbe,

  SubscribeToStream: 0xc0,
  SubscriptionConfirmation: 0xc1,
  StreamEventAppeared: 0xc2,
  UnsubscribeFromStream: 0xc3,
  SubscriptionDropped: 0xc4,
  ConnectToPersistentSubscription: 0xc5,
  PersistentSubscriptionConfirmation: 0xc6,
  PersistentSubscriptionStreamEventAppeared: 0xc7,
  CreatePersistentSubscription: 0xc8,
  CreatePersistentSubscriptionCompleted: 0xc9,
  DeletePersistentSubscription: 0xca,
  DeletePersistentSubscriptionCompleted: 0xcb,
  PersistentSubscriptionAckEvents: 0xcc,
  PersistentSubscriptionNakEvents: 0xcd,
  UpdatePersistentSubscription: 0xce,
  UpdatePersistentSubscriptionCompleted: 0xcf,

  ScavengeDatabase: 0xd0,
  ScavengeDatabaseResponse: 0xd1,
  FilteredSubscribeToStream: 0xd2,
  CheckpointReached: 0xd3,

  BadRequest: 0xf0,
  NotHandled: 0xf1,
  Authenticate: 0xf2,
  Authenticated: 0xf3,
  NotAuthenticated: 0xf4,
  IdentifyClient: 0xf5,
  ClientIdentified: 0xf6
} as const

/**
 * A command byte known to this package.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = (typeof Command)[keyof typeof Command]

/**
 * The name of a command known to this package.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandName = keyof typeof Command

const names: Array<string | undefined> = Array.from({ length: 256 })
for (const [name, byte] of Object.entries(Command)) names[byte] = name

/**
 * Tells whether a byte is a command of the external TCP protocol.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCommand = (byte: number): byte is Command => names[byte] !== undefined

/**
 * The name of a command byte, or its hex form (`0x17`) for bytes this package does not know.
 *
 * @since 0.1.0
 * @category utils
 */
export const name = (byte: number): string => names[byte] ?? `0x${byte.toString(16).padStart(2, "0")}`
