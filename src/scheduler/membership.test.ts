// Unit tests of the pure membership core: alive, suspect, dead, and fencing of dead members.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Membership } from "./membership.js";

test("a silent node turns suspect at half the timeout and dead at the timeout, once", () => {
  const members = new Membership(1_000);
  members.join("n1", 0);
  assert.deepEqual(members.tick(499), []);
  assert.equal(members.stateOf("n1"), "alive");
  assert.deepEqual(members.tick(500), []);
  assert.equal(members.stateOf("n1"), "suspect");
  assert.deepEqual(members.tick(1_000), ["n1"]);
  assert.equal(members.stateOf("n1"), "dead");
  assert.deepEqual(members.tick(5_000), [], "death is reported once");
});

test("one lost connection makes a node suspect, not dead; hearing from it again revives it", () => {
  const members = new Membership(1_000);
  members.join("n1", 0);
  members.disconnected("n1");
  assert.deepEqual(members.tick(100), []);
  assert.equal(members.stateOf("n1"), "suspect");
  assert.equal(members.heard("n1", 200), true);
  assert.equal(members.stateOf("n1"), "alive");
  assert.deepEqual(members.tick(1_100), [], "the heartbeat at 200 reset the clock");
  assert.deepEqual(members.tick(1_200), ["n1"]);
});

test("a dead node is fenced off: hearing from it does not revive it", () => {
  const members = new Membership(1_000);
  members.join("n1", 0);
  members.tick(1_000);
  assert.equal(members.heard("n1", 1_001), false);
  assert.equal(members.stateOf("n1"), "dead");
  assert.equal(members.heard("unknown", 1_001), false);
});

test("nodes are independent", () => {
  const members = new Membership(1_000);
  members.join("n1", 0);
  members.join("n2", 600);
  assert.deepEqual(members.tick(1_000), ["n1"]);
  assert.equal(members.stateOf("n2"), "alive");
  assert.deepEqual(members.tick(1_600), ["n2"]);
});
