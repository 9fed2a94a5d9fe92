import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { limits } from "../core/limits.js";
import { chunkBySize } from "./chunks.js";

test("a list that fits leaves whole, as the same array", () => {
  const items = [1, 2, 3];
  assert.equal(chunkBySize(items, () => 10)[0], items);
  assert.deepEqual(chunkBySize([], () => 10), [[]]);
});

test("runs stay under the byte target and the item count, in order, with nothing lost", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 3 * 1024 * 1024 }), { maxLength: 60 }), (sizes) => {
      const chunks = chunkBySize(sizes, (size) => size);
      assert.deepEqual(chunks.flat(), sizes);
      for (const chunk of chunks) {
        const bytes = chunk.reduce((sum, size) => sum + size, 0);
        assert.ok(chunk.length === 1 || bytes <= limits.messageBytesTarget, `a run of ${chunk.length} items and ${bytes} bytes`);
      }
    }),
  );
  const many = Array.from({ length: limits.messageItemsMax * 2 + 1 }, () => 1);
  assert.deepEqual(chunkBySize(many, () => 1).map((chunk) => chunk.length), [limits.messageItemsMax, limits.messageItemsMax, 1]);
});

test("an item over the target goes alone", () => {
  const big = limits.messageBytesTarget + 1;
  assert.deepEqual(chunkBySize([1, big, 1], (size) => size), [[1], [big], [1]]);
});
