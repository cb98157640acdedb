// Gemini Live (BidiGenerateContent) emulator: the other party of the gateway's Gemini leg, close enough to the real
// service that the real @google/genai SDK cannot tell. It imports nothing from the gateway (a shared bug would pass
// every test) except the logger.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { childLogger } from '../../log.ts';
import { CLOSE, type CloseSpec } from './close-codes.ts';
import { HandleStore } from './conversation.ts';
import { Budget } from './faults.ts';
import { KNOWN_MODELS } from './profiles.ts';
import { loadScenario } from './scenario.ts';
import { EmulatedSessionImpl, type SessionContext } from './session.ts';
import { renderAudio } from './speech.ts';
import type { EmulatedSession, GeminiLiveEmulator, GeminiLiveEmulatorOptions } from './types.ts';
import { createSocketServer } from './ws-server.ts';

export { CLOSE } from './close-codes.ts';
export type { SilentTurnAudio } from './faults.ts';
export { KNOWN_MODELS, MODEL_PROFILES, type ModelProfile, profileFor } from './profiles.ts';
export type { AudioSpec, ParsedScenario, Scenario, ToolCallSpec, Trigger, Turn } from './scenario.ts';
export { loadScenario, parseScenario, ScenarioSchema } from './scenario.ts';
export { KNOWN_VOICES } from './setup-check.ts';
export { hasEspeak, OUTPUT_RATE, syntheticSpeech } from './speech.ts';
export type {
  EmulatedSession,
  EmulatedSessionEvent,
  EmulatedToolCall,
  GeminiLiveEmulator,
  GeminiLiveEmulatorOptions,
  ReceivedMessage,
} from './types.ts';
export { decodeWav, encodeWav } from './wav.ts';

const TWO_HOURS = 2 * 60 * 60 * 1000;
const TEN_MINUTES = 10 * 60 * 1000;

interface Route {
  apiVersion: string;
  key: string | undefined;
}

/** The SDK requests `//ws/google.ai…` (double slash): `new URL` would read "ws" as a host, so split by hand. */
function route(req: IncomingMessage): Route | undefined {
  const raw = req.url ?? '';
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q)).replace(/\/{2,}/g, '/');
  if (!path.includes('BidiGenerateContent')) return undefined;
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const header = req.headers['x-goog-api-key'];
  const key = params.get('key') ?? params.get('access_token') ?? (typeof header === 'string' ? header : undefined);
  const version = /\.(v\d+(?:alpha|beta)?\d*)\./.exec(path)?.[1] ?? 'v1beta';
  return { apiVersion: version, key: key ?? undefined };
}

class Emulator extends EventEmitter implements GeminiLiveEmulator {
  readonly sessions: EmulatedSession[] = [];
  baseUrl = '';
  port = 0;
  private readonly impls: EmulatedSessionImpl[] = [];
  private readonly server: Server;
  private readonly wss = createSocketServer(16 * 1024 * 1024);
  private readonly opts: GeminiLiveEmulatorOptions;
  private readonly ctx: SessionContext;
  private refusalsLeft: number;
  private dropsLeft: number;
  private lifetimesUsed = 0;
  private closing: Promise<void> | undefined;
  private readonly silentTurns: Budget;
  private readonly setupStalls: Budget;
  private quotaExceeded = false;
  private admitted = 0;
  private readonly openPerKey = new Map<string, number>();

