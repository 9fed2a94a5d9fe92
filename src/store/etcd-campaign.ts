// The etcd mechanics of one head's candidacy: its lease, keep-alives and deadline, and its key's place in line.
// HeadElection (etcd-election.ts) turns these into the public states; its header comment gives the safety argument.

import { EtcdLeaseInvalidError, castGrpcError, type Etcd3, type ILeaseKeepAliveResponse, type Lease } from "etcd3";
import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";

/** Monotonic clocks of two machines run at rates within 0.01% of each other; 1% leaves room for anything sane. */
export const clockRateErrorMax = 0.01;
/** A timer fires a little late on a busy event loop: the lease deadline is set this much early. */
export const timerLatenessMs = 50;
/** Pause after a failed etcd call while waiting in line, at most. */
const retryDelayMsMax = 500;
/**
 * How often a candidate in line re-reads whether the key ahead is gone. Polling, not an etcd watch: etcd3's
 * watch manager keeps reconnecting forever when its client is closed with a watch still being set up, and
 * etcd itself only sweeps expired leases every 500 ms, so a watch would win little.
 */
const lineCheckIntervalMs = 200;

export interface CampaignOptions {
  client: Etcd3;
  /** One client per etcd member: keep-alives go to every member at once, so one hung member costs nothing. */
  keepaliveClients: readonly Etcd3[];
  /** Prefix of the election's keys, e.g. "/shoal/head-election/". */
  prefix: string;
  leaseTtlMs: number;
  clock: Clock;
}

export interface CampaignEvents {
  elected(): void;
  /** Leadership is gone (only called after `elected`): `why` says how. */
  deposed(why: string): void;
}

interface Session {
  readonly lease: Lease;
  readonly leaseId: string;
  readonly key: string;
  readonly createRevision: string;
  /** Monotonic ms after which this head must no longer believe it holds the lease. */
  expiresAtMs: number;
  expiryTimer: NodeJS.Timeout | undefined;
  readonly keepaliveTimer: NodeJS.Timeout;
  keyCheckInFlight: boolean;
}

type Position = "first" | "behind" | "gone";

export class HeadCampaign {
  private session: Session | undefined;
  private stopped = false;
  private leading = false;
  private wake: (() => void) | undefined;
  private revoking: Promise<void> = Promise.resolve();
  /** The last etcd error seen, for the lost message: why keep-alives were not confirmed. */
  private lastError: unknown;

  constructor(
    private readonly options: CampaignOptions,
    private readonly value: string,
    private readonly events: CampaignEvents,
  ) {}

  get createRevision(): string | undefined {
    return this.session?.createRevision;
  }

  /** This candidate's key in the election, while it has a session. */
  get key(): string | undefined {
    return this.session?.key;
  }

  isWithinLease(): boolean {
    return this.session !== undefined && this.options.clock.nowMs() < this.session.expiresAtMs;
  }

  /** Grants a lease and creates this candidate's key in line. */
  async enter(): Promise<void> {
    this.session = await this.openSession();
  }

  /** Waits in line in the background until elected or stopped; a lease that lapses while waiting is replaced. */
  run(): void {
    void this.waitInLine();
  }

  async readLeader(): Promise<string | undefined> {
    const oldest = await this.options.client.getAll().prefix(this.options.prefix).sort("Create", "Ascend").limit(1).exec();
    return oldest.kvs[0]?.value.toString("utf8");
  }

