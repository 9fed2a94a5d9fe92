// Tests of the file-backed object store: its directory's life, arrivals, adoption, limits and removal.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CapacityError } from "../core/errors.js";
import { ObjectStore } from "./object-store.js";

const base = mkdtempSync(join(tmpdir(), "shoal-store-test-"));
after(() => rmSync(base, { recursive: true, force: true }));

/** Files are removed in the background: wait for it, with a deadline. */
async function waitGone(path: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (existsSync(path)) {
    if (performance.now() > deadline) assert.fail(`${path} was not removed`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The pid of a process that has exited (so no live process has it, barring reuse in the meantime). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

test("a store makes its own directory and removes it, with every file, when closed", () => {
  const store = ObjectStore.create(1_000, base);
  assert.match(store.directory, new RegExp(`shoal-objects-${process.pid}-[0-9a-f]+$`));
  const sink = store.receive("a", 3);
  sink.write(0, Buffer.from([1, 2, 3]));
  sink.finish();
  store.close();
  assert.equal(existsSync(store.directory), false);
});

test("a new store removes the directories of dead nodes and leaves those of live ones and strangers", () => {
  const dead = join(base, `shoal-objects-${deadPid()}-0badc0de`);
  const live = join(base, `shoal-objects-${process.ppid}-0ddba11`);
  const stranger = join(base, "shoal-objects-notapid-1");
  for (const directory of [dead, live, stranger]) {
    mkdirSync(directory);
    writeFileSync(join(directory, "1"), "x");
  }
  const store = ObjectStore.create(1_000, base);
  assert.equal(existsSync(dead), false, "a dead node's leftovers are gone");
  assert.ok(existsSync(live) && existsSync(stranger));
  store.close();
  rmSync(live, { recursive: true });
  rmSync(stranger, { recursive: true });
});

test("an arriving object becomes readable once complete; an aborted one leaves nothing", async () => {
  const store = ObjectStore.create(1_000, base);
  const sink = store.receive("obj", 5);
  sink.write(0, Buffer.from([1, 2]));
  assert.equal(store.get("obj"), undefined, "not readable while arriving");
  sink.write(2, Buffer.from([3, 4, 5]));
  const stored = sink.finish();
  assert.deepEqual(store.get("obj"), stored);
  assert.deepEqual([...readFileSync(stored.path)], [1, 2, 3, 4, 5]);
  assert.deepEqual(store.list(), [{ objectId: "obj", size: 5 }]);
  assert.equal(store.bytesUsed, 5);

  const aborted = store.receive("half", 4);
  aborted.write(0, Buffer.from([1]));
  aborted.abort();
  assert.equal(store.get("half"), undefined);
  const completeFile = stored.path.slice(store.directory.length + 1);
  for (const name of readdirSync(store.directory)) if (name !== completeFile) await waitGone(join(store.directory, name));
  assert.deepEqual(readdirSync(store.directory), [completeFile], "only the complete object's file is left");
  store.close();
});

test("the limit counts objects held and objects arriving; a refusal comes before a byte is written", () => {
  const store = ObjectStore.create(10, base);
  const first = store.receive("a", 6);
  assert.throws(() => store.receive("b", 5), (error: unknown) => error instanceof CapacityError && /6 arriving/.test(error.message));
  first.write(0, Buffer.alloc(6));
  first.finish();
  assert.throws(() => store.receive("c", 5), CapacityError);
  store.receive("d", 4).abort();
  assert.doesNotThrow(() => store.receive("e", 4).abort(), "an aborted arrival gives its room back");
  store.close();
});

test("an object already held is kept: a second copy arriving is dropped", () => {
  const store = ObjectStore.create(100, base);
  const first = store.receive("same", 2);
  first.write(0, Buffer.from([1, 2]));
  const stored = first.finish();
  const second = store.receive("same", 2);
  second.write(0, Buffer.from([9, 9]));
  assert.deepEqual(second.finish(), stored);
  assert.deepEqual([...readFileSync(stored.path)], [1, 2]);
  assert.equal(store.bytesUsed, 2);
  store.close();
});

test("a worker's result file is adopted as an object, or removed when it does not fit", async () => {
  const store = ObjectStore.create(10, base);
  const path = store.newPath();
  writeFileSync(path, Buffer.alloc(8));
  store.adopt("result", path, 8);
  assert.equal(store.get("result")?.path, path);
  const tooBig = store.newPath();
  writeFileSync(tooBig, Buffer.alloc(8));
  assert.throws(() => store.adopt("other", tooBig, 8), CapacityError);
  await waitGone(tooBig);
  store.close();
});

test("deleting an object forgets it and removes its file", async () => {
  const store = ObjectStore.create(100, base);
  const sink = store.receive("gone", 1);
  sink.write(0, Buffer.from([1]));
  const { path } = sink.finish();
  store.delete("gone");
  store.delete("never-held");
  assert.equal(store.get("gone"), undefined);
  assert.equal(store.count, 0);
  assert.equal(store.bytesUsed, 0);
  await waitGone(path);
  store.close();
});
