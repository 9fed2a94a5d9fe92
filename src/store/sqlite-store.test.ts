// Runs the MetadataStore contract against SqliteStore, plus what only a file on disk can get wrong.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, test } from "node:test";
import Database from "better-sqlite3";
import { ShoalError } from "../core/errors.js";
import { runMetadataStoreContract } from "./metadata-store.contract.js";
import { SqliteStore, metadataApplicationId, metadataFileName, metadataSchemaVersion } from "./sqlite-store.js";

function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "shoal-store-"));
}

// The data dir is nested inside the temp dir so every contract run also exercises directory creation.
runMetadataStoreContract("SqliteStore", async () => {
  const tempDir = makeTempDir();
  const dataDir = path.join(tempDir, "data");
  return {
    store: SqliteStore.open(dataDir),
    reopen: async () => SqliteStore.open(dataDir),
    cleanup: async () => fs.rmSync(tempDir, { recursive: true, force: true }),
  };
});

function expectShoalError(open: () => unknown, ...patterns: RegExp[]): ShoalError {
  let thrown: unknown;
  try {
    open();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ShoalError, `expected a ShoalError, got ${String(thrown)}`);
  assert.equal(thrown.code, "internal");
  for (const pattern of patterns) assert.match(thrown.message, pattern);
  return thrown;
}

function withRawDatabase(file: string, body: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    body(db);
  } finally {
    db.close();
  }
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("SqliteStore on disk", () => {
  let tempDir = "";
  let dataDir = "";
  let file = "";
  beforeEach(() => {
    tempDir = makeTempDir();
    dataDir = path.join(tempDir, "nested", "data");
    file = path.join(dataDir, metadataFileName);
  });
  afterEach(() => fs.rmSync(tempDir, { recursive: true, force: true }));

  test("creates the data directory 0700 and its files 0600, whatever the umask", async () => {
    const umaskBefore = process.umask(0);
    let store: SqliteStore;
    try {
      store = SqliteStore.open(dataDir);
    } finally {
      process.umask(umaskBefore);
    }
    try {
      await store.putSetting("written", "so the WAL file exists");
      assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
      assert.equal(fs.statSync(path.dirname(dataDir)).mode & 0o777, 0o700);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(`${file}-wal`).mode & 0o777, 0o600);
    } finally {
      await store.close();
    }
  });

  test("a resolved write survives the process being killed without close()", async () => {
    // The sibling module, whether this test runs compiled (.js) or as source under tsx (.ts).
    const extension = import.meta.url.endsWith(".ts") ? "ts" : "js";
    const storeUrl = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), `sqlite-store.${extension}`)).href;
    const childCode = [
      `const { SqliteStore } = await import(${JSON.stringify(storeUrl)});`,
      `const store = SqliteStore.open(${JSON.stringify(dataDir)});`,
      `await store.putSetting("survives", "kill -9");`,
      `process.kill(process.pid, "SIGKILL");`,
    ].join("\n");
    const loader = extension === "ts" ? ["--import", "tsx"] : [];
    const child = spawnSync(process.execPath, [...loader, "--input-type=module", "-e", childCode], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(child.signal, "SIGKILL", `child did not reach the kill: ${child.stderr}`);
    assert.ok(fs.existsSync(`${file}-wal`), "the write is still only in the WAL, as after a real crash");
    const store = SqliteStore.open(dataDir);
    try {
      assert.equal(await store.getSetting("survives"), "kill -9");
    } finally {
      await store.close();
    }
  });

  test("stamps the file with Shoal's application id and schema version, in WAL mode", async () => {
    await SqliteStore.open(dataDir).close();
    withRawDatabase(file, (db) => {
      assert.equal(db.pragma("application_id", { simple: true }), metadataApplicationId);
      assert.equal(db.pragma("user_version", { simple: true }), metadataSchemaVersion);
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    });
  });

  test("a corrupt file gives an error naming the file and what to do", () => {
    fs.mkdirSync(dataDir, { recursive: true });
    const garbage = Buffer.alloc(8192);
    for (let index = 0; index < garbage.length; index++) garbage[index] = (index * 7919 + 13) % 251;
    fs.writeFileSync(file, garbage);
    const error = expectShoalError(() => SqliteStore.open(dataDir), new RegExp(escape(file)), /corrupt/, /backup/, /move it aside/);
    assert.ok(error.cause instanceof Database.SqliteError, "the raw SQLite error is kept as the cause");
    assert.equal(error.retryable, false);
  });

  test("a database from a newer Shoal is refused, and left untouched", async () => {
    await SqliteStore.open(dataDir).close();
    withRawDatabase(file, (db) => db.pragma(`user_version = ${metadataSchemaVersion + 1}`));
    const bytesBefore = fs.readFileSync(file);
    expectShoalError(() => SqliteStore.open(dataDir), new RegExp(escape(file)), new RegExp(`schema version ${metadataSchemaVersion + 1}`), /newer/);
    assert.ok(fs.readFileSync(file).equals(bytesBefore), "refusing must not modify the file");
  });

  test("another program's SQLite database is refused, not adopted", () => {
    fs.mkdirSync(dataDir, { recursive: true });
    withRawDatabase(file, (db) => db.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY)"));
    expectShoalError(() => SqliteStore.open(dataDir), new RegExp(escape(file)), /not a Shoal metadata store/);
  });

  test("a data directory that cannot be created gives an error naming the file", () => {
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    fs.writeFileSync(dataDir, "a file where the directory should be");
    expectShoalError(() => SqliteStore.open(dataDir), new RegExp(escape(file)), /cannot create/);
  });
});
