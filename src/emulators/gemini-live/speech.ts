// Renders what a turn says into PCM16 at 24 kHz (the Live API's output format). espeak-ng gives real speech when it
// is installed; otherwise a speech-like synthetic signal keeps everything working on a bare machine (the gateway
// only needs audio with speech-like energy and timing, not intelligibility).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { concatInt16, resample, silence, tone } from './pcm.ts';
import type { AudioSpec } from './scenario.ts';
import { decodeWav } from './wav.ts';

export const OUTPUT_RATE = 24_000;
export type SpeechMode = 'auto' | 'espeak' | 'synthetic';

export interface RenderContext {
  mode: SpeechMode;
  voice: string;
  baseDir: string;
}

const MAX_CACHE = 64;
const cache = new Map<string, Promise<Int16Array>>();
let espeakProbe: Promise<boolean> | undefined;

/** Whether `espeak-ng` runs here (probed once per process). */
export function hasEspeak(): Promise<boolean> {
  espeakProbe ??= new Promise<boolean>((done) => {
    const p = spawn('espeak-ng', ['--version'], { stdio: 'ignore' });
    p.on('error', () => done(false));
    p.on('exit', (code) => done(code === 0));
  });
  return espeakProbe;
}

export function renderAudio(spec: AudioSpec | undefined, text: string, ctx: RenderContext): Promise<Int16Array> {
  const s: AudioSpec = spec ?? { kind: 'speech' };
  const key = JSON.stringify([s, text, ctx.mode, ctx.voice, s.kind === 'wav' ? ctx.baseDir : '']);
  let hit = cache.get(key);
  if (hit) {
    // Refresh recency so that a scenario's own turns stay cached.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  hit = renderUncached(s, text, ctx);
  cache.set(key, hit);
  // A failed render must not stay cached (the next attempt may succeed, e.g. a WAV written later).
  hit.catch(() => cache.delete(key));
  if (cache.size > MAX_CACHE) cache.delete(cache.keys().next().value as string);
  return hit;
}

async function renderUncached(spec: AudioSpec, text: string, ctx: RenderContext): Promise<Int16Array> {
  switch (spec.kind) {
    case 'tone':
      return tone(OUTPUT_RATE, spec.ms, spec.freqHz, spec.dbfs ?? -12);
    case 'silence':
      return silence(OUTPUT_RATE, spec.ms);
    case 'synthetic':
      return syntheticSpeech(text);
    case 'wav': {
      const path = isAbsolute(spec.path) ? spec.path : resolve(ctx.baseDir, spec.path);
      const wav = decodeWav(await readFile(path));
      return resample(wav.samples, wav.sampleRate, OUTPUT_RATE);
    }
    case 'speech': {
      if (text.trim() === '') return silence(OUTPUT_RATE, 200);
      const wantEspeak = ctx.mode === 'espeak' || (ctx.mode === 'auto' && (await hasEspeak()));
      if (!wantEspeak) return syntheticSpeech(text);
      try {
        return await espeak(text, spec.voice ?? ctx.voice, spec.wpm ?? 170);
      } catch (err) {
        if (ctx.mode === 'espeak') throw err;
        return syntheticSpeech(text);
      }
    }
  }
}

const MAX_ESPEAK_BYTES = 32 * 1024 * 1024;

function espeak(text: string, voice: string, wpm: number): Promise<Int16Array> {
  return new Promise((done, fail) => {
    // Text goes through stdin so that a line starting with "-" is never read as an option.
    const p = spawn('espeak-ng', ['--stdout', '-v', voice, '-s', String(wpm)], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ESPEAK_BYTES) p.kill('SIGKILL');
      else chunks.push(c);
    });
    p.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return fail(new Error(`espeak-ng exited with ${code}`));
      try {
        const wav = decodeWav(Buffer.concat(chunks));
        done(resample(wav.samples, wav.sampleRate, OUTPUT_RATE));
      } catch (err) {
        fail(err as Error);
      }
    });
    p.stdin.on('error', () => {});
    p.stdin.end(text);
  });
}

/**
 * Voiced "syllables" (a falling pitch with vowel-like formants under a smooth envelope) separated by short gaps at
 * word boundaries and longer ones at punctuation: energy and rhythm like speech, deterministic for a given text.
 */
export function syntheticSpeech(text: string): Int16Array {
  const rand = prng(hash(text));
  const parts: Int16Array[] = [];
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) return silence(OUTPUT_RATE, 200);
  const vowels: Array<[number, number]> = [
    [730, 1090],
    [530, 1840],
    [270, 2290],
    [570, 840],
    [300, 870],
    [660, 1720],
  ];
  words.forEach((word, w) => {
    const letters = word.replace(/[^\p{L}\p{N}]/gu, '').length;
    const syllables = Math.max(1, Math.round(letters / 3));
    for (let s = 0; s < syllables; s++) {
      const ms = 110 + rand() * 110;
      const f0 = 185 - (60 * w) / words.length + rand() * 20;
      const formants = vowels[Math.floor(rand() * vowels.length)] ?? [500, 1500];
      parts.push(syllable(ms, f0, formants));
      if (s < syllables - 1) parts.push(silence(OUTPUT_RATE, 15 + rand() * 20));
    }
    parts.push(silence(OUTPUT_RATE, /[.!?]$/.test(word) ? 300 : /[,;:]$/.test(word) ? 160 : 50 + rand() * 50));
  });
  return concatInt16(parts);
}

function syllable(ms: number, f0: number, formants: [number, number]): Int16Array {
  const n = Math.round((OUTPUT_RATE * ms) / 1000);
  const out = new Int16Array(n);
  const harmonics: Array<{ k: number; w: number }> = [];
  let norm = 0;
  for (let k = 1; k * f0 < 3400; k++) {
    const f = k * f0;
    let w = 0;
    for (const [i, fc] of formants.entries()) {
      const bw = i === 0 ? 90 : 120;
      w += (i === 0 ? 1 : 0.6) / (1 + ((f - fc) / bw) ** 2);
    }
    w += 0.08 / k;
    harmonics.push({ k, w });
    norm += w;
  }
  const amp = (32767 * 10 ** (-14 / 20)) / Math.max(norm * 0.5, 1e-6);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / n;
    // Pitch drifts down inside a syllable, like a relaxed declarative.
    phase += (2 * Math.PI * f0 * (1.05 - 0.1 * t)) / OUTPUT_RATE;
    let v = 0;
    for (const h of harmonics) v += h.w * Math.sin(h.k * phase);
    const env = Math.sin(Math.PI * t) ** 0.6;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(amp * env * v)));
  }
  return out;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function prng(seed: number): () => number {
  let a = seed || 1;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
