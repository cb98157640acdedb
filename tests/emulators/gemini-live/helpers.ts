// Test helpers: the REAL @google/genai SDK as the client, plus caller audio made of tone bursts and silence.
import { GoogleGenAI, type LiveConnectConfig, type LiveServerMessage, Modality, type Session } from '@google/genai';

export const MODEL = 'gemini-2.5-flash-native-audio-preview-12-2025';
export const API_KEY = 'test-key-123';

export const TOOLS = [
  {
    functionDeclarations: [
      {
        name: 'check_order_status',
        description: 'Look up an order',
        parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
      },
      {
        name: 'send_sms',
        description: 'Text the caller',
        parameters: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
      },
      {
        name: 'end_call',
        description: 'Hang up',
        parameters: { type: 'object', properties: { reason: { type: 'string' } } },
      },
    ],
  },
];

export function phoneConfig(extra: Partial<LiveConnectConfig> = {}): LiveConnectConfig {
  return {
    responseModalities: [Modality.AUDIO],
    speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } }, languageCode: 'en-US' },
    systemInstruction: 'You are a helpful phone agent.',
    // The SDK's types want its own Tool shape; the JSON-schema parameters above are what the gateway sends.
    tools: TOOLS as unknown as LiveConnectConfig['tools'],
    inputAudioTranscription: {},
    outputAudioTranscription: {},
    sessionResumption: {},
    contextWindowCompression: { triggerTokens: '25600', slidingWindow: { targetTokens: '12800' } },
    ...extra,
  };
}

export interface Closed {
  code: number;
  reason: string;
}

export class SdkClient {
  readonly messages: LiveServerMessage[] = [];
  session!: Session;
  readonly closed: Promise<Closed>;
  private resolveClosed!: (c: Closed) => void;
  private waiters: Array<() => void> = [];

  constructor() {
    this.closed = new Promise((r) => {
      this.resolveClosed = r;
    });
  }

  static async connect(
    baseUrl: string,
    config: LiveConnectConfig = phoneConfig(),
    opts: { apiKey?: string; model?: string; apiVersion?: string } = {},
  ): Promise<SdkClient> {
    const c = new SdkClient();
    const ai = new GoogleGenAI({
      apiKey: opts.apiKey ?? API_KEY,
      httpOptions: { baseUrl, ...(opts.apiVersion ? { apiVersion: opts.apiVersion } : {}) },
    });
    c.session = await ai.live.connect({
      model: opts.model ?? MODEL,
      config,
      callbacks: {
        onmessage: (m) => {
          c.messages.push(m);
          c.wake();
        },
        onclose: (e) => {
          c.resolveClosed({ code: e.code, reason: e.reason });
          c.wake();
        },
        onerror: () => {},
      },
    });
    return c;
  }

  /**
   * Starts the conversation the way the gateway does: a client text turn. The real models never speak first, and
   * neither does the emulator. `realtime-text` is the only way on 3.1 Flash Live.
   */
  opening(text = 'Hello, I am calling for help.', how: 'client-content' | 'realtime-text' = 'client-content'): void {
    if (how === 'realtime-text') this.session.sendRealtimeInput({ text });
    else this.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text }] }], turnComplete: true });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first message (from index `from`) matching `pred`. */
  async waitFor(pred: (m: LiveServerMessage) => boolean, from = 0, timeoutMs = 10_000): Promise<LiveServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('timed out waiting for a server message');
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitTurnComplete(from = 0): Promise<number> {
    const m = await this.waitFor((x) => x.serverContent?.turnComplete === true, from);
    return this.messages.indexOf(m) + 1;
  }

  audioBytes(from = 0, to = this.messages.length): number {
    let n = 0;
    for (const m of this.messages.slice(from, to)) {
      for (const p of m.serverContent?.modelTurn?.parts ?? []) {
        if (p.inlineData?.data) n += Buffer.from(p.inlineData.data, 'base64').length;
      }
    }
    return n;
  }

  outputText(from = 0, to = this.messages.length): string {
    return this.messages
      .slice(from, to)
      .map((m) => m.serverContent?.outputTranscription?.text ?? '')
      .join('');
  }

  /** The caller's transcript pieces joined; `finished` marks the last piece of an utterance. */
  inputText(from = 0, to = this.messages.length): string {
    return this.messages
      .slice(from, to)
      .map((m) => m.serverContent?.inputTranscription?.text ?? '')
      .join('');
  }

  lastHandle(): string | undefined {
    let h: string | undefined;
    for (const m of this.messages) {
      const u = m.sessionResumptionUpdate;
      if (u?.resumable && u.newHandle) h = u.newHandle;
    }
    return h;
  }

  /** Caller audio at 16 kHz in 20 ms frames, sent as fast as the socket takes it (the emulator's VAD runs on samples). */
  sendAudio(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i += 320) {
      const frame = pcm.subarray(i, Math.min(i + 320, pcm.length));
      const data = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('base64');
      this.session.sendRealtimeInput({ audio: { data, mimeType: 'audio/pcm;rate=16000' } });
    }
  }

  /** A "caller utterance": a tone burst followed by enough silence to end the turn. */
  speak(speechMs = 400, silenceMs = 800): void {
    this.sendAudio(callerUtterance(speechMs, silenceMs));
  }
}

export function callerUtterance(speechMs: number, silenceMs: number, rate = 16_000): Int16Array {
  const n = Math.round((rate * speechMs) / 1000);
  const out = new Int16Array(n + Math.round((rate * silenceMs) / 1000));
  for (let i = 0; i < n; i++) {
    // Two partials with a slow tremolo: energy like voiced speech at about -12 dBFS.
    const t = i / rate;
    const env = 0.75 + 0.25 * Math.sin(2 * Math.PI * 4 * t);
    out[i] = Math.round(8000 * env * (Math.sin(2 * Math.PI * 220 * t) + 0.5 * Math.sin(2 * Math.PI * 660 * t)));
  }
  // Quiet line noise in the "silence", well under the VAD threshold.
  for (let i = n; i < out.length; i++) out[i] = ((i * 7919) % 61) - 30;
  return out;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
