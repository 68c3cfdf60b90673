/**
 * The direction of a read: from the oldest event towards the newest, or the other way.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category constants
 */
export const StreamDirection = {
  Forward: "Forward",
  Backward: "Backward"
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type StreamDirection = (typeof StreamDirection)[keyof typeof StreamDirection]

/**
 * @since 0.1.0
 * @category constants
 */
export const Forward: StreamDirection = StreamDirection.Forward

/**
 * @since 0.1.0
 * @category constants
 */
export const Backward: StreamDirection = StreamDirection.Backward
