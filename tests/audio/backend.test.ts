import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAudioBackend } from '../../src/audio/backend.ts';
import { GatewayError } from '../../src/errors.ts';
import { nativeBackend } from './helpers.ts';

const missing = join(tmpdir(), 'no-such-dir', 'gateway_dsp.node');

describe('loadAudioBackend', () => {
  it("'ts' always gives the TS backend", () => {
    const r = loadAudioBackend('ts');
    expect(r.backend.name).toBe('ts');
    expect(r.warning).toBeUndefined();
  });

  it("'auto' falls back to TS with one actionable warning when the addon is missing", () => {
    const r = loadAudioBackend('auto', missing);
    expect(r.backend.name).toBe('ts');
    expect(r.warning).toMatch(/could not be loaded/);
    expect(r.warning).toContain('npm run build:native');
    expect(r.warning).toContain(missing);
    expect(r.warning!.split('\n')).toHaveLength(1);
  });

  it("'auto' falls back when the file is not a loadable addon", () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-dsp-'));
    const junk = join(dir, 'gateway_dsp.node');
    writeFileSync(junk, 'not an ELF file');
    const r = loadAudioBackend('auto', junk);
    expect(r.backend.name).toBe('ts');
    expect(r.warning).toContain('npm run build:native');
  });

  it("'native' throws GW_ERR_NATIVE_UNAVAILABLE when it cannot load", () => {
    let caught: unknown;
    try {
      loadAudioBackend('native', missing);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect(caught).toMatchObject({ code: 'GW_ERR_NATIVE_UNAVAILABLE' });
    expect((caught as Error).message).toContain('npm run build:native');
  });

  it('rejects an unknown preference', () => {
    expect(() => loadAudioBackend('gpu' as 'ts')).toThrow(expect.objectContaining({ code: 'GW_ERR_INVALID_ARGUMENT' }));
  });

  it.runIf(nativeBackend !== undefined)("'auto' and 'native' pick the built addon", () => {
    expect(loadAudioBackend('auto')).toEqual({ backend: expect.objectContaining({ name: 'native' }) });
    expect(loadAudioBackend('native').backend.name).toBe('native');
  });

  it.runIf(nativeBackend !== undefined)('the addon loads in a worker thread too (context-aware)', async () => {
    const { Worker } = await import('node:worker_threads');
    const { DEFAULT_ADDON_PATH } = await import('../../src/audio/native.ts');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData);
      const out = new Int16Array(2);
      addon.ulawDecode(new Uint8Array([0xff, 0x80]), out);
      parentPort.postMessage(Array.from(out));`;
    const run = () =>
      new Promise<number[]>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: DEFAULT_ADDON_PATH });
        w.once('message', resolve);
        w.once('error', reject);
      });
    expect(await Promise.all([run(), run()])).toEqual([
      [0, 32124],
      [0, 32124],
    ]);
  });
});