  /** Stops keep-alives and waiting; with `revoke`, deletes the lease (and so the key) in etcd. */
  async stop({ revoke }: { revoke: boolean }): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const session = this.session;
    if (session !== undefined) {
      this.session = undefined;
      this.closeSession(session);
      if (revoke) await session.lease.revoke();
    }
    await this.revoking;
  }

  private async waitInLine(): Promise<void> {
    while (!this.stopped && !this.leading) {
      try {
        const session = this.session ?? (this.session = await this.openSession());
        const position = await this.checkPosition(session);
        if (this.stopped || session !== this.session) continue;
        if (position === "first") {
          if (this.isWithinLease()) return this.becomeLeader();
          this.loseSession(session, "its lease deadline passed while it was being elected");
        } else if (position === "behind") {
          await this.sleep(lineCheckIntervalMs);
        }
      } catch (error) {
        this.lastError = error;
        await this.sleep(Math.min(retryDelayMsMax, this.options.leaseTtlMs / 4));
      }
    }
  }

  private async openSession(): Promise<Session> {
    const { client, leaseTtlMs, clock } = this.options;
    const sentAtMs = clock.nowMs();
    const lease = client.lease(leaseTtlMs / 1000, { autoKeepAlive: false });
    lease.on("lost", () => undefined); // reported through grant() and keepaliveOnce(); no unhandled event
    try {
      const leaseId = await lease.grant();
      const key = `${this.options.prefix}${leaseId}`;
      // A fresh lease id cannot be in use, so the create always succeeds; the compare only makes sure of it.
      const created = await client.if(key, "Create", "==", 0).then(client.put(key).value(this.value).lease(leaseId)).commit();
      assert(created.succeeded, `election key ${key} of a fresh lease did not exist`);
      if (this.stopped) throw new Error("the campaign was stopped while entering");
      const session: Session = {
        lease,
        leaseId,
        key,
        createRevision: created.header.revision,
        expiresAtMs: this.deadlineFrom(sentAtMs, leaseTtlMs),
        expiryTimer: undefined,
        keepaliveTimer: setInterval(() => void this.keepAlive(session), leaseTtlMs / 3),
        keyCheckInFlight: false,
      };
      this.scheduleExpiry(session);
      return session;
    } catch (error) {
      void lease.revoke().catch(() => undefined);
      throw error;
    }
  }

  /** The last moment this head may believe in a lease etcd renewed for `ttlMs` on a request sent at `sentAtMs`. */
  private deadlineFrom(sentAtMs: number, ttlMs: number): number {
    return sentAtMs + ttlMs * (1 - clockRateErrorMax) - timerLatenessMs;
  }

  /**
   * Rounds overlap: a round is not abandoned when the next one starts, because a member waiting for etcd to
   * elect a new leader answers as soon as there is one, and its answer still counts from when it was sent.
   */
  private async keepAlive(session: Session): Promise<void> {
    if (session !== this.session) return;
    const sentAtMs = this.options.clock.nowMs();
    try {
      const timeoutMs = Math.max(this.options.leaseTtlMs / 3, session.expiresAtMs - sentAtMs);
      const ttlSeconds = await this.confirmKeepalive(session.leaseId, timeoutMs);
      const deadline = this.deadlineFrom(sentAtMs, ttlSeconds * 1000);
      if (session === this.session && deadline > session.expiresAtMs) {
        session.expiresAtMs = deadline;
        this.scheduleExpiry(session);
      }
    } catch (error) {
      // A lease etcd no longer has is lost now; anything else is left to the deadline.
      if (error instanceof EtcdLeaseInvalidError) this.loseSession(session, "etcd reports that its lease expired");
      else this.lastError = error;
    }
    if (this.leading) void this.checkOwnKey(session);
  }

  /**
   * Sends one keep-alive through every member at once; resolves with the TTL of the first confirmation (they
   * all come from etcd's leader, which alone renews leases), rejects when all fail or one says the lease is gone.
   * etcd3's own keep-alive picks one member at random and never marks it failed, so a single hung member
   * would make a third of all keep-alives time out and depose a healthy leader within a few TTLs.
   */
  private confirmKeepalive(leaseId: string, timeoutMs: number): Promise<number> {
    const clients = this.options.keepaliveClients;
    return new Promise((resolve, reject) => {
      let failures = 0;
      for (const client of clients) {
        sendKeepalive(client, leaseId, timeoutMs).then(
          (ttlSeconds) => (ttlSeconds > 0 ? resolve(ttlSeconds) : reject(new EtcdLeaseInvalidError(leaseId))),
          (error: unknown) => {
            if (error instanceof EtcdLeaseInvalidError || ++failures === clients.length) reject(error);
          },
        );
      }
    });
  }

  /** A key deleted by hand hands leadership on while the lease lives: step down within a keep-alive interval. */
  private async checkOwnKey(session: Session): Promise<void> {
    if (session.keyCheckInFlight || session !== this.session) return;
    session.keyCheckInFlight = true;
    try {
      await this.checkPosition(session);
    } catch (error) {
      this.lastError = error;
    } finally {
      session.keyCheckInFlight = false;
    }
  }

  private scheduleExpiry(session: Session): void {
    clearTimeout(session.expiryTimer);
    const remainingMs = session.expiresAtMs - this.options.clock.nowMs();
    session.expiryTimer = setTimeout(() => {
      if (this.options.clock.nowMs() < session.expiresAtMs) return this.scheduleExpiry(session);
      const lastError = this.lastError instanceof Error ? ` (last etcd error: ${this.lastError.message})` : "";
      this.loseSession(session, `etcd did not confirm a keep-alive of its lease in time${lastError}`);
    }, Math.max(0, remainingMs));
  }

  /** Where this candidate stands: first in line, behind an older key, or out (its key is gone: the session is lost). */
  private async checkPosition(session: Session): Promise<Position> {
    const { client, prefix } = this.options;
    const older = client
      .getAll()
      .prefix(prefix)
      .maxCreateRevision((BigInt(session.createRevision) - 1n).toString())
      .sort("Create", "Descend")
      .limit(1);
    const result = await client.if(session.key, "Create", "==", session.createRevision).then(older).commit();
    if (!result.succeeded) {
      this.loseSession(session, "its election key is gone");
      return "gone";
    }
    const olderKey = result.responses[0]?.response_range.kvs[0]?.key;
    // max_create_revision 0 means "no bound" to etcd; a key created at revision 1 would find itself.
    return olderKey === undefined || olderKey.toString() === session.key ? "first" : "behind";
  }

  private becomeLeader(): void {
    this.leading = true;
    this.events.elected();
  }

  private loseSession(session: Session, why: string): void {
    if (session !== this.session) return;
    this.session = undefined;
    this.closeSession(session);
    // Best effort: if etcd still holds the lease, revoking it lets the next head in without waiting out the TTL.
    this.revoking = session.lease.revoke().catch(() => undefined);
    if (this.leading) this.events.deposed(why);
    else this.wake?.();
  }

  private closeSession(session: Session): void {
    clearInterval(session.keepaliveTimer);
    clearTimeout(session.expiryTimer);
    session.lease.release();
  }

  /** Waits `ms`, or less if woken by a lost session or stop. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        if (this.wake === wake) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wake = wake;
    });
  }
}

/** One keep-alive on its own stream, so the answer is unambiguously the answer to this request; resolves with the TTL. */
async function sendKeepalive(client: Etcd3, leaseId: string, timeoutMs: number): Promise<number> {
  // leaseClient is documented as internal in etcd3 1.x but typed public; the Lease class offers no way to
  // keep an existing lease alive through a chosen member.
  const stream = await client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs });
  try {
    return await new Promise<number>((resolve, reject) => {
      stream.on("data", (response: ILeaseKeepAliveResponse) => resolve(Number(response.TTL)));
      stream.on("error", (error: Error) => reject(castGrpcError(error)));
      stream.on("end", () => reject(new Error("etcd closed the keep-alive stream without an answer")));
      stream.write({ ID: leaseId });
    });
  } finally {
    stream.end();
  }
}
