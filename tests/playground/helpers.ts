// A Node stand-in for the playground page's stream side: it speaks Plivo's stream protocol exactly as
// src/playground/public/app.js does (and as src/emulators/plivo sends it).
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { ulawEncode } from '../../src/emulators/plivo/ulaw.ts';

/** Status of a WebSocket upgrade request: 101 when accepted, else the HTTP status of the refusal. */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A Node client that speaks the page's side of the Plivo stream protocol. */
export class PageClient {
  readonly ws: WebSocket;
  readonly received: Array<Record<string, unknown>> = [];
  readonly closed: Promise<number>;
  readonly streamId = crypto.randomUUID();
  seq = 0;
  chunk = 0;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.addEventListener('message', (e) =>
      this.received.push(JSON.parse(String(e.data)) as Record<string, unknown>),
    );
    this.closed = new Promise((r) => this.ws.addEventListener('close', (e) => r(e.code)));
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => resolve(), { once: true });
      this.ws.addEventListener('error', () => reject(new Error('socket error')), { once: true });
    });
  }

  start(callId: string): void {
    this.send({
      event: 'start',
      sequenceNumber: ++this.seq,
      start: {
        callId,
        streamId: this.streamId,
        accountId: 'playground',
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
      },
      extra_headers: '',
    });
  }

  silence(frames: number): void {
    this.frames(Array.from({ length: frames }, () => Buffer.alloc(160, 0xff).toString('base64')));
  }

  /** A 300 Hz tone at -10 dBFS: the Gemini emulator's energy VAD hears it as speech. */
  tone(frames: number): void {
    const pcm = new Int16Array(160 * frames);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(10_000 * Math.sin((2 * Math.PI * 300 * i) / 8000));
    const bytes = ulawEncode(pcm);
    this.frames(
      Array.from({ length: frames }, (_, f) => Buffer.from(bytes.subarray(f * 160, f * 160 + 160)).toString('base64')),
    );
  }

  frames(payloads: string[]): void {
    for (const payload of payloads) {
      this.send({
        event: 'media',
        sequenceNumber: ++this.seq,
        streamId: this.streamId,
        media: { track: 'inbound', timestamp: String(Date.now()), chunk: ++this.chunk, payload },
        extra_headers: '',
      });
    }
  }

  stop(callId: string): void {
    this.send({
      event: 'stop',
      sequenceNumber: ++this.seq,
      streamId: this.streamId,
      stop: { callId, streamId: this.streamId, reason: 'caller hung up' },
      extra_headers: '',
    });
    this.ws.close(1000);
  }

  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }
}
