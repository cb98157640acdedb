// What each Live model generation accepts, keyed by model-name pattern: the one place the gateway decides how to
// send an opening turn, a re-prompt and the context of a fresh reconnect, and which setup fields it must never send.
// GEMINI_MODEL picks the row; an id outside the table gets CONSERVATIVE_PROFILE (and a warning at start).
//
// Sources (research notes: /work/shared/research/gemini-live.md §2.3 tools, §2.4 models, §6 open points):
// - gemini-3.8-live: https://ai.google.dev/gemini-api/docs/models/gemini-3.8-live — `sendClientContent` allowed for
//   the whole session; NON_BLOCKING is the default function behaviour; `mediaChunks` rejected (1007) on 3.x;
//   `proactive_audio: false` is an error; affective dialog removed.
// - gemini-3.1-flash-live-preview: https://ai.google.dev/gemini-api/docs/models/gemini-3.1-flash-live-preview and
//   https://ai.google.dev/gemini-api/docs/live-api/tools.md.txt — `clientContent` only to seed initial history
//   (`historyConfig.initialHistoryInClientContent`), otherwise 1007 (livekit/agents#5251, #5262, where
//   `realtimeInput.text` is what works mid-session); function calling "synchronous only"; no proactivity, no
//   affective dialog.
// - gemini-2.5-flash-native-audio-*: previous generation (pipecat llm.py, LiveKit realtime_api.py defaults):
//   `clientContent` any time, BLOCKING and NON_BLOCKING tools, `mediaChunks` still accepted.
//
// Initial history: @google/genai 3.3.0 declares `historyConfig` in its types (`LiveClientSetup.historyConfig`) but
// its Developer-API setup converter never maps it (0 occurrences in dist/node/index.mjs; research §1.2 and §6 item
// 10 for 3.1.0, checked again on 3.3.0). So no profile can use `initial-history` through the SDK: where a model
// refuses mid-session `clientContent`, the reconnect context goes into the new session's systemInstruction instead.
// Upstream: googleapis/js-genai#1520 (feature request), a fix in PR googleapis/js-genai#1448 (closed).
// Revisit when the SDK maps `historyConfig` (then 3.1 can switch `context` to 'initial-history').

/** How a client text turn (the opening, a re-prompt, the voicemail instruction) is sent. */
export type TextTurnChannel =
  /** `clientContent{turns, turnComplete: true}`: a user turn; the model answers it. */
  | 'client-content'
  /** `realtimeInput{text}`: text in the realtime stream; accepted by every generation we know. */
  | 'realtime-text';

/** How a fresh reconnect hands the conversation so far to the new session. */
export type ContextChannel =
  /** `clientContent{turns, turnComplete: false}` right after setupComplete. */
  | 'client-content'
  /** Appended to the new session's systemInstruction (works everywhere; the safe fallback). */
  | 'system-instruction';

export interface ModelProfile {
  /** Profile name for logs, the README and /metrics labels. */
  readonly name: string;
  /** Model ids (without `models/`) this profile serves. Undefined only for the conservative fallback. */
  readonly pattern: RegExp | undefined;
  readonly openingTurn: TextTurnChannel;
  readonly context: ContextChannel;
  /**
   * Function-calling behaviour of the generation. We never set `behavior` on declarations, so each model uses its
   * own default: `blocking-only` (3.1: NON_BLOCKING gets 1007), `blocking-default` (2.5: NON_BLOCKING opt-in),
   * `non-blocking-default` (3.8: the model keeps talking while a tool runs; responses are scheduled WHEN_IDLE).
   */
  readonly tools: 'blocking-only' | 'blocking-default' | 'non-blocking-default';
  /** Wire fields this generation rejects (closes 1007); the gateway must never send them (tested). */
  readonly rejects: readonly string[];
}

const REJECTED_ON_3X = ['realtimeInput.mediaChunks', 'setup.generationConfig.enableAffectiveDialog'] as const;

export const MODEL_PROFILES: readonly ModelProfile[] = [
  {
    name: 'gemini-3.8-live',
    pattern: /^gemini-3\.8-live(?:-extended-thinking)?$/,
    openingTurn: 'client-content',
    context: 'client-content',
    tools: 'non-blocking-default',
    // `proactivity.proactiveAudio: false` is an error on 3.8 (the field itself is accepted).
    rejects: [...REJECTED_ON_3X, 'setup.proactivity.proactiveAudio=false'],
  },
  {
    name: 'gemini-3.1-flash-live',
    pattern: /^gemini-3\.1-flash-live(?:-preview)?$/,
    openingTurn: 'realtime-text',
    // 'initial-history' would be right, but the SDK cannot send historyConfig (see the top of this file).
    context: 'system-instruction',
    tools: 'blocking-only',
    rejects: [...REJECTED_ON_3X, 'setup.proactivity', 'clientContent (after setup)', 'tools[].behavior=NON_BLOCKING'],
  },
  {
    name: 'gemini-2.5-flash-native-audio',
    pattern: /^gemini-2\.5-flash-native-audio(?:-preview-(?:09|12)-2025|-latest)?$|^gemini-live-2\.5-flash/,
    openingTurn: 'client-content',
    context: 'client-content',
    tools: 'blocking-default',
    rejects: [],
  },
];

/**
 * For a model outside the table: what every known generation accepts. Text turns through `realtimeInput.text`,
 * context in the systemInstruction, no `behavior` on tools, no deprecated fields.
 */
export const CONSERVATIVE_PROFILE: ModelProfile = {
  name: 'conservative',
  pattern: undefined,
  openingTurn: 'realtime-text',
  context: 'system-instruction',
  tools: 'blocking-only',
  rejects: [...REJECTED_ON_3X, 'setup.proactivity', 'clientContent (after setup)', 'tools[].behavior=NON_BLOCKING'],
};

export interface ProfileMatch {
  profile: ModelProfile;
  /** False when the model is not in the table and got the conservative profile. */
  known: boolean;
}

/** The profile for a configured model id (`models/` prefix and surrounding space ignored). */
export function profileForModel(model: string): ProfileMatch {
  const id = model.trim().replace(/^models\//, '');
  const profile = MODEL_PROFILES.find((p) => p.pattern?.test(id));
  return profile === undefined ? { profile: CONSERVATIVE_PROFILE, known: false } : { profile, known: true };
}
