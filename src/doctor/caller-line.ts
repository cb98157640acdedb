// The caller's line the doctor speaks to the agent: espeak-ng when it is installed, else the bundled recording of
// the same words (assets/doctor/caller-line-16k.wav, made once with espeak-ng and sox). PCM16 mono 16 kHz, the rate
// Gemini takes.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseWav } from '../audio/wav.ts';

// Neutral words: a question about an order would invite a tool call instead of a spoken answer.
export const CALLER_LINE_TEXT = 'Hello, can you hear me?';
export const BUNDLED_CALLER_LINE = fileURLToPath(new URL('../../assets/doctor/caller-line-16k.wav', import.meta.url));
const RATE = 16_000;

export interface CallerLine {
  pcm: Int16Array;
  source: 'espeak-ng' | 'bundled';
}

export async function callerLine(): Promise<CallerLine> {
  const spoken = await espeak(CALLER_LINE_TEXT).catch(() => undefined);
  if (spoken !== undefined && spoken.pcm.length > 0) {
    return { pcm: resampleLinear(spoken.pcm, spoken.rate, RATE), source: 'espeak-ng' };
  }
  const wav = readWav(await readFile(BUNDLED_CALLER_LINE));
  return { pcm: wav.rate === RATE ? wav.pcm : resampleLinear(wav.pcm, wav.rate, RATE), source: 'bundled' };
}

function espeak(text: string): Promise<{ pcm: Int16Array; rate: number } | undefined> {
  return new Promise((resolve, reject) => {
    const p = spawn('espeak-ng', ['-v', 'en-us', '-s', '165', '--stdout', text], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return resolve(undefined);
      try {
        resolve(readWav(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** PCM16 mono WAV → samples (espeak-ng on stdout writes a placeholder data size: parseWav takes what is there). */
export function readWav(buf: Buffer): { pcm: Int16Array; rate: number } {
  const wav = parseWav(buf, 'caller line');
  if (wav.channels !== 1) throw new Error('WAV must be PCM16 mono');
  return { pcm: wav.samples, rate: wav.sampleRate };
}

/** Linear interpolation: plenty for a test utterance (the gateway's polyphase resampler does not take 22.05 kHz). */
function resampleLinear(input: Int16Array, from: number, to: number): Int16Array {
  if (from === to) return input;
  const n = Math.floor((input.length * to) / from);
  const out = new Int16Array(n);
  const step = from / to;
  for (let i = 0; i < n; i++) {
    const x = i * step;
    const j = Math.floor(x);
    const a = input[j] ?? 0;
    const b = input[j + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (x - j));
  }
  return out;
}
