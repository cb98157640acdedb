// The README's "Try it locally" commands, run as written against `npm run dev`: a newcomer copies them with no
// edits, so this test takes them from the README itself rather than from a copy that could drift.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** The bash commands between the README's try-it-locally markers, continuation lines joined, comments dropped. */
function readmeCommands(): string[] {
  const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
  const start = readme.indexOf('<!-- try-it-locally:start');
  const end = readme.indexOf('<!-- try-it-locally:end -->');
  expect(start).toBeGreaterThan(0);
  const block = readme.slice(start, end).split('```bash\n')[1]!.split('```')[0]!;
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

async function sh(cmd: string): Promise<unknown> {
  const { stdout } = await run('bash', ['-c', cmd], { cwd: ROOT, timeout: 90_000 });
  return JSON.parse(stdout);
}

let dev: ChildProcess | undefined;
let devOut = '';

beforeAll(async () => {
  // `npm run dev` as the README says, in its own process group so that the whole stack can be stopped.
  dev = spawn('npm', ['run', 'dev'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  dev.stdout?.on('data', (b: Buffer) => {
    devOut += b.toString();
  });
  dev.stderr?.on('data', (b: Buffer) => {
    devOut += b.toString();
  });
  const deadline = Date.now() + 30_000;
  while (!/^ready$/m.test(devOut)) {
    if (dev.exitCode !== null || Date.now() > deadline) throw new Error(`npm run dev did not start:\n${devOut}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 40_000);

afterAll(async () => {
  if (dev?.pid === undefined || dev.exitCode !== null) return;
  const exited = new Promise((r) => dev?.once('exit', r));
  process.kill(-dev.pid, 'SIGINT');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  try {
    if (dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
});

describe('README: Try it locally', () => {
  it('an inbound call, an outbound call and a campaign work with the commands as written', async () => {
    const [inbound, outbound, campaign, progress, ...rest] = readmeCommands();
    expect(rest).toEqual([]);

    const [inCall, outCall, camp] = (await Promise.all([sh(inbound!), sh(outbound!), sh(campaign!)])) as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(inCall).toMatchObject({ status: 'completed', ended_by: 'agent', protocol_errors: [] });
    expect(inCall.agent_audio_heard_s as number).toBeGreaterThan(5);
    expect(outCall).toMatchObject({ status: 'queued' });
    expect(camp).toMatchObject({ campaign_id: 'dev-campaign', contacts: 3 });

    // The progress command, re-run as the README says until every call is completed.
    let state: { counts?: { total: number; by_status: Record<string, number> } } = {};
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      state = (await sh(progress!)) as typeof state;
      if (state.counts?.by_status.completed === 3) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(state.counts).toEqual({ total: 3, by_status: { completed: 3 }, by_outcome: expect.anything() });
    expect(devOut).not.toMatch(/"level":"?(error|fatal)|ERROR:|FATAL:/);
  }, 150_000);
});
