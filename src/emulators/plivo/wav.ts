// Minimal RIFF/WAVE reader and writer: PCM 8/16/24/32-bit, IEEE float 32/64, μ-law and A-law, any channel count
// (mixed down to mono). Enough for test prompts and for saving what the gateway played.
import { alawDecodeSample, ulawDecodeSample } from './ulaw.ts';

export interface MonoPcm {
  samples: Int16Array;
  sampleRate: number;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_ALAW = 6;
const FORMAT_ULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

export function parseWav(buf: Uint8Array): MonoPcm {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 12 || ascii(buf, 0, 4) !== 'RIFF' || ascii(buf, 8, 4) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = ascii(buf, off, 4);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    const end = Math.min(buf.length, body + size);
    if (id === 'fmt ') {
      if (size < 16) throw new Error('WAV fmt chunk too short');
      let format = view.getUint16(body, true);
      if (format === FORMAT_EXTENSIBLE && size >= 26) format = view.getUint16(body + 24, true);
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      data = buf.subarray(body, end);
    }
    off = body + size + (size & 1);
  }
  if (!fmt) throw new Error('WAV has no fmt chunk');
  if (!data) throw new Error('WAV has no data chunk');
  const { format, channels, rate, bits } = fmt;
  if (channels < 1 || rate < 1) throw new Error('WAV has no channels or no sample rate');
  const bytesPer = bits / 8;
  if (!Number.isInteger(bytesPer) || bytesPer < 1) throw new Error(`unsupported WAV bit depth ${bits}`);
  const read = sampleReader(format, bits, new DataView(data.buffer, data.byteOffset, data.byteLength));
  const frames = Math.floor(data.length / (bytesPer * channels));
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let acc = 0;
    for (let c = 0; c < channels; c++) acc += read((i * channels + c) * bytesPer);
    const v = acc / channels;
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
  }
  return { samples: out, sampleRate: rate };
}

function sampleReader(format: number, bits: number, v: DataView): (byteOffset: number) => number {
  if (format === FORMAT_PCM) {
    if (bits === 8) return (o) => (v.getUint8(o) - 128) << 8;
    if (bits === 16) return (o) => v.getInt16(o, true);
    if (bits === 24) return (o) => ((v.getUint8(o) | (v.getUint8(o + 1) << 8) | (v.getInt8(o + 2) << 16)) >> 8) | 0;
    if (bits === 32) return (o) => v.getInt32(o, true) / 65536;
  } else if (format === FORMAT_FLOAT) {
    if (bits === 32) return (o) => v.getFloat32(o, true) * 32767;
    if (bits === 64) return (o) => v.getFloat64(o, true) * 32767;
  } else if (format === FORMAT_ULAW && bits === 8) {
    return (o) => ulawDecodeSample(v.getUint8(o));
  } else if (format === FORMAT_ALAW && bits === 8) {
    return (o) => alawDecodeSample(v.getUint8(o));
  }
  throw new Error(`unsupported WAV format ${format} with ${bits} bits`);
}

/** 16-bit PCM mono WAV. */
export function encodeWav(samples: Int16Array, sampleRate: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const v = new DataView(out.buffer);
  out.set(Buffer.from('RIFF'), 0);
  v.setUint32(4, 36 + samples.length * 2, true);
  out.set(Buffer.from('WAVEfmt '), 8);
  v.setUint32(16, 16, true);
  v.setUint16(20, FORMAT_PCM, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  out.set(Buffer.from('data'), 36);
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + i * 2, samples[i]!, true);
  return out;
}

function ascii(buf: Uint8Array, off: number, len: number): string {
  return String.fromCharCode(...buf.subarray(off, off + len));
}
