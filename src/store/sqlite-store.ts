// The embedded MetadataStore: one SQLite file in the head's data directory, in WAL mode with an fsync on every commit.

import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { assert } from "../core/assert.js";
import { ShoalError } from "../core/errors.js";
import type { BundleRecord, JobRecord, JobState, MetadataStore, NodeRecord } from "./metadata-store.js";
import {
  checkJob,
  checkListLimit,
  checkNode,
  checkSetting,
  copyBundle,
  jobStates,
  nodeStates,
  storeClosedError,
  verifyBundle,
} from "./memory-store.js";

export const metadataFileName = "metadata.sqlite";
/** Bumped with every schema change; a head refuses files from a newer Shoal rather than misreading them. */
export const metadataSchemaVersion = 1;
/** "Shoa" in ASCII, in the header's application_id, so a head never adopts another program's database. */
export const metadataApplicationId = 0x53686f61;

const quotedList = (values: readonly string[]): string => values.map((value) => `'${value}'`).join(", ");

// STRICT tables make SQLite refuse a wrongly typed value instead of converting it. Timestamps are
// REAL so any finite number round-trips exactly; bundles stay in a rowid table because their rows are large.
const schemaSql = `
  CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    started_at_ms REAL NOT NULL,
    ended_at_ms REAL,
    state TEXT NOT NULL CHECK (state IN (${quotedList(jobStates)})),
    tasks_submitted INTEGER NOT NULL,
    tasks_done INTEGER NOT NULL,
    tasks_failed INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX jobs_newest_first ON jobs (started_at_ms DESC, job_id);
  CREATE TABLE bundles (
    bundle_id TEXT PRIMARY KEY NOT NULL,
    code BLOB NOT NULL,
    created_at_ms REAL NOT NULL
  ) STRICT;
  CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY NOT NULL,
    hostname TEXT NOT NULL,
    data_address TEXT NOT NULL,
    resources_json TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    joined_at_ms REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN (${quotedList(nodeStates)}))
  ) STRICT;
  CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
  ) STRICT;
`;

interface JobRow {
  job_id: string;
  name: string;
  owner: string;
  started_at_ms: number;
  ended_at_ms: number | null;
  state: JobState;
  tasks_submitted: number;
  tasks_done: number;
  tasks_failed: number;
}

interface BundleRow {
  bundle_id: string;
  code: Uint8Array;
  created_at_ms: number;
}

interface NodeRow {
  node_id: string;
  hostname: string;
  data_address: string;
  resources_json: string;
  labels_json: string;
  joined_at_ms: number;
  state: NodeRecord["state"];
}

interface Statements {
  putJob: Database.Statement<JobRow>;
  getJob: Database.Statement<[string], JobRow>;
  listJobs: Database.Statement<[number], JobRow>;
  putBundle: Database.Statement<BundleRow>;
  getBundle: Database.Statement<[string], BundleRow>;
  hasBundle: Database.Statement<[string], { present: number }>;
  putNode: Database.Statement<NodeRow>;
  listNodes: Database.Statement<[], NodeRow>;
  getSetting: Database.Statement<[string], { value: string }>;
  putSetting: Database.Statement<[string, string]>;
}

export class SqliteStore implements MetadataStore {
  private db: Database.Database | undefined;
  private statements: Statements | undefined;

  private constructor(
    private readonly file: string,
    db: Database.Database,
  ) {
    this.db = db;
    this.statements = prepareStatements(db);
  }

  /** Opens (creating if missing) the store in `dataDir`; throws a ShoalError naming the file if it cannot. */
  static open(dataDir: string): SqliteStore {
    const file = path.join(dataDir, metadataFileName);
    createPrivateFile(dataDir, file);
    const db = openDatabase(file);
    try {
      return new SqliteStore(file, db);
    } catch (error) {
      db.close();
      throw describeSqliteError(file, "prepare statements", error);
    }
  }

