// A post-call webhook receiver for tests: a real HTTP server on 127.0.0.1:0 that verifies signatures, can fail
// the first attempts, and deduplicates by Idempotency-Key the way a receiver should.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { verify } from '../../src/webhooks-out/sign.ts';

export interface Delivery {
  key: string;
  attempt: number;
  status: number;
  signed: boolean;
  body: Record<string, unknown>;
  raw: string;
  headers: IncomingMessage['headers'];
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Accepted records, one per idempotency key. */
  accepted: Map<string, Record<string, unknown>>;
  /** Returns the status to answer for this attempt (default 200; 0 never answers). */
  respond: (key: string, attemptsSoFar: number) => number;
  close(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const r: Receiver = {
    url: '',
    deliveries: [],
    accepted: new Map(),
    respond: () => 200,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const key = String(req.headers['idempotency-key'] ?? '');
      const signed = verify(
        secret,
        {
          signature: req.headers['x-gateway-signature'] as string | undefined,
          timestamp: req.headers['x-gateway-timestamp'] as string | undefined,
        },
        raw,
      );
      const before = r.deliveries.filter((d) => d.key === key).length;
      const status = signed ? r.respond(key, before) : 401;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // kept raw
      }
      r.deliveries.push({
        key,
        attempt: Number(req.headers['x-gateway-attempt']),
        status,
        signed,
        body,
        raw,
        headers: req.headers,
      });
      // 0: never answer (the sender's timeout must fire).
      if (status === 0) return;
      if (status < 300 && !r.accepted.has(key)) r.accepted.set(key, body);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  r.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hooks/post-call`;
  r.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** RMS of samples [from, to) of one channel of an interleaved stereo buffer. */
export function channelRms(samples: Int16Array, channel: 0 | 1, from: number, to: number): number {
  let sum = 0;
  let n = 0;
  for (let i = Math.max(0, from); i < to && i * 2 + channel < samples.length; i++) {
    const v = samples[i * 2 + channel]!;
    sum += v * v;
    n++;
  }
  return n === 0 ? 0 : Math.sqrt(sum / n);
}
