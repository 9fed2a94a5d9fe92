// Tests of user-value encoding: every supported type round-trips, and each encoding stands alone.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodeValue, encodeValue, encodeValuePieces } from "./values.js";

const roundTrip = (value: unknown): unknown => decodeValue(encodeValue(value));

/** The codec as a process that has decoded nothing before: a separate instance of the module. */
let freshInstances = 0;
async function freshDecodeValue(): Promise<(bytes: Uint8Array) => unknown> {
  freshInstances++;
  const module = (await import(`./values.js?fresh=${freshInstances}`)) as { decodeValue: (bytes: Uint8Array) => unknown };
  assert.notEqual(module.decodeValue, decodeValue, "a separate module instance");
  return module.decodeValue;
}

test("numbers round-trip exactly", () => {
  const numbers = [0, 1, -1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1)];
  const floats = [0.5, -1.25, Math.PI, 1e-300, 1.7976931348623157e308, Number.EPSILON, 5e-324, NaN, Infinity, -Infinity];
  for (const value of [...numbers, ...floats]) assert.equal(roundTrip(value), value, String(value));
  fc.assert(
    fc.property(fc.double(), (value) => {
      // msgpackr writes -0 as the integer 0: the one number that does not survive.
      assert.equal(roundTrip(value), Object.is(value, -0) ? 0 : value);
    }),
    { numRuns: 1_000 },
  );
});

test("strings round-trip exactly, unicode included", () => {
  for (const value of ["", "a", "héllo", "日本語", "👩‍👩‍👧‍👦", "\u0000", "x".repeat(70_000), "é".repeat(40_000)]) {
    assert.equal(roundTrip(value), value);
  }
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), (value) => assert.equal(roundTrip(value), value)), { numRuns: 500 });
});

test("nested objects and arrays round-trip", () => {
  const value = {
    name: "square",
    args: [1, [2, [3, [4, { deep: true }]]], null, false],
    empty: {},
    emptyList: [],
    "key with spaces": "v",
    "ключ": "значение",
    nested: { a: { b: { c: { d: [{ e: 1 }, { e: 2 }, { f: "three" }] } } } },
  };
  assert.deepStrictEqual(roundTrip(value), value);
  const list = Array.from({ length: 1_000 }, (_, index) => ({ index, square: index * index, label: `item-${index}` }));
  assert.deepStrictEqual(roundTrip(list), list);
});

test("Map, Set and Date round-trip with their types", () => {
  const map = new Map<unknown, unknown>([
    [1, "one"],
    ["two", 2],
    [true, { nested: new Map([["inner", [1, 2]]]) }],
  ]);
  const decodedMap = roundTrip(map);
  assert.ok(decodedMap instanceof Map);
  assert.deepStrictEqual(decodedMap, map);
  assert.deepStrictEqual(roundTrip(new Map()), new Map());

  const set = new Set<unknown>([1, "a", null, 2.5]);
  assert.deepStrictEqual(roundTrip(set), set);
  assert.deepStrictEqual(roundTrip(new Set()), new Set());

  for (const time of [0, 1, -1, 1_700_000_000_123, 8.64e15, -8.64e15, NaN]) {
    const decoded = roundTrip(new Date(time));
    assert.ok(decoded instanceof Date);
    assert.equal(decoded.getTime(), time);
  }
  assert.deepStrictEqual(roundTrip({ when: new Date(5), tags: new Set(["x"]) }), { when: new Date(5), tags: new Set(["x"]) });
});

