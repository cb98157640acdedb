// The standalone CLI: its options reach the emulator, and a scenario that still asks the agent to speak first is
// refused at start with the way out.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, phoneConfig, SdkClient } from './helpers.ts';

const CLI = join(import.meta.dirname, '../../../src/emulators/gemini-live/cli.ts');
let child: ChildProcess | undefined;

afterEach(() => {
  child?.kill('SIGTERM');
  child = undefined;
});

function run(args: string[]): {
  proc: ChildProcess;
  url: Promise<string>;
  exit: Promise<{ code: number | null; stderr: string }>;
} {
  const proc = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'silent' },
  });
  let out = '';
  let err = '';
  const url = new Promise<string>((resolve) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('http://'));
      if (line) resolve(line.trim());
    });
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    proc.on('exit', (code) => resolve({ code, stderr: err })),
  );
  return { proc, url, exit };
}

describe('gemini live emulator CLI', () => {
  it('refuses a session-start scenario at load, naming the opening trigger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gl-cli-'));
    const file = join(dir, 'old.json');
    writeFileSync(file, JSON.stringify({ name: 'old', turns: [{ trigger: 'session-start', text: 'Hello.' }] }));
    const r = run(['--scenario', file]);
    child = r.proc;
    const { code, stderr } = await r.exit;
    expect(code).toBe(2);
    expect(stderr).toMatch(/session-start trigger was removed.*"opening"/);
  });

  it('--model, --api-key and --silent-turns reach the emulator', async () => {
    const r = run([
      '--scenario',
      'scenarios/test-tools.json',
      '--speech',
      'synthetic',
      '--no-realtime',
      '--model',
      'gemini-3.8-live',
      '--api-key',
      API_KEY,
      '--silent-turns',
      '1',
    ]);
    child = r.proc;
    const url = await r.url;
    const other = await SdkClient.connect(url).catch((e: Error) => String(e));
    expect(other).toMatch(/code 1008\): Operation is not implemented/);
    const wrongKey = await SdkClient.connect(url, phoneConfig(), { model: 'gemini-3.8-live', apiKey: 'nope' }).catch(
      (e: Error) => String(e),
    );
    expect(wrongKey).toMatch(/code 1008\): Method doesn't allow unregistered callers/);
    const c = await SdkClient.connect(url, phoneConfig(), { model: 'gemini-3.8-live' });
    c.opening();
    const end = await c.waitTurnComplete();
    expect(c.audioBytes(0, end)).toBe(0);
    c.opening('Hello?');
    const end2 = await c.waitTurnComplete(end);
    expect(c.outputText(end, end2)).toBe('Hi there.');
    c.session.close();
  });
});
