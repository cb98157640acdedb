// The stream state machine with a fake socket and a hand-driven clock: pacing, checkpoints, barge-in,
// backpressure decisions and bad input, without uWS.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAudioEngine } from '../../src/audio/engine.ts';
import type { AudioEngine } from '../../src/audio/types.ts';
import type { CallMediaHandler, StreamEndReason } from '../../src/contract/call.ts';
import { EdgeStats } from '../../src/plivo/edge-stats.ts';
import { Pacer } from '../../src/plivo/pacer.ts';
import { CLOSE_CODES, PlivoStream, type StreamLimits } from '../../src/plivo/stream-session.ts';

let audio: AudioEngine;
beforeAll(async () => {
  audio = (await createAudioEngine({ backend: 'auto', execution: 'inline', poolThreads: 1 })).engine;
});

class FakeSocket {
  sent: Array<Record<string, unknown>> = [];
  buffered = 0;
  ended: { code: number; reason: string } | undefined;
  send(m: Uint8Array | string): number {
    this.sent.push(JSON.parse(typeof m === 'string' ? m : Buffer.from(m).toString('utf8')));
    return 1;
  }
  bufferedAmount() {
    return this.buffered;
  }
  end(code: number, reason: string) {
    this.ended = { code, reason };
  }
  /** Corks that sent at least one message: each is one write (one syscall) on a real socket. */
  writes = 0;
  cork(fn: () => void) {
    const before = this.sent.length;
    fn();
    if (this.sent.length > before) this.writes++;
  }
  events(name: string) {
    return this.sent.filter((m) => m.event === name);
  }
}

interface Rig {
  s: PlivoStream;
  sock: FakeSocket;
  pacer: Pacer;
  stats: EdgeStats;
  clock: { t: number };
  got: { audio: number; dtmf: string[]; played: string[]; cleared: number; ended: StreamEndReason[] };
  advance(ms: number): void;
  msg(o: unknown): void;
}

const pacers: Pacer[] = [];
afterEach(() => {
  for (const p of pacers.splice(0)) p.stop();
});

/** The inline engine with downlink frames delivered later, as the piscina pool does. */
function deferred(engine: AudioEngine): AudioEngine {
  return {
    ...engine,
    createDownlink(format, onFrame) {
      return engine.createDownlink(format, (frame) => {
        const copy = frame.slice();
        setImmediate(() => onFrame(copy));
      });
    },
  };
}

function rig(
  o: {
    limits?: Partial<StreamLimits>;
    handler?: Partial<CallMediaHandler>;
    callId?: string;
    deferFrames?: boolean;
    pacer?: { leadMs: number; batchMs: number };
  } = {},
): Rig {
  const clock = { t: 1000 };
  const pacer = new Pacer({ leadMs: 60, tickMs: 10, now: () => clock.t, ...o.pacer });
  pacers.push(pacer);
  const stats = new EdgeStats(1);
  const sock = new FakeSocket();
  const got = { audio: 0, dtmf: [] as string[], played: [] as string[], cleared: 0, ended: [] as StreamEndReason[] };
  const s = new PlivoStream({
    ctx: { callId: 'call-1', direction: 'inbound', from: '+1', to: '+2' },
    transport: sock,
    audio: o.deferFrames ? deferred(audio) : audio,
    pacer,
    stats,
    limits: o.limits,
    router: {
      attachStream: () => ({
        onCallerAudio: () => {
          got.audio++;
        },
        onDtmf: (d) => got.dtmf.push(d),
        onPlayed: (n) => got.played.push(n),
        onCleared: () => {
          got.cleared++;
        },
        onStreamEnd: (r) => got.ended.push(r),
        ...o.handler,
      }),
    },
  });
  const r: Rig = {
    s,
    sock,
    pacer,
    stats,
    clock,
    got,
    advance(ms) {
      for (let i = 0; i < ms; i += 10) {
        clock.t += 10;
        pacer.tick();
      }
    },
    msg(m) {
      const text = typeof m === 'string' ? m : JSON.stringify(m);
      const b = Buffer.from(text);
      s.onMessage(b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer, false);
    },
  };
  return r;
}

const start = (callId = 'call-1', mediaFormat: unknown = { encoding: 'audio/x-mulaw', sampleRate: 8000 }) => ({
  event: 'start',
  sequenceNumber: 1,
  start: { callId, streamId: 'stream-1', accountId: 'MA1', tracks: ['inbound'], mediaFormat },
});
const media = (bytes = 160) => ({
  event: 'media',
  streamId: 'stream-1',
  media: { track: 'inbound', timestamp: '1', chunk: 1, payload: Buffer.alloc(bytes, 0xff).toString('base64') },
});
const second = () => new Int16Array(24000).map((_, i) => Math.round(4000 * Math.sin(i / 5)));

