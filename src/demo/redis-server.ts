// A throwaway redis-server on a free loopback port, for tests and benchmarks. redis-server cannot pick its own port (`--port 0`
// disables TCP), so we find a free one by binding to port 0 and closing, then start Redis on it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Socket } from 'node:net';

import { freePort } from './free-port.ts';

export interface TestRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('redis-server is not installed or not on PATH (apt-get install redis-server); Redis tests need it');
  }
  // The port can be taken between probing and binding; a few tries make that race harmless.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline) {
      if (await canConnect(port)) {
        const pid = child.pid!;
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          pid,
          stop: () =>
            new Promise<void>((resolve) => {
              if (exited) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        };
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!exited) child.kill('SIGKILL');
  }
  throw new Error('could not start redis-server on a free loopback port');
}
