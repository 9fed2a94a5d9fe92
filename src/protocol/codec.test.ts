// Tests of the frame codec: round trips, arbitrary splits of the byte stream, and hostile input.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { ProtocolError } from "../core/errors.js";
import { limits } from "../core/limits.js";
import { encodeFrame, encodePartHeader, FrameDecoder, frameHeaderBytes, partHeaderBytesMax, type DecodedPart } from "./codec.js";
import { validateHandshake } from "./handshake.js";
import { validateMessage } from "./validate.js";

/** Feeds the pieces in order and collects every complete batch. */
function decodeAll(pieces: readonly Buffer[], frameBytesMax = limits.frameBytesMax): unknown[][] {
  const decoder = new FrameDecoder(frameBytesMax);
  const batches: unknown[][] = [];
  for (const piece of pieces) {
    decoder.push(piece);
    for (let batch = decoder.next(); batch !== undefined; batch = decoder.next()) batches.push(batch);
  }
  return batches;
}

/** A frame around an arbitrary body (the length header is honest, the body need not be msgpack). */
function frameAround(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(frameHeaderBytes + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, frameHeaderBytes);
  return frame;
}

function splitAt(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (let index = 0; offset < bytes.length; index++) {
    const size = sizes.length === 0 ? bytes.length : (sizes[index % sizes.length] as number);
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return pieces;
}

/** Decoded bytes come back as Buffers; mark them so a comparison also checks they are bytes. */
class Bytes {
  constructor(readonly hex: string) {}
}
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Bytes(Buffer.from(value).toString("hex"));
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normalize(item)]));
  }
  return value;
}

const key = fc.string({ unit: "binary", maxLength: 12 }).filter((text) => text !== "__proto__");
const leaf = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
  fc.maxSafeInteger(),
  fc.double().filter((x) => !Object.is(x, -0)), // msgpackr writes -0 as the integer 0
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 64 }),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("tree"), { maxLength: 5 }),
    fc.dictionary(key, tie("tree"), { maxKeys: 5 }),
  ),
}));
const batch = fc.array(tree, { maxLength: 8 });

const heartbeat = (tasksQueued: number) => ({ kind: "heartbeat", tasksQueued, tasksRunning: 1, objects: 2, objectsBytes: 3 });

/** Valid messages of several shapes, the seed of the mutation fuzzers. */
const validMessages: readonly unknown[] = [
  heartbeat(7),
  { kind: "bundle_has", rid: 4, bundleId: "b-1" },
  { kind: "object_part", xfer: 3, size: 2048, offset: 1024, data: new Uint8Array([1, 2, 3, 4]) },
  {
    kind: "task_results",
    results: [
      { status: "done", taskId: "t-1", attempt: 0, runMs: 1.5, inline: new Uint8Array([0x91, 1]), size: 2 },
      {
        status: "failed",
        taskId: "t-2",
        attempt: 1,
        runMs: 3,
        error: { code: "task_failed", message: "boom", retryable: false, errorName: "RangeError" },
        systemFailure: false,
      },
    ],
  },
  { kind: "reply", rid: 4, ok: true, body: { has: true } },
  { kind: "node_register", rid: 1, hostname: "h", pid: 10, dataAddress: "h:1", resources: { cpus: 4 }, labels: { zone: "a" } },
];
const validHandshakes: readonly unknown[] = [
  { kind: "hello", protocol: "shoal", version: 1, role: "node", nonce: new Uint8Array(32).fill(7) },
  { kind: "proof", proof: new Uint8Array(32).fill(9) },
];

