// D3 (issue 15): a real redis-server stopped for 60 s in the middle of a campaign. Hangup callbacks that arrive
// while the store is down must not be lost (they are spooled to disk and replayed), and a slot held for a call that
// has ended must come back (leases are reconciled against Plivo's call state), so every contact is dialled exactly
// once and the campaign completes instead of waiting out 4-hour leases.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRequests, contactNumbers } from './campaign-checks.ts';
import { type Emulator, type Json, type Node, startEmulator, startNode, until } from './helpers.ts';
import { type RestartableRedis, startRestartableRedis } from './restartable-redis.ts';

const OUTAGE_MS = 60_000;
let redis: RestartableRedis;
let emulator: Emulator;
let node: Node;
let spoolDir: string;

beforeAll(async () => {
  redis = await startRestartableRedis();
  spoolDir = mkdtempSync(join(tmpdir(), 'gw-spool-'));
  emulator = await startEmulator({ outbound: () => ({ kind: 'answer', ringMs: 20, hangupAfterMs: 1500 }) });
  node = await startNode({
    emulator,
    store: 'redis',
    redisUrl: redis.url,
    prefix: 'outage:',
    env: { PLIVO_CPS: '10', OUTBOUND_SPOOL_DIR: spoolDir },
    outbound: { dialer: { sweepMs: 1000, reconcileAfterMs: 3000 }, spoolReplayMs: 500 },
  });
}, 20_000);

afterAll(async () => {
  await node?.close();
  await emulator?.close();
  await redis?.close();
  if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
});

describe('a 60 s Redis outage mid-campaign', () => {
  it('dials every contact exactly once and completes the campaign', async () => {
    const numbers = contactNumbers(30, '+1415557');
    const res = await node.api('POST', '/outbound/campaign', {
      campaign_id: 'outage',
      contacts: numbers.map((phone_number) => ({ phone_number })),
      opening_reason: 'x',
      max_concurrent: 5,
      calls_per_second: 5,
    });
    expect(res.status).toBe(201);
    // Mid-campaign: some calls done, some up (their hangups will arrive during the outage), most not dialled.
    await until(() => callRequests(emulator).length >= 8, 20_000, '8 dials');
    await redis.stop();
    const dialsAtStop = callRequests(emulator).length;
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await redis.start();
    const view = await until(
      async () => {
        const r = await node.api('GET', '/outbound/campaign/outage').catch(() => undefined);
        return r?.json?.dialer?.state === 'completed' ? r.json : undefined;
      },
      25_000,
      'campaign completed after the outage',
    ).catch(async (err) => {
      const r = await node.api('GET', '/outbound/campaign/outage').catch(() => undefined);
      const dialled = new Set(callRequests(emulator).map((q) => q.params.to));
      const calls = new Map<string, string>((r?.json?.calls ?? []).map((c: Json) => [c.call_id, c.status]));
      const stuck = (r?.json?.dialer?.contacts ?? [])
        .filter((c: Json) => c.status !== 'done')
        .map((c: Json) => `${c.contact_id}:${c.status}/${c.call_ids.map((id: string) => calls.get(id)).join(',')}`);
      throw new Error(
        `${(err as Error).message}: ${dialled.size}/30 dialled (${dialsAtStop} before the outage); ` +
          `by status ${JSON.stringify(r?.json?.dialer?.by_status)}; not done ${stuck.join(' ')}`,
      );
    });
    const perNumber = new Map<string, number>();
    for (const q of callRequests(emulator))
      perNumber.set(`+${q.params.to}`, (perNumber.get(`+${q.params.to}`) ?? 0) + 1);
    expect([...perNumber.keys()].sort()).toEqual([...numbers].sort());
    expect([...perNumber.values()].every((n) => n === 1)).toBe(true);
    expect(view.dialer.by_status ?? view.dialer.byStatus).toMatchObject({ 'in-progress': 0, dialing: 0, done: 30 });
  }, 90_000);
});
