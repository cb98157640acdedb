// A raw `ws` client for what the SDK will not send (malformed JSON, wrong first message, missing key).
import { createRequire } from 'node:module';

export interface RawSocket {
  readonly readyState: number;
  send(data: string | Buffer): void;
  close(code?: number): void;
  terminate(): void;
  on(event: 'open', l: () => void): this;
  on(event: 'message', l: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', l: (code: number, reason: Buffer) => void): this;
  on(event: 'error', l: (err: Error) => void): this;
  on(event: 'unexpected-response', l: (req: unknown, res: { statusCode: number }) => void): this;
}

const require = createRequire(import.meta.url);
const WS = require('ws') as new (url: string) => RawSocket;

export interface RawConn {
  ws: RawSocket;
  frames: Array<{ json: Record<string, unknown>; binary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
  next(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

export function liveUrl(baseUrl: string, query = 'key=k', version = 'v1beta'): string {
  return `${baseUrl.replace('http:', 'ws:')}//ws/google.ai.generativelanguage.${version}.GenerativeService.BidiGenerateContent${query ? `?${query}` : ''}`;
}

export function rawConnect(url: string): RawConn {
  const ws = new WS(url);
  const frames: RawConn['frames'] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data, binary) => {
    frames.push({ json: JSON.parse(data.toString('utf8')) as Record<string, unknown>, binary });
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((r) => {
    ws.on('close', (code, reason) => r({ code, reason: reason.toString('utf8') }));
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  opened.catch(() => {});
  const next = async (pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (;;) {
      const f = frames.find((x) => pred(x.json));
      if (f) return f.json;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { ws, frames, closed, opened, next };
}

export const SETUP = {
  setup: {
    model: 'models/gemini-2.5-flash-native-audio-preview-12-2025',
    generationConfig: { responseModalities: ['AUDIO'] },
    inputAudioTranscription: {},
  },
};
