// Against the real Gemini Live API, only when GEMINI_API_KEY is set (a real key); skipped otherwise, with the
// reason in the title. Each test checks something the Gemini emulator imitates (src/emulators/gemini-live/README.md).
import { describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { checkGemini } from '../../src/doctor/doctor.ts';
import { createGenAIClient } from '../../src/gemini/client.ts';

const key = (process.env.GEMINI_API_KEY ?? '').trim();
const enabled = key !== '';
const title = enabled
  ? 'real Gemini Live'
  : 'real Gemini Live (skipped: GEMINI_API_KEY is not set; export a real key to run these)';

function config(over: Record<string, string> = {}): Config {
  const env: Record<string, string> = { GEMINI_API_KEY: key, ...over };
  for (const name of ['GEMINI_MODEL', 'GEMINI_VOICE'] as const) {
    const v = process.env[name];
    if (v && env[name] === undefined) env[name] = v;
  }
  return loadConfig(emulatorEnv(env));
}

/** Connects with the raw SDK (our transport), so the test can send exactly what it wants. */
async function connect(c: Config, voice: string, onAudio: () => void = () => {}) {
  const client = createGenAIClient({ ...c.gemini, apiKey: c.gemini.apiKey });
  return client.live.connect({
    model: c.gemini.model,
    config: {
      responseModalities: ['AUDIO' as never],
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: voice } } },
    },
    callbacks: {
      onmessage: (m: { serverContent?: { modelTurn?: { parts?: { inlineData?: unknown }[] } } }) => {
        if (m.serverContent?.modelTurn?.parts?.some((p) => p.inlineData !== undefined)) onAudio();
      },
    },
  });
}

describe.skipIf(!enabled)(title, () => {
  it('greets after the opening turn and answers a spoken line (the doctor check)', async () => {
    const r = await checkGemini(config(), { audioTimeoutMs: 20_000 });
    expect(r.timings.connectMs).toBeGreaterThan(0);
    process.stdout.write(`${r.line}\n`);
  }, 60_000);

  it('says nothing before the client does (why the gateway sends an opening turn)', async () => {
    let audio = 0;
    const c = config();
    const s = await connect(c, c.gemini.voice, () => audio++);
    await new Promise((r) => setTimeout(r, 6000));
    s.close();
    expect(audio).toBe(0);
  }, 30_000);

  it('closes 1007 on a wrong-case voice name', async () => {
    const c = config();
    await expect(connect(c, c.gemini.voice.toLowerCase())).rejects.toThrow(/code 1007/);
  }, 30_000);

  it('closes 1008 on an invalid key', async () => {
    const c = config({ GEMINI_API_KEY: 'AIzaSyInvalidKeyForTheLiveTest000000000' });
    await expect(connect(c, c.gemini.voice)).rejects.toThrow(/code 1008/);
  }, 30_000);
});
