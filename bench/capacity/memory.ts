// `node bench/capacity/memory.ts [--calls 140] [--settle 8] [--tree DIR]`: memory per call that a call really holds
// (`--tree`: run another checkout's gateway, as bench/capacity/ab.ts does). VmRSS
// growth over a step (what `bench:capacity` reports) also counts garbage not yet collected and the young generation
// V8 grows while calls ramp up, which is shared by all calls and varies from run to run. So this runs one gateway
// with the inspector on a loopback port, carries `--calls` calls of the capacity conversation from the generator,
// and reads the gateway's process.memoryUsage() right after a full collection (HeapProfiler.collectGarbage), before
// the calls and once they have talked for `--settle` seconds. Invalid (exit 1) if a call failed to set up.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePort } from '../../src/demo/free-port.ts';
import { makeCerts } from '../../src/demo/tls-certs.ts';
import { round } from '../stats.ts';
import { AUTH_ID, AUTH_TOKEN, startGateway, stopGateway } from './gateway-proc.ts';
import { Generator } from './generator.ts';

interface CdpSocket {
  send(data: string): void;
  close(): void;
  on(event: 'open', l: () => void): this;
  on(event: 'message', l: (data: Buffer) => void): this;
  on(event: 'error', l: (err: Error) => void): this;
}
const require = createRequire(import.meta.url);
const WebSocket = require('ws') as new (url: string) => CdpSocket;

type Memory = { rss: number; heapUsed: number; external: number; arrayBuffers: number };

/** A minimal Chrome DevTools Protocol client for the two calls used here. */
async function inspector(port: number): Promise<{ collectedMemory(): Promise<Memory>; close(): void }> {
  let url: string | undefined;
  for (let i = 0; i < 100 && url === undefined; i++) {
    try {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
      url = list[0]?.webSocketDebuggerUrl;
    } catch {
      await sleep(100);
    }
  }
  if (url === undefined) throw new Error(`no inspector on port ${port}`);
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  type Reply = { id?: number; result?: { result?: { value?: string } } };
  let id = 0;
  const pending = new Map<number, (m: Reply) => void>();
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as Reply;
    if (m.id === undefined) return;
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Reply>((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    async collectedMemory() {
      await call('HeapProfiler.collectGarbage');
      const r = await call('Runtime.evaluate', {
        expression: 'JSON.stringify(process.memoryUsage())',
        returnByValue: true,
      });
      return JSON.parse(r.result?.result?.value ?? '{}') as Memory;
    },
    close: () => ws.close(),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '140' },
      settle: { type: 'string', default: '8' },
      'gateway-core': { type: 'string', default: '0' },
      tree: { type: 'string' },
    },
    strict: true,
  });
  const calls = Number(values.calls);
  const settleS = Number(values.settle);
  const certs = await makeCerts();
  const gen = new Generator({
    tls: { key: certs.key, cert: certs.cert },
    authId: AUTH_ID,
    authToken: AUTH_TOKEN,
    conversation: { interruptP: 0.2, toolP: 0.15 },
  });
  await gen.start();
  gen.reset(calls, settleS + 10);
  const inspectPort = await freePort();
  const gw = await startGateway({
    core: values['gateway-core'],
    geminiPort: gen.geminiPort,
    restPort: gen.restPort,
    caPath: certs.caPath,
    logFd: 'ignore',
    env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` },
    ...(values.tree !== undefined ? { main: resolve(values.tree, 'src/main.ts') } : {}),
  });
  const cdp = await inspector(inspectPort);
  try {
    await sleep(500);
    const before = await cdp.collectedMemory();
    let failed = 0;
    for (let i = 0; i < calls; i++) {
      if (!(await gen.placeCall(gw.base))) failed++;
      await sleep(10);
    }
    await sleep(settleS * 1000);
    const after = await cdp.collectedMemory();
    const per = (k: keyof Memory) => round((after[k] - before[k]) / 1024 / (calls - failed));
    console.log(
      `${calls - failed} calls, after a full collection: RSS ${per('rss')} KiB per call (JS heap ${per('heapUsed')}, ` +
        `external ${per('external')}, of which ArrayBuffers ${per('arrayBuffers')}); process RSS ` +
        `${round(after.rss / 1048576)} MiB`,
    );
    await gen.quiesce(100);
    await gen.hangupAll();
    if (failed > 0) {
      console.log(`INVALID RUN: ${failed} calls failed to set up`);
      return 1;
    }
    return 0;
  } finally {
    cdp.close();
    await stopGateway(gw);
    await gen.close();
    certs.cleanup();
  }
}

process.exit(await main());
