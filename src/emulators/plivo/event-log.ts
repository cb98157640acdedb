// What a gateway sent on a call's stream, as tests read it: every event in order (bounded), and waiters for the
// next one of a kind. Kept apart from the call's behaviour (call.ts) so the protocol side stays readable.
import type { ReceivedEvent } from './types.ts';

const MAX_RECEIVED = 200_000;

interface Waiter {
  event: string;
  predicate: ((msg: unknown) => boolean) | undefined;
  resolve: (e: ReceivedEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class EventLog {
  readonly received: ReceivedEvent[] = [];
  private waiters: Waiter[] = [];

  /** Keeps the event (up to MAX_RECEIVED) and wakes the waiters it satisfies. */
  record(e: ReceivedEvent): void {
    if (this.received.length < MAX_RECEIVED) this.received.push(e);
    this.notify(e);
  }

  /** Wakes waiters without keeping the event (playAudio frames when recordPlayed is off). */
  notify(e: ReceivedEvent): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (w.event !== e.event || (w.predicate && !w.predicate(e.msg))) return true;
      clearTimeout(w.timer);
      w.resolve(e);
      return false;
    });
  }

  /** The first matching event seen, or the next one; `ended` when no more can come (the stream closed). */
  waitFor(
    event: string,
    predicate: ((msg: unknown) => boolean) | undefined,
    timeoutMs: number,
    ended: boolean,
  ): Promise<ReceivedEvent> {
    const seen = this.received.find((e) => e.event === event && (!predicate || predicate(e.msg)));
    if (seen) return Promise.resolve(seen);
    if (ended) return Promise.reject(new Error(`stream ended before a "${event}" event arrived`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const got = [...new Set(this.received.map((e) => e.event))].join(', ') || 'nothing';
        reject(new Error(`no "${event}" event within ${timeoutMs} ms (received: ${got})`));
      }, timeoutMs);
      const waiter: Waiter = { event, predicate, resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }

  /** The stream is gone: every waiter fails now instead of at its timeout. */
  failWaiters(): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`stream ended before a "${w.event}" event arrived`));
    }
  }
}