/** Decodes everything it can and validates each message; returns what was thrown, if anything. */
function feedHostile(pieces: readonly Buffer[], frameBytesMax: number): unknown {
  const decoder = new FrameDecoder(frameBytesMax);
  try {
    for (const piece of pieces) {
      decoder.push(piece);
      for (let decoded = decoder.next(); decoded !== undefined; decoded = decoder.next()) {
        for (const raw of decoded) {
          try {
            validateHandshake(raw);
          } catch (error) {
            if (!(error instanceof ProtocolError)) throw error;
          }
          validateMessage(raw);
        }
      }
    }
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The decoder must answer with a ProtocolError or nothing, and promptly. */
function assertSurvives(pieces: readonly Buffer[], frameBytesMax: number): void {
  const startedMs = performance.now();
  const thrown = feedHostile(pieces, frameBytesMax);
  const elapsedMs = performance.now() - startedMs;
  if (thrown !== undefined && !(thrown instanceof ProtocolError)) {
    assert.fail(`threw ${String(thrown)} (not a ProtocolError) for ${Buffer.concat(pieces).toString("hex").slice(0, 400)}`);
  }
  assert.ok(elapsedMs < 1_000, `decoding took ${elapsedMs} ms`);
}

test("an empty batch round-trips as an empty array in a 9-byte frame", () => {
  const frame = encodeFrame([]);
  assert.deepEqual([...frame], [0, 0, 0, 5, 0xdd, 0, 0, 0, 0]);
  assert.deepEqual(decodeAll([frame]), [[]]);
});

test("a batch of many messages round-trips in order", () => {
  const messages = Array.from({ length: 5_000 }, (_, index) => heartbeat(index));
  const frame = encodeFrame(messages);
  assert.equal(frame.readUInt32BE(0), frame.length - frameHeaderBytes);
  assert.deepEqual(decodeAll([frame]), [messages]);
});

test("binary payloads come back as the same bytes", () => {
  const payload = Buffer.alloc(300_000);
  for (let index = 0; index < payload.length; index++) payload[index] = (index * 31) & 0xff;
  const messages = [
    { kind: "object_part", xfer: 1, size: 300_004, offset: 0, data: payload },
    { kind: "object_part", xfer: 1, size: 300_004, offset: 300_000, data: new Uint8Array([0, 255, 0x90, 0xc1]) },
    { kind: "object_part", xfer: 1, size: 300_004, offset: 300_004, data: new Uint8Array(0) },
  ];
  const [decoded] = decodeAll([encodeFrame(messages)]) as [Array<{ data: unknown }>];
  assert.equal(decoded.length, 3);
  for (const [index, message] of decoded.entries()) {
    assert.ok(message.data instanceof Uint8Array, `message ${index} data is bytes`);
    assert.ok(Buffer.from(message.data).equals(Buffer.from(messages[index]!.data)), `message ${index} bytes match`);
  }
  assert.deepEqual(validateMessage(decoded[0]), decoded[0]);
});

test("unicode strings and keys round-trip exactly", () => {
  const texts = ["", "héllo", "日本語テキスト", "👩‍👩‍👧‍👦 family", "a\u0301", "\u0000nul", "\u{10ffff}", "é".repeat(100_000)];
  const messages = texts.map((text, index) => ({ kind: "shutdown", reason: text, [`ключ-${index}-🔑`]: text }));
  assert.deepEqual(decodeAll([encodeFrame(messages)]), [messages]);
});

test("arbitrary batches round-trip (property)", () => {
  fc.assert(
    fc.property(batch, (messages) => {
      assert.deepStrictEqual(normalize(decodeAll([encodeFrame(messages)])), [normalize(messages)]);
    }),
    { numRuns: 300 },
  );
});

test("a stream of frames fed byte by byte yields the same batches", () => {
  const batches = [[heartbeat(1)], [], validMessages.slice(), [heartbeat(2), heartbeat(3)], [{ text: "ü".repeat(500) }]];
  const stream = Buffer.concat(batches.map((messages) => encodeFrame(messages)));
  const oneByte = splitAt(stream, [1]);
  assert.equal(oneByte.length, stream.length);
  assert.deepStrictEqual(normalize(decodeAll(oneByte)), normalize(batches));
});

test("a stream of frames in random splits yields the same batches (property)", () => {
  fc.assert(
    fc.property(fc.array(batch, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 20 }), (batches, sizes) => {
      const stream = Buffer.concat(batches.map((messages) => encodeFrame(messages)));
      assert.deepStrictEqual(normalize(decodeAll(splitAt(stream, sizes))), normalize(batches));
    }),
    { numRuns: 300 },
  );
});

test("a partial frame yields nothing until its last byte arrives", () => {
  const frame = encodeFrame([heartbeat(1)]);
  const decoder = new FrameDecoder(limits.frameBytesMax);
  for (let index = 0; index < frame.length - 1; index++) {
    decoder.push(frame.subarray(index, index + 1));
    assert.equal(decoder.next(), undefined, `after ${index + 1} bytes`);
  }
  decoder.push(frame.subarray(frame.length - 1));
  assert.deepEqual(decoder.next(), [heartbeat(1)]);
  assert.equal(decoder.next(), undefined);
});

test("random bytes never make the decoder or validator throw anything but ProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2_048 }), fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 8 }), (bytes, sizes) => {
      assertSurvives(splitAt(Buffer.from(bytes), sizes), limits.handshakeFrameBytesMax);
      assertSurvives(splitAt(Buffer.from(bytes), sizes), limits.frameBytesMax);
    }),
    { numRuns: 2_000 },
  );
});

