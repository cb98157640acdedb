// RIFF/WAVE header for PCM16 (the canonical 44-byte form), written last when the data size is known.

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

/** Parses a canonical PCM16 WAV (tests and tools). */
export function parseWav(buf: Buffer): WavInfo {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let off = 12;
  let channels = 0;
  let sampleRate = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(off + 10);
      sampleRate = buf.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const data = buf.subarray(off + 8, off + 8 + size);
      const samples = new Int16Array(data.length >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
      return { sampleRate, channels, samples };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('WAV without a data chunk');
}
