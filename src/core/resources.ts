// Resource vectors (cpus, memory, custom counts) and labels, with the arithmetic placement needs.

/** Amounts by resource name. `cpus` and `memory` (bytes) are always present on a node; others are custom. */
export type Resources = Record<string, number>;
export type Labels = Record<string, string>;

/**
 * The label every node carries by itself: its data address ("127.0.0.1:41234"), unique in a cluster and
 * stable while the node process lives. A task pinned to one node asks for `{ [nodeAddressLabel]: address }`.
 */
export const nodeAddressLabel = "shoal.address";

export function fits(demand: Resources, available: Resources): boolean {
  for (const name in demand) {
    const want = demand[name] as number;
    if (want > 0 && (available[name] ?? 0) < want) return false;
  }
  return true;
}

export function subtract(from: Resources, demand: Resources): void {
  for (const name in demand) from[name] = (from[name] ?? 0) - (demand[name] as number);
}

export function add(to: Resources, demand: Resources): void {
  for (const name in demand) to[name] = (to[name] ?? 0) + (demand[name] as number);
}

export function labelsMatch(wanted: Labels | undefined, have: Labels): boolean {
  if (wanted === undefined) return true;
  for (const key in wanted) if (have[key] !== wanted[key]) return false;
  return true;
}

/** "needs 2 gpu, 1 cpus" — the parts of a demand that `available` cannot meet. */
export function describeShortfall(demand: Resources, available: Resources): string {
  const parts: string[] = [];
  for (const name in demand) {
    const want = demand[name] as number;
    const have = available[name] ?? 0;
    if (want > have) parts.push(`${formatAmount(name, want)} ${name} (has ${formatAmount(name, have)})`);
  }
  return parts.join(", ");
}

export function formatAmount(name: string, amount: number): string {
  if (name === "memory") return formatBytes(amount);
  return Number.isInteger(amount) ? String(amount) : amount.toFixed(2);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
