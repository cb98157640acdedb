// Wire probes: node:diagnostics_channel channels published by the Plivo stream session at the few points where
// something crosses the wire (and by the call at Gemini usage). Observers (latency histograms, recordings,
// benchmarks) subscribe; the edge never imports them. Publishers guard with `hasSubscribers`, so with nobody
// listening the hot path pays one property read. Messages are reused objects, valid only during the synchronous
// publish: subscribers copy what they keep. This module sits at the bottom of the layering (imports nothing).
import { channel } from 'node:diagnostics_channel';

/** The stream a probe message is about: subscribers key their per-call state by this object. */
export interface ProbedStream {
  readonly callId: string;
  readonly streamId: string;
}

export interface StreamProbe {
  stream: ProbedStream;
  /** The stream's clock (performance.now() ms unless the pacer was given another). */
  at: number;
}

export interface CallerAudioProbe extends StreamProbe {
  /** 20 ms of decoded caller audio, PCM16 16 kHz. */
  pcm16k: Int16Array;
}

export interface PlayAudioProbe extends StreamProbe {
  /** The frame sent, in the stream's format (μ-law or L16 little-endian): bytes [offset, offset + length). */
  bytes: Uint8Array;
  offset: number;
  length: number;
  /** When this frame starts playing at Plivo by our real-time estimate (≥ at when the queue ran dry). */
  playAt: number;
  /** How late the frame is against real time: > 0 when the audio sent before it had already run out. */
  lateMs: number;
}

export interface PlayedProbe extends StreamProbe {
  name: string;
}

export interface StreamEndProbe extends StreamProbe {
  reason: string;
}

export interface UsageProbe {
  callId: string;
  /** Gemini's usageMetadata as received (per turn). */
  raw: Record<string, unknown>;
}

export interface StreamStartProbe extends StreamProbe {
  encoding: 'mulaw' | 'l16';
  sampleRate: number;
}

export const probes = {
  /** `start` accepted. */
  streamStart: channel('gateway.plivo.stream.start'),
  /** A WebSocket message from Plivo arrived (before it is parsed): `at` is performance.now(). */
  messageIn: channel('gateway.plivo.message.in'),
  /** Decoded caller audio, one 20 ms frame per publish. */
  callerAudio: channel('gateway.plivo.media.in'),
  /** One `playAudio` frame handed to the socket. */
  playAudio: channel('gateway.plivo.playAudio'),
  /** The call ended an agent turn (flushAgentAudio): frames still queued belong to the turn that ends. */
  agentTurnEnd: channel('gateway.plivo.agentTurnEnd'),
  /** `clearAudio` sent (barge-in). */
  clearAudio: channel('gateway.plivo.clearAudio'),
  /** `clearedAudio` received from Plivo. */
  clearedAudio: channel('gateway.plivo.clearedAudio'),
  /** `playedStream` received for a checkpoint we sent. */
  playedStream: channel('gateway.plivo.playedStream'),
  /** The stream ended (stop, socket closed, protocol error…). */
  streamEnd: channel('gateway.plivo.stream.end'),
  /** Gemini usageMetadata of a call. */
  usage: channel('gateway.gemini.usage'),
} as const;

// Reused messages, one per channel (publishing is synchronous; subscribers must not keep them).
const EMPTY_STREAM: ProbedStream = { callId: '', streamId: '' };
export const probeMessages = {
  streamStart: { stream: EMPTY_STREAM, at: 0, encoding: 'mulaw', sampleRate: 8000 } as StreamStartProbe,
  callerAudio: { stream: EMPTY_STREAM, at: 0, pcm16k: new Int16Array(0) } as CallerAudioProbe,
  playAudio: {
    stream: EMPTY_STREAM,
    at: 0,
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
    playAt: 0,
    lateMs: 0,
  } as PlayAudioProbe,
  messageIn: { stream: EMPTY_STREAM, at: 0 } as StreamProbe,
  agentTurnEnd: { stream: EMPTY_STREAM, at: 0 } as StreamProbe,
  clearAudio: { stream: EMPTY_STREAM, at: 0 } as StreamProbe,
  clearedAudio: { stream: EMPTY_STREAM, at: 0 } as StreamProbe,
  playedStream: { stream: EMPTY_STREAM, at: 0, name: '' } as PlayedProbe,
  streamEnd: { stream: EMPTY_STREAM, at: 0, reason: '' } as StreamEndProbe,
};

/** Publishes a stream event with no payload (guarded by the caller with `hasSubscribers`). */
export function publishStreamEvent(
  which: 'agentTurnEnd' | 'clearAudio' | 'clearedAudio',
  stream: ProbedStream,
  at: number,
): void {
  const m = probeMessages[which];
  m.stream = stream;
  m.at = at;
  probes[which].publish(m);
}
