// What EtcdStore and HeadElection share about talking to etcd through `etcd3`: client options, deadlines, errors.

import { Etcd3, isRecoverableError } from "etcd3";
import { AssertionError, assert } from "../core/assert.js";
import { ConnectionClosedError, ShoalError, TimeoutError } from "../core/errors.js";

/** gRPC's default 4 MiB would fail a page of large records; etcd has no response limit of its own. */
const receiveBytesMax = 64 * 1024 * 1024;

/** etcd's own words for a cluster without a working majority right now. */
const transientEtcdMessages = ["request timed out", "leader changed", "no leader", "too many requests", "server stopped"];

const unreachableTodo = "check that a majority of the etcd members are running and reachable from this head, then retry";

export function checkEndpoints(endpoints: readonly string[]): void {
  assert(endpoints.length > 0 && endpoints.every((endpoint) => endpoint !== ""), "etcd endpoints are given");
}

/**
 * A client whose unary calls each get half of `timeoutMs`, so a hung member still leaves time to retry on
 * another one (etcd3 retries recoverable errors on the next member). gRPC only takes absolute deadlines;
 * callers bound the whole operation with `within`, on the monotonic clock.
 */
export function createEtcdClient(endpoints: readonly string[], timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + Math.ceil(timeoutMs / 2) }),
    grpcOptions: { "grpc.max_receive_message_length": receiveBytesMax },
  });
}

/** Resolves or rejects as `work` does, or rejects with a retryable TimeoutError naming the endpoints after `timeoutMs`. */
export async function within<T>(endpoints: readonly string[], action: string, timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`etcd at ${endpoints.join(", ")}: cannot ${action} within ${timeoutMs} ms; ${unreachableTodo}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Turns etcd3 and gRPC errors into ShoalErrors that name the endpoints and say what to do; others pass through. */
export function describeEtcdError(endpoints: readonly string[], action: string, error: unknown): unknown {
  if (error instanceof ShoalError || error instanceof AssertionError || !(error instanceof Error)) return error;
  const what = `etcd at ${endpoints.join(", ")}: cannot ${action} (${error.message})`;
  if (/larger than max|request is too large/.test(error.message)) {
    const why = "the record is larger than etcd's request limit (--max-request-bytes, 1.5 MiB by default)";
    return new ShoalError("internal", `${what}; ${why}`, false, { cause: error });
  }
  const transient =
    isRecoverableError(error) ||
    error.name === "BrokenCircuitError" ||
    transientEtcdMessages.some((message) => error.message.includes(message));
  if (transient) return new ConnectionClosedError(`${what}; ${unreachableTodo}`);
  return new ShoalError("internal", what, false, { cause: error });
}
