/**
 * Memory for stored events. An event's id, data and metadata are copied out of the socket chunk they
 * arrived in (so that the store keeps no chunk alive) into slices of shared 64 KiB slabs: one cheap
 * carve per event instead of an allocation, and no zero-filling. Events larger than a quarter slab get
 * their own buffer. A slab lives as long as any event in it, which for an in-memory store is as long
 * as the store.
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
