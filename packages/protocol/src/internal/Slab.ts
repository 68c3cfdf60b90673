/**
 * Small buffers carved out of shared slabs. V8 allocates a typed array of more than 64 bytes outside
 * its heap, which costs close to a microsecond; a view into a slab costs a tenth of that. Frames are
 * encoded once per request and assembled once per frame that straddles two reads, so this is on the
 * hot path of both ends of the wire.
 *
 * A region is handed out once and never reused: a view keeps its slab alive, and nothing else ever
 * writes to it. Like any fresh `Uint8Array`, a region starts zero-filled.
 *
 * @internal
 */

const slabSize = 64 * 1024

/** Larger buffers get their own allocation: they would waste slabs, and cost little more on their own. */
const largestPooled = 4 * 1024

let slab = new Uint8Array(slabSize)
let used = 0

/** A zero-filled buffer of `length` bytes, possibly a view into a shared slab. */
export const allocate = (length: number): Uint8Array => {
  if (length > largestPooled) return new Uint8Array(length)
  if (used + length > slabSize) {
    slab = new Uint8Array(slabSize)
    used = 0
  }
  const region = slab.subarray(used, used + length)
  used += length
  return region
}
