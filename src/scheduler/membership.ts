// Pure membership: which nodes are alive, suspect or dead, from joins, heartbeats and time. No IO.
//
// A node is suspect once its connection drops or it has been silent for half the timeout, and dead
// once silent for the whole timeout. A suspect node that speaks again is alive with its state intact
// (one lost connection or late heartbeat never kills a node); a dead node never comes back under the
// same id: it must join again as a new member, so results from its old life are fenced off.

export type MemberState = "alive" | "suspect" | "dead";

interface Member {
  state: MemberState;
  lastHeardMs: number;
  connected: boolean;
}

export class Membership {
  private readonly members = new Map<string, Member>();

  constructor(private readonly nodeTimeoutMs: number) {}

  join(nodeId: string, nowMs: number): void {
    this.members.set(nodeId, { state: "alive", lastHeardMs: nowMs, connected: true });
  }

  /** Any message from the node counts as a heartbeat. Returns false if the node is dead (it must rejoin). */
  heard(nodeId: string, nowMs: number): boolean {
    const member = this.members.get(nodeId);
    if (member === undefined || member.state === "dead") return false;
    member.lastHeardMs = nowMs;
    member.connected = true;
    member.state = "alive";
    return true;
  }

  disconnected(nodeId: string): void {
    const member = this.members.get(nodeId);
    if (member === undefined || member.state === "dead") return;
    member.connected = false;
    member.state = "suspect";
  }

  /** Advances time; returns the nodes that died at this tick. */
  tick(nowMs: number): string[] {
    const died: string[] = [];
    for (const [nodeId, member] of this.members) {
      if (member.state === "dead") continue;
      const silentMs = nowMs - member.lastHeardMs;
      if (silentMs >= this.nodeTimeoutMs) {
        member.state = "dead";
        died.push(nodeId);
      } else if (silentMs >= this.nodeTimeoutMs / 2 || !member.connected) {
        member.state = "suspect";
      }
    }
    return died;
  }

  stateOf(nodeId: string): MemberState | undefined {
    return this.members.get(nodeId)?.state;
  }

  lastHeardMs(nodeId: string): number | undefined {
    return this.members.get(nodeId)?.lastHeardMs;
  }

  /** Forgets a dead node entirely (after its record is no longer shown). */
  forget(nodeId: string): void {
    this.members.delete(nodeId);
  }
}