test("Buffer, Uint8Array and every typed array round-trip with their types", () => {
  const buffer = Buffer.from("hello bytes");
  const decodedBuffer = roundTrip(buffer);
  assert.ok(Buffer.isBuffer(decodedBuffer));
  assert.ok(decodedBuffer.equals(buffer));

  const typed = [
    Uint8Array.from([0, 1, 255]),
    new Uint8Array(0),
    Int8Array.from([-128, 0, 127]),
    Uint8ClampedArray.from([0, 128, 255]),
    Int16Array.from([-32_768, 32_767]),
    Uint16Array.from([0, 65_535]),
    Int32Array.from([-(2 ** 31), 2 ** 31 - 1]),
    Uint32Array.from([0, 2 ** 32 - 1]),
    Float32Array.from([1.5, -0.25, Infinity]),
    Float64Array.from([Math.PI, -1e300, NaN]),
    BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]),
    BigUint64Array.from([0n, 2n ** 64n - 1n]),
  ];
  for (const value of typed) {
    const decoded = roundTrip(value) as ArrayBufferView;
    assert.equal(decoded.constructor, value.constructor, value.constructor.name);
    assert.deepStrictEqual(decoded, value, value.constructor.name);
  }
  // A view into a larger buffer carries only its own bytes.
  const backing = Uint8Array.from([9, 9, 1, 2, 3, 9]);
  assert.deepStrictEqual(roundTrip(backing.subarray(2, 5)), Uint8Array.from([1, 2, 3]));
  assert.deepStrictEqual(roundTrip(new Float64Array(backing.buffer.slice(0, 0))), new Float64Array(0));
});

test("bigints of any size round-trip as bigints", () => {
  for (const value of [0n, 1n, -1n, 10n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, 2n ** 70n, -(2n ** 100n), 3n ** 300n]) {
    const decoded = roundTrip(value);
    assert.equal(typeof decoded, "bigint", String(value));
    assert.equal(decoded, value);
  }
  fc.assert(fc.property(fc.bigInt({ min: -(2n ** 512n), max: 2n ** 512n }), (value) => assert.equal(roundTrip(value), value)), {
    numRuns: 500,
  });
});

test("undefined and null round-trip, also as object fields and array items", () => {
  assert.equal(roundTrip(undefined), undefined);
  assert.equal(roundTrip(null), null);
  const decoded = roundTrip({ missing: undefined, none: null, list: [undefined, null, 1] }) as Record<string, unknown>;
  assert.deepStrictEqual(decoded, { missing: undefined, none: null, list: [undefined, null, 1] });
  assert.ok(Object.hasOwn(decoded, "missing"));
});

test("cycles and shared references keep their shape", () => {
  const node: Record<string, unknown> = { name: "root" };
  node["self"] = node;
  const decodedNode = roundTrip(node) as Record<string, unknown>;
  assert.equal(decodedNode["name"], "root");
  assert.equal(decodedNode["self"], decodedNode);

  const list: unknown[] = [1];
  list.push(list);
  const decodedList = roundTrip(list) as unknown[];
  assert.equal(decodedList[0], 1);
  assert.equal(decodedList[1], decodedList);

  const a: Record<string, unknown> = { name: "a" };
  const b: Record<string, unknown> = { name: "b", a };
  a["b"] = b;
  const decodedA = roundTrip({ first: a, second: b }) as { first: Record<string, Record<string, unknown>>; second: unknown };
  assert.equal(decodedA.first["b"], decodedA.second);
  assert.equal(decodedA.first["b"]!["a"], decodedA.first);

  const shared = { big: "shared" };
  const decodedShared = roundTrip([shared, shared, { inner: shared }]) as Array<Record<string, unknown>>;
  assert.equal(decodedShared[0], decodedShared[1]);
  assert.equal(decodedShared[2]!["inner"], decodedShared[0]);

  const map = new Map<string, unknown>();
  map.set("me", map);
  const decodedMap = roundTrip(map) as Map<string, unknown>;
  assert.ok(decodedMap instanceof Map);
  assert.equal(decodedMap.get("me"), decodedMap);
});

test("arbitrary values round-trip (property)", () => {
  const value = fc.anything({
    maxDepth: 4,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withNullPrototype: false,
    withBoxedValues: false,
    withSparseArray: false,
    withObjectString: false,
    key: fc.string().filter((key) => key !== "__proto__"),
  });
  fc.assert(
    fc.property(value, (input) => {
      // -0 is the one known loss (see "numbers"); compare the rest exactly. An invalid Date round-trips
      // (next test) but defeats deepStrictEqual, which cannot match NaN times.
      fc.pre(!containsNegativeZero(input) && !containsInvalidDate(input));
      assert.deepStrictEqual(roundTrip(input), input);
    }),
    { numRuns: 1_000 },
  );
});

