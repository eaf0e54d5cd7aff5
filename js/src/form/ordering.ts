// A click acts on the values the page shows, so it must reach the kernel after the edits made
// before it. Jupyter's comm keeps messages in order; marimo posts each widget message on its own,
// and a click could overtake the edit typed just before it (a series started with the old
// frame count). So a click waits until every edit sent before it has its "applied" reply.
import type { FormEvent } from "./schema";

/** Orders clicks after pending edits. `deliver` sends a message to the kernel. */
export class EditsBeforeClicks {
  private pending = new Map<string, number>(); // edits sent, not answered yet, by row name
  private held: FormEvent[] = [];

  constructor(private deliver: (ev: FormEvent) => void) {}

  /** Edits go at once; a click goes at once when no edit is pending, else after them. */
  send(ev: FormEvent): void {
    if (ev.type === "edit") {
      this.pending.set(ev.name, (this.pending.get(ev.name) ?? 0) + 1);
      this.deliver(ev);
    } else if (this.pending.size === 0 && this.held.length === 0) {
      this.deliver(ev);
    } else {
      this.held.push(ev);
    }
  }

  /** The kernel answered an edit of row `name`: held clicks go once no edit is pending. */
  applied(name: string): void {
    const n = (this.pending.get(name) ?? 0) - 1;
    if (n > 0) this.pending.set(name, n);
    else this.pending.delete(name);
    if (this.pending.size === 0) this.flush();
  }

  /** Clicks held back (waiting for replies). */
  get waiting(): number {
    return this.held.length;
  }

  /** Send the held clicks now (a reply that never comes must not swallow a click). */
  flush(): void {
    this.pending.clear();
    const held = this.held;
    this.held = [];
    for (const ev of held) this.deliver(ev);
  }
}
