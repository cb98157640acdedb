// The stream socket opens at once and the replay guard answers after (src/server/stream-route.ts says why: uWS cuts
// some upgrades completed after an await). These tests hold the guard's answer back, over real sockets, and check
// what Plivo's first messages become meanwhile: kept in order and delivered, never delivered for a refused stream,
// and bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAgent, type EchoAgent } from '../../src/demo/echo-agent.ts';
import { CLOSE_CODES } from '../../src/plivo/stream-session.ts';
import { mintStreamToken } from '../../src/plivo/stream-token.ts';
import { createReplayGuard, type ReplayGuard, type StreamClaim } from '../../src/store/replay-guard.ts';
import { CALLER, type Harness, OUR_NUMBER, startHarness, until } from '../plivo/helpers/harness.ts';
import { openSocket, type TestSocket, upgradeStatus } from '../plivo/helpers/ws.ts';

/** The memory guard, with each stream claim's answer held until the test lets it go. */
function heldGuard(): ReplayGuard & { release(): void; pending(): number } {
  const inner = createReplayGuard({ kind: 'memory', nonceTtlS: 60, callTtlS: 600 });
  const waiting: Array<() => void> = [];
  return Object.assign(Object.create(inner) as ReplayGuard, {
    async claimStream(callId: string, slot?: string): Promise<StreamClaim> {
      await new Promise<void>((r) => waiting.push(r));
      return inner.claimStream(callId, slot);
    },
    release() {
      for (const r of waiting.splice(0)) r();
    },
    pending: () => waiting.length,
  });
}

let h: Harness;
let agent: EchoAgent;
let guard: ReturnType<typeof heldGuard>;
beforeAll(async () => {
  agent = createEchoAgent({ echo: false });
  guard = heldGuard();
  h = await startHarness(agent, { gateway: { replayGuard: guard } });
});
afterAll(async () => {
  await h?.close();
});

const token = (callId: string) =>
  mintStreamToken(
    { callId, direction: 'inbound', from: CALLER, to: OUR_NUMBER },
    { secret: h.config.plivo.streamTokenSecret, ttlS: 60 },
  );

function open(callId: string): Promise<{ ws: TestSocket; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = openSocket(`${h.base.replace(/^http/, 'ws')}/stream/${token(callId)}`);
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    ws.on('open', () => resolve({ ws, closed }));
    ws.on('error', reject);
  });
}

const start = (callId: string) =>
  JSON.stringify({
    event: 'start',
    start: {
      callId,
      streamId: `s-${callId}`,
      accountId: 'MA',
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
    },
  });
const media = JSON.stringify({ event: 'media', media: { payload: Buffer.alloc(160, 0xff).toString('base64') } });

describe('stream admission', () => {
  it("holds Plivo's first messages until the replay guard answers, then delivers them in order", async () => {
    const { ws } = await open('adm-1');
    ws.send(start('adm-1'));
    for (let i = 0; i < 25; i++) ws.send(media);
    await until(() => guard.pending() === 1, 2000, 'the claim waiting');
    await new Promise((r) => setTimeout(r, 100));
    expect(agent.calls.has('adm-1')).toBe(false);
    guard.release();
    // The start came first (the call exists with its stream id) and every held frame reached it.
    await until(() => (agent.calls.get('adm-1')?.framesIn ?? 0) >= 25, 3000, 'held media delivered');
    expect(agent.calls.get('adm-1')?.start.streamId).toBe('s-adm-1');
    ws.close();
  });

  it('a refused stream (already served) is closed with 4409 and none of its messages reach the call', async () => {
    const first = await open('adm-2');
    first.ws.send(start('adm-2'));
    guard.release();
    await until(() => agent.calls.has('adm-2'), 3000, 'the genuine stream');
    first.ws.close();
    await first.closed;
    // The genuine stream started and closed: the token has served its stream.
    const framesBefore = agent.calls.get('adm-2')!.framesIn;
    const replay = await open('adm-2');
    replay.ws.send(start('adm-2'));
    for (let i = 0; i < 10; i++) replay.ws.send(media);
    await until(() => guard.pending() === 1, 2000, 'the claim waiting');
    guard.release();
    expect((await replay.closed).code).toBe(CLOSE_CODES.streamReplayed);
    expect(agent.calls.get('adm-2')!.framesIn).toBe(framesBefore);
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    expect(metrics).toMatch(/gateway_errors_total\{kind="stream-replayed"\} [1-9]/);
  });

  it('a second socket for a call waiting on the guard is refused at once (409)', async () => {
    const first = await open('adm-3');
    const status = await upgradeStatus(`${h.base.replace(/^http/, 'ws')}/stream/${token('adm-3')}`);
    expect(status).toBe(409);
    guard.release();
    first.ws.close();
  });

  it('a socket gone before the answer gives the stream back: the retry is served', async () => {
    const gone = await open('adm-4');
    gone.ws.close();
    await gone.closed;
    guard.release();
    await new Promise((r) => setTimeout(r, 100));
    const retry = await open('adm-4');
    retry.ws.send(start('adm-4'));
    guard.release();
    await until(() => agent.calls.has('adm-4'), 3000, 'the retry attached');
    retry.ws.close();
  });

  it('a peer that floods while the guard is slow is closed (1011) with what it sent dropped, bounded', async () => {
    const { ws, closed } = await open('adm-5');
    ws.send(start('adm-5'));
    for (let i = 0; i < 400; i++) ws.send(media);
    const end = await closed;
    expect(end.code).toBe(CLOSE_CODES.internal);
    expect(end.reason).toBe('stream-admission-slow');
    guard.release();
    await new Promise((r) => setTimeout(r, 100));
    expect(agent.calls.has('adm-5')).toBe(false);
  });
});