  async putJob(job: JobRecord): Promise<void> {
    this.run(`store job ${job.jobId}`, (statements) => {
      checkJob(job);
      statements.putJob.run(jobToRow(job));
    });
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    return this.run(`read job ${jobId}`, (statements) => {
      const row = statements.getJob.get(jobId);
      return row === undefined ? undefined : jobFromRow(row);
    });
  }

  async listJobs(limit: number): Promise<JobRecord[]> {
    return this.run("list jobs", (statements) => {
      checkListLimit(limit);
      return statements.listJobs.all(limit).map(jobFromRow);
    });
  }

  async putBundle(bundle: BundleRecord): Promise<void> {
    this.run(`store bundle ${bundle.bundleId}`, (statements) => {
      verifyBundle(bundle);
      statements.putBundle.run({ bundle_id: bundle.bundleId, code: bundle.code, created_at_ms: bundle.createdAtMs });
    });
  }

  async getBundle(bundleId: string): Promise<BundleRecord | undefined> {
    return this.run(`read bundle ${bundleId}`, (statements) => {
      const row = statements.getBundle.get(bundleId);
      if (row === undefined) return undefined;
      // SQLite hands back a Buffer; callers get the plain Uint8Array the interface promises.
      return copyBundle({ bundleId: row.bundle_id, code: row.code, createdAtMs: row.created_at_ms });
    });
  }

  async hasBundle(bundleId: string): Promise<boolean> {
    return this.run(`look up bundle ${bundleId}`, (statements) => statements.hasBundle.get(bundleId) !== undefined);
  }

  async putNode(node: NodeRecord): Promise<void> {
    this.run(`store node ${node.nodeId}`, (statements) => {
      checkNode(node);
      statements.putNode.run(nodeToRow(node));
    });
  }

  async listNodes(): Promise<NodeRecord[]> {
    return this.run("list nodes", (statements) => statements.listNodes.all().map((row) => nodeFromRow(this.file, row)));
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.run(`read setting ${key}`, (statements) => statements.getSetting.get(key)?.value);
  }

  async putSetting(key: string, value: string): Promise<void> {
    this.run(`store setting ${key}`, (statements) => {
      checkSetting(key, value);
      statements.putSetting.run(key, value);
    });
  }

  async close(): Promise<void> {
    const db = this.db;
    if (db === undefined) return;
    this.db = undefined;
    this.statements = undefined;
    try {
      // Closing checkpoints the WAL into the main file; every commit was already fsynced.
      db.close();
    } catch (error) {
      throw describeSqliteError(this.file, "close", error);
    }
  }

  // Checks are done inside `work` so a closed store rejects every call the same way, before anything else.
  private run<T>(action: string, work: (statements: Statements) => T): T {
    if (this.statements === undefined) throw storeClosedError(this.file);
    try {
      return work(this.statements);
    } catch (error) {
      throw describeSqliteError(this.file, action, error);
    }
  }
}

/** Creates the directory (0700) and the file (0600) so nothing is ever readable by others, even briefly. */
function createPrivateFile(dataDir: string, file: string): void {
  try {
    const firstCreated = fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (firstCreated !== undefined) fsyncDirectory(path.dirname(firstCreated));
    // SQLite gives its -wal and -shm files the main file's mode, so this covers them too.
    const descriptor = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_RDWR, 0o600);
    fs.closeSync(descriptor);
    fsyncDirectory(dataDir);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ShoalError(
      "internal",
      `cannot create metadata database ${file}: ${reason}; check that the data directory is writable by this user, or choose another data directory`,
      false,
      { cause: error },
    );
  }
}

