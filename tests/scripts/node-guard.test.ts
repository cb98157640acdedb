// The guard every npm entry point runs first: on an old Node it names the fix instead of letting the sources fail
// with "Unknown file extension .ts". The old Node is simulated by overriding process.versions before loading it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const GUARD = fileURLToPath(new URL('../../scripts/node-guard.cjs', import.meta.url));

function runGuard(version?: string): { status: number | null; stderr: string } {
  const fake =
    version === undefined
      ? ''
      : `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '${version}' } });`;
  const r = spawnSync(process.execPath, ['-e', `${fake} require(${JSON.stringify(GUARD)});`], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('scripts/node-guard.cjs', () => {
  it('lets the Node that runs the tests through silently', () => {
    expect(runGuard()).toEqual({ status: 0, stderr: '' });
  });

  it.each(['20.20.2', '22.17.1', '18.0.0'])('stops Node %s with one line pointing to ensure-node.sh', (v) => {
    const r = runGuard(v);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`needs Node >= 22.18`);
    expect(r.stderr).toContain('. scripts/ensure-node.sh');
  });

  it.each(['22.18.0', '24.1.0'])('accepts Node %s', (v) => {
    expect(runGuard(v).status).toBe(0);
  });

  it('is the first step of every npm entry point that runs our sources', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
      scripts: Record<string, string>;
    };
    for (const [name, cmd] of Object.entries(pkg.scripts)) {
      if (['install', 'lint', 'format'].includes(name)) continue;
      expect(cmd, name).toMatch(/^node scripts\/node-guard\.cjs && /);
    }
  });
});
