// One timer for every call of an emulator: each tick lets every streaming call send the media frames that are due
// and fire due checkpoints. A timer per call would not survive a thousand calls on two cores.

export interface Ticking {
  onTick(now: number): void;
}

const TICK_MS = 10;

export class MediaClock {
  private readonly members = new Set<Ticking>();
  private timer: NodeJS.Timeout | undefined;

  add(t: Ticking): void {
    this.members.add(t);
    if (!this.timer) this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  remove(t: Ticking): void {
    this.members.delete(t);
    if (this.members.size === 0) this.stop();
  }

  get size(): number {
    return this.members.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    for (const m of this.members) m.onTick(now);
  }
}
