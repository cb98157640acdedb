// Plivo's side of the audio-stream wire, pure: the JSON messages Plivo sends (start, media, dtmf, playedStream,
// clearedAudio, stop) and the decoding of what a gateway sends (playAudio, checkpoint, clearAudio, sendDTMF).
// Shapes follow Plivo's "Audio streaming" reference (src/emulators/plivo/README.md names the pages). No sockets and
// no call state here: src/emulators/plivo/call.ts runs the call, src/emulators/plivo/faults.ts bends the wire.
import type { StreamFormat } from './audio-source.ts';

/** Plivo refuses messages over 64 KB from the application. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** One DTMF digit as Plivo reports it. */
export const DTMF_DIGIT = /^[0-9*#A-D]$/;
const DTMF_DIGITS = /^[0-9*#A-D]+$/;

export interface StreamIds {
  callId: string;
  streamId: string;
  accountId: string;
}

export function startMessage(
  seq: number,
  ids: StreamIds,
  tracks: string[],
  fmt: StreamFormat,
  extraHeaders: string,
): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: seq,
    start: {
      callId: ids.callId,
      streamId: ids.streamId,
      accountId: ids.accountId,
      tracks,
      mediaFormat: { encoding: fmt.encoding, sampleRate: fmt.sampleRate },
    },
    extra_headers: extraHeaders,
  });
}

/**
 * The constant parts of every `media` message of a stream, built once: a media message is then one template
 * string per 20 ms frame (the emulator sends thousands per second in the load benches).
 */
export interface MediaFraming {
  head: string;
  tail: string;
}

export function mediaFraming(streamId: string, extraHeaders: string): MediaFraming {
  return {
    head: `,"streamId":"${streamId}","media":{"track":"inbound","timestamp":"`,
    tail: `"},"extra_headers":${JSON.stringify(extraHeaders)}}`,
  };
}

export function mediaMessage(
  f: MediaFraming,
  seq: number,
  timestampMs: number,
  chunk: number,
  payload: string,
): string {
  return `{"event":"media","sequenceNumber":${seq}${f.head}${timestampMs}","chunk":${chunk},"payload":"${payload}${f.tail}`;
}

export function dtmfMessage(seq: number, streamId: string, digit: string, extraHeaders: string): string {
  return JSON.stringify({
    event: 'dtmf',
    sequenceNumber: seq,
    streamId,
    dtmf: { track: 'inbound', digit, timestamp: String(Date.now()) },
    extra_headers: extraHeaders,
  });
}

export function playedStreamMessage(seq: number, streamId: string, name: string): string {
  return JSON.stringify({ event: 'playedStream', sequenceNumber: seq, streamId, name });
}

export function clearedAudioMessage(seq: number, streamId: string): string {
  return JSON.stringify({ event: 'clearedAudio', sequenceNumber: seq, streamId });
}

export function stopMessage(seq: number, ids: StreamIds, reason: string, extraHeaders: string): string {
  return JSON.stringify({
    event: 'stop',
    sequenceNumber: seq,
    streamId: ids.streamId,
    stop: { callId: ids.callId, streamId: ids.streamId, reason },
    extra_headers: extraHeaders,
  });
}

/** What a gateway sent, decoded once. `problems`: what a strict Plivo would object to (recorded as errors). */
export type GatewayMessage =
  | { kind: 'binary'; bytes: Buffer; problem: string }
  | { kind: 'invalid'; raw: unknown; problem: string }
  | { kind: 'event'; event: string; msg: Record<string, unknown>; problems: string[] };

export function decodeGatewayMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): GatewayMessage {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  if (isBinary) return { kind: 'binary', bytes: buf, problem: `binary frame from the gateway (${buf.length} bytes)` };
  const oversize = buf.length > MAX_MESSAGE_BYTES ? `message over 64 KB (${buf.length} bytes)` : undefined;
  let msg: unknown;
  try {
    msg = JSON.parse(buf.toString('utf8'));
  } catch {
    return {
      kind: 'invalid',
      raw: buf.toString('utf8'),
      problem: `bad JSON from the gateway: ${buf.toString('utf8', 0, 80)}`,
    };
  }
  if (!isObject(msg) || typeof msg.event !== 'string') {
    return { kind: 'invalid', raw: msg, problem: 'message without an "event" string' };
  }
  const problems: string[] = [];
  if (oversize) problems.push(oversize);
  if (msg.event === 'sendDTMF' && (typeof msg.dtmf !== 'string' || !DTMF_DIGITS.test(msg.dtmf))) {
    problems.push(`sendDTMF with invalid digits ${JSON.stringify(msg.dtmf)}`);
  } else if (!['playAudio', 'checkpoint', 'clearAudio', 'sendDTMF'].includes(msg.event)) {
    problems.push(`unknown event "${msg.event}"`);
  }
  return { kind: 'event', event: msg.event, msg, problems };
}

/** A checkpoint or clearAudio must name this stream: undefined = fine, else the problem (and whether to act). */
export function streamIdProblem(
  msg: Record<string, unknown>,
  event: string,
  streamId: string | undefined,
): { problem: string; act: boolean } | undefined {
  if (msg.streamId === undefined) return { problem: `${event} without streamId`, act: true };
  if (msg.streamId !== streamId) {
    return { problem: `${event} for unknown streamId ${JSON.stringify(msg.streamId)}`, act: false };
  }
  return undefined;
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
