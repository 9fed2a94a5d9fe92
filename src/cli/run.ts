// `shoal run script.ts [args]`: runs a TypeScript or JavaScript driver (with tsx) against the cluster.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

export async function runCommand(script: string, args: string[], flags: { address?: string; token?: string }): Promise<number> {
  if (!existsSync(script)) throw new Error(`no such script: ${script}`);
  const env = { ...process.env };
  if (flags.address !== undefined) env["SHOAL_ADDRESS"] = flags.address;
  if (flags.token !== undefined) env["SHOAL_TOKEN"] = flags.token;
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), "--enable-source-maps", script, ...args], {
    env,
    stdio: "inherit",
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + 2)));
  });
}
