// The Plivo emulator: Plivo's REST API plus a call simulator that drives the gateway over real sockets the way
// Plivo does (signed webhooks, answer XML, the audio stream, hangup callbacks). It is the other party, so it shares
// no code with the gateway's Plivo, audio or call modules.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { childLogger } from '../../log.ts';
import { type CallContext, PlivoCall } from './call.ts';
import { MediaClock } from './media-clock.ts';
import { plivoNumber } from './plivo-values.ts';
import { createRestHandler, type MakeCallRequest, type RestBackend } from './rest.ts';
import type {
  Application,
  InboundCallOptions,
  OutboundBehaviour,
  PlivoEmulator,
  PlivoEmulatorOptions,
  RecordedRequest,
  SentMessage,
  SimulatedCall,
} from './types.ts';

export { PlivoCall } from './call.ts';
export { v3Signature, v3StringToSign } from './signature.ts';
export type * from './types.ts';
export { ulawDecode, ulawEncode } from './ulaw.ts';
export { encodeWav, parseWav } from './wav.ts';

export async function startPlivoEmulator(opts: PlivoEmulatorOptions): Promise<PlivoEmulator & PlivoEmulatorExtras> {
  const emu = new Emulator(opts);
  await emu.listen(opts.host ?? '127.0.0.1', opts.port ?? 0);
  return emu;
}

/** Additions beyond the PlivoEmulator contract. */
export interface PlivoEmulatorExtras {
  /** Calls currently streaming (used by the load benchmark). */
  readonly activeStreams: number;
  /** The same objects as `calls`, with the implementation's extra fields (stats, upgradeStatus…). */
  call(uuid: string): PlivoCall | undefined;
}

interface CallWaiter {
  predicate: (c: SimulatedCall) => boolean;
  resolve: (c: SimulatedCall) => void;
}

const DEFAULT_RING_MS = 50;
const DEFAULT_DETECT_MS = 200;

class Emulator implements PlivoEmulator, PlivoEmulatorExtras, RestBackend {
  readonly authId: string;
  readonly authToken: string;
  readonly faults: PlivoEmulatorOptions['faults'];
  readonly requests: RecordedRequest[] = [];
  readonly messages: SentMessage[] = [];
  readonly calls = new Map<string, SimulatedCall>();
  readonly applications = new Map<string, Application>();
  readonly numbers = new Map<string, string>();
  restBaseUrl = '';

  private readonly opts: PlivoEmulatorOptions;
  private readonly impl = new Map<string, PlivoCall>();
  private readonly clock = new MediaClock();
  private readonly server: Server;
  private readonly ctx: CallContext;
  private waiters: CallWaiter[] = [];
  private closing: Promise<void> | undefined;
  private readonly log = childLogger({ component: 'plivo-emulator' });

