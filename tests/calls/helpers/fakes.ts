// In-test fakes of our own interfaces (LiveSession, PhoneLeg) at a non-socket boundary, for unit tests of the call
// logic. End-to-end tests use the real session, edge and emulators.
import type { PhoneLeg, StreamEndReason, StreamStartInfo } from '../../../src/contract/call.ts';
import type { LiveSession, LiveSessionOptions, LiveSessionState, ToolCallResponse } from '../../../src/gemini/types.ts';

export class FakeSession implements LiveSession {
  state: LiveSessionState = 'ready';
  readonly opts: LiveSessionOptions;
  audioFrames = 0;
  readonly toolResponses: ToolCallResponse[] = [];
  readonly texts: string[] = [];
  closed = false;
  /** What resumptionHandle() answers (a resumable point when set). */
  handle: string | undefined;

  resumptionHandle(): string | undefined {
    return this.closed ? undefined : this.handle;
  }

  constructor(opts: LiveSessionOptions) {
    this.opts = opts;
  }

  get events() {
    return this.opts.events;
  }

  sendAudio(_pcm16k: Int16Array): void {
    this.audioFrames++;
  }
  sendToolResponses(responses: ToolCallResponse[]): void {
    this.toolResponses.push(...responses);
  }
  sendText(text: string): void {
    this.texts.push(text);
  }
  ready(): Promise<void> {
    // Still connecting (a first connect that never completes): ready() never settles; onFatal reports the failure.
    return this.state === 'connecting' ? new Promise(() => {}) : Promise.resolve();
  }
  stats() {
    return { reconnects: 0, resumed: 0, fresh: 0, droppedAudioMs: 0 };
  }
  async close(): Promise<void> {
    this.closed = true;
    this.state = 'closed';
  }
}

export function sessionFactory(o: { connecting?: boolean } = {}) {
  const sessions: FakeSession[] = [];
  const create = (_cfg: unknown, opts: LiveSessionOptions) => {
    const s = new FakeSession(opts);
    if (o.connecting) s.state = 'connecting';
    sessions.push(s);
    return s;
  };
  return { sessions, create };
}

export type LegOp =
  | { op: 'play'; samples: number }
  | { op: 'flush' }
  | { op: 'checkpoint'; name: string }
  | { op: 'clear' }
  | { op: 'close'; reason: StreamEndReason };

export class FakeLeg implements PhoneLeg {
  readonly callId: string;
  readonly streamId = 'stream-1';
  readonly format = { encoding: 'mulaw', sampleRate: 8000 } as const;
  readonly ops: LegOp[] = [];
  /** Agent audio queued and not yet "played", ms (the test moves it). */
  pendingMs = 0;

  constructor(callId: string) {
    this.callId = callId;
  }
  playAgentAudio(pcm24k: Int16Array): void {
    this.ops.push({ op: 'play', samples: pcm24k.length });
    this.pendingMs += pcm24k.length / 24;
  }
  flushAgentAudio(): void {
    this.ops.push({ op: 'flush' });
  }
  checkpoint(name: string): void {
    this.ops.push({ op: 'checkpoint', name });
  }
  clearAgentAudio(): void {
    this.ops.push({ op: 'clear' });
    this.pendingMs = 0;
  }
  sendDtmf(): void {}
  pendingPlayoutMs(): number {
    return this.pendingMs;
  }
  close(reason: StreamEndReason): void {
    this.ops.push({ op: 'close', reason });
  }
  checkpoints(): string[] {
    return this.ops.flatMap((o) => (o.op === 'checkpoint' ? [o.name] : []));
  }
}

export function startInfo(callId: string): StreamStartInfo {
  return {
    streamId: 'stream-1',
    callId,
    accountId: 'MA000',
    tracks: ['inbound'],
    format: { encoding: 'mulaw', sampleRate: 8000 },
    extraHeaders: {},
  };
}

export const ms = (n: number) => new Int16Array(n * 24);

export async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