test("random frame bodies behind an honest length never throw anything but ProtocolError", () => {
  // Bias the bytes towards msgpack's structural markers so the parser goes deep.
  const markers = [0x90, 0x91, 0x92, 0x80, 0x81, 0xa1, 0xa4, 0xc0, 0xc4, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xdc, 0xdd, 0xde, 0xdf, 0xd3, 0xcf, 0xcb, 0xff];
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...markers), fc.constantFrom(0x42, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0x00, 0xff));
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 600 }), (body) => {
      assertSurvives([frameAround(Uint8Array.from(body))], limits.frameBytesMax);
      assertSurvives([frameAround(Uint8Array.from([0x91, ...body]))], limits.frameBytesMax);
    }),
    { numRuns: 3_000 },
  );
});

test("truncated valid frames wait for more bytes and never throw", () => {
  const stream = Buffer.concat(validMessages.map((message) => encodeFrame([message])));
  const firstFrameBytes = encodeFrame([validMessages[0]]).length;
  for (let cut = 0; cut < stream.length; cut++) {
    const decoder = new FrameDecoder(limits.frameBytesMax);
    decoder.push(stream.subarray(0, cut));
    const decoded: unknown[][] = [];
    for (let next = decoder.next(); next !== undefined; next = decoder.next()) decoded.push(next);
    assert.equal(decoded.length === 0, cut < firstFrameBytes, `cut at ${cut}`);
  }
});

test("truncated bodies behind a rewritten length are rejected with ProtocolError", () => {
  for (const message of [...validMessages, ...validHandshakes]) {
    const body = encodeFrame([message]).subarray(frameHeaderBytes);
    for (let cut = 0; cut < body.length; cut++) {
      const decoder = new FrameDecoder(limits.frameBytesMax);
      decoder.push(frameAround(body.subarray(0, cut)));
      assert.throws(() => decoder.next(), ProtocolError, `cut at ${cut} of ${JSON.stringify(normalize(message))}`);
    }
  }
});

test("mutated valid frames never make the decoder or validator throw anything but ProtocolError", () => {
  const stream = Buffer.concat([...validMessages, ...validHandshakes].map((message) => encodeFrame([message, message])));
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), byte: fc.constant(0) }),
  );
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.nat(), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }), (mutations, keep, sizes) => {
      const bytes = [...stream];
      for (const { kind, at, byte } of mutations) {
        const index = at % (bytes.length + 1);
        if (kind === "set") bytes[index % bytes.length] = byte;
        else if (kind === "insert") bytes.splice(index, 0, byte);
        else bytes.splice(index % bytes.length, 1);
      }
      const mutated = Buffer.from(bytes.slice(0, bytes.length - (keep % 8)));
      assertSurvives(splitAt(mutated, sizes), limits.frameBytesMax);
      assertSurvives(splitAt(mutated, sizes), limits.handshakeFrameBytesMax);
    }),
    { numRuns: 3_000 },
  );
});

