// Validation of the client's `setup` message, the way the service rejects it: a model it does not serve → 1008
// "Operation is not implemented, or supported, or enabled." (livekit/agents#4545); malformed or unknown fields, an
// unknown voice, or a feature the model's generation does not have → 1007 "Request contains an invalid argument."
import { CLOSE, type CloseSpec } from './close-codes.ts';
import { type ModelProfile, profileFor, STRICTEST_PROFILE } from './profiles.ts';

export { KNOWN_MODELS } from './profiles.ts';

/**
 * Top-level setup fields the Developer API knows: what SDK 3.3 maps into `setup` (`liveConnectConfigToMldev`) plus
 * `historyConfig` (https://ai.google.dev/api/live, BidiGenerateContentSetup). Anything else: 1007.
 */
const SETUP_FIELDS = new Set([
  'model',
  'generationConfig',
  'systemInstruction',
  'tools',
  'realtimeInputConfig',
  'sessionResumption',
  'contextWindowCompression',
  'inputAudioTranscription',
  'outputAudioTranscription',
  'proactivity',
  'historyConfig',
  'safetySettings',
  'avatarConfig',
  'labels',
]);

/**
 * generationConfig fields the Live API takes. It documents responseLogprobs, responseMimeType, logprobs,
 * responseSchema, stopSequence, routingConfig and audioTimestamp as unsupported (https://ai.google.dev/api/live);
 * the strict side is to refuse every field not listed here.
 */
const GENERATION_FIELDS = new Set([
  'candidateCount',
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'presencePenalty',
  'frequencyPenalty',
  'responseModalities',
  'speechConfig',
  'mediaResolution',
  'thinkingConfig',
  'enableAffectiveDialog',
  'seed',
  'translationConfig',
]);

export const KNOWN_VOICES = [
  'Achernar',
  'Achird',
  'Algenib',
  'Algieba',
  'Alnilam',
  'Aoede',
  'Autonoe',
  'Callirrhoe',
  'Charon',
  'Despina',
  'Enceladus',
  'Erinome',
  'Fenrir',
  'Gacrux',
  'Iapetus',
  'Kore',
  'Laomedeia',
  'Leda',
  'Orus',
  'Pulcherrima',
  'Puck',
  'Rasalgethi',
  'Sadachbia',
  'Sadaltager',
  'Schedar',
  'Sulafat',
  'Umbriel',
  'Vindemiatrix',
  'Zephyr',
  'Zubenelgenubi',
];

