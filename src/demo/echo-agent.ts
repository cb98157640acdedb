// A CallRouter for edge tests, the edge load benchmark and the edge stack (src/demo/edge-stack.ts): echoes the caller's audio back (16 kHz → 24 kHz), plays a
// tone per DTMF digit ('*' clears it: barge-in), and records everything the edge told it. Proves audio flows both ways without Gemini.
import type {
  AnswerInfo,
  CallContext,
  CallMediaHandler,
  CallRouter,
  HangupInfo,
  PhoneLeg,
  StreamEndReason,
  StreamStartInfo,
} from '../contract/call.ts';

export interface AgentCall {
  ctx: CallContext;
  leg: PhoneLeg;
  start: StreamStartInfo;
  framesIn: number;
  dtmf: string[];
  played: string[];
  cleared: number;
  ended: StreamEndReason | undefined;
  endedAt: Promise<StreamEndReason>;
}

export interface EchoAgentOptions {
  /** Echo caller audio back (default true). */
  echo?: boolean;
  /** Tone (Hz) played when a digit arrives; undefined: no tone. Default 1000. */
  dtmfToneHz?: number | undefined;
  /** Length of that tone (default 1000 ms). */
  dtmfToneMs?: number;
  /** Added to the context in onAnswer (to check the token carries it). */
  enrich?: (info: AnswerInfo, base: CallContext) => CallContext;
}

export interface EchoAgent extends CallRouter {
  readonly calls: Map<string, AgentCall>;
  readonly answers: AnswerInfo[];
  readonly hangups: HangupInfo[];
  readonly callbacks: Array<{ kind: string; params: Record<string, string> }>;
  closed: boolean;
  waitForCall(callId: string, timeoutMs?: number): Promise<AgentCall>;
}

/** 1 s of a sine at 24 kHz, pushed in 100 ms chunks (faster than real time, like Gemini). */
export function playTone(leg: PhoneLeg, hz: number, ms = 1000, amplitude = 8000): void {
  const chunk = new Int16Array(2400);
  const total = (24000 * ms) / 1000;
  for (let done = 0; done < total; done += chunk.length) {
    const n = Math.min(chunk.length, total - done);
    for (let i = 0; i < n; i++) chunk[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * (done + i)) / 24000));
    leg.playAgentAudio(n === chunk.length ? chunk : chunk.subarray(0, n));
  }
}

export function createEchoAgent(o: EchoAgentOptions = {}): EchoAgent {
  const calls = new Map<string, AgentCall>();
  const waiters = new Map<string, Array<(c: AgentCall) => void>>();
  const echo = o.echo ?? true;
  const toneHz = 'dtmfToneHz' in o ? o.dtmfToneHz : 1000;
  let active = 0;

  const agent: EchoAgent = {
    calls,
    answers: [],
    hangups: [],
    callbacks: [],
    closed: false,
    onAnswer(info, base) {
      agent.answers.push(info);
      return o.enrich ? o.enrich(info, base) : base;
    },
    attachStream(ctx, leg, start): CallMediaHandler {
      let resolveEnd!: (r: StreamEndReason) => void;
      const call: AgentCall = {
        ctx,
        leg,
        start,
        framesIn: 0,
        dtmf: [],
        played: [],
        cleared: 0,
        ended: undefined,
        endedAt: new Promise((r) => {
          resolveEnd = r;
        }),
      };
      calls.set(ctx.callId, call);
      active++;
      for (const w of waiters.get(ctx.callId) ?? []) w(call);
      waiters.delete(ctx.callId);
      // Reused for every frame: 320 samples at 16 kHz → 480 at 24 kHz (linear interpolation, integer maths: the
      // load benchmark runs this for every frame of every call).
      const up = new Int16Array(480);
      return {
        onCallerAudio(pcm16k) {
          call.framesIn++;
          if (!echo) return;
          const n = pcm16k.length & ~1;
          const out = n === 320 ? up : new Int16Array((n * 3) / 2);
          for (let k = 0, j = 0; k < n; k += 2, j += 3) {
            const a = pcm16k[k]!;
            const b = pcm16k[k + 1]!;
            const c = k + 2 < n ? pcm16k[k + 2]! : b;
            out[j] = a;
            out[j + 1] = (a + 2 * b) / 3;
            out[j + 2] = (2 * b + c) / 3;
          }
          leg.playAgentAudio(out);
        },
        onDtmf(digit) {
          call.dtmf.push(digit);
          // '*' is the caller barging in.
          if (digit === '*') {
            leg.clearAgentAudio();
            return;
          }
          if (toneHz === undefined) return;
          playTone(leg, toneHz, o.dtmfToneMs ?? 1000);
          leg.flushAgentAudio();
          leg.checkpoint(`dtmf-${call.dtmf.length}`);
        },
        onPlayed(name) {
          call.played.push(name);
        },
        onCleared() {
          call.cleared++;
        },
        onStreamEnd(reason) {
          call.ended = reason;
          active--;
          resolveEnd(reason);
        },
      };
    },
    onHangup(info) {
      agent.hangups.push(info);
    },
    onCallback(kind, params) {
      agent.callbacks.push({ kind, params });
    },
    activeCalls: () => active,
    async close() {
      agent.closed = true;
    },
    waitForCall(callId, timeoutMs = 5000) {
      const c = calls.get(callId);
      if (c) return Promise.resolve(c);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no stream attached for ${callId}`)), timeoutMs);
        const list = waiters.get(callId) ?? [];
        list.push((call) => {
          clearTimeout(t);
          resolve(call);
        });
        waiters.set(callId, list);
      });
    },
  };
  return agent;
}
