// One shared copy of strings that repeat across many records (job ids, task names, bundle ids).

/** Bounded: past `max` distinct strings the table restarts; strings already handed out stay valid. */
export class Interner {
  private table = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  intern(text: string): string {
    const known = this.table.get(text);
    if (known !== undefined) return known;
    if (this.table.size >= this.max) this.table = new Map();
    this.table.set(text, text);
    return text;
  }
}