test("valid messages with a field replaced by any value never throw anything but ProtocolError", () => {
  // Bigints and cycles can come off the wire (msgpack int64 and msgpackr's structured-clone ids).
  const cyclic: Record<string, unknown> = { status: "done" };
  cyclic["self"] = cyclic;
  const anyValue = fc.oneof(
    fc.anything({ withBigInt: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, maxDepth: 3 }),
    fc.constant(cyclic),
    fc.constant([cyclic]),
  );
  const paths = [...validMessages, ...validHandshakes].flatMap((message) => fieldPaths(message).map((path) => ({ message, path })));
  fc.assert(
    fc.property(fc.constantFrom(...paths), anyValue, ({ message, path }, value) => {
      const changed = replaceAt(message, path, value);
      for (const validate of [validateMessage, validateHandshake]) {
        try {
          validate(changed);
        } catch (error) {
          if (!(error instanceof ProtocolError)) assert.fail(`${path.join(".")} = ${String(value)} threw ${String(error)}`);
        }
      }
    }),
    { numRuns: 3_000 },
  );
});

test("a bigint tag (msgpack int64) is rejected with a ProtocolError that names the field", () => {
  const body = new Packr({ useRecords: false }).pack([{ kind: "task_results", results: [{ status: 5n }] }]);
  const [decoded] = decodeAll([frameAround(body)]) as [unknown[]];
  assert.equal((decoded[0] as { results: Array<{ status: unknown }> }).results[0]!.status, 5n);
  assert.throws(() => validateMessage(decoded[0]), {
    name: "ProtocolError",
    message: "malformed task_results: task_results.results[0].status: unknown status bigint",
  });
  assert.throws(() => validateHandshake({ kind: 5n }), {
    name: "ProtocolError",
    message: "bad handshake message: handshake.kind: unknown kind bigint",
  });
});

test("a frame length over the limit is rejected from the header alone, before the body arrives", () => {
  const decoder = new FrameDecoder(limits.handshakeFrameBytesMax);
  const header = Buffer.alloc(frameHeaderBytes);
  header.writeUInt32BE(limits.handshakeFrameBytesMax + 1, 0);
  decoder.push(header.subarray(0, 2));
  assert.equal(decoder.next(), undefined);
  decoder.push(header.subarray(2));
  assert.throws(() => decoder.next(), {
    name: "ProtocolError",
    message: `frame of ${limits.handshakeFrameBytesMax + 1} bytes exceeds the limit of ${limits.handshakeFrameBytesMax} bytes`,
  });

  const huge = new FrameDecoder(limits.frameBytesMax);
  huge.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  assert.throws(() => huge.next(), {
    name: "ProtocolError",
    message: `frame of 4294967295 bytes exceeds the limit of ${limits.frameBytesMax} bytes`,
  });
});

test("a frame exactly at the limit is accepted, and the limit can be raised between frames", () => {
  const message = { kind: "shutdown", reason: "" };
  const bodyBytes = encodeFrame([message]).length - frameHeaderBytes;
  const padded = { kind: "shutdown", reason: "x".repeat(limits.handshakeFrameBytesMax - bodyBytes - 2) };
  const atLimit = encodeFrame([padded]);
  assert.equal(atLimit.length - frameHeaderBytes, limits.handshakeFrameBytesMax);
  assert.deepEqual(decodeAll([atLimit], limits.handshakeFrameBytesMax), [[padded]]);

  const decoder = new FrameDecoder(limits.handshakeFrameBytesMax);
  const big = { kind: "shutdown", reason: "y".repeat(limits.handshakeFrameBytesMax) };
  decoder.push(Buffer.concat([encodeFrame([message]), encodeFrame([big])]));
  assert.deepEqual(decoder.next(), [message]);
  decoder.setFrameBytesMax(limits.frameBytesMax);
  assert.deepEqual(decoder.next(), [big]);
});

test("frames that are not one msgpack array are rejected with ProtocolError", () => {
  const cases: Array<[string, Uint8Array, string]> = [
    ["empty body", new Uint8Array(0), "frame is not valid msgpack: "],
    ["never-used byte 0xc1 (msgpackr decodes it to a marker object)", Uint8Array.from([0xc1]), "frame does not hold an array of messages"],
    ["a map", Uint8Array.from([0x80]), "frame does not hold an array of messages"],
    ["a number", Uint8Array.from([0x05]), "frame does not hold an array of messages"],
    ["trailing bytes", Uint8Array.from([0x90, 0x90]), "frame is not valid msgpack: "],
    ["truncated array", Uint8Array.from([0x92, 0x01]), "frame is not valid msgpack: "],
    ["huge array header", Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]), "frame is not valid msgpack: "],
    ["huge string header", Uint8Array.from([0x91, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), "frame is not valid msgpack: "],
  ];
  for (const [what, body, prefix] of cases) {
    const decoder = new FrameDecoder(limits.frameBytesMax);
    decoder.push(frameAround(body));
    assert.throws(
      () => decoder.next(),
      (error: unknown) => error instanceof ProtocolError && error.message.startsWith(prefix),
      what,
    );
  }
});

