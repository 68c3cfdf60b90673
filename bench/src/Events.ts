/**
 * The event every workload writes and reads: an order of about 200 bytes of JSON, the same for every
 * contender. Clients are handed the object (so that serialising it is part of their cost, as it is for
 * their users); the raw socket and the seeded streams get its bytes.
 *
 * @since 0.1.0
 */

/**
 * The event type of every benchmark event.
 *
 * @since 0.1.0
 * @category constants
 */
export const eventType = "OrderPlaced"

/**
 * The body of the `sequence`-th event: 190 to 200 bytes of JSON.
 *
 * @since 0.1.0
 * @category constructors
 */
export const body = (sequence: number) => ({
  orderId: "order-7d1c2e",
  customer: "customer-4711",
  sequence,
  placedAt: "2024-05-01T12:34:56.789Z",
  total: 1234.56,
  lines: [{ sku: "SKU-100", quantity: 2 }, { sku: "SKU-200", quantity: 1 }]
})

const encoder = new TextEncoder()

/**
 * The body of the `sequence`-th event as UTF-8 JSON bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bodyBytes = (sequence: number): Uint8Array => encoder.encode(JSON.stringify(body(sequence)))