export interface CheckedSetup {
  /** Model id without the `models/` prefix. */
  model: string;
  profile: ModelProfile;
  /** `historyConfig.initialHistoryInClientContent: true`. */
  initialHistory: boolean;
  /** Tool names declared NON_BLOCKING (explicitly, or by the model's default). */
  nonBlockingTools: Set<string>;
  resumeHandle: string | undefined;
  resumptionEnabled: boolean;
  inputTranscription: boolean;
  outputTranscription: boolean;
  toolNames: Set<string>;
  manualActivity: boolean;
  noInterruption: boolean;
  silenceDurationMs: number | undefined;
  prefixPaddingMs: number | undefined;
  startSensitivity: string | undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkSetup(
  setup: unknown,
  models: readonly string[] | 'any',
): { ok: true; value: CheckedSetup } | { ok: false; close: CloseSpec } {
  const bad = { ok: false as const, close: CLOSE.invalidArgument };
  if (!isObj(setup)) return bad;
  const rawModel = setup.model;
  if (typeof rawModel !== 'string' || rawModel.trim() === '') return bad;
  const model = rawModel.startsWith('models/') ? rawModel.slice(7) : rawModel;
  const known = profileFor(model);
  if (models !== 'any' && !models.includes(model)) return { ok: false, close: CLOSE.notSupported };
  const profile = known ?? STRICTEST_PROFILE;
  for (const k of Object.keys(setup)) if (!SETUP_FIELDS.has(k)) return bad;

  const gen = setup.generationConfig;
  if (gen !== undefined) {
    if (!isObj(gen)) return bad;
    for (const k of Object.keys(gen)) if (!GENERATION_FIELDS.has(k)) return bad;
    const mods = gen.responseModalities;
    if (mods !== undefined && (!Array.isArray(mods) || mods.length !== 1 || mods[0] !== 'AUDIO')) return bad;
    const voice = (
      ((gen.speechConfig as Obj | undefined)?.voiceConfig as Obj | undefined)?.prebuiltVoiceConfig as Obj | undefined
    )?.voiceName;
    // Case-sensitive: "kore" is not "Kore" (issue 8; hermes-talk#73 fails closed on the same list).
    if (voice !== undefined && (typeof voice !== 'string' || !KNOWN_VOICES.includes(voice))) return bad;
    if (gen.enableAffectiveDialog !== undefined && !profile.affectiveDialog) return bad;
  }
  if (setup.proactivity !== undefined) {
    if (!isObj(setup.proactivity) || profile.proactivity === 'no') return bad;
    if (profile.proactivity === 'always-on' && setup.proactivity.proactiveAudio === false) return bad;
  }
  let initialHistory = false;
  if (setup.historyConfig !== undefined) {
    const hc = setup.historyConfig;
    if (!isObj(hc)) return bad;
    for (const k of Object.keys(hc)) if (k !== 'initialHistoryInClientContent') return bad;
    if (hc.initialHistoryInClientContent !== undefined && typeof hc.initialHistoryInClientContent !== 'boolean')
      return bad;
    initialHistory = hc.initialHistoryInClientContent === true;
  }

  const si = setup.systemInstruction;
  if (si !== undefined && !(isObj(si) && Array.isArray(si.parts))) return bad;

  const toolNames = new Set<string>();
  const nonBlockingTools = new Set<string>();
  if (setup.tools !== undefined) {
    if (!Array.isArray(setup.tools)) return bad;
    for (const tool of setup.tools) {
      if (!isObj(tool)) return bad;
      const decls = tool.functionDeclarations;
      if (decls === undefined) continue;
      if (!Array.isArray(decls)) return bad;
      for (const d of decls) {
        if (!isObj(d) || typeof d.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(d.name)) return bad;
        const behavior = d.behavior ?? 'UNSPECIFIED';
        if (behavior !== 'UNSPECIFIED' && behavior !== 'BLOCKING' && behavior !== 'NON_BLOCKING') return bad;
        // 3.1 Flash Live is "synchronous only" (https://ai.google.dev/gemini-api/docs/live-api/tools): strict side.
        if (behavior === 'NON_BLOCKING' && profile.tools === 'blocking-only') return bad;
        const nonBlocking =
          behavior === 'NON_BLOCKING' || (behavior === 'UNSPECIFIED' && profile.tools === 'non-blocking-default');
        if (nonBlocking) nonBlockingTools.add(d.name);
        toolNames.add(d.name);
      }
    }
  }

  let resumeHandle: string | undefined;
  const sr = setup.sessionResumption;
  if (sr !== undefined) {
    if (!isObj(sr)) return bad;
    if (sr.handle !== undefined && sr.handle !== null) {
      if (typeof sr.handle !== 'string') return bad;
      if (sr.handle !== '') resumeHandle = sr.handle;
    }
    // Transparent resumption exists on Vertex only.
    if (sr.transparent !== undefined) return { ok: false, close: CLOSE.notSupported };
  }

  const ric = setup.realtimeInputConfig;
  let aad: Obj | undefined;
  if (ric !== undefined) {
    if (!isObj(ric)) return bad;
    if (ric.automaticActivityDetection !== undefined) {
      if (!isObj(ric.automaticActivityDetection)) return bad;
      aad = ric.automaticActivityDetection;
    }
    if (
      ric.activityHandling !== undefined &&
      !['ACTIVITY_HANDLING_UNSPECIFIED', 'START_OF_ACTIVITY_INTERRUPTS', 'NO_INTERRUPTION'].includes(
        ric.activityHandling as string,
      )
    ) {
      return bad;
    }
  }
  const num = (v: unknown): number | undefined | null =>
    v === undefined ? undefined : typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
  const silenceDurationMs = num(aad?.silenceDurationMs);
  const prefixPaddingMs = num(aad?.prefixPaddingMs);
  if (silenceDurationMs === null || prefixPaddingMs === null) return bad;

  for (const f of ['inputAudioTranscription', 'outputAudioTranscription', 'contextWindowCompression', 'proactivity']) {
    if (setup[f] !== undefined && !isObj(setup[f])) return bad;
  }

  return {
    ok: true,
    value: {
      model,
      profile,
      initialHistory,
      nonBlockingTools,
      resumeHandle,
      resumptionEnabled: sr !== undefined,
      inputTranscription: setup.inputAudioTranscription !== undefined,
      outputTranscription: setup.outputAudioTranscription !== undefined,
      toolNames,
      manualActivity: aad?.disabled === true,
      noInterruption: isObj(ric) && ric.activityHandling === 'NO_INTERRUPTION',
      silenceDurationMs,
      prefixPaddingMs,
      startSensitivity: typeof aad?.startOfSpeechSensitivity === 'string' ? aad.startOfSpeechSensitivity : undefined,
    },
  };
}
