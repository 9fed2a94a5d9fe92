// Leader election for heads on etcd leases: one head leads, and it stops believing so before another can start.
//
// Protocol (etcd's own election recipe, built directly on leases and a create-revision transaction rather
// than on etcd3's Campaign, whose lease notices a lost connection only after 2 TTLs and on the wall clock):
// each candidate grants a lease of `leaseTtlSeconds` and creates `<prefix>head-election/<leaseId>` bound to
// it. Keys are ordered by create revision, which etcd assigns once, in raft order: the candidate owning the
// oldest key leads. A candidate leads once a linearizable read, guarded by a compare on its own key's create
// revision, finds no older key; until then it re-reads every 200 ms. Keys disappear when their lease is
// revoked (resign) or expires (the head died, or lost etcd).
//
// Safety: no two heads believe they lead at once, given monotonic clocks whose rates differ by less than
// `clockRateErrorMax`. Head A believes it leads only until its own deadline, `sentAtMs + TTL` for the last
// keep-alive (or grant) it *sent* and etcd confirmed, shortened by the rate error and `timerLatenessMs`.
// etcd's leader renews the lease when it *receives* that request, after A sent it, and expires it no
// earlier than TTL later on its own clock (a new etcd leader extends every lease, never shortens one). So
// A's deadline passes before etcd can expire the lease, delete A's key, and let B see itself first; B then
// still needs a read of its own. If A dies, B waits at most TTL (plus etcd's 500 ms expiry sweep). If A is
// partitioned from etcd (or from a majority of it), its keep-alives stop being confirmed, the deadline timer
// fires `onLost` without any message from etcd, and A must stop acting at once; on the majority side B takes
// over after A's lease expires, which is after A's deadline. Limits, stated so nobody relies on more:
// a head paused between checking `isLeading()` and acting (a GC pause, SIGSTOP) can act late, as with any
// lease, so the metadata store fences every write on this leadership (`fence`: the key and its create
// revision, compared by etcd in the write's transaction); and an operator deleting a key by hand deposes its
// owner only at its next keep-alive.
//
// Liveness: keep-alives go out every TTL/3 through every etcd member at once (one hung member costs nothing),
// and a round still waiting for etcd to elect a new leader counts when it is answered. The lease must still
// outlast etcd's own leader failover (up to about two election timeouts): otherwise a change of etcd leader
// deposes the head, safely but needlessly. The 2 s default suits fast etcd timing (election timeout 500 ms);
// with etcd's default 1 s election timeout, 5 s is the safer choice.

import type { Etcd3 } from "etcd3";
import { assert } from "../core/assert.js";
import { monotonicClock, type Clock } from "../core/clock.js";
import { ShoalError } from "../core/errors.js";
import { checkEndpoints, createEtcdClient, describeEtcdError, within } from "./etcd-client.js";
import { HeadCampaign } from "./etcd-campaign.js";
import type { LeadershipFence } from "./etcd-store.js";

export { clockRateErrorMax, timerLatenessMs } from "./etcd-campaign.js";

export interface HeadCandidate {
  id: string;
  /** Where clients and nodes reach this head, e.g. "10.0.0.5:7340". */
  address: string;
}

export interface HeadElectionOptions {
  endpoints: readonly string[];
  /** Key prefix shared with the metadata store; default "/shoal/". */
  prefix?: string;
  /** Lease length: how long a dead leader keeps its place; default 2 s (etcd may raise it to its minimum). */
  leaseTtlSeconds?: number;
  candidate: HeadCandidate;
  /** Bound on each etcd call; default 5 s. */
  timeoutMs?: number;
  clock?: Clock;
}

export const headElectionDefaults = { prefix: "/shoal/", leaseTtlSeconds: 2, timeoutMs: 5_000 } as const;

type State = "campaigning" | "leading" | "lost" | "resigned";

export class HeadElection {
  private state: State = "campaigning";
  private readonly lostCallbacks: ((reason: ShoalError) => void)[] = [];
  private lostReason: ShoalError | undefined;
  private readonly waiters: { resolve: () => void; reject: (error: ShoalError) => void }[] = [];
  private readonly campaign: HeadCampaign;

  private constructor(
    /** The campaign's client first, then one per member for keep-alives; all closed when the election ends. */
    private readonly clients: readonly Etcd3[],
    private readonly endpoints: readonly string[],
    private readonly candidate: HeadCandidate,
    private readonly timeoutMs: number,
    campaignOf: (election: HeadElection) => HeadCampaign,
  ) {
    this.campaign = campaignOf(this);
  }

