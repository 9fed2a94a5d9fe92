// Turns the modules that define tasks into content-addressed code bundles (esbuild, npm imports included).

import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { ShoalError } from "../core/errors.js";

export interface Bundle {
  bundleId: string;
  code: Uint8Array;
}

/**
 * Inside a worker, `import { task } from "shoal"` must register the task with the worker, not start a client.
 * This stands in for the package in bundles: it forwards `task` to the worker runtime and refuses `connect`.
 */
const workerShim = `
const runtime = globalThis[Symbol.for("shoal.worker.runtime")];
export function task(name, fn, options) {
  if (runtime !== undefined) runtime.task(name, fn);
  const self = { name, fn, options: options ?? {}, modulePath: "", with: () => self };
  return self;
}
export function connect() {
  throw new Error("connect() ran inside a task bundle: keep the driver (connect, submit, map) out of modules that define tasks");
}
export class ObjectRef { constructor(id) { this.id = id; } }
`;

/** This package's public entry, as source or compiled: relative imports of it get the shim too. */
const clientIndex = join(dirname(fileURLToPath(import.meta.url)), "index");

const shoalShim: Plugin = {
  name: "shoal-worker-shim",
  setup(context) {
    const shim = { path: "shoal", namespace: "shoal-shim" };
    context.onResolve({ filter: /^shoal$/ }, () => shim);
    context.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path).replace(/\.(js|ts|mjs|mts)$/, "");
      return target === clientIndex ? shim : undefined;
    });
    context.onLoad({ filter: /.*/, namespace: "shoal-shim" }, () => ({ contents: workerShim, loader: "js" }));
  },
};

/** Bundles one module; the same source always gives the same bundle id. */
export async function bundleModule(modulePath: string): Promise<Bundle> {
  let output;
  try {
    output = await build({
      entryPoints: [modulePath],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      write: false,
      sourcemap: "inline",
      sourcesContent: false,
      logLevel: "silent",
      plugins: [shoalShim],
      // CommonJS packages inside an ESM bundle still call require() for builtins.
      banner: { js: 'import { createRequire as __shoalCreateRequire } from "node:module"; const require = __shoalCreateRequire(import.meta.url);' },
    });
  } catch (error) {
    throw new ShoalError("internal", `could not bundle the task module ${modulePath}: ${(error as Error).message}`, false);
  }
  const file = output.outputFiles[0];
  if (file === undefined) throw new ShoalError("internal", `bundling ${modulePath} produced no output`, false);
  const code = file.contents;
  return { bundleId: createHash("sha256").update(code).digest("hex"), code };
}
