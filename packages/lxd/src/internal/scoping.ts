/**
 * The project and cluster member applied to calls in the current fiber.
 */
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"

/** The project applied to calls in the current fiber (none: the server's default). */
export const currentProject: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none())

/** The cluster member applied to calls in the current fiber. */
export const currentTarget: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none())
