// Compile-time checks of the public API's types: this file only compiles if wrong uses are rejected.

import { test } from "node:test";
import type { Cluster, ObjectRef } from "../../src/client/index.js";
import { add, square } from "./fixtures/tasks.js";

// Never called: the assertions are the type checker's.
function typeChecks(cluster: Cluster): void {
  const ref: ObjectRef<number> = cluster.submit(square, 7);
  cluster.submit(add, ref, cluster.put(1));
  // @ts-expect-error a string is not a number
  cluster.submit(square, "7");
  // @ts-expect-error a ref to a string is not a ref to a number
  cluster.submit(square, cluster.put("7"));
  // @ts-expect-error too many arguments
  cluster.submit(square, 1, 2);
  // @ts-expect-error the result is a number, not a string
  const wrong: ObjectRef<string> = cluster.submit(square, 7);
  void wrong;
  const values: Promise<number[]> = cluster.map(square, [1, 2, 3]);
  void values;
  // @ts-expect-error map items must match the task's argument
  void cluster.map(square, ["a"]);
}

test("the public API's types reject wrong arguments (checked at compile time)", () => {
  void typeChecks;
});
