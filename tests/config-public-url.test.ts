import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { emulatorEnv } from '../src/demo/emulator-env.ts';

describe('PUBLIC_URL scheme', () => {
  it.each(['https://voice.acme-shop.io', 'http://127.0.0.1:8000', 'http://localhost:8000', 'http://[::1]:8000'])(
    'accepts %s',
    (url) => {
      expect(loadConfig(emulatorEnv({ PUBLIC_URL: url })).server.publicUrl).toBe(url);
    },
  );

  it.each(['http://voice.example.com', 'http://10.0.0.5:8000', 'ftp://voice.example.com'])(
    'refuses %s, naming the setting and why',
    (url) => {
      expect(() => loadConfig(emulatorEnv({ PUBLIC_URL: url }))).toThrow(/PUBLIC_URL: must be an https:\/\/ URL/);
    },
  );
});