describe('PlivoStream', () => {
  it('delivers caller audio as 20 ms PCM16 16 kHz frames after start, and counts media sent before it', () => {
    const r = rig();
    r.msg(media());
    expect(r.stats.errors.get('media-before-start')).toBe(1);
    r.msg(start());
    expect(r.s.streamId).toBe('stream-1');
    for (let i = 0; i < 5; i++) r.msg(media());
    expect(r.got.audio).toBe(5);
    expect(r.stats.framesIn).toBe(5);
    r.msg({ event: 'dtmf', dtmf: { digit: '7' } });
    expect(r.got.dtmf).toEqual(['7']);
  });

  it('paces agent audio 60 ms ahead of real time and reports pending playout exactly', () => {
    const r = rig();
    r.msg(start());
    r.s.playAgentAudio(second());
    expect(r.sock.events('playAudio')).toHaveLength(3);
    expect(r.s.pendingPlayoutMs()).toBe(1000);
    r.advance(200);
    expect(r.sock.events('playAudio')).toHaveLength(13);
    expect(r.s.pendingPlayoutMs()).toBe(800);
    r.advance(1000);
    expect(r.sock.events('playAudio')).toHaveLength(50);
    expect(r.s.pendingPlayoutMs()).toBe(0);
    expect(r.pacer.size).toBe(0);
  });

  it('with a 40 ms batch (lead 80) sends two frames per write: half the writes, the same audio, never under 40 ms ahead', () => {
    const one = rig();
    const two = rig({ pacer: { leadMs: 80, batchMs: 40 } });
    for (const r of [one, two]) {
      r.msg(start());
      r.s.playAgentAudio(second());
    }
    let minAhead = Number.POSITIVE_INFINITY;
    for (let t = 0; t < 1200; t += 10) {
      two.advance(10);
      one.advance(10);
      const sentMs = two.sock.events('playAudio').length * 20;
      // What Plivo holds: sent minus played (the stream started playing at 1000 ms on the rig's clock).
      if (sentMs < 1000) minAhead = Math.min(minAhead, sentMs - (t + 10));
    }
    expect(two.sock.events('playAudio')).toHaveLength(50);
    expect(one.sock.events('playAudio')).toHaveLength(50);
    // The first write of each carries the whole lead (3 or 4 frames); after that 1 or 2 frames per write.
    expect(one.sock.writes).toBe(48);
    expect(two.sock.writes).toBe(24);
    expect(minAhead).toBeGreaterThanOrEqual(40);
  });

  it('refuses a batch that is not below the lead', () => {
    expect(() => new Pacer({ leadMs: 60, batchMs: 60 })).toThrow(RangeError);
  });

  it('sends a checkpoint right after the audio queued before it, and reports it played', () => {
    const r = rig();
    r.msg(start());
    r.s.playAgentAudio(second());
    r.s.flushAgentAudio();
    r.s.checkpoint('turn-1');
    r.s.playAgentAudio(second());
    r.advance(600);
    expect(r.sock.events('checkpoint')).toHaveLength(0);
    r.advance(500);
    const idx = r.sock.sent.findIndex((m) => m.event === 'checkpoint');
    expect(r.sock.sent[idx]).toEqual({ event: 'checkpoint', streamId: 'stream-1', name: 'turn-1' });
    expect(r.sock.sent.slice(0, idx).filter((m) => m.event === 'playAudio')).toHaveLength(50);
    r.msg({ event: 'playedStream', streamId: 'stream-1', name: 'turn-1' });
    r.msg({ event: 'playedStream', streamId: 'stream-1', name: 'unknown' });
    expect(r.got.played).toEqual(['turn-1']);
  });

  it('anchors a checkpoint after audio whose frames arrive later (pool mode)', async () => {
    const r = rig({ deferFrames: true });
    r.msg(start());
    r.s.playAgentAudio(second());
    r.s.flushAgentAudio();
    r.s.checkpoint('turn-1');
    expect(r.sock.events('checkpoint')).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 20));
    r.advance(1200);
    const idx = r.sock.sent.findIndex((m) => m.event === 'checkpoint');
    expect(idx).toBeGreaterThan(0);
    expect(r.sock.sent.slice(0, idx).filter((m) => m.event === 'playAudio').length).toBeGreaterThanOrEqual(49);
  });

  it('barge-in: clearAgentAudio drops the queue, sends clearAudio and ignores the stale checkpoint ack', () => {
    const r = rig();
    r.msg(start());
    r.s.playAgentAudio(second());
    r.s.checkpoint('t');
    r.advance(100);
    r.s.clearAgentAudio();
    expect(r.sock.events('clearAudio')).toEqual([{ event: 'clearAudio', streamId: 'stream-1' }]);
    expect(r.s.pendingPlayoutMs()).toBe(0);
    const before = r.sock.events('playAudio').length;
    r.advance(500);
    expect(r.sock.events('playAudio').length).toBe(before);
    expect(r.sock.events('checkpoint')).toHaveLength(0);
    r.msg({ event: 'clearedAudio', streamId: 'stream-1' });
    r.msg({ event: 'playedStream', name: 't' });
    expect(r.got.cleared).toBe(1);
    expect(r.got.played).toEqual([]);
    r.s.playAgentAudio(second());
    expect(r.sock.events('playAudio').length).toBe(before + 3);
  });

  it('bounded queue: a socket over the backpressure limit pauses audio, drops the oldest, then closes', () => {
    const r = rig({ limits: { maxBackpressureBytes: 1000, maxQueuedMs: 200, stallTimeoutMs: 1000 } });
    r.msg(start());
    r.sock.buffered = 5000;
    r.s.playAgentAudio(second());
    expect(r.sock.events('playAudio')).toHaveLength(0);
    expect(r.s.pendingPlayoutMs()).toBe(200);
    expect(r.stats.backpressure.get('paused')).toBe(1);
    expect(r.stats.backpressure.get('drop-oldest')).toBe(1);
    expect(r.stats.droppedFrames).toBe(40);
    r.advance(500);
    expect(r.s.closed).toBe(false);
    r.advance(600);
    expect(r.s.closed).toBe(true);
    expect(r.sock.ended).toEqual({ code: CLOSE_CODES.backpressure, reason: 'backpressure' });
    expect(r.got.ended).toEqual(['backpressure']);
    expect(r.stats.backpressure.get('closed')).toBe(1);
  });

  it('recovers when the socket drains before the stall timeout', () => {
    const r = rig({ limits: { maxBackpressureBytes: 1000, stallTimeoutMs: 1000 } });
    r.msg(start());
    r.sock.buffered = 5000;
    r.s.playAgentAudio(second());
    r.advance(300);
    r.sock.buffered = 0;
    r.s.onDrain();
    r.advance(100);
    expect(r.s.closed).toBe(false);
    expect(r.sock.events('playAudio').length).toBeGreaterThan(3);
  });

  it('ignores and counts bad input without ending the call', () => {
    const r = rig();
    r.msg(start());
    const bad = [
      'not json',
      '{"event":"media","media":{"payload":"@@@"}}',
      '{"event": "media", "media": {"payload": "@@@@"}}',
      '{"event":"media","media":{"payload":7}}',
      '{"event":"nonsense"}',
      '{"event":"dtmf","dtmf":{"digit":{}}}',
      '[]',
      JSON.stringify(start()),
    ];
    for (const b of bad) r.msg(b);
    r.s.onMessage(new Uint8Array([1, 2, 3]).buffer, true);
    expect(Object.fromEntries(r.stats.errors)).toEqual({
      'malformed-json': 2,
      'bad-media': 3,
      'invalid-field': 1,
      'unknown-event': 1,
      'duplicate-start': 1,
      'binary-frame': 1,
    });
    r.msg({ event: 'media', media: { payload: Buffer.alloc(160, 1).toString('base64') } }); // spaced/unusual order
    r.msg(media());
    expect(r.got.audio).toBe(2);
    expect(r.s.closed).toBe(false);
  });

  it('a handler that throws loses that event only', () => {
    const r = rig({
      handler: {
        onCallerAudio: () => {
          throw new Error('boom');
        },
      },
    });
    r.msg(start());
    r.msg(media());
    r.msg(media());
    expect(r.stats.errors.get('handler-error')).toBe(2);
    expect(r.s.closed).toBe(false);
  });

  it('closes on a start for another call, or an unsupported format', () => {
    const a = rig();
    a.msg(start('someone-else'));
    expect(a.sock.ended?.code).toBe(CLOSE_CODES.callMismatch);
    expect(a.stats.errors.get('call-mismatch')).toBe(1);
    const b = rig();
    b.msg(start('call-1', { encoding: 'audio/opus', sampleRate: 48000 }));
    expect(b.sock.ended?.code).toBe(CLOSE_CODES.unsupportedData);
  });

  it('supports L16 16 kHz streams and rejects odd-length L16 payloads', () => {
    const r = rig();
    r.msg(start('call-1', { encoding: 'audio/x-l16', sampleRate: 16000 }));
    expect(r.s.format).toEqual({ encoding: 'l16', sampleRate: 16000 });
    r.msg(media(640));
    r.msg(media(641));
    expect(r.got.audio).toBe(1);
    expect(r.stats.errors.get('bad-media')).toBe(1);
    r.s.playAgentAudio(second());
    const m = r.sock.events('playAudio')[0] as { media: { contentType: string; sampleRate: number; payload: string } };
    expect(m.media.contentType).toBe('audio/x-l16');
    expect(Buffer.from(m.media.payload, 'base64').length).toBe(640);
  });

  it('stop ends the stream once; close() is idempotent; DTMF out is validated', () => {
    const r = rig();
    r.msg(start());
    r.s.sendDtmf('12#');
    expect(r.sock.events('sendDTMF')).toEqual([{ event: 'sendDTMF', dtmf: '12#' }]);
    expect(() => r.s.sendDtmf('1; drop')).toThrow();
    r.msg({ event: 'stop' });
    r.s.close('hangup');
    r.s.onTransportClose(1000);
    expect(r.got.ended).toEqual(['stop']);
    r.s.playAgentAudio(second());
    expect(r.sock.events('playAudio')).toHaveLength(0);
  });

  it('closes a socket that never sends start', () => {
    const r = rig();
    r.s.expireIfNotStarted(performance.now() + 20_000, 10_000);
    expect(r.sock.ended?.code).toBe(CLOSE_CODES.startTimeout);
    expect(r.got.ended).toEqual([]);
  });
});
