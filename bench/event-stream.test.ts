// Unit tests of the live-stream block parser the cold-start benchmark waits on.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEventBlock } from "./event-stream.js";

test("an event block gives its name and its JSON data", () => {
  const block = 'event: event\ndata: {"kind":"node_joined","nodeId":"n-1"}';
  assert.deepEqual(parseEventBlock(block), { event: "event", data: { kind: "node_joined", nodeId: "n-1" } });
});

test("data split over several lines is joined with newlines, and a block without a name is a message", () => {
  assert.deepEqual(parseEventBlock('data: {"a":\ndata: 1}'), { event: "message", data: { a: 1 } });
  assert.deepEqual(parseEventBlock("event:nodes\ndata:[1,2]"), { event: "nodes", data: [1, 2] });
});

test("comments and blocks without data are skipped; bad JSON throws", () => {
  assert.equal(parseEventBlock(": shoal live stream"), undefined);
  assert.equal(parseEventBlock("event: event"), undefined);
  assert.throws(() => parseEventBlock("event: event\ndata: {not json"), SyntaxError);
});
