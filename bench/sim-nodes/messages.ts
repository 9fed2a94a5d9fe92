// What the benchmark and its load-generator process (many simulated nodes) say to each other over IPC.

export interface SimNodesConfig {
  headAddress: string;
  token: string;
  /** Simulated nodes: one real TCP connection to the head each. */
  nodes: number;
  /** CPUs each simulated node offers. */
  cpusPerNode: number;
  /** Handshakes and registrations in flight at once while connecting. */
  connectConcurrency: number;
}

/** Counters over the load generator's whole life. */
export interface SimNodesStats {
  /** Attempts reported done (each assigned task once). */
  tasksDone: number;
  /** Assignments of a task id this process had already completed (must stay 0). */
  tasksDuplicate: number;
  /** Assignments it could not run (an unknown task name, refs): reported failed, must stay 0. */
  tasksRejected: number;
  heartbeatsSent: number;
  pingsAnswered: number;
  /** Pings the head did not answer within the node ping timeout (a real node would reconnect). */
  pingsUnanswered: number;
  /** Head connections that closed while the run was on. */
  connectionsLost: number;
  /** Round trips of the heartbeat pings answered since the previous stats request: how responsive the head is. */
  pingRoundTripMs: { count: number; median: number; p99: number; max: number };
}

export type ToSimNodes = { kind: "start"; config: SimNodesConfig } | { kind: "stats" } | { kind: "stop" };

export type FromSimNodes =
  | { kind: "ready"; nodeIds: string[]; heartbeatIntervalMs: number }
  | { kind: "stats"; stats: SimNodesStats }
  | { kind: "failed"; message: string };
