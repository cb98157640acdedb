// Bundled prompt audio (assets/prompts/*.wav, PCM16 mono 24 kHz), read once and kept as samples.
import { readFileSync } from 'node:fs';
import { GEMINI_OUTPUT_RATE } from '../audio/types.ts';
import { GatewayError } from '../errors.ts';

export const TECHNICAL_DIFFICULTY_WAV = new URL('../../assets/prompts/technical-difficulty.wav', import.meta.url);
/** Played while Gemini is still connecting (see assets/prompts/README.md). */
export const FILLER_WAV = new URL('../../assets/prompts/one-moment.wav', import.meta.url);

const cache = new Map<string, Int16Array>();

export function loadPromptAudio(file: URL | string = TECHNICAL_DIFFICULTY_WAV): Int16Array {
  const key = String(file);
  let pcm = cache.get(key);
  if (!pcm) {
    pcm = parseWavPcm16(readFileSync(file), GEMINI_OUTPUT_RATE);
    cache.set(key, pcm);
  }
  return pcm;
}

/** Minimal RIFF reader: PCM16 mono at the expected rate, or an error naming what is wrong. */
export function parseWavPcm16(buf: Buffer, expectedRate: number): Int16Array {
  const bad = (why: string) => new GatewayError('GW_ERR_AUDIO', `prompt audio: ${why}`);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw bad('not a RIFF/WAVE file');
  }
  let offset = 12;
  let fmtOk = false;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw bad('short fmt chunk');
      const format = buf.readUInt16LE(body);
      const channels = buf.readUInt16LE(body + 2);
      const rate = buf.readUInt32LE(body + 4);
      const bits = buf.readUInt16LE(body + 14);
      if ((format !== 1 && format !== 0xfffe) || channels !== 1 || bits !== 16 || rate !== expectedRate) {
        throw bad(`need PCM16 mono ${expectedRate} Hz, got format ${format}, ${channels} ch, ${bits} bit, ${rate} Hz`);
      }
      fmtOk = true;
    } else if (id === 'data') {
      if (!fmtOk) throw bad('data before fmt');
      const len = Math.min(size, buf.length - body) & ~1;
      const out = new Int16Array(len / 2);
      for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(body + i * 2);
      return out;
    }
    offset = body + size + (size & 1);
  }
  throw bad('no data chunk');
}
