// Shared by the pool tests: a reproducible script of interleaved operations over many streams, and a player that
// runs it against any AudioEngine and records every frame each stream delivers.
import type { PoolEngine } from '../../src/audio/pool/index.ts';
import type { AudioEngine, DownlinkConverter, UplinkConverter } from '../../src/audio/types.ts';
import type { PhoneAudioFormat } from '../../src/contract/media.ts';

export const MULAW: PhoneAudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
export const L16_8K: PhoneAudioFormat = { encoding: 'l16', sampleRate: 8000 };
export const L16_16K: PhoneAudioFormat = { encoding: 'l16', sampleRate: 16000 };
/** Stream i of either direction uses FORMATS[i % 3]. */
export const FORMATS = [MULAW, L16_8K, L16_16K];

/** Deterministic PRNG (mulberry32) so that a failure reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Step =
  | { kind: 'up'; stream: number; data: Uint8Array }
  | { kind: 'down'; stream: number; data: Int16Array }
  | { kind: 'flush'; stream: number }
  /** Barge-in at a quiet moment: everything pushed so far has been delivered, so inline and pool agree. */
  | { kind: 'clear'; stream: number }
  /** Let the event loop turn, so that batches go out mid-script. */
  | { kind: 'yield' };

/**
 * Many streams, random chunk sizes (whole samples for L16), interleaved. Audio is a noisy tone per stream so real
 * resamplers produce non-trivial output; bytes 0xee/0xef never appear in runs of three (the toy engine's triggers).
 */
export function script(seed: number, upStreams: number, downStreams: number, steps: number): Step[] {
  const r = rng(seed);
  const out: Step[] = [];
  let phase = 0;
  for (let i = 0; i < steps; i++) {
    const x = r();
    if (x < 0.05) out.push({ kind: 'yield' });
    else if (x < 0.45) {
      const stream = Math.floor(r() * upStreams);
      let len = 1 + Math.floor(r() * 400);
      if (FORMATS[stream % 3]!.encoding === 'l16') len = 2 * Math.ceil(len / 2);
      const data = new Uint8Array(len);
      for (let j = 0; j < len; j++) data[j] = Math.floor(r() * 256) % 0xee;
      out.push({ kind: 'up', stream, data });
    } else if (x < 0.93) {
      const stream = Math.floor(r() * downStreams);
      const data = new Int16Array(1 + Math.floor(r() * 2000));
      const f = 200 + 150 * stream;
      for (let j = 0; j < data.length; j++, phase++) {
        data[j] = Math.round(12000 * Math.sin((2 * Math.PI * f * phase) / 24000) + 3000 * (r() - 0.5));
      }
      out.push({ kind: 'down', stream, data });
    } else if (x < 0.97) out.push({ kind: 'flush', stream: Math.floor(r() * downStreams) });
    else out.push({ kind: 'clear', stream: Math.floor(r() * downStreams) });
  }
  return out;
}

export type Recorded = number[][];

export async function play(engine: AudioEngine, steps: Step[], ups: number, downs: number): Promise<Recorded[]> {
  const rec: Recorded[] = [];
  const upConv: UplinkConverter[] = [];
  const downConv: DownlinkConverter[] = [];
  const idle = async () => {
    if (engine.execution === 'pool') await (engine as PoolEngine).whenIdle();
  };
  for (let i = 0; i < ups; i++) {
    const r: Recorded = [];
    rec.push(r);
    upConv.push(engine.createUplink(FORMATS[i % 3]!, (pcm) => r.push(Array.from(pcm))));
  }
  for (let i = 0; i < downs; i++) {
    const r: Recorded = [];
    rec.push(r);
    downConv.push(engine.createDownlink(FORMATS[i % 3]!, (f) => r.push(Array.from(f))));
  }
  for (const s of steps) {
    if (s.kind === 'yield') await new Promise((res) => setImmediate(res));
    else if (s.kind === 'up') upConv[s.stream]!.push(s.data);
    else if (s.kind === 'down') downConv[s.stream]!.push(s.data);
    else if (s.kind === 'flush') downConv[s.stream]!.flush();
    else {
      await idle();
      downConv[s.stream]!.clear();
    }
  }
  await idle();
  for (const c of upConv) c.close();
  for (const c of downConv) c.close();
  return rec;
}
