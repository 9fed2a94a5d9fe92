// The `shoal` command line: start, up, status, run, stop.

import { Command, Option } from "commander";
import { connect } from "../client/index.js";
import { clusterTarget, envValue, labelList, upCluster, port, positiveInteger, positiveNumber, resourcesJson } from "./options.js";
import { jobsCommand, logsCommand, timelineCommand, topCommand } from "./observe.js";
import { runCommand } from "./run.js";
import { startCommand, type StartFlags } from "./start.js";
import { statusCommand } from "./status.js";
import { upCommand } from "./up.js";

const program = new Command()
  .name("shoal")
  .description("Shoal: a distributed compute cluster for TypeScript")
  .showHelpAfterError("(add --help for usage)")
  .enablePositionalOptions();

program
  .command("start")
  .description("run a head (--head) or a node joining a head (--address HOST:PORT) in the foreground")
  .option("--head", "start a head: the cluster's control plane")
  .option("--address <host:port>", "start a node that joins the head at this address (env SHOAL_ADDRESS)")
  .option("--host <host>", "address to bind (default 127.0.0.1; a node joining a remote head: 0.0.0.0, advertising the address it reaches the head from)")
  .option("--port <port>", "head port (0 picks a free one)", port, 7340)
  .option("--data-dir <dir>", "where the head keeps its store and token, or the node its code cache")
  .option("--store <store>", "head: sqlite (default, in --data-dir) or etcd://HOST:PORT,... for several heads, one leading (HA)")
  .option("--advertise <host:port>", "head with --store etcd: where nodes and clients reach this head")
  .option("--http-host <host>", "head: address of the dashboard, HTTP API and /metrics (default 127.0.0.1)")
  .option("--http-port <port>", "head: their port (default 7341; 0 picks a free one)", port)
  .option("--no-http", "head: no dashboard, HTTP API or /metrics")
  .option("--alert-rules <file>", "head: a JSON file of alert rules (default: node dead, memory or disk above 90 %)")
  .option("--token <token>", "cluster token (env SHOAL_TOKEN); a head without one generates and stores one")
  .option("--cpus <n>", "node: CPUs to offer (default: all)", positiveNumber("--cpus"))
  .option("--memory <bytes>", "node: memory to offer in bytes (default: all)", positiveNumber("--memory"))
  .option("--workers <n>", "node: worker processes (default: one per CPU)", positiveInteger("--workers"))
  .option("--resources <json>", `node: custom resources, e.g. '{"gpu":1}'`, resourcesJson)
  .option("--labels <k=v,...>", "node: labels, e.g. zone=eu,disk=ssd", labelList)
  .option("--data-port <port>", "node: port of its object server (0 picks a free one)", port, 0)
  .addOption(new Option("--heartbeat-interval-ms <ms>", "head: node heartbeat interval").argParser(positiveInteger("--heartbeat-interval-ms")).hideHelp())
  .addOption(new Option("--node-timeout-ms <ms>", "head: silence after which a node is dead").argParser(positiveInteger("--node-timeout-ms")).hideHelp())
  .addOption(new Option("--exit-with-parent", "exit when standard input closes (used by local clusters)").hideHelp())
  .action(async (flags: StartFlags) => {
    const envAddress = flags.head === true ? undefined : envValue("SHOAL_ADDRESS");
    await startCommand({ ...flags, ...(flags.address === undefined && envAddress !== undefined && { address: envAddress }) });
  });

program
  .command("up")
  .description("run a local cluster (a head and N nodes, each its own process) until Ctrl-C")
  .option("--nodes <n>", "number of nodes", positiveInteger("--nodes"), 2)
  .option("--port <port>", "head port (0 picks a free one)", port, 7340)
  .option("--cpus <n>", "CPUs each node offers (default: all)", positiveNumber("--cpus"))
  .option("--http-port <port>", "the dashboard's port (0 picks a free one)", port, 7341)
  .action(upCommand);

program
  .command("status")
  .description("show nodes, their resources and usage, and jobs")
  .option("--address <host:port>", "head address (env SHOAL_ADDRESS; default the cluster from `shoal up`, else 127.0.0.1:7340)")
  .option("--token <token>", "cluster token (env SHOAL_TOKEN)")
  .option("--json", "print JSON instead of tables")
  .option("--http <url>", "the head's HTTP API, for CPU and memory use (env SHOAL_HTTP; default port 7341 on the head's host)")
  .action(statusCommand);

program
  .command("run")
  .description("run a TypeScript or JavaScript driver against SHOAL_ADDRESS, or an embedded local cluster")
  .argument("<script>", "the driver program")
  .argument("[args...]", "arguments for the driver")
  .option("--address <host:port>", "head address (env SHOAL_ADDRESS)")
  .option("--token <token>", "cluster token (env SHOAL_TOKEN)")
  .passThroughOptions()
  .action(async (script: string, args: string[], flags: { address?: string; token?: string }) => {
    // With an address but no token, find the token as status and stop do (env, `shoal up`, a local head).
    // With neither flag nor SHOAL_ADDRESS, a cluster from `shoal up` is used; else the driver embeds one.
    const up = flags.address === undefined && envValue("SHOAL_ADDRESS") === undefined ? upCluster() : undefined;
    if (up !== undefined) process.stderr.write(`shoal: running against the local cluster from \`shoal up\` at ${up.address}\n`);
    const address = flags.address ?? up?.address;
    const token = flags.token ?? up?.token ?? (address !== undefined ? clusterTarget({ address }).token : undefined);
    process.exitCode = await runCommand(script, args, { ...(address !== undefined && { address }), ...(token !== undefined && { token }) });
  });

const apiOptions = (command: Command): Command =>
  command
    .option("--http <url>", "the head's HTTP API (env SHOAL_HTTP; default the `shoal up` cluster's, else port 7341 on the head's host)")
    .option("--address <host:port>", "head address, to find its token and HTTP API (env SHOAL_ADDRESS)")
    .option("--token <token>", "cluster token (env SHOAL_TOKEN)");

apiOptions(program.command("jobs").description("list jobs with their progress").option("--json", "print JSON")).action(jobsCommand);

apiOptions(
  program
    .command("logs")
    .description("print what a job's tasks printed (or one task's), oldest first")
    .argument("<job>", "the job id (see `shoal jobs`)")
    .option("--task <id>", "only this task's lines")
    .option("--follow", "keep printing new lines"),
).action(logsCommand);

apiOptions(
  program
    .command("timeline")
    .description("a job's tasks as Chrome trace events (open in Perfetto or chrome://tracing): shoal timeline JOB > trace.json")
    .argument("<job>", "the job id (see `shoal jobs`)"),
).action(timelineCommand);

apiOptions(program.command("top").description("a live view of nodes and jobs, refreshed every second").option("--once", "print one screen and exit")).action(topCommand);

program
  .command("stop")
  .description("stop the cluster: the head tells every node to exit, then exits")
  .option("--address <host:port>", "head address (env SHOAL_ADDRESS)")
  .option("--token <token>", "cluster token (env SHOAL_TOKEN)")
  .action(async (flags: { address?: string; token?: string }) => {
    const target = clusterTarget(flags);
    const cluster = await connect({ address: target.address, ...(target.token !== undefined && { token: target.token }), jobName: "shoal stop", admin: true });
    await cluster.shutdownCluster();
    await cluster.close();
    process.stdout.write(`asked the cluster at ${target.address} to stop\n`);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`shoal: ${(error as Error).message}\n`);
  process.exit(1);
});
