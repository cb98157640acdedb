import { describe, expect, it } from 'vitest';
import { describeGeminiClose, explainGeminiClose, isQuotaClose } from '../../src/gemini/close-reasons.ts';

// Close texts as the real service sends them (research gemini-live.md §1.4; the emulator's close-codes.ts).
const QUOTA =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, he';

describe('explainGeminiClose', () => {
  it.each([
    [1007, 'Request contains an invalid argument.', 'invalid-argument', 'GEMINI_VOICE'],
    [1007, 'API key expired. Please renew the API key.', 'api-key-expired', 'GEMINI_API_KEY'],
    [
      1008,
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key",
      'api-key',
      'GEMINI_API_KEY',
    ],
    [1008, 'Operation is not implemented, or supported, or enabled.', 'model-or-api', 'GEMINI_MODEL'],
    [1008, 'The operation was aborted.', 'tool-call-audio', 'TOOL_TIMEOUT_MS'],
    [1011, QUOTA, 'quota', 'GEMINI_API_KEYS'],
    [1011, 'Deadline expired before operation could complete.', 'deadline', undefined],
    [1011, 'Internal error occurred.', 'service', undefined],
    [1011, 'The service is currently unavailable.', 'service', undefined],
    [1008, '', 'api-key', 'GEMINI_API_KEY'],
  ] as const)('%i "%s" → %s', (code, reason, cause, setting) => {
    const e = explainGeminiClose(code, reason);
    expect(e.cause).toBe(cause);
    if (setting === undefined) expect(e.check).toEqual([]);
    else expect(e.check).toContain(setting);
  });

  it('says what a bare 1007 most likely is and which setting to check, in one line', () => {
    const line = describeGeminiClose(1007, 'Request contains an invalid argument.');
    expect(line).toMatch(/^1007 "Request contains an invalid argument\.": .*voice.*\(check GEMINI_VOICE/);
  });

  it('treats only 1011 with the quota text as a quota close', () => {
    expect(isQuotaClose(1011, QUOTA)).toBe(true);
    expect(isQuotaClose(1011, 'Internal error occurred.')).toBe(false);
    expect(isQuotaClose(1007, QUOTA)).toBe(false);
    expect(isQuotaClose(undefined, undefined)).toBe(false);
  });

  it('never throws on odd input', () => {
    expect(explainGeminiClose(4000, '').cause).toBe('unknown');
    expect(explainGeminiClose(1006, '').meaning).toContain('network');
    expect(explainGeminiClose(1000, '').cause).toBe('normal');
  });
});
