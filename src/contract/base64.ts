// Base64 straight between byte buffers. Both legs carry audio as base64 text inside JSON (Plivo's media payloads,
// Gemini's inlineData), so this is ground floor for src/plivo and src/gemini alike. The Plivo media path reads the
// payload out of the WebSocket message bytes and writes playAudio payloads into a per-stream message buffer, and the
// Gemini downlink decodes agent audio out of the frame bytes (src/gemini/wire.ts parseServerFrame), so no direction
// creates a string or a Buffer per message (Buffer.from(str, 'base64') would allocate both).

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ENCODE = new Uint8Array(64);
/** 0..63 for alphabet bytes, 64 for '=', 255 for anything else. */
const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}
DECODE[0x3d] = 64;

export function base64EncodedLength(byteLength: number): number {
  return Math.ceil(byteLength / 3) * 4;
}

/** Encodes `src[srcStart, srcEnd)` into `out` at `offset`; returns the number of bytes written. */
export function base64EncodeInto(
  src: Uint8Array,
  out: Uint8Array,
  offset: number,
  srcStart = 0,
  srcEnd = src.length,
): number {
  const n = srcEnd;
  let o = offset;
  let i = srcStart;
  for (; i + 2 < n; i += 3) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    out[o++] = ENCODE[v >> 18]!;
    out[o++] = ENCODE[(v >> 12) & 63]!;
    out[o++] = ENCODE[(v >> 6) & 63]!;
    out[o++] = ENCODE[v & 63]!;
  }
  const rest = n - i;
  if (rest === 1) {
    const v = src[i]! << 16;
    out[o++] = ENCODE[v >> 18]!;
    out[o++] = ENCODE[(v >> 12) & 63]!;
    out[o++] = 0x3d;
    out[o++] = 0x3d;
  } else if (rest === 2) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8);
    out[o++] = ENCODE[v >> 18]!;
    out[o++] = ENCODE[(v >> 12) & 63]!;
    out[o++] = ENCODE[(v >> 6) & 63]!;
    out[o++] = 0x3d;
  }
  return o - offset;
}

/**
 * Decodes the base64 text in `src[start, end)` into `out`. Returns the decoded length, or -1 when the text is not
 * canonical padded base64 or does not fit in `out` (bad input is rejected, never partly decoded into audio).
 */
export function base64DecodeInto(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const len = end - start;
  if (len <= 0 || (len & 3) !== 0) return len === 0 ? 0 : -1;
  let pad = 0;
  if (src[end - 1] === 0x3d) pad = src[end - 2] === 0x3d ? 2 : 1;
  const outLen = (len / 4) * 3 - pad;
  if (outLen > out.length) return -1;
  let o = 0;
  const fullEnd = pad === 0 ? end : end - 4;
  let i = start;
  for (; i < fullEnd; i += 4) {
    const a = DECODE[src[i]!]!;
    const b = DECODE[src[i + 1]!]!;
    const c = DECODE[src[i + 2]!]!;
    const d = DECODE[src[i + 3]!]!;
    if ((a | b | c | d) > 63) return -1;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
    out[o++] = v & 255;
  }
  if (pad > 0) {
    const a = DECODE[src[i]!]!;
    const b = DECODE[src[i + 1]!]!;
    const c = pad === 2 ? 0 : DECODE[src[i + 2]!]!;
    if ((a | b | c) > 63) return -1;
    const v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = v >> 16;
    if (pad === 1) out[o++] = (v >> 8) & 255;
  }
  return o;
}