// A new file's directory entry is only durable once the directory itself is fsynced.
function fsyncDirectory(directory: string): void {
  if (process.platform === "win32") return; // Windows cannot open a directory for fsync.
  const descriptor = fs.openSync(directory, "r");
  try {
    fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
}

function openDatabase(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    const version = checkIdentity(file, db);
    db.pragma("journal_mode = WAL");
    assert(readPragma(db, "journal_mode") === "wal", `${file} is in WAL mode`);
    // FULL fsyncs the WAL on every commit, so a resolved write survives a crash or power loss.
    db.pragma("synchronous = FULL");
    // On macOS a plain fsync does not reach the platter; F_FULLFSYNC does (a no-op elsewhere).
    db.pragma("fullfsync = ON");
    migrate(db, version);
    return db;
  } catch (error) {
    db?.close();
    throw describeSqliteError(file, "open", error);
  }
}

/** Returns the schema version after making sure the file is a Shoal store this release can read. */
function checkIdentity(file: string, db: Database.Database): number {
  // The first read is where SQLite notices a file that is not a database at all.
  const applicationId = readPragma(db, "application_id");
  const version = readPragma(db, "user_version");
  assert(typeof applicationId === "number" && typeof version === "number", "application_id and user_version are numbers");
  const tableCount = db.prepare<[], { count: number }>("SELECT count(*) AS count FROM sqlite_schema").get()?.count ?? 0;
  const isEmpty = applicationId === 0 && version === 0 && tableCount === 0;
  if (!isEmpty && applicationId !== metadataApplicationId) {
    throw new ShoalError(
      "internal",
      `${file} is a SQLite database but not a Shoal metadata store; move it aside or point the head at another data directory`,
      false,
    );
  }
  if (version > metadataSchemaVersion) {
    throw new ShoalError(
      "internal",
      `metadata database ${file} has schema version ${version}, newer than this Shoal understands (${metadataSchemaVersion}); run the Shoal release that wrote it or a newer one`,
      false,
    );
  }
  return version;
}

// One transaction per step, so a crash mid-migration leaves the previous version intact.
function migrate(db: Database.Database, fromVersion: number): void {
  if (fromVersion >= metadataSchemaVersion) return;
  assert(fromVersion === 0, `a migration exists from schema version ${fromVersion}`);
  db.transaction(() => {
    db.exec(schemaSql);
    db.pragma(`application_id = ${metadataApplicationId}`);
    db.pragma(`user_version = ${metadataSchemaVersion}`);
  }).immediate();
}

function readPragma(db: Database.Database, name: string): unknown {
  return db.pragma(name, { simple: true });
}

function prepareStatements(db: Database.Database): Statements {
  const jobColumns = "job_id, name, owner, started_at_ms, ended_at_ms, state, tasks_submitted, tasks_done, tasks_failed";
  const nodeColumns = "node_id, hostname, data_address, resources_json, labels_json, joined_at_ms, state";
  const asParameters = (columns: string): string => columns.replace(/(\w+)/g, "@$1");
  return {
    putJob: db.prepare(`INSERT OR REPLACE INTO jobs (${jobColumns}) VALUES (${asParameters(jobColumns)})`),
    getJob: db.prepare(`SELECT ${jobColumns} FROM jobs WHERE job_id = ?`),
    listJobs: db.prepare(`SELECT ${jobColumns} FROM jobs ORDER BY started_at_ms DESC, job_id LIMIT ?`),
    // DO NOTHING keeps the first copy: the id is the content's hash, so a second copy is the same bytes.
    putBundle: db.prepare(
      "INSERT INTO bundles (bundle_id, code, created_at_ms) VALUES (@bundle_id, @code, @created_at_ms) ON CONFLICT (bundle_id) DO NOTHING",
    ),
    getBundle: db.prepare("SELECT bundle_id, code, created_at_ms FROM bundles WHERE bundle_id = ?"),
    hasBundle: db.prepare("SELECT 1 AS present FROM bundles WHERE bundle_id = ?"),
    putNode: db.prepare(`INSERT OR REPLACE INTO nodes (${nodeColumns}) VALUES (${asParameters(nodeColumns)})`),
    listNodes: db.prepare(`SELECT ${nodeColumns} FROM nodes ORDER BY node_id`),
    getSetting: db.prepare("SELECT value FROM settings WHERE key = ?"),
    putSetting: db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)"),
  };
}

