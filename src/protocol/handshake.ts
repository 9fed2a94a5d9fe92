// The versioned handshake: both sides prove they know the cluster token by HMAC; the token never crosses the wire.
//
// dialer -> hello{version, role, nonce_d}
// server -> challenge{version, nonce_s, proof = HMAC(token, "server" | nonce_d | nonce_s)}
// dialer verifies the server first (so it never answers an impostor), then
// dialer -> proof{HMAC(token, "dialer" | nonce_s | nonce_d)}
// server -> welcome{} or rejected{reason}
// The role labels differ, so one side's proof can never be replayed as the other's.
//
// A "reader" (a worker process, which runs user code) proves a key derived from the token instead:
// enough to fetch objects from nodes' object servers, useless for joining as a node or a client, and
// the token cannot be recovered from it.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { protocolVersion } from "../core/limits.js";
import { bytes, literal, object, str, tagged, uint, SchemaFailure, type Infer } from "./schema.js";
import { ProtocolError } from "../core/errors.js";

export type PeerRole = "node" | "client" | "peer" | "reader";

const nonce = bytes(64);
export const handshakeSchema = tagged("kind", {
  hello: object({ protocol: literal("shoal"), version: uint, role: literal("node", "client", "peer", "reader"), nonce }),
  challenge: object({ version: uint, nonce, proof: bytes(64) }),
  proof: object({ proof: bytes(64) }),
  welcome: object({}),
  rejected: object({ reason: str(1024) }),
});
export type HandshakeMessage = Infer<typeof handshakeSchema>;

export function validateHandshake(value: unknown): HandshakeMessage {
  const result = handshakeSchema.check(value, "handshake");
  if (result instanceof SchemaFailure) throw new ProtocolError(`bad handshake message: ${result.reason}`);
  return result;
}

export function newNonce(): Buffer {
  return randomBytes(32);
}

/** The key a reader proves: an HMAC of a fixed label under the token (one-way). */
export function readerKey(token: string): string {
  return createHmac("sha256", token).update("shoal object reader v1").digest("base64url");
}

/** The key a server checks for a dialer of `role`, given the cluster token. */
export function keyForRole(token: string, role: PeerRole): string {
  return role === "reader" ? readerKey(token) : token;
}

export function prove(token: string, label: "server" | "dialer", first: Uint8Array, second: Uint8Array): Buffer {
  return createHmac("sha256", token).update(label).update(first).update(second).digest();
}

export function proofMatches(expected: Buffer, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

export const ourVersion = protocolVersion;