test("an invalid Date round-trips as an invalid Date", () => {
  const decoded = roundTrip(new Date(Number.NaN));
  assert.ok(decoded instanceof Date && Number.isNaN(decoded.getTime()));
});

test("encoding the same shape twice still decodes in a fresh decoder (each encoding is self-describing)", async () => {
  const shape = (index: number) => ({ taskId: `t-${index}`, attempt: index, tags: new Set([index]) });
  const first = encodeValue(shape(1));
  const second = encodeValue(shape(2));
  assert.deepStrictEqual(decodeValue(first), shape(1));
  const fresh = await freshDecodeValue();
  assert.deepStrictEqual(fresh(second), shape(2));
  assert.deepStrictEqual((await freshDecodeValue())(first), shape(1));

  // Many shapes (beyond one byte of record ids), encoded twice; the second encoding decodes alone.
  const many = Array.from({ length: 200 }, (_, index) => ({ [`field${index}`]: index, shared: "x", [`other${index % 7}`]: [index] }));
  encodeValue(many);
  const again = encodeValue(many);
  assert.deepStrictEqual((await freshDecodeValue())(again), many);

  // Interleaved shapes, each decoded by its own fresh decoder, out of order.
  const encodings = [shape(3), { other: 1 }, shape(4), { other: 2 }, shape(5)].map((item) => [item, encodeValue(item)] as const);
  for (const [item, bytes] of encodings.reverse()) assert.deepStrictEqual((await freshDecodeValue())(bytes), item);
});

test("decoding does not depend on earlier decodes in the same decoder", () => {
  const a = encodeValue({ x: 1, y: 2 });
  const b = encodeValue({ y: 3, x: 4 });
  assert.deepStrictEqual(decodeValue(b), { y: 3, x: 4 });
  assert.deepStrictEqual(decodeValue(a), { x: 1, y: 2 });
  assert.deepStrictEqual(decodeValue(b), { y: 3, x: 4 });
});

function containsNegativeZero(value: unknown, seen = new Set<unknown>()): boolean {
  if (Object.is(value, -0)) return true;
  if (typeof value !== "object" || value === null || seen.has(value)) return false;
  seen.add(value);
  if (value instanceof Float32Array || value instanceof Float64Array) return false; // typed arrays keep their bits
  const items: unknown[] =
    value instanceof Map ? [...value.keys(), ...value.values()] : value instanceof Set ? [...value] : Object.values(value);
  return items.some((item) => containsNegativeZero(item, seen));
}

function containsInvalidDate(value: unknown, seen = new Set<unknown>()): boolean {
  if (value instanceof Date) return Number.isNaN(value.getTime());
  if (typeof value !== "object" || value === null || seen.has(value)) return false;
  seen.add(value);
  if (value instanceof Map) {
    for (const [key, entry] of value) if (containsInvalidDate(key, seen) || containsInvalidDate(entry, seen)) return true;
    return false;
  }
  if (value instanceof Set) return [...value].some((entry) => containsInvalidDate(entry, seen));
  return Object.values(value).some((entry) => containsInvalidDate(entry, seen));
}

test("encodeValuePieces gives exactly encodeValue's bytes, without copying a large Buffer", () => {
  const buffers = [0, 1, 0xffff, 0x1_0000, 0x1_0001, 300_000].map((length) => Buffer.alloc(length, length & 0xff));
  const others: unknown[] = [new Uint8Array(100_000), { data: Buffer.alloc(100_000) }, [Buffer.alloc(70_000)], "text", 7];
  for (const value of [...buffers, ...others]) {
    const pieces = encodeValuePieces(value);
    assert.ok(Buffer.concat(pieces).equals(encodeValue(value)), `same bytes for ${describeValue(value)}`);
  }
  const big = Buffer.alloc(300_000, 9);
  const pieces = encodeValuePieces(big);
  assert.equal(pieces.length, 2);
  assert.equal(pieces[1], big, "the Buffer itself, not a copy");
  assert.ok((decodeValue(Buffer.concat(pieces)) as Buffer).equals(big));
});

function describeValue(value: unknown): string {
  return value instanceof Uint8Array ? `${value.constructor.name}(${value.length})` : JSON.stringify(value)?.slice(0, 40) ?? String(value);
}
