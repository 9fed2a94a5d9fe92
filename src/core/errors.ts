// Operating errors: one ShoalError base with a stable wire `code` and a `retryable` flag.

export type ErrorCode =
  | "task_failed"
  | "task_cancelled"
  | "dependency_failed"
  | "worker_crashed"
  | "timeout"
  | "connection_closed"
  | "protocol"
  | "auth"
  | "capacity"
  | "not_found"
  /** A task's input could not be fetched from the node that holds it (that node may be dying). */
  | "object_unavailable"
  | "internal";

/** The serialisable form of an error, as it crosses the wire. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  /** Constructor name of the error thrown in user code, e.g. "RangeError". */
  errorName?: string;
  remoteStack?: string;
  taskName?: string;
  taskId?: string;
  nodeId?: string;
  attempt?: number;
}

export class ShoalError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retryable = retryable;
  }
  override get name(): string {
    return this.constructor.name;
  }
  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** A task failed: user code threw, its worker died, or a dependency failed. Carries where and how. */
export class TaskError extends ShoalError {
  readonly taskName: string;
  readonly taskId: string;
  readonly nodeId: string | undefined;
  readonly attempt: number | undefined;
  readonly errorName: string | undefined;
  readonly remoteStack: string | undefined;
  constructor(info: ErrorInfo) {
    super(info.code, info.message, info.retryable);
    this.taskName = info.taskName ?? "?";
    this.taskId = info.taskId ?? "?";
    this.nodeId = info.nodeId;
    this.attempt = info.attempt;
    this.errorName = info.errorName;
    this.remoteStack = info.remoteStack;
    if (info.remoteStack !== undefined) {
      this.stack = `${this.name}: ${this.message}\n    --- remote stack (task ${this.taskName} on node ${this.nodeId ?? "?"}) ---\n${info.remoteStack}`;
    }
  }
  override toInfo(): ErrorInfo {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      taskName: this.taskName,
      taskId: this.taskId,
      ...(this.nodeId !== undefined && { nodeId: this.nodeId }),
      ...(this.attempt !== undefined && { attempt: this.attempt }),
      ...(this.errorName !== undefined && { errorName: this.errorName }),
      ...(this.remoteStack !== undefined && { remoteStack: this.remoteStack }),
    };
  }
}

export class TimeoutError extends ShoalError {
  constructor(message: string) {
    super("timeout", message, true);
  }
}

export class ConnectionClosedError extends ShoalError {
  constructor(message: string) {
    super("connection_closed", message, true);
  }
}

export class ProtocolError extends ShoalError {
  constructor(message: string) {
    super("protocol", message, false);
  }
}

export class AuthError extends ShoalError {
  constructor(message: string) {
    super("auth", message, false);
  }
}

export class CapacityError extends ShoalError {
  constructor(message: string, retryable = false) {
    super("capacity", message, retryable);
  }
}

/** Rebuilds the right error class from its wire form. */
export function errorFromInfo(info: ErrorInfo): ShoalError {
  switch (info.code) {
    case "timeout":
      return info.taskName !== undefined ? new TaskError(info) : new TimeoutError(info.message);
    case "connection_closed":
      return new ConnectionClosedError(info.message);
    case "protocol":
      return new ProtocolError(info.message);
    case "auth":
      return new AuthError(info.message);
    case "capacity":
      return info.taskName !== undefined ? new TaskError(info) : new CapacityError(info.message, info.retryable);
    case "task_failed":
    case "task_cancelled":
    case "dependency_failed":
    case "worker_crashed":
      return new TaskError(info);
    case "not_found":
    case "object_unavailable":
    case "internal":
      return new ShoalError(info.code, info.message, info.retryable);
  }
}

/** Describes anything thrown (user code may throw non-Errors) as text. */
export function describeThrown(thrown: unknown): { errorName: string; message: string; stack?: string } {
  if (thrown instanceof Error) {
    return { errorName: thrown.name, message: thrown.message, ...(thrown.stack !== undefined && { stack: thrown.stack }) };
  }
  let message: string;
  try {
    message = typeof thrown === "string" ? thrown : JSON.stringify(thrown) ?? String(thrown);
  } catch {
    message = String(thrown);
  }
  return { errorName: typeof thrown, message };
}