test("__proto__ keys on the wire do not reach or pollute any prototype", () => {
  // fixmap{"__proto__": fixmap{"polluted": true, "kind": "heartbeat"}} as a message, and nested in a record.
  const packr = new Packr({ useRecords: false });
  const evil = JSON.parse(
    '{"__proto__": {"polluted": true, "kind": "heartbeat", "tasksQueued": 0, "tasksRunning": 0, "objects": 0, "objectsBytes": 0}}',
  ) as Record<string, unknown>;
  const nested = JSON.parse(
    '{"kind": "node_register", "rid": 1, "hostname": "h", "pid": 1, "dataAddress": "a", "resources": {"__proto__": {"polluted": 1}}, "labels": {}}',
  ) as Record<string, unknown>;
  const body = packr.pack([evil, nested]);
  assert.ok(body.includes(Buffer.from("__proto__")), "the key really is on the wire");
  const [decoded] = decodeAll([frameAround(body)]) as [Array<Record<string, unknown>>];
  const [first, second] = decoded as [Record<string, unknown>, Record<string, Record<string, unknown>>];

  assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  assert.equal(Object.getPrototypeOf(first), Object.prototype);
  assert.equal(first["polluted"], undefined);
  assert.equal(first["kind"], undefined);
  assert.throws(() => validateMessage(first), { name: "ProtocolError", message: "message has no kind" });

  const resources = second["resources"] as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(resources), Object.prototype);
  assert.equal(resources["polluted"], undefined);
  assert.throws(() => validateMessage(second), {
    name: "ProtocolError",
    message: "malformed node_register: node_register.resources.__proto_: expected finite number, got object",
  });
});

/** Every path to a leaf or container inside a message (arrays and objects, not bytes). */
function fieldPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value instanceof Uint8Array || typeof value !== "object" || value === null) return [];
  const entries = Array.isArray(value) ? value.map((item, index) => [index, item] as const) : Object.entries(value);
  return entries.flatMap(([field, item]) => [[...prefix, field], ...fieldPaths(item, [...prefix, field])]);
}

function replaceAt(value: unknown, path: ReadonlyArray<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...Array<string | number>];
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[head] = replaceAt(copy[head], rest, replacement);
  return copy;
}

// ---- part frames: a header, then raw object bytes, yielded as runs without being gathered ----

/** A part frame: its header, then its bytes. */
function partFrame(header: { xfer: number; size: number; offset: number }, data: Uint8Array): Buffer {
  return Buffer.concat([encodePartHeader({ ...header, bytes: data.length }), data]);
}

/** Feeds pieces to a decoder that allows parts; returns part runs glued per transfer offset, and message batches. */
function decodeParts(pieces: readonly Buffer[], partBytesMax = limits.objectPartBytes): { runs: DecodedPart[]; batches: unknown[][] } {
  const decoder = new FrameDecoder(limits.frameBytesMax);
  decoder.setPartBytesMax(partBytesMax);
  const runs: DecodedPart[] = [];
  const batches: unknown[][] = [];
  for (const piece of pieces) {
    decoder.push(piece);
    for (let next = decoder.next(); next !== undefined; next = decoder.next()) {
      const first = next[0] as { kind?: unknown } | undefined;
      if (next.length === 1 && first?.kind === "object_part" && (first as DecodedPart).data instanceof Buffer && !("rid" in first)) runs.push(first as DecodedPart);
      else batches.push(next);
    }
  }
  return { runs, batches };
}

