// Small network probes for the harness: a TCP echo server inside a host, and "can X reach Y?" checks.

import { connect, type Socket } from "node:net";
import type { Host } from "./netns.js";
import { startProcess, type HarnessProcess } from "./processes.js";

export type ProbeResult = "ok" | "timeout" | `error ${string}`;

export interface EchoServer {
  readonly process: HarnessProcess;
  readonly host: Host;
  readonly port: number;
}

const echoServerScript = `
const net = require("node:net");
const server = net.createServer({ allowHalfOpen: true }, (socket) => { socket.on("error", () => {}); socket.pipe(socket); });
server.listen(Number(process.argv[1]), "0.0.0.0", () => console.log("ready " + server.address().port));
`;

/** Same check as probeTcp, run inside a namespace; prints its verdict as its one line of output. */
const probeScript = `
const net = require("node:net");
const [host, port, timeoutMs] = process.argv.slice(1);
const verdict = (text) => { console.log(text); process.exit(0); };
setTimeout(() => verdict("timeout"), Number(timeoutMs));
const socket = net.connect({ host, port: Number(port) }, () => socket.write("ping"));
let echoed = "";
socket.on("data", (data) => { echoed += data; if (echoed === "ping") verdict("ok"); });
socket.on("error", (error) => verdict("error " + (error.code || error.message)));
socket.on("close", () => verdict("error closed after " + JSON.stringify(echoed)));
`;

/** A TCP echo server listening on every address of `host` (a `node -e` process inside its namespace). */
export async function startEchoServer(host: Host, port = 0): Promise<EchoServer> {
  const { process: child, ready } = await startProcess({
    name: `echo-h${host.index}`,
    netns: host.netns,
    args: ["-e", echoServerScript, String(port)],
    ready: /^ready (\d+)$/,
    readyTimeoutMs: 10_000,
  });
  return { process: child, host, port: Number(ready![1]) };
}

/**
 * Connects to address:port from `from` (a host, or the test process's root namespace when undefined),
 * sends "ping" and expects it echoed within `timeoutMs`.
 */
export async function probeTcp(from: Host | undefined, address: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  if (from === undefined) return probeFromHere(address, port, timeoutMs);
  const { process: child } = await startProcess({
    name: `probe-h${from.index}`,
    netns: from.netns,
    args: ["-e", probeScript, address, String(port), String(timeoutMs)],
  });
  const [line] = await Promise.all([child.waitForLine(/^(ok|timeout|error .*)$/, { timeoutMs: timeoutMs + 10_000 }), child.exited]);
  return line[1] as ProbeResult;
}

function probeFromHere(address: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let echoed = "";
    const socket: Socket = connect({ host: address, port }, () => socket.write("ping"));
    const verdict = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => verdict("timeout"), timeoutMs);
    socket.on("data", (data: Buffer) => {
      echoed += data.toString();
      if (echoed === "ping") verdict("ok");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => verdict(`error ${error.code ?? error.message}`));
    socket.on("close", () => verdict(`error closed after ${JSON.stringify(echoed)}`));
  });
}