  constructor(opts: GeminiLiveEmulatorOptions) {
    super();
    this.opts = opts;
    const notFound: RequestListener = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 404, message: 'Not found.', status: 'NOT_FOUND' } }));
    };
    // https.Server extends tls.Server, not http.Server, but has the same listen/upgrade/close surface used here.
    this.server = opts.tls ? (createTlsServer(opts.tls, notFound) as unknown as Server) : createServer(notFound);
    const { scenario, baseDir } = loadScenario(opts.scenario);
    const f = opts.faults ?? {};
    this.refusalsLeft = f.refuseConnections ?? 0;
    this.dropsLeft = f.dropAfterMs !== undefined ? (f.dropCount ?? 1) : 0;
    const speedup = opts.timing?.speedup ?? 1;
    if (!(speedup > 0)) throw new Error('timing.speedup must be > 0');
    const chunkMs = opts.timing?.chunkMs ?? 40;
    if (!(chunkMs >= 5 && chunkMs <= 2000)) throw new Error('timing.chunkMs must be within 5..2000');
    const connectionMs = opts.limits?.connectionMs ?? TEN_MINUTES;
    const goAwayLeadMs = opts.limits?.goAwayLeadMs ?? 60_000;
    if (!(connectionMs >= 0) || !(goAwayLeadMs >= 0)) throw new Error('limits must be >= 0');
    const silentTurnAudio = f.silentTurnAudio ?? 'none';
    if (silentTurnAudio !== 'none' && silentTurnAudio !== 'near-zero') {
      throw new Error('faults.silentTurnAudio must be none or near-zero');
    }
    this.silentTurns = new Budget(f.silentTurns);
    this.setupStalls = new Budget(f.setupNeverCompletes);
    this.ctx = {
      scenario,
      baseDir,
      scenarioRoutes: (opts.scenarioRoutes ?? []).map((r) => {
        if (r.systemInstructionIncludes === '') throw new Error('scenarioRoutes: systemInstructionIncludes is empty');
        return { needle: r.systemInstructionIncludes, ...loadScenario(r.scenario) };
      }),
      speech: opts.speech ?? scenario.speech,
      models: opts.model !== undefined ? [opts.model] : (opts.models ?? KNOWN_MODELS),
      handles: new HandleStore(opts.resumption?.handleTtlMs ?? TWO_HOURS),
      log: childLogger({ component: 'gemini-live-emulator', scenario: scenario.name }),
      timing: { realtime: opts.timing?.realtime ?? true, chunkMs, speedup, leadMs: opts.timing?.leadMs ?? 300 },
      vad: { ...opts.vad },
      faults: {
        refuseResumption: f.refuseResumption ?? false,
        setupDelayMs: f.setupDelayMs ?? 0,
        abortOnAudioDuringToolCall: f.abortOnAudioDuringToolCall ?? false,
        silentAfterGoAway: f.silentAfterGoAway ?? false,
        silentTurnAudio,
        takeSilentTurn: () => this.silentTurns.take(),
        takeSetupStall: () => this.setupStalls.take(),
      },
      limits: { connectionMs, goAwayLeadMs },
      resumption: {
        rejectWhileConnected: opts.resumption?.rejectWhileConnected ?? true,
        updateEveryMs: opts.resumption?.updateEveryMs ?? 10_000,
      },
      binaryFrames: (opts.serverFrames ?? 'binary') === 'binary',
      setupTimeoutMs: opts.setupTimeoutMs ?? 10_000,
      record: opts.record ?? true,
      takeLifetimeSlot: () => {
        const n = scenario.lifetime?.connections;
        if (n === undefined) return true;
        if (this.lifetimesUsed >= n) return false;
        this.lifetimesUsed++;
        return true;
      },
      takeDropSlot: () => {
        if (this.dropsLeft <= 0 || f.dropAfterMs === undefined) return undefined;
        this.dropsLeft--;
        return f.dropAfterMs;
      },
    };
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.baseUrl = `${this.opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
    this.warmUp();
    this.ctx.log.info({ baseUrl: this.baseUrl }, 'gemini live emulator listening');
  }

  /** Renders the scenario's static turns in the background so that the first answers are not late. */
  private warmUp(): void {
    for (const t of this.ctx.scenario.turns) {
      if (t.text.includes('{{')) continue;
      renderAudio(t.audio, t.text, {
        mode: this.ctx.speech,
        voice: this.ctx.scenario.voice,
        baseDir: this.ctx.baseDir,
      }).catch(() => {});
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const r = this.closing ? undefined : route(req);
    if (!r) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const s = new EmulatedSessionImpl(ws, this.impls.length, r.apiVersion, this.ctx);
      this.impls.push(s);
      this.sessions.push(s);
      s.start(this.admit(r, s));
      this.emit('session', s);
    });
  }

  /** Key, capacity and quota decisions at upgrade time; undefined admits the connection. */
  private admit(r: Route, s: EmulatedSessionImpl): CloseSpec | undefined {
    // A wrong key is refused like a missing one (research §1.4: 1008 for a missing or invalid key).
    if (this.opts.apiKey !== undefined && r.key !== this.opts.apiKey) return CLOSE.missingApiKey;
    if (this.refusalsLeft > 0) {
      this.refusalsLeft--;
      return CLOSE.unavailable;
    }
    const quotaAfter = this.opts.faults?.quotaAfterSessions;
    if (this.quotaExceeded || (quotaAfter !== undefined && this.admitted >= quotaAfter)) return CLOSE.quota;
    const key = r.key ?? '';
    const open = this.openPerKey.get(key) ?? 0;
    const cap = this.opts.limits?.maxSessionsPerKey;
    // Not documented for the Developer API; quota is the close the service gives when a limit is hit.
    if (cap !== undefined && open >= cap) return CLOSE.quota;
    this.admitted++;
    this.openPerKey.set(key, open + 1);
    s.closed.then(() => {
      const n = (this.openPerKey.get(key) ?? 1) - 1;
      if (n <= 0) this.openPerKey.delete(key);
      else this.openPerKey.set(key, n);
    });
    return undefined;
  }

  setQuotaExceeded(on: boolean): void {
    this.quotaExceeded = on;
  }

  silenceTurns(n: number): void {
    this.silentTurns.add(n);
  }

  nextSession(index?: number): Promise<EmulatedSession> {
    const existing = index === undefined ? undefined : this.sessions[index];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve) => {
      const on = (s: EmulatedSession): void => {
        if (index !== undefined && s.index !== index) return;
        this.off('session', on);
        resolve(s);
      };
      this.on('session', on);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const s of this.impls) s.shutdown();
      const all = Promise.all(this.impls.map((s) => s.closed));
      await Promise.race([all, new Promise((r) => setTimeout(r, 2_500).unref())]);
      for (const c of this.wss.clients) c.terminate();
      this.wss.close();
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
      this.ctx.handles.clear();
    })();
    return this.closing;
  }
}

export async function startGeminiLiveEmulator(opts: GeminiLiveEmulatorOptions): Promise<GeminiLiveEmulator> {
  const emu = new Emulator(opts);
  await emu.listen();
  return emu;
}
