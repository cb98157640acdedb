import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWav } from '../../../src/emulators/plivo/wav.ts';
import { FakeGateway } from './fake-gateway.ts';

const CLI = join(import.meta.dirname, '../../../src/emulators/plivo/cli.ts');

let gw: FakeGateway | undefined;
let dir: string | undefined;

afterEach(async () => {
  gw?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  gw = undefined;
  dir = undefined;
});

function run(args: string[], onStdout?: (text: string, kill: () => void) => void) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    onStdout?.(out, () => child.kill('SIGTERM'));
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('plivo emulator CLI', () => {
  it('places a call against a gateway and saves what it played', async () => {
    gw = await new FakeGateway({ echo: true }).listen();
    dir = await mkdtemp(join(tmpdir(), 'plivo-cli-'));
    const wavOut = join(dir, 'played.wav');
    const r = await run([
      'call',
      '--answer-url',
      `${gw.httpBase}/answer`,
      '--hangup-url',
      `${gw.httpBase}/hangup`,
      '--from',
      '+14155550100',
      '--to',
      '+14155550101',
      '--tone',
      '440',
      '--seconds',
      '1.5',
      '--save-played',
      wavOut,
    ]);
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out) as { streamId: string; playedMs: number; errors: string[] };
    expect(summary.streamId).toBeTruthy();
    expect(summary.errors).toEqual([]);
    expect(summary.playedMs).toBeGreaterThan(900);
    const wav = parseWav(await readFile(wavOut));
    expect(wav.sampleRate).toBe(8000);
    expect(wav.samples.length).toBe(summary.playedMs * 8);
  });

  it('serves the REST API until stopped', async () => {
    let base = '';
    let status = 0;
    const r = await run(['serve', '--port', '0', '--auth-id', 'MACLI', '--auth-token', 't'], (out, kill) => {
      const m = /at (http:\/\/[^\s]+)\/v1/.exec(out);
      if (!m || base) return;
      base = m[1]!;
      void fetch(`${base}/v1/Account/MACLI/Message/`, { method: 'POST' }).then((res) => {
        status = res.status;
        kill();
      });
    });
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(status).toBe(401);
    expect(r.code).toBe(0);
  });

  it('rejects bad arguments', async () => {
    expect((await run(['call', '--from', '1'])).code).toBe(2);
    expect((await run(['serve', '--outbound', 'sometimes'])).code).toBe(2);
    expect((await run(['fly'])).code).toBe(2);
    expect((await run(['--help'])).code).toBe(0);
  });
});
