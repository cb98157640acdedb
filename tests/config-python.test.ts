// A .env written for the Python example (shared/seed) either works or stops the start, naming each setting to
// change: none of its settings is ignored silently.
import { describe, expect, it } from 'vitest';
import { loadConfig, PYTHON_SETTINGS_REFUSED } from '../src/config.ts';
import { emulatorEnv } from '../src/demo/emulator-env.ts';
import { ConfigError } from '../src/errors.ts';

describe('settings of the Python example', () => {
  it('takes SYSTEM_PROMPT as the inline inbound prompt and DEFAULT_COUNTRY_CODE in both of its forms', () => {
    const c = loadConfig(emulatorEnv({ SYSTEM_PROMPT: '  You are a helpful agent.  ', DEFAULT_COUNTRY_CODE: '+44' }));
    expect(c.gemini.inboundPromptText).toBe('You are a helpful agent.');
    expect(c.outbound.defaultCountry).toEqual({ callingCode: '44' });
    expect(loadConfig(emulatorEnv({ DEFAULT_COUNTRY_CODE: 'us' })).outbound.defaultCountry).toEqual({ country: 'US' });
    expect(loadConfig(emulatorEnv()).outbound.defaultCountry).toBeUndefined();
  });

  it('refuses the ones it has no use for, naming what to set instead, all at once', () => {
    let err: unknown;
    try {
      loadConfig(emulatorEnv({ VAD_CONFIDENCE: '0.5', DEFAULT_COUNTRY_CODE: 'nowhere' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).problems.join('\n');
    expect(text).toMatch(/VAD_CONFIDENCE: not used by this gateway: .*GEMINI_VAD_START_SENSITIVITY/);
    expect(text).toMatch(/DEFAULT_COUNTRY_CODE: must be a calling code/);
    expect(Object.keys(PYTHON_SETTINGS_REFUSED)).toContain('VAD_CONFIDENCE');
  });
});

describe('DEFAULT_COUNTRY_CODE in the outbound API', () => {
  it('reads numbers without + in the default country, and international ones as before', async () => {
    const { toE164 } = await import('../src/outbound/phone.ts');
    const { requestSchemas } = await import('../src/outbound/schemas.ts');
    expect(toE164('(415) 555-0111', { callingCode: '1' })).toBe('+14155550111');
    expect(toE164('07911 123456', { country: 'GB' })).toBe('+447911123456');
    expect(toE164('14155550111', { callingCode: '44' })).toBe('+14155550111'); // not British: international
    expect(toE164('4155550111')).toBeUndefined(); // no default: the + is required in spirit (no such country code)
    const { call } = requestSchemas(loadConfig(emulatorEnv({ DEFAULT_COUNTRY_CODE: '1' })).outbound.defaultCountry);
    expect(call.parse({ phone_number: '415-555-0111' }).phone_number).toBe('+14155550111');
  });
});
