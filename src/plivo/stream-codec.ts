// Plivo audio-stream messages: parse what Plivo sends, serialise what we send. Pure (no sockets, timers or
// state beyond caller-owned buffers). Events: https://plivo.com/docs/voice-agents/audio-streaming/concepts/audio-streaming-reference
// `media` (50 per second per call) has a byte-level fast path; everything else is rare and goes through
// JSON.parse plus a hand-written validator.

import { base64DecodeInto, base64EncodedLength, base64EncodeInto } from '../contract/base64.ts';
import type { PhoneAudioFormat } from '../contract/media.ts';

export interface StartEvent {
  event: 'start';
  callId: string;
  streamId: string;
  accountId: string;
  tracks: string[];
  encoding: string;
  sampleRate: number;
  extraHeaders: Record<string, string>;
}

export type InboundEvent =
  | StartEvent
  | { event: 'media'; payload: string }
  | { event: 'dtmf'; digit: string }
  | { event: 'playedStream'; name: string }
  | { event: 'clearedAudio' }
  | { event: 'stop' };

export type ParseFailure = 'malformed-json' | 'invalid-field' | 'unknown-event';
export type ParseResult = { ok: true; event: InboundEvent } | { ok: false; reason: ParseFailure; detail: string };

const fail = (reason: ParseFailure, detail: string): ParseResult => ({ ok: false, reason, detail });

function str(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * `extra_headers` has been documented as "a=1;b=2", "a=1,b=2" and a JSON string; accept all three. Values are
 * limited to Plivo's charset anyway, so nothing here can smuggle structure.
 */
export function parseExtraHeaders(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof raw !== 'string' || raw === '') return out;
  const text = raw.trim();
  if (text.startsWith('{')) {
    try {
      const parsed = obj(JSON.parse(text));
      if (parsed) for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
    } catch {
      // fall through to the key=value forms
    }
    return out;
  }
  for (const part of text.split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep the raw value
    }
    if (key !== '') out[key] = value;
  }
  return out;
}

const DIGIT = /^[0-9*#A-Da-d]$/;

/** Parses one text message (slow path). Never throws. */
export function parseInbound(text: string): ParseResult {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return fail('malformed-json', 'not JSON');
  }
  const m = obj(msg);
  if (!m) return fail('malformed-json', 'not a JSON object');
  const event = str(m, 'event');
  if (event === undefined) return fail('invalid-field', 'event');
  switch (event) {
    case 'start': {
      const s = obj(m.start);
      if (!s) return fail('invalid-field', 'start');
      const callId = str(s, 'callId');
      const streamId = str(s, 'streamId');
      if (!callId) return fail('invalid-field', 'start.callId');
      if (!streamId) return fail('invalid-field', 'start.streamId');
      const tracks = Array.isArray(s.tracks) ? s.tracks.filter((t): t is string => typeof t === 'string') : [];
      const mf = obj(s.mediaFormat);
      // Plivo's default stream format is μ-law 8 kHz; a start without mediaFormat means that.
      const encoding = mf ? str(mf, 'encoding') : 'audio/x-mulaw';
      const rate = mf ? Number(mf.sampleRate) : 8000;
      if (encoding === undefined) return fail('invalid-field', 'start.mediaFormat.encoding');
      if (!Number.isFinite(rate)) return fail('invalid-field', 'start.mediaFormat.sampleRate');
      return {
        ok: true,
        event: {
          event: 'start',
          callId,
          streamId,
          accountId: str(s, 'accountId') ?? '',
          tracks,
          encoding,
          sampleRate: rate,
          extraHeaders: parseExtraHeaders(m.extra_headers ?? m.extraHeaders),
        },
      };
    }
    case 'media': {
      const media = obj(m.media);
      const payload = media ? str(media, 'payload') : undefined;
      if (payload === undefined) return fail('invalid-field', 'media.payload');
      return { ok: true, event: { event: 'media', payload } };
    }
    case 'dtmf': {
      const d = obj(m.dtmf);
      const digit = d ? str(d, 'digit') : undefined;
      if (digit === undefined || !DIGIT.test(digit)) return fail('invalid-field', 'dtmf.digit');
      return { ok: true, event: { event: 'dtmf', digit: digit.toUpperCase() } };
    }
    // Plivo's support article calls the checkpoint reply "played"; the reference says "playedStream".
    case 'playedStream':
    case 'played': {
      const name = str(m, 'name');
      if (name === undefined) return fail('invalid-field', 'name');
      return { ok: true, event: { event: 'playedStream', name } };
    }
    case 'clearedAudio':
      return { ok: true, event: { event: 'clearedAudio' } };
    case 'stop':
      return { ok: true, event: { event: 'stop' } };
    default:
      return fail('unknown-event', event.slice(0, 32));
  }
}

