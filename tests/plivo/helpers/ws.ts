// The `ws` client for tests that need a raw stream socket (no @types/ws in the project): just the surface used.
import { createRequire } from 'node:module';

export interface TestSocket {
  send(data: string | Uint8Array): void;
  close(code?: number): void;
  on(event: 'open', listener: () => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(
    event: 'unexpected-response',
    listener: (req: unknown, res: { statusCode?: number; resume(): void }) => void,
  ): this;
}

const require = createRequire(import.meta.url);
const WebSocketCtor = require('ws') as new (url: string) => TestSocket;

export function openSocket(url: string): TestSocket {
  return new WebSocketCtor(url);
}

/** Opens a socket and closes it at once: the upgrade's HTTP status (101 when it opened, 0 when it could not connect). */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = openSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => resolve(0));
  });
}