function glue(runs: readonly DecodedPart[]): Buffer {
  let expected = runs[0]?.offset ?? 0;
  for (const run of runs) {
    assert.equal(run.offset, expected, "runs are contiguous");
    expected += run.data.length;
  }
  return Buffer.concat(runs.map((run) => run.data));
}

const payload = Buffer.from(Array.from({ length: 70_000 }, (_, index) => (index * 7 + 3) & 0xff));

test("a part frame yields its bytes as runs at the right offsets, whole or byte by byte", () => {
  const frame = partFrame({ xfer: 9, size: 100_000, offset: 30_000 }, payload);
  for (const pieces of [[frame], splitAt(frame, [1]), splitAt(frame, [3, 65_536, 17])]) {
    const { runs, batches } = decodeParts(pieces);
    assert.equal(batches.length, 0);
    assert.ok(runs.every((run) => run.xfer === 9 && run.size === 100_000));
    assert.equal(runs[0]?.offset, 30_000);
    assert.ok(glue(runs).equals(payload));
    assert.ok(runs.every((run) => validateMessage(run).kind === "object_part"), "each run is a valid object_part message");
  }
});

test("runs are views of the pushed chunks, not copies", () => {
  const frame = partFrame({ xfer: 1, size: payload.length, offset: 0 }, payload);
  const header = frame.length - payload.length;
  const pieces = [frame.subarray(0, header + 10), frame.subarray(header + 10)];
  const { runs } = decodeParts(pieces);
  assert.equal(runs.length, 2);
  assert.equal(runs[1]?.data.buffer, frame.buffer, "the second run shares the pushed chunk's memory");
});

test("part frames and message frames interleave in order", () => {
  const stream = Buffer.concat([
    encodeFrame([heartbeat(1)]),
    partFrame({ xfer: 2, size: 8, offset: 0 }, Buffer.from([1, 2, 3, 4])),
    encodeFrame([heartbeat(2)]),
    partFrame({ xfer: 2, size: 8, offset: 4 }, Buffer.from([5, 6, 7, 8])),
    encodeFrame([heartbeat(3)]),
  ]);
  for (const sizes of [[], [1], [5, 2]]) {
    const { runs, batches } = decodeParts(splitAt(stream, sizes));
    assert.deepEqual(batches, [[heartbeat(1)], [heartbeat(2)], [heartbeat(3)]]);
    assert.deepEqual([...glue(runs)], [1, 2, 3, 4, 5, 6, 7, 8]);
  }
});

test("an empty part (an empty object) yields one empty run", () => {
  const { runs } = decodeParts([partFrame({ xfer: 4, size: 0, offset: 0 }, new Uint8Array(0))]);
  assert.equal(runs.length, 1);
  assert.deepEqual({ xfer: runs[0]?.xfer, size: runs[0]?.size, offset: runs[0]?.offset, bytes: runs[0]?.data.length }, { xfer: 4, size: 0, offset: 0, bytes: 0 });
});

test("awaitedRun names the part bytes still to come, only while none are buffered", () => {
  const frame = partFrame({ xfer: 5, size: 1_000, offset: 100 }, payload.subarray(0, 600));
  const decoder = new FrameDecoder(limits.frameBytesMax);
  decoder.setPartBytesMax(limits.objectPartBytes);
  assert.equal(decoder.awaitedRun(), undefined, "no part under way");
  const header = frame.length - 600;
  decoder.push(frame.subarray(0, header + 250));
  assert.equal((decoder.next()?.[0] as DecodedPart).data.length, 250);
  assert.equal(decoder.next(), undefined);
  assert.deepEqual(decoder.awaitedRun(), { xfer: 5, size: 1_000, offset: 350, bytes: 350 });
  decoder.push(frame.subarray(header + 250, header + 260));
  assert.equal(decoder.awaitedRun(), undefined, "bytes are buffered: they come first");
  decoder.next();
  decoder.push(frame.subarray(header + 260));
  assert.equal((decoder.next()?.[0] as DecodedPart).offset, 360);
  assert.equal(decoder.awaitedRun(), undefined, "the part is complete");
});

