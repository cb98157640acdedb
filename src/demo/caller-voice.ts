// The demo caller's voice: espeak-ng speech resampled to 8 kHz with sox when they are installed, else tone bursts
// shaped like speech that the Gemini emulator's energy VAD recognises.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudioSource } from '../emulators/plivo/index.ts';

function run(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}

export interface CallerVoice {
  kind: 'espeak' | 'tones';
  say(text: string): Promise<AudioSource>;
  close(): Promise<void>;
}

export async function createCallerVoice(): Promise<CallerVoice> {
  const espeak = await run('espeak-ng', ['--version']);
  if (!espeak) return toneVoice();
  const dir = await mkdtemp(join(tmpdir(), 'demo-caller-'));
  const sox = await run('sox', ['--version']);
  let n = 0;
  return {
    kind: 'espeak',
    async say(text) {
      const raw = join(dir, `line-${++n}.wav`);
      // A different voice from the agent's, so the two are easy to tell apart in the recording.
      if (!(await run('espeak-ng', ['-v', 'en-us+m3', '-s', '165', '-w', raw, text]))) return tones(text);
      if (!sox) return { kind: 'wav', path: raw };
      const pcm8k = join(dir, `line-${n}-8k.wav`);
      if (!(await run('sox', [raw, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', pcm8k]))) {
        return { kind: 'wav', path: raw };
      }
      await readFile(pcm8k); // fail here, not mid-call, if sox wrote nothing readable
      return { kind: 'wav', path: pcm8k };
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function toneVoice(): CallerVoice {
  return { kind: 'tones', say: async (text) => tones(text), close: async () => {} };
}

/** One 180 ms "syllable" per word, with short gaps: loud enough for the VAD, clearly not the agent. */
function tones(text: string): AudioSource {
  const words = Math.max(2, Math.min(30, text.split(/\s+/).length));
  const parts: AudioSource[] = [];
  for (let i = 0; i < words; i++) {
    parts.push({ kind: 'tone', hz: 180 + (i % 3) * 40, ms: 180, amplitude: 0.3 });
    parts.push({ kind: 'silence', ms: 60 });
  }
  return { kind: 'sequence', parts };
}
