import { describe, expect, it } from 'vitest';
import { loadConfig, testEnv } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';

describe('loadConfig', () => {
  it('accepts a complete environment and applies defaults', () => {
    const c = loadConfig(testEnv());
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

  it('never echoes secrets in its message', () => {
    expect(() => loadConfig(testEnv({ PLIVO_AUTH_TOKEN: '', STATE_STORE: 'redis' }))).toThrow(/REDIS_URL/);
    try {
      loadConfig(testEnv({ GEMINI_API_KEY: 'sekrit', STATE_STORE: 'nope' }));
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('sekrit');
    }
  });

  it('requires Vertex project and location when Vertex is chosen', () => {
    expect(() => loadConfig(testEnv({ GEMINI_API_KEY: '', GOOGLE_GENAI_USE_VERTEXAI: 'true' }))).toThrow(
      /GOOGLE_CLOUD_PROJECT/,
    );
  });
});
