// Programmer-error checks that stay on in production (a failed assert is a bug, never caught to continue).

export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, why: string): asserts condition {
  if (!condition) throw new AssertionError(`assertion failed: ${why}`);
}

/** A failed check whose message is costly to build: `if (!ok) fail(\`...\`)` builds it only on failure (hot paths). */
export function fail(why: string): never {
  throw new AssertionError(`assertion failed: ${why}`);
}

/** Ends every switch over a union: the compiler proves it unreachable, the runtime reports if it is not. */
export function assertNever(value: never, what = "value"): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