/** Maps Plivo's mediaFormat to ours; undefined when we cannot stream it. */
export function phoneFormatOf(encoding: string, sampleRate: number): PhoneAudioFormat | undefined {
  const e = encoding.toLowerCase().split(';')[0]!.trim();
  if ((e === 'audio/x-mulaw' || e === 'mulaw' || e === 'audio/pcmu') && sampleRate === 8000) {
    return { encoding: 'mulaw', sampleRate: 8000 };
  }
  if (e === 'audio/x-l16' || e === 'l16' || e === 'linear16') {
    if (sampleRate === 8000) return { encoding: 'l16', sampleRate: 8000 };
    if (sampleRate === 16000) return { encoding: 'l16', sampleRate: 16000 };
  }
  return undefined;
}

/** Bytes in one 20 ms frame of a phone format. */
export function frameBytes(format: PhoneAudioFormat): number {
  return format.encoding === 'mulaw' ? 160 : (format.sampleRate / 50) * 2;
}

// ---- media fast path -------------------------------------------------------------------------------------------

const MEDIA_EVENT = Buffer.from('"event":"media"');
const PAYLOAD_KEY = Buffer.from('"payload":"');
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

export const NOT_MEDIA = -1;
export const BAD_MEDIA = -2;

/**
 * Recognises a compact `media` message and decodes its payload into `out` without creating strings.
 * Returns the decoded byte count, NOT_MEDIA when the message is not a compact media message (the caller then
 * takes the slow path, which also handles unusual spacing), or BAD_MEDIA when it is media but the payload is
 * missing, not valid base64, empty or too large for `out`.
 */
export function decodeMediaFast(msg: Buffer, out: Uint8Array): number {
  const n = msg.length;
  if (n < 2 || msg[0] !== OPEN_BRACE || msg[n - 1] !== CLOSE_BRACE) return NOT_MEDIA;
  // Plivo puts "event" first; searching the first 64 bytes keeps a huge non-media message from being scanned.
  const ev = msg.indexOf(MEDIA_EVENT);
  if (ev < 0 || ev > 64) return NOT_MEDIA;
  const p = msg.indexOf(PAYLOAD_KEY, ev + MEDIA_EVENT.length);
  if (p < 0) return BAD_MEDIA;
  const start = p + PAYLOAD_KEY.length;
  const end = msg.indexOf(QUOTE, start);
  if (end < 0) return BAD_MEDIA;
  const decoded = base64DecodeInto(msg, start, end, out);
  return decoded <= 0 ? BAD_MEDIA : decoded;
}

// ---- outbound ---------------------------------------------------------------------------------------------------

/**
 * Writes `playAudio` messages for one stream into one reusable buffer: only the base64 payload changes per frame.
 * The content type and rate must match the <Stream contentType> (Plivo refuses anything else), and each message
 * carries exactly one 20 ms frame (larger payloads draw `incorrectPayload` on μ-law streams).
 */
export class PlayAudioWriter {
  readonly frameBytes: number;
  readonly message: Uint8Array;
  private readonly payloadAt: number;

  constructor(format: PhoneAudioFormat) {
    this.frameBytes = frameBytes(format);
    const contentType = format.encoding === 'mulaw' ? 'audio/x-mulaw' : 'audio/x-l16';
    const head = Buffer.from(
      `{"event":"playAudio","media":{"contentType":"${contentType}","sampleRate":${format.sampleRate},"payload":"`,
    );
    const tail = Buffer.from('"}}');
    this.payloadAt = head.length;
    this.message = new Uint8Array(head.length + base64EncodedLength(this.frameBytes) + tail.length);
    this.message.set(head, 0);
    this.message.set(tail, head.length + base64EncodedLength(this.frameBytes));
  }

  /** Returns the message for `frame` (exactly frameBytes long); valid until the next call. */
  write(frame: Uint8Array): Uint8Array {
    base64EncodeInto(frame, this.message, this.payloadAt);
    return this.message;
  }

  /** Same, reading the frame at `offset` of a larger buffer (the stream's queue) without a subarray view. */
  writeFrom(source: Uint8Array, offset: number): Uint8Array {
    base64EncodeInto(source, this.message, this.payloadAt, offset, offset + this.frameBytes);
    return this.message;
  }
}

export function checkpointMessage(streamId: string, name: string): string {
  return JSON.stringify({ event: 'checkpoint', streamId, name });
}

export function clearAudioMessage(streamId: string): string {
  return JSON.stringify({ event: 'clearAudio', streamId });
}

/** Shape from Plivo's own agent-transport code (the docs page body is not public): no streamId. */
export function sendDtmfMessage(digits: string): string {
  return JSON.stringify({ event: 'sendDTMF', dtmf: digits });
}

export const DTMF_DIGITS = /^[0-9*#A-D]{1,64}$/;
