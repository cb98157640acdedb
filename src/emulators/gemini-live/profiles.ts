// What each Live model generation accepts, keyed by model-name pattern. The emulator's own table (it imports nothing
// from the gateway, whose src/gemini/profiles.ts answers the same question from the client side: a shared bug would
// pass every test). Sources per row; the README lists them with what is not known.

export interface ModelProfile {
  /** Profile name, for logs and the README. */
  readonly name: string;
  /** Model ids (without `models/`) this profile serves. */
  readonly pattern: RegExp;
  /**
   * Where `clientContent` is accepted:
   * - `session`: any time (2.5 native audio; 3.8 "sendClientContent allowed for the whole session");
   * - `initial-history`: only as initial history, right after setup, and only when the setup has
   *   `historyConfig.initialHistoryInClientContent: true` (3.1 Flash Live; livekit/agents#5251, #5262).
   * Anywhere else: close 1007.
   */
  readonly clientContent: 'session' | 'initial-history';
  /** The deprecated `realtimeInput.mediaChunks`: accepted on 2.5, 1007 on 3.x. */
  readonly mediaChunks: boolean;
  /**
   * Function calling: `blocking-only` (3.1: "synchronous only", a NON_BLOCKING declaration gets 1007),
   * `both` (2.5: BLOCKING default, NON_BLOCKING opt-in), `non-blocking-default` (3.8).
   */
  readonly tools: 'blocking-only' | 'both' | 'non-blocking-default';
  /** 3.x bundles audio parts and transcripts in one event; 2.5 sends one part per event. */
  readonly bundled: boolean;
  /** `generationConfig.enableAffectiveDialog` accepted (removed on 3.8, not supported on 3.1). */
  readonly affectiveDialog: boolean;
  /** `proactivity` accepted; `always-on` rejects `proactiveAudio: false` (3.8), `no` rejects the field (3.1). */
  readonly proactivity: 'optional' | 'always-on' | 'no';
}

export const MODEL_PROFILES: readonly ModelProfile[] = [
  {
    // https://ai.google.dev/gemini-api/docs/models/gemini-3.8-live ; …/live-api/thinking for the variant.
    name: 'gemini-3.8-live',
    pattern: /^gemini-3\.8-live(?:-extended-thinking)?$/,
    clientContent: 'session',
    mediaChunks: false,
    tools: 'non-blocking-default',
    bundled: true,
    affectiveDialog: false,
    proactivity: 'always-on',
  },
  {
    // https://ai.google.dev/gemini-api/docs/models/gemini-3.1-flash-live-preview ; livekit/agents#5251 and #5262
    // (mid-session clientContent → 1007; realtimeInput.text works).
    name: 'gemini-3.1-flash-live',
    pattern: /^gemini-3\.1-flash-live-preview$/,
    clientContent: 'initial-history',
    mediaChunks: false,
    tools: 'blocking-only',
    bundled: true,
    affectiveDialog: false,
    proactivity: 'no',
  },
  {
    // Previous generation, still the default in Pipecat and LiveKit; the alias is seen in python-genai#2935.
    name: 'gemini-2.5-flash-native-audio',
    pattern: /^gemini-2\.5-flash-native-audio-(?:preview-(?:09|12)-2025|latest)$/,
    clientContent: 'session',
    mediaChunks: true,
    tools: 'both',
    bundled: false,
    affectiveDialog: true,
    proactivity: 'optional',
  },
];

/** Model ids the emulator serves by default (one per pattern alternative). */
export const KNOWN_MODELS: readonly string[] = [
  'gemini-3.8-live',
  'gemini-3.8-live-extended-thinking',
  'gemini-3.1-flash-live-preview',
  'gemini-2.5-flash-native-audio-preview-12-2025',
  'gemini-2.5-flash-native-audio-preview-09-2025',
  'gemini-2.5-flash-native-audio-latest',
];

/** The strictest profile: what an id outside the table gets when the emulator is told to accept any model. */
export const STRICTEST_PROFILE: ModelProfile = MODEL_PROFILES[1]!;

export function profileFor(model: string): ModelProfile | undefined {
  return MODEL_PROFILES.find((p) => p.pattern.test(model));
}
