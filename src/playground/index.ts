// The browser playground's server side. A page on GET /playground (src/playground/route.ts) mints a
// playground call here, then speaks Plivo's stream protocol to the real `/stream/<token>` route, so the call takes
// the phone path end to end: stream session, DSP, a CallManager with the Gemini session, tools, call record.
//
// What differs from a phone call, and only here:
// - each playground call gets its own CallManager, so it can run the voice the page chose and a PlivoApi of its
//   own: a simulated phone that shows SMS, transfers and hang-ups in the page and sends nothing to Plivo;
// - there is no Plivo hangup callback, so the end of the stream is turned into one (the record gets its status);
// - call events (transcripts, tools, hang-up) go to the page on a second WebSocket. The media socket carries
//   exactly Plivo's messages, nothing else, so it stays byte-for-byte the protocol a phone call uses.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Call, CallTiming, SessionFactory } from '../calls/call.ts';
import { CallManager } from '../calls/call-manager.ts';
import type { CallEvent } from '../calls/events.ts';
import type { Config } from '../config.ts';
import type {
  CallContext,
  CallMediaHandler,
  CallRouter,
  PhoneLeg,
  StreamEndReason,
  StreamStartInfo,
} from '../contract/call.ts';
import { GatewayError, PlivoApiError } from '../errors.ts';
import { GEMINI_VOICES } from '../gemini/voices.ts';
import { childLogger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import { mintStreamToken } from '../plivo/stream-token.ts';
import type { CallStore } from '../store/types.ts';
import type { ToolDefinition } from '../tools/types.ts';

/** The voices the page offers: the documented list GEMINI_VOICE is checked against (src/gemini/voices.ts). */
export const PLAYGROUND_VOICES = GEMINI_VOICES;

/** The simulated phone's number: +1 555 0100 is reserved for fiction, so nothing real is ever addressed. */
export const SIMULATED_PHONE_NUMBER = '+15555550100';
/** Caller id of every playground call. */
export const PLAYGROUND_CALLER_ID = 'browser';

export const mintRequestSchema = z
  .object({
    prompt: z.enum(['inbound', 'outbound']).default('inbound'),
    voice: z
      .string()
      .refine((v) => PLAYGROUND_VOICES.includes(v), 'must be one of the documented voices')
      .optional(),
    openingReason: z.string().trim().max(300).optional(),
  })
  .strict();
export type MintRequest = z.input<typeof mintRequestSchema>;

export interface MintedCall {
  callId: string;
  /** Path of the Plivo stream WebSocket (the page adds its own ws(s)://host). */
  streamPath: string;
  /** Path of the events WebSocket (needs the playground token as `?token=`). */
  eventsPath: string;
  phoneNumber: string;
  prompt: 'inbound' | 'outbound';
  voice: string;
}

/** What the page receives on the events socket, one JSON object per message. */
export type PageMessage =
  | { type: 'call'; event: CallEvent; at: number }
  | { type: 'phone'; action: 'sms'; from: string; to: string; text: string; at: number }
  | { type: 'phone'; action: 'transfer'; to: string; at: number }
  | { type: 'phone'; action: 'hangup'; at: number }
  | { type: 'ended'; reason: string; recordId: string; at: number };

export interface PlaygroundOptions {
  /** The gateway's configuration; a function when it is known only after listening (the demo stack). */
  config: Config | (() => Config);
  store: CallStore;
  createSession: SessionFactory;
  tools?: readonly ToolDefinition<unknown>[] | undefined;
  timing?: Partial<CallTiming> | undefined;
  /** Concurrent playground calls (minted or live); more are refused with 429. Default 10. */
  maxCalls?: number;
  /** Observers (tests, the demo). */
  onEvent?: ((callId: string, event: CallEvent) => void) | undefined;
  onCallEnded?: ((call: Call) => void) | undefined;
}

const BACKLOG_MAX = 500;

interface Session {
  callId: string;
  prompt: 'inbound' | 'outbound';
  voice: string;
  manager: CallManager | undefined;
  leg: PhoneLeg | undefined;
  sinks: Set<(message: string) => void>;
  /** Messages sent before the page's events socket connected (bounded). */
  backlog: string[];
  hungUpByAgent: boolean;
  streamEnded: boolean;
  startedAt: number;
  expiry: NodeJS.Timeout | undefined;
  endTimer: NodeJS.Timeout | undefined;
}

export class Playground {
  /** The secret that guards the page and its API. */
  readonly token: string;
  /** True when the token was generated here (it is then printed in the start log: nobody else knows it). */
  readonly generatedToken: boolean;
  readonly #opts: PlaygroundOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #log = childLogger({ component: 'playground' });
  #closed = false;

  constructor(opts: PlaygroundOptions) {
    this.#opts = opts;
    const configured = this.#config().playground.token;
    this.token = configured ?? randomBytes(18).toString('base64url');
    this.generatedToken = configured === undefined;
  }

  #config(): Config {
    const c = this.#opts.config;
    return typeof c === 'function' ? c() : c;
  }

  /** Constant-time check of a presented token. */
  checkToken(given: string | undefined): boolean {
    if (!given) return false;
    const a = Buffer.from(given, 'utf8');
    const b = Buffer.from(this.token, 'utf8');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  activeCalls(): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.manager) n += s.manager.activeCalls();
    return n;
  }

  /** Creates a playground call and its signed stream URL. Throws GatewayError (429) when too many are open. */
  mint(raw: unknown): MintedCall {
    if (this.#closed) throw new GatewayError('GW_ERR_INVALID_STATE', 'the playground is shutting down');
    const req = mintRequestSchema.parse(raw);
    if (this.#sessions.size >= (this.#opts.maxCalls ?? 10)) {
      throw new GatewayError('GW_ERR_INVALID_STATE', 'too many playground calls are open', {
        detail: { status: 429 },
      });
    }
    const config = this.#config();
    const callId = `pg-${randomUUID()}`;
    const voice = req.voice ?? config.gemini.voice;
    const ctx: CallContext = {
      callId,
      direction: 'playground',
      from: PLAYGROUND_CALLER_ID,
      to: SIMULATED_PHONE_NUMBER,
    };
    if (req.prompt === 'outbound' && req.openingReason) ctx.openingReason = req.openingReason;
    const token = mintStreamToken(ctx, {
      secret: config.plivo.streamTokenSecret,
      ttlS: config.plivo.streamTokenTtlS,
    });
    const session: Session = {
      callId,
      prompt: req.prompt,
      voice,
      manager: undefined,
      leg: undefined,
      sinks: new Set(),
      backlog: [],
      hungUpByAgent: false,
      streamEnded: false,
      startedAt: Date.now(),
      expiry: undefined,
      endTimer: undefined,
    };
    // A minted call whose page never connects is forgotten when its stream token expires.
    session.expiry = setTimeout(() => {
      if (!session.manager) this.#forget(session);
    }, config.plivo.streamTokenTtlS * 1000);
    session.expiry.unref();
    this.#sessions.set(callId, session);
    this.#log.info({ callId, prompt: req.prompt, voice }, 'playground call minted');
    return {
      callId,
      streamPath: `/stream/${token}`,
      eventsPath: `/playground/events/${callId}`,
      phoneNumber: SIMULATED_PHONE_NUMBER,
      prompt: req.prompt,
      voice,
    };
  }

  /** Connects the page's events socket; returns the detach function, or undefined for an unknown call. */
  attachEvents(callId: string, sink: (message: string) => void): (() => void) | undefined {
    const s = this.#sessions.get(callId);
    if (!s) return undefined;
    for (const m of s.backlog.splice(0)) sink(m);
    s.sinks.add(sink);
    return () => s.sinks.delete(sink);
  }

  /** Puts the playground in front of the gateway's router: playground streams go to their own CallManager. */
  wrapRouter(inner: CallRouter): CallRouter {
    return {
      onAnswer: (info, base) => inner.onAnswer(info, base),
      migrateCalls: async (urlFor) => inner.migrateCalls?.(urlFor),
      streamElsewhere: (callId) => inner.streamElsewhere?.(callId),
      attachStream: (ctx, leg, start) =>
        ctx.direction === 'playground' ? this.#attach(ctx, leg, start) : inner.attachStream(ctx, leg, start),
      onHangup: (info) => inner.onHangup(info),
      onCallback: (kind, params) => inner.onCallback?.(kind, params),
      activeCalls: () => inner.activeCalls() + this.activeCalls(),
      close: async () => {
        await this.close();
        await inner.close();
      },
    };
  }

  #attach(ctx: CallContext, leg: PhoneLeg, start: StreamStartInfo): CallMediaHandler {
    const s = this.#sessions.get(ctx.callId);
    if (!s || s.manager) {
      // A stream token outlives nothing here: an unknown or second stream for a playground call is refused.
      throw new GatewayError('GW_ERR_INVALID_STATE', 'no playground call waits for this stream', {
        callId: ctx.callId,
      });
    }
    clearTimeout(s.expiry);
    const config = this.#config();
    s.leg = leg;
    s.manager = new CallManager({
      config: { ...config, gemini: { ...config.gemini, voice: s.voice } },
      store: this.#opts.store,
      plivoApi: this.#simulatedPhone(s),
      createSession: this.#opts.createSession,
      tools: this.#opts.tools,
      timing: this.#opts.timing,
      onEvent: (callId, event) => {
        this.#send(s, { type: 'call', event, at: Date.now() });
        this.#opts.onEvent?.(callId, event);
      },
      onCallEnded: (call) => {
        this.#send(s, { type: 'ended', reason: call.endReason ?? 'ended', recordId: call.recordId, at: Date.now() });
        this.#opts.onCallEnded?.(call);
        // Let the last messages reach the page, then forget the session.
        s.endTimer = setTimeout(() => this.#forget(s), 1000);
        s.endTimer.unref();
      },
    });
    const handler = s.manager.attachStream({ ...ctx, prompt: s.prompt }, leg, start);
    return {
      onCallerAudio: (pcm) => handler.onCallerAudio(pcm),
      onDtmf: (digit) => handler.onDtmf(digit),
      onPlayed: (name) => handler.onPlayed(name),
      onCleared: () => handler.onCleared(),
      onStreamEnd: (reason) => {
        handler.onStreamEnd(reason);
        this.#streamEnded(s, reason);
      },
    };
  }

  /** No Plivo hangup callback will come for a browser: the end of its stream is the hang-up. */
  #streamEnded(s: Session, reason: StreamEndReason): void {
    if (s.streamEnded) return;
    s.streamEnded = true;
    s.leg = undefined;
    const byAgent = s.hungUpByAgent || reason === 'hangup';
    const manager = s.manager;
    if (!manager) return;
    void Promise.resolve(
      manager.onHangup({
        callId: s.callId,
        status: 'completed',
        hangupCause: byAgent ? 'NORMAL_CLEARING' : 'NORMAL_HANGUP',
        hangupSource: byAgent ? 'API' : 'Caller',
        durationS: Math.round((Date.now() - s.startedAt) / 1000),
        billDurationS: 0,
        answerTime: new Date(s.startedAt).toISOString(),
        endTime: new Date().toISOString(),
        machine: false,
        raw: {},
      }),
    ).catch((err: unknown) => this.#log.warn({ callId: s.callId, err }, 'playground hang-up not recorded'));
  }

  /** The PlivoApi of one playground call: tools act on the page's simulated phone, nothing reaches Plivo. */
  #simulatedPhone(s: Session): PlivoApi {
    const own = (callUuid: string) => {
      if (callUuid !== s.callId) throw new PlivoApiError('not this playground call', 404, { callId: s.callId });
    };
    const refuse = (what: string) =>
      Promise.reject(new PlivoApiError(`${what} is not available in the playground`, 400, { callId: s.callId }));
    return {
      makeCall: () => refuse('placing calls'),
      configureNumber: () => refuse('configuring numbers'),
      hangupCall: async (callUuid) => {
        own(callUuid);
        s.hungUpByAgent = true;
        this.#send(s, { type: 'phone', action: 'hangup', at: Date.now() });
      },
      transferCall: async (callUuid) => {
        own(callUuid);
        const target = this.#config().tools.transferNumber ?? '';
        this.#send(s, { type: 'phone', action: 'transfer', to: `…${target.slice(-4)}`, at: Date.now() });
        // Plivo moves the A leg to the <Dial> XML, which ends the stream; the simulated phone does the same.
        const t = setTimeout(() => s.leg?.close('stop'), 300);
        t.unref();
      },
      sendSms: async (params) => {
        this.#send(s, {
          type: 'phone',
          action: 'sms',
          from: params.src,
          to: params.dst,
          text: params.text,
          at: Date.now(),
        });
        return { messageUuids: [randomUUID()] };
      },
    };
  }

  #send(s: Session, message: PageMessage): void {
    const text = JSON.stringify(message);
    if (s.sinks.size === 0) {
      if (s.backlog.length < BACKLOG_MAX) s.backlog.push(text);
      return;
    }
    for (const sink of s.sinks) sink(text);
  }

  #forget(s: Session): void {
    clearTimeout(s.expiry);
    clearTimeout(s.endTimer);
    if (this.#sessions.get(s.callId) === s) this.#sessions.delete(s.callId);
  }

  /** Ends every playground call (idempotent). */
  async close(): Promise<void> {
    this.#closed = true;
    const managers = [...this.#sessions.values()].flatMap((s) => (s.manager ? [s.manager] : []));
    await Promise.all(managers.map((m) => m.close()));
    for (const s of [...this.#sessions.values()]) this.#forget(s);
  }
}
