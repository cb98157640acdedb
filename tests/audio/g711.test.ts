import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendCases } from './helpers.ts';

// Reference vectors made by sox (tests/fixtures/g711/make.sh), cross-checked there against Python's audioop.
const dir = join(import.meta.dirname, '..', 'fixtures', 'g711');
const soxEncoded = new Uint8Array(readFileSync(join(dir, 'ulaw-of-all.ul')));
const soxDecodedBytes = readFileSync(join(dir, 'pcm16-of-codes.s16le'));
const soxDecoded = Int16Array.from({ length: 256 }, (_, i) => soxDecodedBytes.readInt16LE(i * 2));

const allPcm = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
const allCodes = Uint8Array.from({ length: 256 }, (_, i) => i);

describe.each(backendCases)('G.711 μ-law (%s)', (_name, backend) => {
  it('fixtures are the expected size', () => {
    expect(soxEncoded.length).toBe(65536);
    expect(soxDecodedBytes.length).toBe(512);
  });

  it('decodes all 256 codes exactly like sox', () => {
    const out = new Int16Array(256);
    backend.ulawDecode(allCodes, out);
    expect(Array.from(out)).toEqual(Array.from(soxDecoded));
  });

  it('encodes all 65,536 PCM16 inputs exactly like sox/audioop', () => {
    const out = new Uint8Array(65536);
    backend.ulawEncode(allPcm, out);
    let mismatches = 0;
    for (let i = 0; i < 65536; i++) if (out[i] !== soxEncoded[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('round trip stays within half a quantisation step of the segment', () => {
    const enc = new Uint8Array(65536);
    const dec = new Int16Array(65536);
    backend.ulawEncode(allPcm, enc);
    backend.ulawDecode(enc, dec);
    for (let i = 0; i < 65536; i += 7) {
      const x = allPcm[i]!;
      const mag = Math.min(Math.abs(x), 32635);
      // Step size of the segment the magnitude falls in: 8 << seg (in 16-bit units), max 1024.
      const step = Math.min(1024, Math.max(8, 2 ** Math.ceil(Math.log2((mag + 132) / 16)) / 2));
      expect(Math.abs(dec[i]! - Math.sign(x) * mag)).toBeLessThanOrEqual(step + 4);
    }
    // Every code decodes and re-encodes to itself, except +0/−0 (0x7f and 0xff both decode to 0).
    const codes = new Int16Array(256);
    const again = new Uint8Array(256);
    backend.ulawDecode(allCodes, codes);
    backend.ulawEncode(codes, again);
    for (let c = 0; c < 256; c++) if (c !== 0x7f) expect(again[c]).toBe(c);
  });

  it('writes only input.length samples into a larger out', () => {
    const out = new Int16Array(4).fill(7);
    backend.ulawDecode(new Uint8Array([0xff, 0x00]), out);
    expect(Array.from(out)).toEqual([0, -32124, 7, 7]);
  });

  it('rejects bad arguments with GW_ERR_INVALID_ARGUMENT', () => {
    const bad = (fn: () => void) => expect(fn).toThrow(expect.objectContaining({ code: 'GW_ERR_INVALID_ARGUMENT' }));
    bad(() => backend.ulawDecode(new Int16Array(4) as unknown as Uint8Array, new Int16Array(4)));
    bad(() => backend.ulawDecode(new Uint8Array(4), new Uint16Array(4) as unknown as Int16Array));
    bad(() => backend.ulawDecode(new Uint8Array(5), new Int16Array(4)));
    bad(() => backend.ulawEncode(new Uint8Array(4) as unknown as Int16Array, new Uint8Array(4)));
    bad(() => backend.ulawEncode(new Int16Array(4), new Int8Array(4) as unknown as Uint8Array));
    bad(() => backend.ulawEncode(new Int16Array(5), new Uint8Array(4)));
    bad(() => backend.ulawEncode(null as unknown as Int16Array, new Uint8Array(4)));
    // A Buffer is a Uint8Array: accepted.
    const out = new Int16Array(2);
    backend.ulawDecode(Buffer.from([0xff, 0x80]), out);
    expect(out[1]).toBe(32124);
  });
});
