// The boundary check: an untyped decoded value becomes a typed message, or a ProtocolError naming the flaw.

import { ProtocolError } from "../core/errors.js";
import {
  isOneWayKind,
  isRequestKind,
  oneWaySchemas,
  replySchema,
  requestSchemas,
  type Message,
  type ReplyBody,
  type RequestKind,
} from "./messages.js";
import { SchemaFailure, type Schema } from "./schema.js";

export function validateMessage(value: unknown): Message {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("message is not an object");
  }
  const kind = (value as { kind?: unknown }).kind;
  if (typeof kind !== "string") throw new ProtocolError("message has no kind");
  let schema: Schema<unknown>;
  if (kind === "reply") schema = replySchema;
  else if (isOneWayKind(kind)) schema = oneWaySchemas[kind];
  else if (isRequestKind(kind)) {
    const rid = (value as { rid?: unknown }).rid;
    if (typeof rid !== "number" || !Number.isSafeInteger(rid) || rid < 0) {
      throw new ProtocolError(`request ${kind} has no valid rid`);
    }
    schema = requestSchemas[kind].request;
  } else throw new ProtocolError(`unknown message kind ${JSON.stringify(kind.slice(0, 64))}`);
  const result = schema.check(value, kind);
  if (result instanceof SchemaFailure) throw new ProtocolError(`malformed ${kind}: ${result.reason}`);
  return value as Message;
}

export function validateReplyBody<K extends RequestKind>(kind: K, body: unknown): ReplyBody<K> {
  const result = requestSchemas[kind].reply.check(body, `reply to ${kind}`);
  if (result instanceof SchemaFailure) throw new ProtocolError(`malformed reply to ${kind}: ${result.reason}`);
  return result as ReplyBody<K>;
}
