import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { buildLiveConnectConfig, buildResumeContext, parseDurationMs } from '../../src/gemini/setup.ts';
import type { ToolDeclaration } from '../../src/gemini/types.ts';

const gemini = (env: Record<string, string> = {}) => loadConfig(emulatorEnv(env)).gemini;

const tool: ToolDeclaration = {
  name: 'lookup_order',
  description: 'Find an order',
  parameters: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
};

describe('buildLiveConnectConfig', () => {
  it('builds the phone-agent config with defaults', () => {
    const cfg = buildLiveConnectConfig(gemini(), { systemPrompt: 'You are a phone agent.', tools: [tool] });
    expect(cfg).toEqual({
      responseModalities: ['AUDIO'],
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } },
      systemInstruction: 'You are a phone agent.',
      tools: [
        {
          functionDeclarations: [
            {
              name: 'lookup_order',
              description: 'Find an order',
              parameters: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] },
            },
          ],
        },
      ],
      inputAudioTranscription: {},
      outputAudioTranscription: {},
      realtimeInputConfig: {
        automaticActivityDetection: { disabled: false },
        activityHandling: 'START_OF_ACTIVITY_INTERRUPTS',
      },
      sessionResumption: {},
      contextWindowCompression: { slidingWindow: {} },
    });
  });

  it('maps VAD tuning, voice and compression trigger from the environment', () => {
    const cfg = buildLiveConnectConfig(
      gemini({
        GEMINI_VOICE: 'Puck',
        GEMINI_VAD_START_SENSITIVITY: 'LOW',
        GEMINI_VAD_END_SENSITIVITY: 'HIGH',
        GEMINI_VAD_PREFIX_PADDING_MS: '40',
        GEMINI_VAD_SILENCE_DURATION_MS: '700',
        GEMINI_COMPRESSION_TRIGGER_TOKENS: '25600',
      }),
      { systemPrompt: 'x', tools: [] },
    );
    expect(cfg.speechConfig).toEqual({ voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Puck' } } });
    expect(cfg.realtimeInputConfig).toEqual({
      automaticActivityDetection: {
        disabled: false,
        startOfSpeechSensitivity: 'START_SENSITIVITY_LOW',
        endOfSpeechSensitivity: 'END_SENSITIVITY_HIGH',
        prefixPaddingMs: 40,
        silenceDurationMs: 700,
      },
      activityHandling: 'START_OF_ACTIVITY_INTERRUPTS',
    });
    expect(cfg.contextWindowCompression).toEqual({ triggerTokens: '25600', slidingWindow: {} });
    expect(cfg.tools).toBeUndefined();
  });

  it('puts the resumption handle in when resuming', () => {
    const cfg = buildLiveConnectConfig(gemini(), { systemPrompt: 'x', tools: [], resumeHandle: 'h-42' });
    expect(cfg.sessionResumption).toEqual({ handle: 'h-42' });
  });

  it('omits an empty system prompt', () => {
    expect(buildLiveConnectConfig(gemini(), { systemPrompt: '  ', tools: [] }).systemInstruction).toBeUndefined();
  });

  it('returns new objects each time, so the SDK editing one in place cannot touch the tool registry', () => {
    const a = buildLiveConnectConfig(gemini(), { systemPrompt: 'x', tools: [tool] });
    const decl = a.tools?.[0] as { functionDeclarations: { parameters: Record<string, unknown> }[] };
    decl.functionDeclarations[0]!.parameters.type = 'OBJECT';
    expect(tool.parameters.type).toBe('object');
    const b = buildLiveConnectConfig(gemini(), { systemPrompt: 'x', tools: [tool] });
    expect(b).not.toBe(a);
  });
});

describe('buildResumeContext', () => {
  it('wraps the transcript in one user turn with an instruction to continue', () => {
    const turns = buildResumeContext('Caller: hi\nAgent: hello');
    expect(turns).toHaveLength(1);
    expect(turns?.[0]?.role).toBe('user');
    const text = turns?.[0]?.parts?.[0]?.text ?? '';
    expect(text).toContain('Continue');
    expect(text.endsWith('Caller: hi\nAgent: hello')).toBe(true);
  });

  it('returns undefined for an empty transcript', () => {
    expect(buildResumeContext('')).toBeUndefined();
    expect(buildResumeContext(' \n ')).toBeUndefined();
  });

  it('keeps the end of a transcript that is too long', () => {
    const long = `${'a'.repeat(1000)}THE END`;
    const text = buildResumeContext(long, 100)?.[0]?.parts?.[0]?.text ?? '';
    expect(text.endsWith('THE END')).toBe(true);
    expect(text).not.toContain('a'.repeat(101));
  });
});

describe('parseDurationMs', () => {
  it('parses protobuf durations', () => {
    expect(parseDurationMs('50s')).toBe(50_000);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('0.250s')).toBe(250);
    expect(parseDurationMs(2)).toBe(2000);
  });

  it('rejects bad data', () => {
    for (const bad of ['', 's', '10', '-1s', '1m', 'abc', null, undefined, {}, [], Number.NaN, -5]) {
      expect(parseDurationMs(bad)).toBeUndefined();
    }
  });
});
