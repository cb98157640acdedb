// The pool's batching machinery, exercised with a toy stateful engine (fixtures/toy-engine.ts) so that these tests
// do not depend on the DSP kernels: equivalence with inline execution, ordering, flush/clear/close semantics,
// argument checks and worker failures.
import { afterEach, describe, expect, it } from 'vitest';
import { createPoolEngine, type PoolEngine, type PoolEngineOptions } from '../../src/audio/pool/index.ts';
import type { AudioEngine } from '../../src/audio/types.ts';
import { GatewayError, InvalidStateError } from '../../src/errors.ts';
import { createToyEngine } from './fixtures/toy-engine.ts';
import { MULAW, play, script } from './helpers.ts';

const TOY = new URL('./fixtures/toy-engine.ts', import.meta.url).href;
const BROKEN = new URL('./fixtures/broken-engine.ts', import.meta.url).href;

const engines: AudioEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

async function pool(opts: Partial<PoolEngineOptions> = {}): Promise<PoolEngine> {
  const e = await createPoolEngine({ backendPreference: 'ts', threads: 2, engineModule: TOY, ...opts });
  engines.push(e);
  return e;
}

describe('pool engine (toy kernels)', () => {
  it('gives the same frames, in order, as inline execution for many interleaved streams', async () => {
    const steps = script(42, 12, 12, 1000);
    const expected = await play(createToyEngine(), steps, 12, 12);
    for (const opts of [{ threads: 1 }, { threads: 3, tickMs: 1 }, { threads: 2, maxBatchRecords: 3 }]) {
      const e = await pool(opts);
      const got = await play(e, steps, 12, 12);
      expect(got).toEqual(expected);
      expect(e.stats().droppedPushes).toBe(0);
    }
    expect(expected.every((r) => r.length > 0)).toBe(true);
  });

  it('flush pads the last partial frame and delivers it after the frames before it', async () => {
    const e = await pool();
    const frames: number[][] = [];
    const d = e.createDownlink(MULAW, (f) => frames.push(Array.from(f)));
    d.push(new Int16Array(480 + 30).fill(1000)); // one full 160-byte frame plus 10 bytes
    d.flush();
    await e.whenIdle();
    expect(frames.map((f) => f.length)).toEqual([160, 160]);
    expect(frames[1]!.slice(10).every((b) => b === 0xff)).toBe(true);
  });

  it('clear drops frames pending or already in flight, and the stream restarts from fresh state', async () => {
    const e = await pool({ threads: 1 });
    const frames: number[][] = [];
    let afterClear = false;
    const stale: number[] = [];
    const d = e.createDownlink(MULAW, (f) => {
      frames.push(Array.from(f));
      if (!afterClear) stale.push(frames.length);
    });
    // A batch goes out, more frames queue behind it, then clear: none of them may arrive.
    for (let i = 0; i < 20; i++) d.push(new Int16Array(480).fill(i * 100));
    await new Promise((res) => setImmediate(res));
    for (let i = 0; i < 20; i++) d.push(new Int16Array(480).fill(-i * 100));
    d.clear();
    afterClear = true;
    const fresh = new Int16Array(960).map((_, i) => i);
    d.push(fresh);
    await e.whenIdle();
    expect(stale).toEqual([]);
    const ref: number[][] = [];
    createToyEngine()
      .createDownlink(MULAW, (f) => ref.push(Array.from(f)))
      .push(fresh);
    expect(frames).toEqual(ref);
  });

  it('delivers nothing after a converter is closed; close() is idempotent everywhere', async () => {
    const e = await pool();
    let n = 0;
    const u = e.createUplink(MULAW, () => n++);
    u.push(new Uint8Array(160));
    u.close();
    u.close();
    await e.whenIdle();
    expect(n).toBe(0);
    expect(() => u.push(new Uint8Array(160))).toThrow(InvalidStateError);
    // Closing with batches pending and in flight: nothing is delivered afterwards, nothing rejects unhandled.
    let late = 0;
    const d = e.createDownlink(MULAW, () => late++);
    for (let i = 0; i < 50; i++) d.push(new Int16Array(480));
    await new Promise((res) => setImmediate(res));
    for (let i = 0; i < 50; i++) d.push(new Int16Array(480));
    const p1 = e.close();
    const p2 = e.close();
    await Promise.all([p1, p2]);
    await e.close();
    const seen = late;
    await new Promise((res) => setTimeout(res, 20));
    expect(late).toBe(seen);
    await e.whenIdle();
    expect(() => e.createUplink(MULAW, () => {})).toThrow(InvalidStateError);
    expect(() => d.push(new Int16Array(480))).toThrow(InvalidStateError);
  });

  it('reuses slots of closed streams without leaking frames between them', async () => {
    const e = await pool({ threads: 1 });
    for (let round = 0; round < 5; round++) {
      const got: number[][] = [];
      const ref: number[][] = [];
      const u = e.createUplink(MULAW, (p) => got.push(Array.from(p)));
      const r = createToyEngine().createUplink(MULAW, (p) => ref.push(Array.from(p)));
      const data = new Uint8Array(160).fill(round + 1);
      u.push(data);
      r.push(data);
      await e.whenIdle();
      u.close();
      expect(got).toEqual(ref);
    }
    await e.whenIdle();
    expect(e.stats().streams).toBe(0);
  });

  it('rejects bad arguments with typed errors', async () => {
    const bad = async (o: unknown) => {
      const err = await createPoolEngine(o as PoolEngineOptions).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe('GW_ERR_INVALID_ARGUMENT');
    };
    await bad(undefined);
    await bad({ backendPreference: 'fast', threads: 1 });
    await bad({ backendPreference: 'ts', threads: 0 });
    await bad({ backendPreference: 'ts', threads: 1.5 });
    await bad({ backendPreference: 'ts', threads: 65 });
    await bad({ backendPreference: 'ts', threads: 1, tickMs: -1 });
    await bad({ backendPreference: 'ts', threads: 1, tickMs: Number.NaN });
    await bad({ backendPreference: 'ts', threads: 1, maxBatchBytes: 10 });
    await bad({ backendPreference: 'ts', threads: 1, stallTimeoutMs: 0 });
    await bad({ backendPreference: 'ts', threads: 1, maxBatchRecords: 0 });

    const e = await pool({ threads: 1 });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as GatewayError).code;
      }
      return 'no error';
    };
    expect(code(() => e.createUplink({ encoding: 'alaw', sampleRate: 8000 } as never, () => {}))).toBe(
      'GW_ERR_INVALID_ARGUMENT',
    );
    expect(code(() => e.createDownlink({ encoding: 'l16', sampleRate: 24000 } as never, () => {}))).toBe(
      'GW_ERR_INVALID_ARGUMENT',
    );
    expect(code(() => e.createUplink(MULAW, 'nope' as never))).toBe('GW_ERR_INVALID_ARGUMENT');
    const u = e.createUplink(MULAW, () => {});
    const d = e.createDownlink(MULAW, () => {});
    expect(code(() => u.push([1, 2, 3] as never))).toBe('GW_ERR_INVALID_ARGUMENT');
    expect(code(() => d.push(new Uint8Array(4) as never))).toBe('GW_ERR_INVALID_ARGUMENT');
  });

  it('fails to start with a typed error when the workers cannot load a backend', async () => {
    const err = await createPoolEngine({ backendPreference: 'native', threads: 2, engineModule: BROKEN }).catch(
      (x: unknown) => x,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('GW_ERR_NATIVE_UNAVAILABLE');
  });

  for (const [how, magic] of [
    ['exits', 0xee],
    ['throws', 0xef],
    ['hangs', 0xf0],
  ] as const) {
    it(`a worker that ${how} fails its streams with a typed error, not a hang; the pool recovers`, async () => {
      const errors: GatewayError[] = [];
      const stall = how === 'hangs' ? { stallTimeoutMs: 500 } : {};
      const e = await pool({ threads: 2, ...stall, onError: (err) => errors.push(err) });
      const victimFrames: number[][] = [];
      const victim = e.createUplink(MULAW, (p) => victimFrames.push(Array.from(p))); // shard 0
      const bystander = e.createUplink(MULAW, () => {}); // shard 1
      victim.push(new Uint8Array([magic, magic, magic]));
      await e.whenIdle();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(GatewayError);
      expect(errors[0]!.code).toBe('GW_ERR_AUDIO');
      let thrown: unknown;
      try {
        victim.push(new Uint8Array(160));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBe(errors[0]);
      bystander.push(new Uint8Array(160));
      victim.close();

      // New streams on the failed shard start from empty state on a healthy worker.
      const got: number[][] = [];
      const ref: number[][] = [];
      const fresh = e.createUplink(MULAW, (p) => got.push(Array.from(p)));
      e.createUplink(MULAW, () => {}); // keeps the shards balanced
      const r = createToyEngine().createUplink(MULAW, (p) => ref.push(Array.from(p)));
      const data = new Uint8Array(160).map((_, i) => i);
      fresh.push(data);
      r.push(data);
      await e.whenIdle();
      expect(got).toEqual(ref);
      expect(e.stats().failures).toBe(1);
    });
  }

  it('bounds the pending batch: pushes beyond maxBatchBytes are dropped and counted', async () => {
    const e = await pool({ threads: 1, maxBatchBytes: 4096, tickMs: 50 });
    const u = e.createUplink(MULAW, () => {});
    for (let i = 0; i < 100; i++) u.push(new Uint8Array(160));
    expect(e.stats().droppedPushes).toBeGreaterThan(0);
    await e.whenIdle();
  });
});