function jobToRow(job: JobRecord): JobRow {
  return {
    job_id: job.jobId,
    name: job.name,
    owner: job.owner,
    started_at_ms: job.startedAtMs,
    ended_at_ms: job.endedAtMs ?? null,
    state: job.state,
    tasks_submitted: job.tasksSubmitted,
    tasks_done: job.tasksDone,
    tasks_failed: job.tasksFailed,
  };
}

function jobFromRow(row: JobRow): JobRecord {
  return {
    jobId: row.job_id,
    name: row.name,
    owner: row.owner,
    startedAtMs: row.started_at_ms,
    endedAtMs: row.ended_at_ms ?? undefined,
    state: row.state,
    tasksSubmitted: row.tasks_submitted,
    tasksDone: row.tasks_done,
    tasksFailed: row.tasks_failed,
  };
}

function nodeToRow(node: NodeRecord): NodeRow {
  return {
    node_id: node.nodeId,
    hostname: node.hostname,
    data_address: node.dataAddress,
    resources_json: JSON.stringify(node.resources),
    labels_json: JSON.stringify(node.labels),
    joined_at_ms: node.joinedAtMs,
    state: node.state,
  };
}

function nodeFromRow(file: string, row: NodeRow): NodeRecord {
  const where = `metadata database ${file}, node ${row.node_id}`;
  return {
    nodeId: row.node_id,
    hostname: row.hostname,
    dataAddress: row.data_address,
    resources: parseRecord(row.resources_json, (value): value is number => typeof value === "number", `${where}, resources`),
    labels: parseRecord(row.labels_json, (value): value is string => typeof value === "string", `${where}, labels`),
    joinedAtMs: row.joined_at_ms,
    state: row.state,
  };
}

// JSON written by this store is always well-formed; anything else means the file was edited or damaged.
function parseRecord<T>(json: string, isValue: (value: unknown) => value is T, where: string): Record<string, T> {
  const parsed = parseJson(json);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw malformed(where, json);
  const entries = Object.entries(parsed);
  const record: Record<string, T> = {};
  for (const [key, value] of entries) {
    if (!isValue(value)) throw malformed(where, json);
    // defineProperty, not assignment, so a key such as "__proto__" stays data.
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return record;
}

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

function malformed(where: string, json: string): ShoalError {
  return new ShoalError("internal", `${where}: malformed JSON ${JSON.stringify(json.slice(0, 80))}; the file was damaged or edited by hand`, false);
}

const corruptCodes = ["SQLITE_NOTADB", "SQLITE_CORRUPT"];
const cannotOpenCodes = ["SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY", "SQLITE_AUTH"];
// Another process holding the lock or a full disk can clear up; retrying anything else repeats the failure.
const retryableCodes = ["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL"];

function hasCodeIn(code: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => code === prefix || code.startsWith(`${prefix}_`));
}

/** Turns a raw SQLite error into a ShoalError naming the file and what to do; anything else passes through. */
function describeSqliteError(file: string, action: string, error: unknown): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  const what = `metadata database ${file}: cannot ${action} (${error.code}: ${error.message})`;
  const options = { cause: error };
  if (hasCodeIn(error.code, corruptCodes)) {
    const todo = "the file is corrupt or not a SQLite database; restore it from a backup, or move it aside to start with an empty store (jobs, bundles and the node registry are then forgotten)";
    return new ShoalError("internal", `${what}; ${todo}`, false, options);
  }
  if (hasCodeIn(error.code, cannotOpenCodes)) {
    return new ShoalError("internal", `${what}; check that the file and its directory are readable and writable by this user`, false, options);
  }
  return new ShoalError("internal", what, hasCodeIn(error.code, retryableCodes), options);
}
