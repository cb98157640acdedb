// The pacer's worst tick interval, as /metrics reads it (gateway_pacer_max_interval_seconds): driven by a fake clock.
import { afterEach, describe, expect, it } from 'vitest';
import { Pacer } from '../../src/plivo/pacer.ts';

describe('Pacer.takeMaxIntervalMs', () => {
  let pacer: Pacer | undefined;
  afterEach(() => pacer?.stop());

  it('reports the longest interval between ticks since the last read, then starts over', () => {
    const clock = { t: 0 };
    pacer = new Pacer({ tickMs: 10, now: () => clock.t });
    let left = 100;
    pacer.schedule({ pump: () => --left > 0 });
    for (const step of [10, 10, 250, 10]) {
      clock.t += step;
      pacer.tick();
    }
    expect(pacer.takeMaxIntervalMs()).toBe(250);
    clock.t += 12;
    pacer.tick();
    expect(pacer.takeMaxIntervalMs()).toBe(12);
    // No tick since: nothing to report (a stopped pacer is not a stall).
    expect(pacer.takeMaxIntervalMs()).toBe(0);
    // Benches read and reset their own field; a scrape does not disturb it.
    expect(pacer.maxTickGapMs).toBe(250);
  });
});
