// The process entry point: bad configuration exits 1 with every problem listed; a good one serves and shuts
// down gracefully on SIGTERM.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

function run(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('src/main.ts', () => {
  it('prints every configuration problem and exits 1', async () => {
    const p = run({ PUBLIC_URL: 'not a url', PLIVO_PHONE_NUMBER: '555' });
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain('Invalid configuration');
    expect(p.err()).toContain('PLIVO_AUTH_ID');
    expect(p.err()).toContain('PUBLIC_URL');
    expect(p.err()).toContain('PLIVO_PHONE_NUMBER');
  });

  it('starts, answers /healthz, and drains and exits 0 on SIGTERM', async () => {
    const p = run(emulatorEnv({ SERVER_HOST: '127.0.0.1', SERVER_PORT: '0', LOG_LEVEL: 'info', DRAIN_TIMEOUT_S: '5' }));
    const deadline = Date.now() + 15_000;
    let port: number | undefined;
    while (port === undefined && Date.now() < deadline) {
      const m = /"port":(\d+)[^\n]*gateway listening/.exec(p.out());
      if (m) port = Number(m[1]);
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(port, p.out() + p.err()).toBeDefined();
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const lines = p
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => typeof l.level === 'string' && typeof l.msg === 'string')).toBe(true);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.out()).toContain('draining');
    expect(p.out()).toContain('gateway closed');
  });
});
