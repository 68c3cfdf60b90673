/**
 * Which handler serves which command: the one place to look for where a request is handled.
 * Commands not listed here are answered with BadRequest, the connection kept.
 *
 * @since 0.1.0
 */
import { Command } from "@photonpump/protocol"
import * as AllReads from "./handlers/AllReads.ts"
import * as Deletes from "./handlers/Deletes.ts"
import * as Misc from "./handlers/Misc.ts"
import * as Persistent from "./handlers/PersistentSubscriptions.ts"
import * as Reads from "./handlers/Reads.ts"
import * as Subscriptions from "./handlers/Subscriptions.ts"
import * as Transactions from "./handlers/Transactions.ts"
import * as Writes from "./handlers/Writes.ts"
import type * as Node from "./Node.ts"

const C = Command.Command

const table: Array<Node.Handler | undefined> = Array.from({ length: 256 })
table[C.Ping] = Misc.ping
table[C.WriteEvents] = Writes.writeEvents
table[C.TransactionStart] = Transactions.transactionStart
table[C.TransactionWrite] = Transactions.transactionWrite
table[C.TransactionCommit] = Transactions.transactionCommit
table[C.DeleteStream] = Deletes.deleteStream
table[C.ReadEvent] = Reads.readEvent
table[C.ReadStreamEventsForward] = Reads.readStreamEventsForward
table[C.ReadStreamEventsBackward] = Reads.readStreamEventsBackward
table[C.ReadAllEventsForward] = AllReads.readAllEventsForward
table[C.ReadAllEventsBackward] = AllReads.readAllEventsBackward
table[C.FilteredReadAllEventsForward] = AllReads.filteredReadAllEventsForward
table[C.FilteredReadAllEventsBackward] = AllReads.filteredReadAllEventsBackward
table[C.ScavengeDatabase] = Misc.scavengeDatabase
table[C.SubscribeToStream] = Subscriptions.subscribeToStream
table[C.FilteredSubscribeToStream] = Subscriptions.filteredSubscribeToStream
table[C.UnsubscribeFromStream] = Subscriptions.unsubscribeFromStream
table[C.CreatePersistentSubscription] = Persistent.createPersistentSubscription
table[C.UpdatePersistentSubscription] = Persistent.updatePersistentSubscription
table[C.DeletePersistentSubscription] = Persistent.deletePersistentSubscription
table[C.ConnectToPersistentSubscription] = Persistent.connectToPersistentSubscription
table[C.PersistentSubscriptionAckEvents] = Persistent.persistentSubscriptionAckEvents
table[C.PersistentSubscriptionNakEvents] = Persistent.persistentSubscriptionNakEvents

/**
 * The handler of a command byte, if the node serves that command.
 *
 * @since 0.1.0
 * @category dispatch
 */
export const handlerOf = (command: number): Node.Handler | undefined => table[command]

