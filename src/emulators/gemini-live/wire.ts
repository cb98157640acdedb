// The BidiGenerateContent wire format as the emulator reads it: one JSON object per frame with exactly one client
// field, audio blobs, clientContent turns; plus the log summaries and id/duration formats of what it writes. Pure
// functions: anything malformed comes back as `undefined` and the session closes with 1007.
import { randomBytes } from 'node:crypto';
import type { ModelProfile } from './profiles.ts';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The client fields of LiveClientMessage (https://ai.google.dev/api/live), plus SDK ≥2.32's contextUpdate. */
const CLIENT_KEYS = new Set(['setup', 'clientContent', 'realtimeInput', 'toolResponse', 'contextUpdate']);

export interface ClientFrame {
  msg: Obj;
  key: string;
  body: unknown;
}

export function parseClientFrame(data: Buffer): ClientFrame | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObj(msg)) return undefined;
  let key: string | undefined;
  for (const k in msg) {
    if (key !== undefined) return undefined;
    key = k;
  }
  if (key === undefined || !CLIENT_KEYS.has(key)) return undefined;
  return { msg, key, body: msg[key] };
}

export interface AudioBlob {
  bytes: Buffer;
  rate: number;
}

/**
 * The audio of a realtimeInput (`audio`, or the deprecated `mediaChunks` where the profile still takes it), checked
 * the way the service checks it: base64 that decodes, `audio/pcm[;rate=N]`, whole 16-bit samples. Image and video
 * blobs are legal Live input the emulator has no use for; they are skipped. Undefined = close 1007.
 */
export function realtimeAudio(body: Obj, profile: ModelProfile): AudioBlob[] | undefined {
  const blobs: unknown[] = [];
  if (body.audio !== undefined) blobs.push(body.audio);
  if (body.mediaChunks !== undefined) {
    // 3.x rejects the deprecated field (research §2.4; issue 8).
    if (!profile.mediaChunks || !Array.isArray(body.mediaChunks)) return undefined;
    blobs.push(...body.mediaChunks);
  }
  const out: AudioBlob[] = [];
  for (const blob of blobs) {
    if (!isObj(blob) || typeof blob.data !== 'string' || typeof blob.mimeType !== 'string') return undefined;
    const m = /^audio\/pcm(?:;\s*rate=(\d+))?$/i.exec(blob.mimeType);
    if (!m) {
      if (/^(image|video)\//.test(blob.mimeType)) continue;
      return undefined;
    }
    const rate = m[1] ? Number(m[1]) : 16_000;
    if (rate < 8_000 || rate > 48_000 || !isBase64(blob.data)) return undefined;
    const bytes = Buffer.from(blob.data, 'base64');
    if (bytes.length % 2 !== 0) return undefined;
    out.push({ bytes, rate });
  }
  return out;
}

/** Proto3 JSON bytes: standard or URL-safe base64, padding optional, nothing else (Buffer.from would skip junk). */
function isBase64(s: string): boolean {
  return s.length % 4 !== 1 && /^[A-Za-z0-9+/_-]*={0,2}$/.test(s);
}

/** The text of a clientContent's turns (parts without text count as nothing); undefined = malformed. */
export function clientContentText(body: Obj): string | undefined {
  if (body.turns === undefined) return '';
  if (!Array.isArray(body.turns)) return undefined;
  let text = '';
  for (const t of body.turns) {
    if (!isObj(t) || !Array.isArray(t.parts)) return undefined;
    if (t.role !== undefined && t.role !== 'user' && t.role !== 'model') return undefined;
    for (const p of t.parts) {
      if (!isObj(p)) return undefined;
      if (typeof p.text === 'string') text += `${p.text}\n`;
    }
  }
  return text;
}

let callSeq = 0;

export function newCallId(): string {
  callSeq = (callSeq + 1) % 1_000_000;
  // Shaped like the service's ids ("function-call-<digits>"), unique across sessions.
  return `function-call-${Date.now()}${String(callSeq).padStart(6, '0')}${randomBytes(2).readUInt16BE(0)}`;
}

/** Protobuf JSON Duration: "50s", "0.500s". */
export function durationString(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(3)}s`;
}

export function normalise(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export function summariseRealtime(body: Obj): Obj {
  const out: Obj = { ...body };
  const sum = (b: unknown): unknown =>
    isObj(b) && typeof b.data === 'string'
      ? {
          mimeType: b.mimeType,
          bytes: Math.floor((b.data.length * 3) / 4) - (b.data.endsWith('==') ? 2 : b.data.endsWith('=') ? 1 : 0),
        }
      : b;
  if (body.audio !== undefined) out.audio = sum(body.audio);
  if (Array.isArray(body.mediaChunks)) out.mediaChunks = body.mediaChunks.map(sum);
  return out;
}

export function summariseServerContent(body: Obj): Obj {
  const mt = body.modelTurn as Obj;
  const parts = Array.isArray(mt.parts)
    ? mt.parts.map((p: unknown) => {
        const d = isObj(p) && isObj(p.inlineData) ? p.inlineData : undefined;
        return d && typeof d.data === 'string'
          ? { inlineData: { mimeType: d.mimeType, bytes: Buffer.byteLength(d.data, 'base64') } }
          : p;
      })
    : mt.parts;
  return { ...body, modelTurn: { ...mt, parts } };
}