  /** Joins the election: resolves once this candidate's key is in etcd (it may not lead yet). */
  static async start(options: HeadElectionOptions): Promise<HeadElection> {
    const { endpoints, candidate, prefix = headElectionDefaults.prefix, clock = monotonicClock } = options;
    const { leaseTtlSeconds = headElectionDefaults.leaseTtlSeconds, timeoutMs = headElectionDefaults.timeoutMs } = options;
    checkEndpoints(endpoints);
    assert(prefix.startsWith("/") && prefix.endsWith("/"), `etcd prefix ${prefix} starts and ends with "/"`);
    assert(Number.isSafeInteger(leaseTtlSeconds) && leaseTtlSeconds >= 1, `leaseTtlSeconds ${leaseTtlSeconds} is a whole number of seconds, at least 1`);
    assert(typeof candidate.id === "string" && candidate.id !== "" && typeof candidate.address === "string", "the candidate has an id and an address");
    const client = createEtcdClient(endpoints, timeoutMs);
    const keepaliveClients = endpoints.map((endpoint) => createEtcdClient([endpoint], timeoutMs));
    const clients = [client, ...keepaliveClients];
    const election = new HeadElection(clients, [...endpoints], { ...candidate }, timeoutMs, (self) => {
      const campaignOptions = { client, keepaliveClients, prefix: `${prefix}head-election/`, leaseTtlMs: leaseTtlSeconds * 1000, clock };
      return new HeadCampaign(campaignOptions, JSON.stringify({ id: candidate.id, address: candidate.address }), {
        elected: () => self.onElected(),
        deposed: (why) => self.onDeposed(why),
      });
    });
    try {
      await within(election.endpoints, `enter head election as ${candidate.id}`, timeoutMs, election.campaign.enter());
    } catch (error) {
      await election.campaign.stop({ revoke: false }).catch(() => undefined);
      election.closeClients();
      throw election.describe(`enter head election as ${candidate.id}`, error);
    }
    election.campaign.run();
    return election;
  }

  /** Resolves when this candidate leads; rejects if it resigns or loses first. */
  awaitLeadership(): Promise<void> {
    switch (this.state) {
      case "leading":
        return Promise.resolve();
      case "campaigning":
        return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
      case "lost":
      case "resigned":
        return Promise.reject(this.overError());
    }
  }

  /** Synchronous check before a leader-only action: leading, and the lease deadline not yet passed. */
  isLeading(): boolean {
    return this.state === "leading" && this.campaign.isWithinLease();
  }

  /** The create revision of this leader's key: grows with every new leadership, a fencing token for etcd writes. */
  get leadershipRevision(): string | undefined {
    return this.state === "leading" ? this.campaign.createRevision : undefined;
  }

  /** This leadership as a write fence for the metadata store (EtcdStore's `fence`); undefined unless leading. */
  get fence(): LeadershipFence | undefined {
    const key = this.campaign.key;
    const createRevision = this.leadershipRevision;
    return key === undefined || createRevision === undefined ? undefined : { key, createRevision };
  }

  /** Who leads now (the owner of the oldest key); a dead leader is shown until its lease expires. */
  async leader(): Promise<HeadCandidate | undefined> {
    if (this.state === "lost" || this.state === "resigned") throw this.overError();
    const action = "read the head election's leader";
    try {
      const value = await within(this.endpoints, action, this.timeoutMs, this.campaign.readLeader());
      return value === undefined ? undefined : parseCandidate(value);
    } catch (error) {
      throw this.describe(action, error);
    }
  }

  /**
   * `callback` runs once, when leadership is lost without resign(): the lease expired or could not be renewed
   * in time (etcd unreachable), or the key was deleted. The head must stop acting as leader at once.
   */
  onLost(callback: (reason: ShoalError) => void): void {
    if (this.lostReason !== undefined) {
      const reason = this.lostReason;
      queueMicrotask(() => callback(reason));
    } else {
      this.lostCallbacks.push(callback);
    }
  }

  /** Leaves the election: stops acting at once, then revokes the lease so another head leads without waiting. */
  async resign(): Promise<void> {
    if (this.state === "resigned" || this.state === "lost") return;
    this.state = "resigned";
    this.rejectWaiters();
    try {
      await within(this.endpoints, `resign as ${this.candidate.id}`, this.timeoutMs, this.campaign.stop({ revoke: true }));
    } catch (error) {
      const reason = this.describe(`revoke the lease of ${this.candidate.id}`, error);
      if (reason instanceof Error) reason.message += "; the lease expires by itself within its TTL";
      throw reason;
    } finally {
      this.closeClients();
    }
  }

  private onElected(): void {
    if (this.state !== "campaigning") return;
    this.state = "leading";
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  private onDeposed(why: string): void {
    if (this.state !== "leading") return;
    this.state = "lost";
    this.lostReason = new ShoalError("internal", `head ${this.candidate.id} lost leadership: ${why}`, true);
    for (const callback of this.lostCallbacks.splice(0)) {
      try {
        callback(this.lostReason);
      } catch (error) {
        queueMicrotask(() => {
          throw error; // a throwing callback is a bug: surface it, after every callback has run
        });
      }
    }
    // Best effort, after the callbacks: a lease etcd still holds is revoked so the next head need not wait.
    void this.campaign
      .stop({ revoke: true })
      .catch(() => undefined)
      .finally(() => this.closeClients());
  }

  private closeClients(): void {
    for (const client of this.clients) client.close();
  }

  private rejectWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.overError());
  }

  private overError(): ShoalError {
    const how = this.state === "lost" ? "lost leadership" : "resigned";
    return new ShoalError("internal", `head ${this.candidate.id} ${how}: this election is over; start a new HeadElection to stand again`, false);
  }

  private describe(action: string, error: unknown): unknown {
    return describeEtcdError(this.endpoints, action, error);
  }
}

function parseCandidate(json: string): HeadCandidate {
  const value: unknown = JSON.parse(json);
  const candidate = value as Partial<HeadCandidate> | null;
  if (typeof candidate?.id !== "string" || typeof candidate.address !== "string") {
    throw new ShoalError("internal", `head election key holds ${JSON.stringify(json.slice(0, 80))}, not a candidate; delete the key`, false);
  }
  return { id: candidate.id, address: candidate.address };
}

