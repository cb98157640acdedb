// Minimal RIFF/WAVE reader for the emulator's assets and espeak-ng output: PCM 8/16/24/32-bit and float32, any
// channel count (mixed down to mono). espeak-ng writing to stdout cannot seek back, so it leaves 0xFFFFFFFF (or 0)
// in the size fields: a data chunk is therefore read up to the end of the file when its size does not fit.
import { bytesToInt16, clamp16 } from './pcm.ts';

export interface DecodedWav {
  sampleRate: number;
  samples: Int16Array;
}

export function decodeWav(buf: Buffer): DecodedWav {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let off = 12;
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (body + 16 > buf.length) throw new Error('truncated fmt chunk');
      format = buf.readUInt16LE(body);
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
      if (format === 0xfffe && size >= 26 && body + 26 <= buf.length) format = buf.readUInt16LE(body + 24);
    } else if (id === 'data') {
      if (format === 0) throw new Error('data chunk before fmt chunk');
      if (size === 0 || body + size > buf.length) size = buf.length - body;
      return { sampleRate, samples: toMono16(buf.subarray(body, body + size), format, channels, bits) };
    }
    off = body + size + (size & 1);
  }
  throw new Error('no data chunk');
}

function toMono16(data: Buffer, format: number, channels: number, bits: number): Int16Array {
  if (channels < 1 || channels > 8) throw new Error(`unsupported channel count ${channels}`);
  const bytesPerSample = bits >> 3;
  const isFloat = format === 3;
  if (!isFloat && format !== 1) throw new Error(`unsupported WAV format ${format}`);
  if (isFloat ? bits !== 32 : ![8, 16, 24, 32].includes(bits)) throw new Error(`unsupported bit depth ${bits}`);
  const frameBytes = bytesPerSample * channels;
  const frames = Math.floor(data.length / frameBytes);
  if (channels === 1 && bits === 16 && !isFloat) return bytesToInt16(data.subarray(0, frames * 2));
  const out = new Int16Array(frames);
  for (let f = 0; f < frames; f++) {
    let acc = 0;
    for (let c = 0; c < channels; c++) {
      const p = f * frameBytes + c * bytesPerSample;
      if (isFloat) acc += data.readFloatLE(p) * 32767;
      else if (bits === 8) acc += (data[p]! - 128) << 8;
      else if (bits === 16) acc += data.readInt16LE(p);
      else if (bits === 24) acc += data.readIntLE(p, 3) >> 8;
      else acc += data.readInt32LE(p) / 65536;
    }
    out[f] = clamp16(acc / channels);
  }
  return out;
}

/** PCM16 mono WAV, for tests and for dumping what the emulator would say. */
export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  const data = samples.length * 2;
  const out = Buffer.alloc(44 + data);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + data, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(data, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i] ?? 0, 44 + i * 2);
  return out;
}
