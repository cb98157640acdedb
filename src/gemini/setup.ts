// Pure builders for what we send at connect time: the LiveConnectConfig (the SDK turns it into the `setup` message)
// and the context message of a fresh reconnect. No I/O, so the exact fields are unit-tested.
import {
  ActivityHandling,
  type AutomaticActivityDetection,
  type Content,
  EndSensitivity,
  type FunctionDeclaration,
  type LiveConnectConfig,
  Modality,
  type Schema,
  StartSensitivity,
} from '@google/genai';
import type { Config } from '../config.ts';
import type { ToolDeclaration } from './types.ts';

export interface SetupInput {
  systemPrompt: string;
  tools: readonly ToolDeclaration[];
  /** Resume the session this handle belongs to; a fresh session when undefined. */
  resumeHandle?: string | undefined;
}

/**
 * A new object on every call: the SDK rewrites `tools` (and their schemas) in place while converting, so a config
 * must never be reused across connects (upstream quirk in @google/genai 3.3's Live converters; no upstream issue
 * filed). Keep this even if the SDK stops mutating: a fresh config per connect costs nothing measurable.
 */
export function buildLiveConnectConfig(config: Config['gemini'], input: SetupInput): LiveConnectConfig {
  const vad: AutomaticActivityDetection = { disabled: false };
  if (config.vad.startSensitivity !== undefined) {
    vad.startOfSpeechSensitivity =
      config.vad.startSensitivity === 'HIGH'
        ? StartSensitivity.START_SENSITIVITY_HIGH
        : StartSensitivity.START_SENSITIVITY_LOW;
  }
  if (config.vad.endSensitivity !== undefined) {
    vad.endOfSpeechSensitivity =
      config.vad.endSensitivity === 'HIGH' ? EndSensitivity.END_SENSITIVITY_HIGH : EndSensitivity.END_SENSITIVITY_LOW;
  }
  if (config.vad.prefixPaddingMs !== undefined) vad.prefixPaddingMs = config.vad.prefixPaddingMs;
  if (config.vad.silenceDurationMs !== undefined) vad.silenceDurationMs = config.vad.silenceDurationMs;

  const live: LiveConnectConfig = {
    responseModalities: [Modality.AUDIO],
    speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: config.voice } } },
    inputAudioTranscription: {},
    outputAudioTranscription: {},
    realtimeInputConfig: {
      automaticActivityDetection: vad,
      activityHandling: ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
    },
    // Always on, also for a fresh session: it is what makes the server send resumption handles.
    sessionResumption: input.resumeHandle === undefined ? {} : { handle: input.resumeHandle },
    // Without compression an audio session ends at about 15 minutes; the sliding window removes that limit.
    contextWindowCompression:
      config.compressionTriggerTokens === undefined
        ? { slidingWindow: {} }
        : { triggerTokens: String(config.compressionTriggerTokens), slidingWindow: {} },
  };
  if (input.systemPrompt.trim() !== '') live.systemInstruction = input.systemPrompt;
  if (input.tools.length > 0) live.tools = [{ functionDeclarations: input.tools.map(toFunctionDeclaration) }];
  return live;
}

function toFunctionDeclaration(tool: ToolDeclaration): FunctionDeclaration {
  return {
    name: tool.name,
    description: tool.description,
    // JSON Schema; the SDK converts it to its Schema dialect (upper-case types). Cloned: the SDK edits it in place.
    parameters: structuredClone(tool.parameters) as Schema,
  };
}

/** Bounded so a long call cannot produce a frame the service rejects. */
export const DEFAULT_MAX_CONTEXT_CHARS = 24_000;

const CONTEXT_PREAMBLE =
  'Note for the assistant: the connection to this phone call was lost and has just been re-established, and you ' +
  'lost your memory of the conversation. This is the conversation so far. Continue it from where it stopped: do ' +
  'not greet the caller again and do not repeat what you already said; if you were in the middle of an answer, ' +
  'finish it briefly when the caller speaks next.';

/**
 * The turns sent (with turnComplete false, so the model waits for the caller instead of talking over them) after
 * a fresh reconnect. Undefined when there is nothing to restore.
 */
export function buildResumeContext(transcript: string, maxChars = DEFAULT_MAX_CONTEXT_CHARS): Content[] | undefined {
  const text = contextText(transcript, maxChars);
  if (text === undefined) return undefined;
  return [{ role: 'user', parts: [{ text }] }];
}

/**
 * The same context for models that refuse mid-session `clientContent` (profile `context: 'system-instruction'`):
 * the system prompt with the conversation so far appended, for the fresh session's setup.
 */
export function buildContextInstruction(
  systemPrompt: string,
  transcript: string,
  maxChars = DEFAULT_MAX_CONTEXT_CHARS,
): string {
  const text = contextText(transcript, maxChars);
  if (text === undefined) return systemPrompt;
  return `${systemPrompt.trimEnd()}\n\n# Conversation so far\n\n${text}\n`;
}

function contextText(transcript: string, maxChars: number): string | undefined {
  let text = transcript.trim();
  if (text === '') return undefined;
  // Keep the end: the latest exchanges matter most for continuing.
  if (text.length > maxChars) text = `…${text.slice(text.length - maxChars)}`;
  return `${CONTEXT_PREAMBLE}\n\n${text}`;
}

/** protobuf Duration as JSON ("50s", "1.5s", "0.250s"); undefined when it is not one. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * 1000);
}
