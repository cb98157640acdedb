// RIFF/WAVE for PCM16, the gateway's one reader and writer: bundled prompts, call recordings, the doctor's caller line.
// (The emulators keep their own on purpose: they must not share code with the gateway.)
import { GatewayError } from '../errors.ts';

/** The canonical 44-byte PCM16 header, written last when the data size is known (recordings). */
export function wavHeader(o: { sampleRate: number; channels: number; dataBytes: number }): Buffer {
  const h = Buffer.alloc(44);
  const blockAlign = o.channels * 2;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + o.dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(o.channels, 22);
  h.writeUInt32LE(o.sampleRate, 24);
  h.writeUInt32LE(o.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(o.dataBytes, 40);
  return h;
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  /** Interleaved samples. */
  samples: Int16Array;
}

/**
 * Reads a PCM16 WAV, or throws naming what is wrong. The data chunk is taken as far as the file goes: a writer that
 * streams (espeak-ng on stdout) leaves a placeholder size there.
 */
export function parseWav(buf: Buffer, what = 'WAV'): WavInfo {
  const bad = (why: string) => new GatewayError('GW_ERR_AUDIO', `${what}: ${why}`);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw bad('not a RIFF/WAVE file');
  }
  let offset = 12;
  let fmt: { sampleRate: number; channels: number } | undefined;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw bad('short fmt chunk');
      const format = buf.readUInt16LE(body);
      const channels = buf.readUInt16LE(body + 2);
      const sampleRate = buf.readUInt32LE(body + 4);
      const bits = buf.readUInt16LE(body + 14);
      // 0xfffe: WAVE_FORMAT_EXTENSIBLE, which sox writes for some PCM16 files.
      if ((format !== 1 && format !== 0xfffe) || bits !== 16 || channels < 1 || sampleRate === 0) {
        throw bad(`need PCM16, got format ${format}, ${channels} ch, ${bits} bit, ${sampleRate} Hz`);
      }
      fmt = { sampleRate, channels };
    } else if (id === 'data') {
      if (!fmt) throw bad('data before fmt');
      const len = Math.min(size, buf.length - body) & ~1;
      const samples = new Int16Array(len / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(body + i * 2);
      return { ...fmt, samples };
    }
    offset = body + size + (size & 1);
  }
  throw bad('no data chunk');
}