  constructor(opts: PlivoEmulatorOptions) {
    if (!opts.authId || !opts.authToken) throw new Error('authId and authToken are required');
    this.opts = opts;
    this.authId = opts.authId;
    this.authToken = opts.authToken;
    this.faults = opts.faults;
    this.server = createServer({ keepAlive: true }, createRestHandler(this));
    this.ctx = {
      authId: opts.authId,
      authToken: opts.authToken,
      clock: this.clock,
      webhookTimeoutMs: opts.webhookTimeoutMs ?? 10_000,
      wsSignatureScheme: opts.wsSignatureScheme ?? 'http',
      onChange: (c) => this.changed(c),
    };
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as AddressInfo;
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        this.restBaseUrl = `http://${h}:${a.port}`;
        this.log.info({ restBaseUrl: this.restBaseUrl }, 'plivo emulator listening');
        resolve();
      });
    });
  }

  get activeStreams(): number {
    return this.clock.size;
  }

  call(uuid: string): PlivoCall | undefined {
    return this.impl.get(uuid);
  }

  async placeInboundCall(o: InboundCallOptions): Promise<SimulatedCall> {
    if (this.closing) throw new Error('emulator is closed');
    let answerUrl = o.answerUrl;
    let answerMethod = o.answerMethod ?? 'POST';
    let hangupUrl = o.hangupUrl;
    if (!answerUrl) {
      const app = this.applications.get(this.numbers.get(plivoNumber(o.to)) ?? '');
      if (!app) throw new Error(`no answerUrl given and no application attached to ${o.to}`);
      answerUrl = app.answer_url;
      answerMethod = app.answer_method === 'GET' ? 'GET' : 'POST';
      hangupUrl ??= app.hangup_url;
    }
    const call = this.newCall({
      callUuid: o.callUuid ?? randomUUID(),
      direction: 'inbound',
      from: o.from,
      to: o.to,
      answerUrl,
      answerMethod,
      hangupUrl,
      signature: o.signature ?? 'valid',
      recordPlayed: o.recordPlayed ?? true,
      idleMedia: o.idleMedia ?? this.opts.idleMedia ?? 'silence',
    });
    call.setStatus('ringing');
    void call.answer(o.audio).catch((err) => call.error(`call flow: ${(err as Error).message}`));
    await call.ready;
    return call;
  }

  waitForCall(predicate: (c: SimulatedCall) => boolean, timeoutMs = 5000): Promise<SimulatedCall> {
    try {
      for (const c of this.calls.values()) if (predicate(c)) return Promise.resolve(c);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const waiter: CallWaiter = {
        predicate,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching call within ${timeoutMs} ms (${this.calls.size} calls)`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(
        [...this.impl.values()].map((c) => c.hangup({ cause: 'NORMAL_CLEARING', source: 'Plivo' }).catch(() => {})),
      );
      this.clock.stop();
      await new Promise<void>((r) => {
        this.server.close(() => r());
        this.server.closeAllConnections();
      });
    })();
    return this.closing;
  }

  // RestBackend

  makeCall(req: MakeCallRequest): string {
    const uuid = randomUUID();
    const call = this.newCall({
      callUuid: uuid,
      direction: 'outbound',
      from: req.from,
      to: req.to,
      answerUrl: req.answerUrl,
      answerMethod: req.answerMethod,
      hangupUrl: req.hangupUrl,
      signature: this.opts.outboundSignature ?? 'valid',
      recordPlayed: this.opts.recordPlayed ?? true,
      idleMedia: this.opts.idleMedia ?? 'silence',
      extraParams: { ALegUUID: uuid, ALegRequestUUID: uuid },
    });
    const behaviour = this.opts.outbound?.(req.to) ?? { kind: 'answer' };
    void this.runOutbound(call, req, behaviour).catch((err) => call.error(`call flow: ${(err as Error).message}`));
    return uuid;
  }

  hangupCall(uuid: string): boolean {
    const call = this.impl.get(uuid);
    if (!call || call.isFinished) return false;
    void call.hangup({ cause: 'NORMAL_CLEARING', source: 'API Request' });
    return true;
  }

  transferCall(uuid: string, alegUrl: string, alegMethod: 'GET' | 'POST'): boolean {
    const call = this.impl.get(uuid);
    if (!call || call.isFinished || call.status !== 'in-progress') return false;
    void call.transfer(alegUrl, alegMethod);
    return true;
  }

  cancelRequest(uuid: string): boolean {
    const call = this.impl.get(uuid);
    if (!call || call.isFinished || (call.status !== 'queued' && call.status !== 'ringing')) return false;
    void call.hangup({ cause: 'ORIGINATOR_CANCEL', source: 'API Request' });
    return true;
  }

  isLive(uuid: string): boolean {
    const call = this.impl.get(uuid);
    return !!call && !call.isFinished && call.status === 'in-progress';
  }

  describeCall(uuid: string): Record<string, unknown> | undefined {
    const c = this.impl.get(uuid);
    if (!c) return undefined;
    const h = c.hangupParams;
    return {
      call_uuid: c.callUuid,
      request_uuid: c.callUuid,
      direction: c.direction,
      call_direction: c.direction,
      from: plivoNumber(c.from),
      to: plivoNumber(c.to),
      from_number: plivoNumber(c.from),
      to_number: plivoNumber(c.to),
      call_status: c.status,
      caller_name: plivoNumber(c.from),
      ...(h
        ? {
            answer_time: h.AnswerTime || null,
            end_time: h.EndTime,
            call_duration: Number(h.Duration),
            bill_duration: Number(h.BillDuration),
            hangup_cause_name: h.HangupCauseName,
            hangup_source: h.HangupSource,
          }
        : {}),
    };
  }

  // internals

  private newCall(setup: ConstructorParameters<typeof PlivoCall>[1]): PlivoCall {
    if (this.impl.has(setup.callUuid)) throw new Error(`duplicate CallUUID ${setup.callUuid}`);
    const call = new PlivoCall(this.ctx, setup);
    this.impl.set(call.callUuid, call);
    this.calls.set(call.callUuid, call);
    this.changed(call);
    return call;
  }

  private changed(call: PlivoCall): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      let match = false;
      try {
        match = w.predicate(call);
      } catch {
        // A predicate that trips over a half-built call simply does not match yet.
      }
      if (!match) return true;
      w.resolve(call);
      return false;
    });
  }

  private async runOutbound(call: PlivoCall, req: MakeCallRequest, b: OutboundBehaviour): Promise<void> {
    await Promise.resolve();
    if (call.isFinished) return;
    const ringMs = b.ringMs ?? DEFAULT_RING_MS;
    if (b.kind === 'busy' || b.kind === 'failed') {
      await delay(call, ringMs);
      const cause = b.kind === 'busy' ? 'USER_BUSY' : 'CALL_REJECTED';
      await call.finish({ cause, source: 'Callee' }, b.kind);
      return;
    }
    call.setStatus('ringing');
    if (req.ringUrl) void call.notify(req.ringUrl, { ...call.baseParams('ringing'), Event: 'Ring' });
    const ringLimitMs = req.ringTimeoutS * 1000;
    if (b.kind === 'no-answer') {
      await delay(call, Math.min(ringMs, ringLimitMs));
      await call.finish({ cause: 'NO_ANSWER', source: 'Callee' }, 'no-answer');
      return;
    }
    await delay(call, ringMs);
    if (call.isFinished) return;
    call.later(req.timeLimitS * 1000, () => {
      void call.hangup({ cause: 'ALLOTTED_TIMEOUT', source: 'Plivo' });
    });
    if (b.kind === 'answer' && b.hangupAfterMs !== undefined) {
      call.later(b.hangupAfterMs, () => {
        void call.hangup({ cause: 'NORMAL_CLEARING', source: 'Callee' });
      });
    }
    const answering = call.answer(b.kind === 'answer' || b.kind === 'machine' ? b.audio : undefined);
    if (req.machineDetection && req.machineDetectionUrl) {
      const isMachine = b.kind === 'machine';
      const detectMs = b.kind === 'machine' ? (b.detectMs ?? DEFAULT_DETECT_MS) : DEFAULT_DETECT_MS;
      const url = req.machineDetectionUrl;
      call.later(detectMs, () => {
        void call
          .notify(url, {
            ...call.baseParams('in-progress'),
            Event: 'MachineDetection',
            Machine: String(isMachine),
            IfMachine: req.machineDetection === 'hangup' ? 'hangup' : 'continue',
          })
          .then(() => {
            if (isMachine && req.machineDetection === 'hangup') {
              return call.hangup({ cause: 'MACHINE_DETECTED', source: 'Plivo' });
            }
          });
      });
    }
    await answering;
  }
}

function delay(call: PlivoCall, ms: number): Promise<void> {
  return new Promise((r) => call.later(ms, r));
}
