import { describe, expect, it } from 'vitest';
import { createAudioEngine, createInlineEngine } from '../../src/audio/engine.ts';
import type { PhoneAudioFormat } from '../../src/contract/media.ts';
import { InvalidStateError } from '../../src/errors.ts';
import { backendCases, firstDifference, randomPcm } from './helpers.ts';

const MULAW: PhoneAudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
const L16_8K: PhoneAudioFormat = { encoding: 'l16', sampleRate: 8000 };
const L16_16K: PhoneAudioFormat = { encoding: 'l16', sampleRate: 16000 };

function l16Bytes(pcm: Int16Array): Uint8Array {
  const b = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, i * 2);
  return new Uint8Array(b);
}

describe.each(backendCases)('inline engine (%s)', (name, backend) => {
  const engine = createInlineEngine(backend);

  it('reports its backend and execution', () => {
    expect(engine.backend).toBe(name);
    expect(engine.execution).toBe('inline');
  });

  it('μ-law uplink: 160-byte frames become 320-sample (20 ms, 16 kHz) frames equal to the fused kernel', () => {
    const frames: Int16Array[] = [];
    const up = engine.createUplink(MULAW, (f) => frames.push(f.slice()));
    const ulaw = Uint8Array.from(randomPcm(160 * 6, 1), (v) => v & 0xff);
    for (let i = 0; i < 6; i++) up.push(ulaw.subarray(i * 160, i * 160 + 160));
    expect(frames.map((f) => f.length)).toEqual([320, 320, 320, 320, 320, 320]);
    const k = backend.createUplink();
    const want = new Int16Array(320 * 6);
    k.process(ulaw, want);
    const got = new Int16Array(320 * 6);
    for (const [i, f] of frames.entries()) got.set(f, i * 320);
    expect(firstDifference(got, want)).toBe(-1);
  });

  it('μ-law uplink re-frames odd-sized pushes to exact 20 ms frames', () => {
    const whole: Int16Array[] = [];
    const cut: Int16Array[] = [];
    const a = engine.createUplink(MULAW, (f) => whole.push(f.slice()));
    const b = engine.createUplink(MULAW, (f) => cut.push(f.slice()));
    const ulaw = Uint8Array.from(randomPcm(800, 2), (v) => v & 0xff);
    a.push(ulaw);
    for (let i = 0; i < 800; i += 33) b.push(ulaw.subarray(i, Math.min(800, i + 33)));
    expect(whole.length).toBe(5);
    expect(cut.length).toBe(5);
    for (let i = 0; i < 5; i++) expect(firstDifference(cut[i]!, whole[i]!)).toBe(-1);
  });

  it('L16 8 kHz uplink resamples little-endian PCM16; L16 16 kHz passes through', () => {
    const pcm8 = randomPcm(160 * 3, 3).map((v) => v >> 2);
    const got8: Int16Array[] = [];
    const up8 = engine.createUplink(L16_8K, (f) => got8.push(f.slice()));
    const bytes8 = l16Bytes(pcm8);
    for (let i = 0; i < 3; i++) up8.push(bytes8.subarray(i * 320, i * 320 + 320));
    const r = backend.createResampler(8000, 16000);
    const want = new Int16Array(960);
    r.process(pcm8, want);
    expect(got8.length).toBe(3);
    expect(
      firstDifference(
        got8.flatMap((f) => Array.from(f)),
        want,
      ),
    ).toBe(-1);

    const pcm16 = randomPcm(320 * 2 + 100, 4);
    const got16: Int16Array[] = [];
    const up16 = engine.createUplink(L16_16K, (f) => got16.push(f.slice()));
    up16.push(l16Bytes(pcm16));
    expect(got16.length).toBe(2);
    expect(
      firstDifference(
        got16.flatMap((f) => Array.from(f)),
        pcm16.subarray(0, 640),
      ),
    ).toBe(-1);
  });

  it('L16 uplink accepts unaligned Buffers (odd byteOffset)', () => {
    const pcm = randomPcm(320, 5);
    const raw = l16Bytes(pcm);
    const shifted = new Uint8Array(raw.length + 1);
    shifted.set(raw, 1);
    const got: Int16Array[] = [];
    engine.createUplink(L16_16K, (f) => got.push(f.slice())).push(shifted.subarray(1));
    expect(firstDifference(got[0]!, pcm)).toBe(-1);
  });

  it('odd L16 byte counts are refused with GW_ERR_AUDIO', () => {
    const up = engine.createUplink(L16_8K, () => {});
    expect(() => up.push(new Uint8Array(321))).toThrow(expect.objectContaining({ code: 'GW_ERR_AUDIO' }));
  });

  it.each([
    ['μ-law 8k', MULAW, 160],
    ['L16 8k', L16_8K, 320],
    ['L16 16k', L16_16K, 640],
  ] as const)('downlink %s: any chunking → exact 20 ms frames; flush pads with silence', (_f, format, size) => {
    const frames: Uint8Array[] = [];
    const down = engine.createDownlink(format, (f) => frames.push(f.slice()));
    const pcm = randomPcm(480 * 3 + 100, 6).map((v) => v >> 2);
    for (let i = 0; i < pcm.length; i += 317) down.push(pcm.subarray(i, Math.min(pcm.length, i + 317)));
    expect(frames.length).toBe(3);
    for (const f of frames) expect(f.length).toBe(size);
    down.flush();
    expect(frames.length).toBe(4);
    const last = frames[3]!;
    const silence = format.encoding === 'mulaw' ? 0xff : 0;
    // 100 samples at 24 kHz → 33/34 samples at 8 kHz, or 67 at 16 kHz; the rest of the frame is silence.
    const bytesPerSample = format.encoding === 'mulaw' ? 1 : 2;
    const used = Math.ceil(((480 * 3 + 100) * format.sampleRate) / 24000) * bytesPerSample - 3 * size;
    for (let i = used; i < size; i++) expect(last[i]).toBe(silence);
    down.flush(); // nothing pending: no frame
    expect(frames.length).toBe(4);
  });

  it('downlink μ-law frames equal the fused kernel output', () => {
    const frames: Uint8Array[] = [];
    const down = engine.createDownlink(MULAW, (f) => frames.push(f.slice()));
    const pcm = randomPcm(480 * 4, 7).map((v) => v >> 1);
    down.push(pcm);
    const k = backend.createDownlink();
    const want = new Uint8Array(640);
    k.process(pcm, want);
    expect(
      firstDifference(
        frames.flatMap((f) => Array.from(f)),
        want,
      ),
    ).toBe(-1);
  });

  it('clear() drops the partial frame and the filter history', () => {
    const a: Uint8Array[] = [];
    const b: Uint8Array[] = [];
    const fresh = engine.createDownlink(MULAW, (f) => a.push(f.slice()));
    const used = engine.createDownlink(MULAW, (f) => b.push(f.slice()));
    used.push(randomPcm(700, 8)); // one frame out, a partial one and filter history pending
    b.length = 0;
    used.clear();
    const pcm = randomPcm(960, 9).map((v) => v >> 2);
    fresh.push(pcm);
    used.push(pcm);
    expect(b.length).toBe(2);
    for (let i = 0; i < 2; i++) expect(firstDifference(b[i]!, a[i]!)).toBe(-1);
  });

  it('large pushes are split internally and still match', () => {
    const a: Uint8Array[] = [];
    const b: Uint8Array[] = [];
    const big = engine.createDownlink(L16_16K, (f) => a.push(f.slice()));
    const small = engine.createDownlink(L16_16K, (f) => b.push(f.slice()));
    const pcm = randomPcm(24000, 10).map((v) => v >> 2);
    big.push(pcm);
    for (let i = 0; i < pcm.length; i += 480) small.push(pcm.subarray(i, i + 480));
    expect(a.length).toBe(50);
    expect(
      firstDifference(
        a.flatMap((f) => Array.from(f)),
        b.flatMap((f) => Array.from(f)),
      ),
    ).toBe(-1);
  });

  it('close() is idempotent; use after close is an InvalidStateError', async () => {
    const up = engine.createUplink(MULAW, () => {});
    const down = engine.createDownlink(MULAW, () => {});
    up.close();
    up.close();
    down.close();
    down.close();
    expect(() => up.push(new Uint8Array(160))).toThrow(InvalidStateError);
    expect(() => down.push(new Int16Array(480))).toThrow(InvalidStateError);
    expect(() => down.flush()).toThrow(InvalidStateError);
    down.clear(); // harmless after close
    const e = createInlineEngine(backend);
    await e.close();
    await e.close();
    expect(() => e.createUplink(MULAW, () => {})).toThrow(InvalidStateError);
  });

  it('rejects bad formats, callbacks and payload types', () => {
    const bad = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ code: 'GW_ERR_INVALID_ARGUMENT' }));
    bad(() => engine.createUplink({ encoding: 'mulaw', sampleRate: 16000 } as unknown as PhoneAudioFormat, () => {}));
    bad(() => engine.createDownlink({ encoding: 'alaw', sampleRate: 8000 } as unknown as PhoneAudioFormat, () => {}));
    bad(() => engine.createDownlink(null as unknown as PhoneAudioFormat, () => {}));
    bad(() => engine.createUplink(MULAW, 'nope' as unknown as () => void));
    const up = engine.createUplink(MULAW, () => {});
    bad(() => up.push('abc' as unknown as Uint8Array));
    bad(() => up.push(new Int16Array(160) as unknown as Uint8Array));
    const down = engine.createDownlink(MULAW, () => {});
    bad(() => down.push(new Uint8Array(480) as unknown as Int16Array));
  });
});

describe('createAudioEngine', () => {
  it('inline + ts gives an inline TS engine without a warning', async () => {
    const { engine, warning } = await createAudioEngine({ backend: 'ts', execution: 'inline', poolThreads: 1 });
    expect(engine.backend).toBe('ts');
    expect(engine.execution).toBe('inline');
    expect(warning).toBeUndefined();
    await engine.close();
  });

  it('pool delegates to src/audio/pool (createPoolEngine) and converts through it', async () => {
    const { engine } = await createAudioEngine({ backend: 'ts', execution: 'pool', poolThreads: 1 });
    try {
      expect(engine.execution).toBe('pool');
      const got = await new Promise<number>((resolve) => {
        const up = engine.createUplink(MULAW, (f) => resolve(f.length));
        up.push(new Uint8Array(160).fill(0xff));
      });
      expect(got).toBe(320);
    } finally {
      await engine.close();
    }
  });

  it('refuses an unknown execution mode', async () => {
    await expect(
      createAudioEngine({ backend: 'ts', execution: 'threads' as 'inline', poolThreads: 1 }),
    ).rejects.toMatchObject({ code: 'GW_ERR_INVALID_ARGUMENT' });
  });
});
