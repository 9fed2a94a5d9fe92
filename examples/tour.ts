// The README's five-minute tour as one program: tasks, refs, map, wait, cancel, per-call options, errors.
// Usage: shoal run examples/tour.ts

import { connect, TaskError } from "shoal";
import { add, checkedSqrt, sleep, square } from "./tour-tasks.js";

const cluster = await connect(); // SHOAL_ADDRESS + SHOAL_TOKEN, else an embedded local cluster
try {
  // Refs: submit returns at once; get waits for the value.
  const ref = cluster.submit(square, 7);
  console.log("square(7) =", await cluster.get(ref)); // 49

  // A ref as an argument is a dependency: add runs once square is done, where the cluster likes.
  const sum = cluster.submit(add, ref, cluster.put(1));
  console.log("square(7) + 1 =", await cluster.get(sum)); // 50
  console.log("both =", await cluster.get([ref, sum])); // [49, 50]

  // map: one call per item, in parallel, results in item order.
  const squares = await cluster.map(square, [1, 2, 3, 4, 5], {
    onProgress: (done, total) => console.log(`  map: ${done}/${total}`),
  });
  console.log("squares =", squares); // [1, 4, 9, 16, 25]

  // Per-call options: the same task with other options for the calls made through it.
  const urgent = cluster.submit(sleep.with({ priority: 10, timeoutMs: 2_000 }), 50);
  console.log("urgent sleep =", await cluster.get(urgent)); // 50

  // wait: the refs that are ready (here the first one to finish) and those still pending.
  const sleepers = [900, 100, 500].map((ms) => cluster.submit(sleep, ms));
  const { ready, pending } = await cluster.wait(sleepers, { numReturns: 1, timeoutMs: 5_000 });
  console.log(`wait: ${ready.length} ready (${await cluster.get(ready)} ms), ${pending.length} pending`);

  // cancel: give up on what is not done in time. A queued task is dropped, a running one has its worker
  // stopped, and get rejects with code "task_cancelled".
  const slowOnes = [100, 3_600_000].map((ms) => cluster.submit(sleep.with({ timeoutMs: 0 }), ms));
  const late = await cluster.wait(slowOnes, { timeoutMs: 1_000 });
  for (const ref of late.pending) cluster.cancel(ref);
  for (const ref of late.pending) await cluster.get(ref).catch((error: unknown) => console.log("cancelled:", (error as TaskError).code));

  // Errors: a task that throws rejects get with a TaskError saying which task, where, and the remote stack.
  try {
    await cluster.get(cluster.submit(checkedSqrt, -1));
  } catch (error) {
    if (!(error instanceof TaskError)) throw error;
    console.log(`${error.errorName} in ${error.taskName} on node ${error.nodeId} (attempt ${error.attempt}): ${error.message}`);
    console.log(error.remoteStack?.split("\n").slice(0, 2).join("\n"));
  }

  // A task over its timeout fails with code "timeout".
  await cluster.get(cluster.submit(sleep.with({ timeoutMs: 100 }), 5_000)).catch((error: unknown) => {
    console.log(`timed out: ${(error as TaskError).code}: ${(error as TaskError).message}`);
  });
} finally {
  await cluster.close();
}
