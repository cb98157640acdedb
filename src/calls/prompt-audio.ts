// Bundled prompt audio (assets/prompts/*.wav, PCM16 mono 24 kHz), read once and kept as samples.
import { readFileSync } from 'node:fs';
import { parseWav } from '../audio/wav.ts';
import { AGENT_OUTPUT_RATE } from '../contract/media.ts';
import { GatewayError } from '../errors.ts';

export const TECHNICAL_DIFFICULTY_WAV = new URL('../../assets/prompts/technical-difficulty.wav', import.meta.url);
/** Played while Gemini is still connecting (see assets/prompts/README.md). */
export const FILLER_WAV = new URL('../../assets/prompts/one-moment.wav', import.meta.url);

const cache = new Map<string, Int16Array>();

export function loadPromptAudio(file: URL | string = TECHNICAL_DIFFICULTY_WAV): Int16Array {
  const key = String(file);
  let pcm = cache.get(key);
  if (!pcm) {
    pcm = parseWavPcm16(readFileSync(file), AGENT_OUTPUT_RATE);
    cache.set(key, pcm);
  }
  return pcm;
}

/** PCM16 mono at the expected rate, or an error naming what is wrong. */
export function parseWavPcm16(buf: Buffer, expectedRate: number): Int16Array {
  const wav = parseWav(buf, 'prompt audio');
  if (wav.channels !== 1 || wav.sampleRate !== expectedRate) {
    throw new GatewayError(
      'GW_ERR_AUDIO',
      `prompt audio: need PCM16 mono ${expectedRate} Hz, got ${wav.channels} ch, ${wav.sampleRate} Hz`,
    );
  }
  return wav.samples;
}
