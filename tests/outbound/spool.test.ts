// The hangup spool keeps what it was given across a restart (a new spool in the same directory adopts the entries
// of one that is gone), skips a line torn by a crash, and leaves nothing behind once everything is done. Also the
// placed-but-unlinked guard: a call Plivo placed is never reported as a failed dial.
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PlivoApiError } from '../../src/errors.ts';
import { CallPlacedError, placeCall } from '../../src/outbound/place-call.ts';
import { newOutboundRecord } from '../../src/outbound/records.ts';
import { openSpool } from '../../src/outbound/spool.ts';
import type { PlivoApi } from '../../src/plivo/api-types.ts';
import { createMemoryCallStore } from '../../src/store/memory.ts';
import type { CallStore } from '../../src/store/types.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'gw-spool-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('spool', () => {
  it('survives a restart, in order, and is empty on disk once done', async () => {
    const dir = tempDir();
    const a = openSpool<{ n: number }>(dir, 'hangups');
    await a.append({ n: 1 });
    await a.append({ n: 2 });
    await a.append({ n: 3 });
    await a.done(a.pending()[1]!.id);
    await a.close(); // the process goes away with two entries pending

    const file = readdirSync(dir).find((f) => f.startsWith('hangups-'))!;
    appendFileSync(join(dir, file), '{"a":"torn-by-a-cra'); // a crash mid-write
    const b = openSpool<{ n: number }>(dir, 'hangups');
    expect(b.pending().map((e) => e.entry.n)).toEqual([1, 3]);
    expect(readdirSync(dir)).toHaveLength(1); // adopted into b's own file
    for (const e of b.pending()) await b.done(e.id);
    expect(b.size).toBe(0);
    await b.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('never takes over the file of a spool that is still open', async () => {
    const dir = tempDir();
    const a = openSpool<{ n: number }>(dir, 'hangups');
    await a.append({ n: 1 });
    const b = openSpool<{ n: number }>(dir, 'hangups');
    expect(b.size).toBe(0);
    await b.append({ n: 2 });
    await b.done(b.pending()[0]!.id); // b truncating its own file leaves a's entry alone
    await a.close();
    await b.close();
    const c = openSpool<{ n: number }>(dir, 'hangups');
    expect(c.pending().map((e) => e.entry.n)).toEqual([1]);
    await c.close();
  });
});

describe('placeCall', () => {
  const plivo = { makeCall: async () => ({ apiId: 'a', requestUuid: 'req-1' }) } as unknown as PlivoApi;
  const record = newOutboundRecord({ id: 'c1', from: '+14155550100', to: '+14155550111', nowMs: Date.now() });

  function flakyStore(failures: number): CallStore {
    const store = createMemoryCallStore();
    const link = store.linkPlivoUuid.bind(store);
    let left = failures;
    store.linkPlivoUuid = async (id, uuid) => {
      if (left-- > 0) throw new Error('store down');
      return link(id, uuid);
    };
    return store;
  }

  it('keeps trying to record the uuid of a call Plivo placed', async () => {
    const store = flakyStore(2);
    await store.create(record);
    const r = await placeCall({ publicUrl: () => 'http://x', store, plivo }, record, 'false', { linkRetryMs: 5000 });
    expect(r.requestUuid).toBe('req-1');
    expect((await store.get('c1'))?.plivoCallUuid).toBe('req-1');
  });

  it('reports a placed call it could not record as CallPlacedError, never as a Plivo failure', async () => {
    const store = flakyStore(1000);
    await store.create(record);
    const err = await placeCall({ publicUrl: () => 'http://x', store, plivo }, record, 'false').catch((e) => e);
    expect(err).toBeInstanceOf(CallPlacedError);
    expect(err.requestUuid).toBe('req-1');
    expect(new PlivoApiError('x', 400) instanceof CallPlacedError).toBe(false);
  });
});

describe('OUTBOUND_SPOOL_DIR', () => {
  it('refuses to start, naming the setting, when the directory cannot be used', async () => {
    const { loadConfig } = await import('../../src/config.ts');
    const { emulatorEnv } = await import('../../src/demo/emulator-env.ts');
    const { createOutbound } = await import('../../src/outbound/index.ts');
    const { ConfigError } = await import('../../src/errors.ts');
    const dir = tempDir();
    const file = join(dir, 'not-a-dir');
    appendFileSync(file, 'x');
    const config = loadConfig(emulatorEnv({ OUTBOUND_SPOOL_DIR: join(file, 'spool') }));
    let err: unknown;
    try {
      await createOutbound({ config, store: createMemoryCallStore(), plivo: undefined }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/OUTBOUND_SPOOL_DIR/);
  });
});
