// The public API of Shoal: what `import ... from "shoal"` gives a program.

export { task, type Task, type TaskOptions } from "./task.js";
export { connect, type ConnectOptions } from "./connect.js";
export { Cluster, type ArgsOrRefs, type MapOptions, type WaitOptions } from "./cluster.js";
export { ObjectRef } from "./object-ref.js";
export { LocalCluster, type LocalClusterOptions, type LocalNodeSpec } from "./local-cluster.js";
export {
  ShoalError,
  TaskError,
  TimeoutError,
  ConnectionClosedError,
  ProtocolError,
  AuthError,
  CapacityError,
  type ErrorCode,
} from "../core/errors.js";
export type { ClusterStatus, NodeStatus, JobStatus } from "../protocol/messages.js";