test("a truncated part frame yields what arrived and then waits, never throws", () => {
  const frame = partFrame({ xfer: 3, size: payload.length, offset: 0 }, payload);
  for (const cut of [1, 3, 4, 5, 10, frame.length - payload.length, frame.length - 1]) {
    const { runs } = decodeParts([frame.subarray(0, cut)]);
    const arrived = Math.max(0, cut - (frame.length - payload.length));
    assert.equal(runs.reduce((total, run) => total + run.data.length, 0), arrived, `cut at ${cut}`);
  }
});

test("part frames are refused until the decoder allows them (before the handshake)", () => {
  const frame = partFrame({ xfer: 1, size: 4, offset: 0 }, Buffer.from([1, 2, 3, 4]));
  const decoder = new FrameDecoder(limits.handshakeFrameBytesMax);
  decoder.push(frame);
  assert.throws(() => decoder.next(), (error: unknown) => error instanceof ProtocolError && /exceeds the limit/.test(error.message));
});

test("malformed part headers are rejected with a ProtocolError that says what is wrong", () => {
  const packr = new Packr({ useRecords: false });
  const headerFrame = (body: Uint8Array): Buffer => {
    const frame = Buffer.alloc(frameHeaderBytes + body.length);
    frame.writeUInt32BE((0x8000_0000 | body.length) >>> 0, 0);
    frame.set(body, frameHeaderBytes);
    return frame;
  };
  const cases: Array<[string, Buffer, RegExp]> = [
    ["a header longer than any real one", headerFrame(new Uint8Array(partHeaderBytesMax + 1)), /object part header of 65 bytes exceeds the limit of 64 bytes/],
    ["not msgpack", headerFrame(Uint8Array.from([0xc1, 0xc1])), /object part header/],
    ["a map", headerFrame(packr.pack({ xfer: 1 })), /four non-negative integers/],
    ["three numbers", headerFrame(packr.pack([1, 2, 3])), /four non-negative integers/],
    ["a negative offset", headerFrame(packr.pack([1, 10, -1, 2])), /four non-negative integers/],
    ["a fractional size", headerFrame(packr.pack([1, 10.5, 0, 2])), /four non-negative integers/],
    ["a string", headerFrame(packr.pack([1, "10", 0, 2])), /four non-negative integers/],
    ["more bytes than a part may hold", headerFrame(packr.pack([1, 100 * 1024 * 1024, 0, limits.objectPartBytes + 1])), /exceeds the limit of/],
    ["bytes past the object's end", headerFrame(packr.pack([1, 10, 8, 4])), /object part at 8\+4 does not fit an object of 10 bytes/],
  ];
  for (const [what, frame, message] of cases) {
    const decoder = new FrameDecoder(limits.frameBytesMax);
    decoder.setPartBytesMax(limits.objectPartBytes);
    decoder.push(frame);
    assert.throws(() => decoder.next(), (error: unknown) => error instanceof ProtocolError && message.test(error.message), what);
  }
});

test("random bytes and mutated part frames never throw anything but ProtocolError when parts are allowed", () => {
  const stream = Buffer.concat([
    partFrame({ xfer: 1, size: 300, offset: 0 }, payload.subarray(0, 200)),
    encodeFrame([heartbeat(1)]),
    partFrame({ xfer: 1, size: 300, offset: 200 }, payload.subarray(0, 100)),
  ]);
  const survives = (pieces: readonly Buffer[]): void => {
    const decoder = new FrameDecoder(limits.frameBytesMax);
    decoder.setPartBytesMax(1024);
    try {
      for (const piece of pieces) {
        decoder.push(piece);
        for (let next = decoder.next(); next !== undefined; next = decoder.next()) for (const raw of next) validateMessage(raw);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) assert.fail(`threw ${String(error)}`);
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2_048 }), fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 8 }), (bytes, sizes) => {
      survives(splitAt(Buffer.from([0x80, 0, 0, bytes.length & 0x3f, ...bytes]), sizes));
      survives(splitAt(Buffer.from(bytes), sizes));
    }),
    { numRuns: 1_000 },
  );
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }), (at, byte, sizes) => {
      const mutated = Buffer.from(stream);
      mutated[at % mutated.length] = byte;
      survives(splitAt(mutated, sizes));
    }),
    { numRuns: 2_000 },
  );
});
