import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UplinkBuffer } from '../../src/gemini/uplink-buffer.ts';
import { ramp } from './helpers/recorder.ts';

describe('UplinkBuffer', () => {
  it('is a FIFO across wrap-around', () => {
    const b = new UplinkBuffer(8);
    const out = new Int16Array(5);
    b.push(ramp(0, 6), 100);
    expect(b.read(out)).toBe(true);
    expect(Array.from(out)).toEqual([0, 1, 2, 3, 4]);
    b.push(ramp(6, 6), 100);
    expect(b.read(out)).toBe(true);
    expect(Array.from(out)).toEqual([5, 6, 7, 8, 9]);
    expect(b.read(out)).toBe(false);
    expect(b.size).toBe(2);
  });

  it('drops the oldest samples past the limit and counts them', () => {
    const b = new UplinkBuffer(4);
    b.push(ramp(0, 10), 6);
    b.push(ramp(10, 3), 6);
    expect(b.dropped).toBe(7);
    const out = new Int16Array(6);
    expect(b.read(out)).toBe(true);
    expect(Array.from(out)).toEqual([7, 8, 9, 10, 11, 12]);
  });

  it('grows for a backlog and shrinks back once it has drained, even with a partial chunk left', () => {
    const b = new UplinkBuffer(16);
    b.push(ramp(0, 1005), 5000);
    expect(b.capacity).toBeGreaterThanOrEqual(1005);
    const out = new Int16Array(10);
    while (b.size >= 10) b.read(out);
    expect(b.size).toBe(5);
    expect(b.capacity).toBe(16);
    b.push(ramp(1005, 5), 5000);
    const rest = new Int16Array(10);
    expect(b.read(rest)).toBe(true);
    expect(Array.from(rest)).toEqual(Array.from(ramp(1000, 10)));
  });

  it('keeps nothing with a zero limit', () => {
    const b = new UplinkBuffer(4);
    b.push(ramp(0, 3), 10);
    b.push(ramp(3, 3), 0);
    expect(b.size).toBe(0);
    expect(b.dropped).toBe(6);
  });

  it('matches a plain array model for any sequence of pushes and reads', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ push: fc.integer({ min: 0, max: 50 }), limit: fc.integer({ min: 0, max: 80 }) }),
            fc.record({ read: fc.integer({ min: 1, max: 40 }) }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const b = new UplinkBuffer(8);
          let model: number[] = [];
          let dropped = 0;
          let next = 0;
          for (const op of ops) {
            if ('push' in op) {
              const src = ramp(next, op.push);
              next += op.push;
              model.push(...Array.from(src));
              const excess = Math.max(0, model.length - op.limit);
              dropped += excess;
              model = model.slice(excess);
              b.push(src, op.limit);
            } else {
              const out = new Int16Array(op.read);
              const ok = b.read(out);
              expect(ok).toBe(model.length >= op.read);
              if (ok) expect(Array.from(out)).toEqual(model.splice(0, op.read));
            }
            expect(b.size).toBe(model.length);
            expect(b.dropped).toBe(dropped);
          }
        },
      ),
    );
  });
});
