import { readFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { describe, expect, it } from 'vitest';
import { loadConfig, PLACEHOLDERS } from '../src/config.ts';
import { emulatorEnv } from '../src/demo/emulator-env.ts';
import { ConfigError } from '../src/errors.ts';

describe('loadConfig', () => {
  it('accepts a complete environment and applies defaults', () => {
    const c = loadConfig(emulatorEnv());
    expect(c.server.port).toBe(8000);
    expect(c.gemini.model).toBe('gemini-2.5-flash-native-audio-preview-12-2025');
    expect(c.gemini.voice).toBe('Kore');
    expect(c.plivo.apiBaseUrl).toBe('https://api.plivo.com');
    expect(c.plivo.streamTokenSecret).toBe('emulator-auth-token');
    expect(Object.isFrozen(c.server)).toBe(true);
  });

  it('lists every problem at once', () => {
    let err: unknown;
    try {
      loadConfig({ SERVER_PORT: 'eighty', PLIVO_PHONE_NUMBER: '555-1234', AUDIO_BACKEND: 'gpu' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const name of [
      'SERVER_PORT',
      'PUBLIC_URL',
      'PLIVO_AUTH_ID',
      'PLIVO_AUTH_TOKEN',
      'PLIVO_PHONE_NUMBER',
      'GEMINI_API_KEY',
      'AUDIO_BACKEND',
    ]) {
      expect(problems).toContain(name);
    }
  });

  it('checks the playout batch against the lead: a multiple of 20 below it', () => {
    expect(loadConfig(emulatorEnv({ PLIVO_PLAYOUT_LEAD_MS: '80', PLIVO_PLAYOUT_BATCH_MS: '40' })).plivo).toMatchObject({
      playoutLeadMs: 80,
      playoutBatchMs: 40,
    });
    for (const [lead, batch] of [
      ['60', '60'],
      ['80', '30'],
    ]) {
      expect(() => loadConfig(emulatorEnv({ PLIVO_PLAYOUT_LEAD_MS: lead!, PLIVO_PLAYOUT_BATCH_MS: batch! }))).toThrow(
        /PLIVO_PLAYOUT_BATCH_MS: must be a multiple of 20/,
      );
    }
  });

  it('reads the V8 heap growth: 50 % by default, 0 for V8 to choose, anything else refused by name', () => {
    expect(loadConfig(emulatorEnv({})).server.heapGrowingPercent).toBe(50);
    expect(loadConfig(emulatorEnv({ V8_HEAP_GROWING_PERCENT: '0' })).server.heapGrowingPercent).toBe(0);
    expect(loadConfig(emulatorEnv({ V8_HEAP_GROWING_PERCENT: '100' })).server.heapGrowingPercent).toBe(100);
    for (const bad of ['fast', '-1', '500', '12.5']) {
      expect(() => loadConfig(emulatorEnv({ V8_HEAP_GROWING_PERCENT: bad }))).toThrow(/V8_HEAP_GROWING_PERCENT/);
    }
  });

  it('reads the quiet uplink settings and keeps the quiet chunk at least one chunk', () => {
    expect(loadConfig(emulatorEnv({})).gemini.uplinkSilence).toEqual({ chunkMs: 200, dbfs: -50, hangoverMs: 1000 });
    expect(
      loadConfig(
        emulatorEnv({
          GEMINI_UPLINK_SILENCE_CHUNK_MS: '400',
          GEMINI_UPLINK_SILENCE_DBFS: '-60',
          GEMINI_UPLINK_SILENCE_HANGOVER_MS: '1500',
        }),
      ).gemini.uplinkSilence,
    ).toEqual({ chunkMs: 400, dbfs: -60, hangoverMs: 1500 });
    // The hangover covers the end-of-speech silence asked of Gemini, plus a chunk.
    expect(loadConfig(emulatorEnv({ GEMINI_VAD_SILENCE_DURATION_MS: '1200' })).gemini.uplinkSilence.hangoverMs).toBe(
      1240,
    );
    expect(() =>
      loadConfig(emulatorEnv({ GEMINI_UPLINK_CHUNK_MS: '100', GEMINI_UPLINK_SILENCE_CHUNK_MS: '60' })),
    ).toThrow(/GEMINI_UPLINK_SILENCE_CHUNK_MS: must be at least GEMINI_UPLINK_CHUNK_MS/);
    for (const [name, value] of [
      ['GEMINI_UPLINK_SILENCE_DBFS', '-10'],
      ['GEMINI_UPLINK_SILENCE_DBFS', 'loud'],
      ['GEMINI_UPLINK_SILENCE_HANGOVER_MS', '0'],
      ['GEMINI_UPLINK_SILENCE_CHUNK_MS', '5000'],
    ] as const) {
      expect(() => loadConfig(emulatorEnv({ [name]: value }))).toThrow(new RegExp(name));
    }
  });

  it('never echoes secrets in its message', () => {
    expect(() => loadConfig(emulatorEnv({ PLIVO_AUTH_TOKEN: '', STATE_STORE: 'redis' }))).toThrow(/REDIS_URL/);
    try {
      loadConfig(emulatorEnv({ GEMINI_API_KEY: 'sekrit', STATE_STORE: 'nope' }));
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('sekrit');
    }
  });

  it('requires Vertex project and location when Vertex is chosen', () => {
    expect(() => loadConfig(emulatorEnv({ GEMINI_API_KEY: '', GOOGLE_GENAI_USE_VERTEXAI: 'true' }))).toThrow(
      /GOOGLE_CLOUD_PROJECT/,
    );
  });
});

describe('GEMINI_VOICE', () => {
  const problemsOf = (env: NodeJS.ProcessEnv): string => {
    try {
      loadConfig(env);
    } catch (e) {
      return (e as ConfigError).problems.join('\n');
    }
    return '';
  };

  it('refuses a wrong-case voice, naming the setting and the right spelling', () => {
    const p = problemsOf(emulatorEnv({ GEMINI_VOICE: 'kore' }));
    expect(p).toMatch(/^GEMINI_VOICE: .*"Kore"/m);
    expect(p).toContain('case-sensitive');
  });

  it('suggests the nearest voice for a typo and lists the known ones for anything else', () => {
    expect(problemsOf(emulatorEnv({ GEMINI_VOICE: 'Zephir' }))).toContain('Did you mean "Zephyr"?');
    const p = problemsOf(emulatorEnv({ GEMINI_VOICE: 'Robot' }));
    expect(p).toContain('GEMINI_VOICE_ALLOW_UNLISTED=true');
    expect(p).toContain('Puck');
  });

  it('accepts every listed voice, and an unlisted one only with the explicit override', () => {
    expect(loadConfig(emulatorEnv({ GEMINI_VOICE: 'Zubenelgenubi' })).gemini.voice).toBe('Zubenelgenubi');
    expect(problemsOf(emulatorEnv({ GEMINI_VOICE: 'Nova' }))).toContain('GEMINI_VOICE');
    expect(loadConfig(emulatorEnv({ GEMINI_VOICE: 'Nova', GEMINI_VOICE_ALLOW_UNLISTED: 'true' })).gemini.voice).toBe(
      'Nova',
    );
    // The override is for new voices, not for a known one in the wrong case.
    expect(problemsOf(emulatorEnv({ GEMINI_VOICE: 'PUCK', GEMINI_VOICE_ALLOW_UNLISTED: 'true' }))).toContain('"Puck"');
  });
});

describe('placeholders from .env.example', () => {
  const example = dotenv.parse(readFileSync(new URL('../.env.example', import.meta.url)));
  /** Every `# KEY=value` line too, as if the user had uncommented the whole file. */
  const uncommented = dotenv.parse(
    readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
      .split('\n')
      .map((l) => l.replace(/^#\s*(?=[A-Z][A-Z0-9_]*=)/, ''))
      .join('\n'),
  );

  const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
    try {
      loadConfig(env);
    } catch (e) {
      return [...(e as ConfigError).problems];
    }
    return [];
  };

  it('refuses .env.example as copied, naming every placeholder at once', () => {
    const problems = problemsOf(example);
    for (const name of ['PLIVO_AUTH_ID', 'PLIVO_AUTH_TOKEN', 'PLIVO_PHONE_NUMBER', 'PUBLIC_URL', 'GEMINI_API_KEY']) {
      expect(problems.find((p) => p.startsWith(`${name}:`) && p.includes('placeholder'))).toBeDefined();
    }
    // The message never echoes the secret-looking values themselves.
    expect(problems.join('\n')).not.toContain('your_gemini_api_key');
  });

  it('refuses the optional placeholders too once uncommented', () => {
    const problems = problemsOf(uncommented);
    for (const name of [...Object.keys(PLACEHOLDERS)].filter((n) => uncommented[n] !== undefined)) {
      expect(problems.find((p) => p.startsWith(`${name}:`) && p.includes('placeholder'))).toBeDefined();
    }
    expect(Object.keys(uncommented)).toContain('STREAM_TOKEN_SECRET');
  });

  it('refuses placeholder shapes that are not in the file', () => {
    const problems = problemsOf(
      emulatorEnv({ PUBLIC_URL: 'https://gw.example.org', PLIVO_AUTH_TOKEN: 'your-token', GEMINI_API_KEY: 'changeme' }),
    ).join('\n');
    expect(problems).toMatch(/^PUBLIC_URL: .*placeholder/m);
    expect(problems).toMatch(/^PLIVO_AUTH_TOKEN: .*placeholder/m);
    expect(problems).toMatch(/^GEMINI_API_KEY: .*placeholder/m);
  });

  it('accepts the test environment (no false positives)', () => {
    expect(problemsOf(emulatorEnv())).toEqual([]);
  });
});

describe('several Gemini credentials', () => {
  it('takes GEMINI_API_KEY first, then GEMINI_API_KEYS, without repeats; labels never contain the key', () => {
    const c = loadConfig(emulatorEnv({ GEMINI_API_KEY: 'key-a', GEMINI_API_KEYS: 'key-b, key-a,,key-c' }));
    expect(c.gemini.credentials.map((x) => x.apiKey)).toEqual(['key-a', 'key-b', 'key-c']);
    expect(c.gemini.apiKey).toBe('key-a');
    for (const cred of c.gemini.credentials) {
      expect(cred.label).toMatch(/^\d+-[0-9a-f]{6}$/);
      expect(cred.label).not.toContain(cred.apiKey);
    }
  });

  it('accepts GEMINI_API_KEYS alone, and Vertex projects with one location', () => {
    expect(loadConfig(emulatorEnv({ GEMINI_API_KEY: '', GEMINI_API_KEYS: 'k1,k2' })).gemini.credentials).toHaveLength(
      2,
    );
    const v = loadConfig(
      emulatorEnv({
        GEMINI_API_KEY: '',
        GOOGLE_GENAI_USE_VERTEXAI: 'true',
        GOOGLE_CLOUD_PROJECTS: 'proj-a,proj-b',
        GOOGLE_CLOUD_LOCATION: 'us-central1',
        GEMINI_MAX_SESSIONS_PER_CREDENTIAL: '1000',
      }),
    );
    expect(v.gemini.credentials.map((x) => [x.project, x.location, x.vertexai])).toEqual([
      ['proj-a', 'us-central1', true],
      ['proj-b', 'us-central1', true],
    ]);
    expect(v.gemini.maxSessionsPerCredential).toBe(1000);
  });
});
