/**
 * Memory for stored events. Each event's record (`StoredEvent`, which holds its id, data and
 * metadata) is written into a slice of a shared 64 KiB slab: one cheap carve per event instead of an
 * allocation, and no zero-filling; nothing the store keeps points into a socket chunk. Records larger
 * than a quarter slab get their own buffer. A slab lives as long as any record in it, which for an
 * in-memory store is as long as the store.
 *
 * @since 0.1.0
 */

const slabSize = 64 * 1024
const ownBufferAbove = slabSize / 4

let slab = new ArrayBuffer(slabSize)
let used = 0

/**
 * A view of `length` fresh bytes (their content is whatever the slab held: callers fill them).
 *
 * @since 0.1.0
 * @category allocation
 */
export const allocate = (length: number): Uint8Array => {
  if (length > ownBufferAbove) return new Uint8Array(length)
  if (used + length > slabSize) {
    slab = new ArrayBuffer(slabSize)
    used = 0
  }
  const view = new Uint8Array(slab, used, length)
  used += length
  return view
}
