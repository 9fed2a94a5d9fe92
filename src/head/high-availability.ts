// A head in high-availability mode: stands by until etcd elects it, leads, and steps down the moment its lease is in doubt.
//
// Every head of an HA cluster runs this with the same etcd endpoints. Exactly one leads at a time (see
// store/etcd-election.ts for why); the others do not even listen, so nodes and clients, given every head's
// address, find the leader by trying them in turn. A new leader starts with no soft state, exactly as a
// restarted head does: nodes rejoin and report what they hold, clients resume their jobs (kept in etcd).
// A leader that loses its lease stops serving at once and campaigns again as a standby.

import { randomBytes } from "node:crypto";
import type { Logger } from "../core/logger.js";
import { HeadElection } from "../store/etcd-election.js";
import { EtcdStore } from "../store/etcd-store.js";
import { HeadRuntime } from "./head-runtime.js";

export interface HighAvailabilityOptions {
  endpoints: string[];
  /** Where nodes and clients reach this head, as the election publishes it. */
  advertiseAddress: string;
  host: string;
  port: number;
  token: string;
  log: Logger;
  leaseTtlSeconds?: number;
  heartbeatIntervalMs?: number;
  nodeTimeoutMs?: number;
  http?: { host: string; port: number; dashboardDir: string };
  /** Told whenever this head starts or stops leading. */
  onRole?: (role: "standby" | "leader", address: string) => void;
}

export class HighAvailabilityHead {
  private runtime: HeadRuntime | undefined;
  private election: HeadElection | undefined;
  private stopped = false;
  private readonly candidateId = `head-${randomBytes(4).toString("hex")}`;
  /** Called when an admin asks the cluster to shut down. */
  onShutdownRequested: () => void = () => {};

  constructor(private readonly options: HighAvailabilityOptions) {}

  /** Campaigns and leads in a loop until stopped; resolves once the first campaign has entered the election. */
  async start(): Promise<void> {
    await this.enterElection();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.runtime?.stop("leave", "head stopping");
    await this.election?.resign().catch(() => undefined);
  }

  private async enterElection(): Promise<void> {
    const election = await HeadElection.start({
      endpoints: this.options.endpoints,
      candidate: { id: this.candidateId, address: this.options.advertiseAddress },
      ...(this.options.leaseTtlSeconds !== undefined && { leaseTtlSeconds: this.options.leaseTtlSeconds }),
    });
    this.election = election;
    this.options.onRole?.("standby", this.options.advertiseAddress);
    this.options.log.info({ candidate: this.candidateId }, "standing by for leadership");
    const failed = (what: string) => (error: unknown) => this.options.log.error({ err: (error as Error).message }, what);
    election.onLost((reason) => void this.deposed(reason.message).catch(failed("could not step down cleanly")));
    void election.awaitLeadership().then(
      () =>
        this.lead(election).catch(async (error: unknown) => {
          // Elected but unable to serve (etcd store unreachable): hand leadership on, then stand by again.
          failed("could not start leading; resigning")(error);
          await election.resign().catch(() => undefined);
          await this.deposed("could not start leading").catch(failed("could not stand by again"));
        }),
      () => undefined, // lost before leading: onLost campaigns again
    );
  }

  private async lead(election: HeadElection): Promise<void> {
    const fence = election.fence;
    if (this.stopped || !election.isLeading() || fence === undefined) return;
    // Every write is conditioned on this leadership: a deposed leader's late writes are refused by etcd.
    const store = await EtcdStore.open({ endpoints: this.options.endpoints, fence });
    const runtime = new HeadRuntime({
      host: this.options.host,
      port: this.options.port,
      token: this.options.token,
      store,
      log: this.options.log,
      ...(this.options.heartbeatIntervalMs !== undefined && { heartbeatIntervalMs: this.options.heartbeatIntervalMs }),
      ...(this.options.nodeTimeoutMs !== undefined && { config: { nodeTimeoutMs: this.options.nodeTimeoutMs } }),
      ...(this.options.http !== undefined && { http: this.options.http }),
    });
    runtime.onShutdownRequested = () => {
      this.stopped = true;
      void runtime.stop("shutdown", "the cluster was asked to stop").then(() => this.onShutdownRequested());
    };
    await runtime.start();
    if (!election.isLeading()) {
      await runtime.stop("leave", "lost leadership while starting");
      return;
    }
    this.runtime = runtime;
    this.options.log.info({ candidate: this.candidateId, address: this.options.advertiseAddress }, "leading the cluster");
    this.options.onRole?.("leader", this.options.advertiseAddress);
  }

  /** The lease is in doubt: stop acting as leader now (another head may take over), then stand by again. */
  private async deposed(why: string): Promise<void> {
    this.options.log.warn({ candidate: this.candidateId, why }, "lost leadership; stopping and standing by");
    const runtime = this.runtime;
    this.runtime = undefined;
    await runtime?.stop("leave", "this head lost leadership");
    if (this.stopped) return;
    for (;;) {
      try {
        await this.enterElection();
        return;
      } catch (error) {
        this.options.log.warn({ err: (error as Error).message }, "cannot reach etcd to stand by again; retrying");
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        if (this.stopped) return;
      }
    }
  }
}
