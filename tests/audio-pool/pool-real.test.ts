// The pool with the real kernels: the same backend in a worker gives bit-identical frames to the inline engine on
// the main thread, for every phone format, with random chunk sizes, flushes and clears across many streams.
import { afterEach, describe, expect, it } from 'vitest';
import { loadAudioBackend } from '../../src/audio/backend.ts';
import { createInlineEngine } from '../../src/audio/engine.ts';
import { createPoolEngine } from '../../src/audio/pool/index.ts';
import type { AudioEngine } from '../../src/audio/types.ts';
import { MULAW, play, script } from './helpers.ts';

function nativeAvailable(): boolean {
  try {
    loadAudioBackend('native');
    return true;
  } catch {
    return false;
  }
}

const engines: AudioEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

describe('pool engine (real kernels)', () => {
  for (const pref of ['ts', 'native'] as const) {
    it.skipIf(pref === 'native' && !nativeAvailable())(
      `is bit-identical to inline with the ${pref} backend`,
      async () => {
        const steps = script(7, 9, 9, 1000);
        const expected = await play(createInlineEngine(loadAudioBackend(pref).backend), steps, 9, 9);
        const pool = await createPoolEngine({ backendPreference: pref, threads: 2 });
        engines.push(pool);
        expect(pool.backend).toBe(pref);
        expect(pool.execution).toBe('pool');
        const got = await play(pool, steps, 9, 9);
        expect(got.map((r) => r.length)).toEqual(expected.map((r) => r.length));
        expect(got).toEqual(expected);
      },
    );
  }

  it('stays bit-identical when one burst outgrows the batch buffers (both directions grow)', async () => {
    const pool = await createPoolEngine({
      backendPreference: 'ts',
      threads: 1,
      maxBatchRecords: Number.POSITIVE_INFINITY,
    });
    engines.push(pool);
    const inline = createInlineEngine(loadAudioBackend('ts').backend);
    const run = async (engine: AudioEngine) => {
      const got: number[][] = [];
      const ups = Array.from({ length: 150 }, (_, i) =>
        engine.createUplink(MULAW, (p) => got.push([i, p[0]!, p[319]!])),
      );
      const downs = Array.from({ length: 150 }, (_, i) =>
        engine.createDownlink(MULAW, (f) => got.push([1000 + i, f[0]!, f[159]!])),
      );
      const ulaw = new Uint8Array(480).map((_, i) => (i * 29) & 0xff);
      const pcm = new Int16Array(1440).map((_, i) => Math.round(9000 * Math.sin(i / 7)));
      for (const u of ups) u.push(ulaw); // 150 × 960 samples out: ~290 KB of output in one batch
      for (const d of downs) d.push(pcm); // 150 × 2,880 bytes in: ~430 KB of input
      if (engine.execution === 'pool') await (engine as typeof pool).whenIdle();
      return got;
    };
    const expected = await run(inline);
    const got = await run(pool);
    expect(got.length).toBe(150 * 3 * 2);
    expect(got).toEqual(expected);
  });

  it('rejects odd-length L16 uplink frames on the calling thread, like inline, without hurting other streams', async () => {
    const pool = await createPoolEngine({ backendPreference: 'ts', threads: 1 });
    engines.push(pool);
    const frames: number[] = [];
    const good = pool.createUplink(MULAW, (pcm) => frames.push(pcm.length));
    const l16 = pool.createUplink({ encoding: 'l16', sampleRate: 8000 }, () => {});
    expect(() => l16.push(new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'GW_ERR_AUDIO' }));
    good.push(new Uint8Array(160));
    await pool.whenIdle();
    expect(frames).toEqual([320]);
    expect(pool.stats().failures).toBe(0);
  });
});
