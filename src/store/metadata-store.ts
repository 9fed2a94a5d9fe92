// The durable part of the head's state, behind one interface: embedded SQLite now, etcd for HA later.
//
// What lives here (ARCHITECTURE principle 4): jobs, code bundles, the node registry. Per-task churn
// never does. Every method either completes durably (the write survives a crash of the process
// right after the promise resolves) or rejects with a ShoalError; a rejected write changed nothing.

export type JobState = "running" | "finished" | "failed";

export interface JobRecord {
  jobId: string;
  name: string;
  owner: string;
  /** Wall-clock epoch ms, for display only (never used for timeouts). */
  startedAtMs: number;
  endedAtMs: number | undefined;
  state: JobState;
  tasksSubmitted: number;
  tasksDone: number;
  tasksFailed: number;
}

export interface BundleRecord {
  /** Content address: hex SHA-256 of `code`. */
  bundleId: string;
  code: Uint8Array;
  /** Wall-clock epoch ms, for display only. */
  createdAtMs: number;
}

/** The head's durable record of a node that has joined (its live state is in memory). */
export interface NodeRecord {
  nodeId: string;
  hostname: string;
  dataAddress: string;
  resources: Record<string, number>;
  labels: Record<string, string>;
  /** Wall-clock epoch ms, for display only. */
  joinedAtMs: number;
  state: "alive" | "dead";
}

export interface MetadataStore {
  /** Inserts or replaces the job with this jobId. */
  putJob(job: JobRecord): Promise<void>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /** Newest first (by startedAtMs), at most `limit`. */
  listJobs(limit: number): Promise<JobRecord[]>;

  /** Idempotent: storing a bundle id twice keeps one copy. */
  putBundle(bundle: BundleRecord): Promise<void>;
  getBundle(bundleId: string): Promise<BundleRecord | undefined>;
  hasBundle(bundleId: string): Promise<boolean>;

  /** Inserts or replaces the node with this nodeId. */
  putNode(node: NodeRecord): Promise<void>;
  listNodes(): Promise<NodeRecord[]>;

  /** Small settings such as the cluster token's fingerprint; values are strings. */
  getSetting(key: string): Promise<string | undefined>;
  putSetting(key: string, value: string): Promise<void>;

  /** Flushes and releases resources; later calls reject. Idempotent. */
  close(): Promise<void>;
}
