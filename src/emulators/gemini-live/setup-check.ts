// Validation of the client's `setup` message, the way the service rejects it: unknown model → 1008 with the
// ListModels hint, malformed fields → 1007.
import { CLOSE, type CloseSpec, modelNotFound } from './close-codes.ts';

export const KNOWN_MODELS = [
  'gemini-3.8-live',
  'gemini-3.8-live-extended-thinking',
  'gemini-3.1-flash-live-preview',
  'gemini-2.5-flash-native-audio-preview-12-2025',
  'gemini-2.5-flash-native-audio-preview-09-2025',
  'gemini-2.5-flash-native-audio-latest',
  'gemini-live-2.5-flash-preview',
  'gemini-2.0-flash-live-001',
];

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
  apiVersion: string,
): { ok: true; value: CheckedSetup } | { ok: false; close: CloseSpec } {
  const bad = { ok: false as const, close: CLOSE.invalidArgument };
  if (!isObj(setup)) return bad;
  const rawModel = setup.model;
  if (typeof rawModel !== 'string' || rawModel.trim() === '') return bad;
  const model = rawModel.startsWith('models/') ? rawModel.slice(7) : rawModel;
  if (models !== 'any' && !models.includes(model)) return { ok: false, close: modelNotFound(rawModel, apiVersion) };

  const gen = setup.generationConfig;
  if (gen !== undefined) {
    if (!isObj(gen)) return bad;
    const mods = gen.responseModalities;
    if (mods !== undefined && (!Array.isArray(mods) || mods.length !== 1 || mods[0] !== 'AUDIO')) return bad;
    const voice = (
      ((gen.speechConfig as Obj | undefined)?.voiceConfig as Obj | undefined)?.prebuiltVoiceConfig as Obj | undefined
    )?.voiceName;
    if (voice !== undefined && (typeof voice !== 'string' || !KNOWN_VOICES.includes(voice))) return bad;
  }

  const si = setup.systemInstruction;
  if (si !== undefined && !(isObj(si) && Array.isArray(si.parts))) return bad;

  const toolNames = new Set<string>();
  if (setup.tools !== undefined) {
    if (!Array.isArray(setup.tools)) return bad;
    for (const tool of setup.tools) {
      if (!isObj(tool)) return bad;
      const decls = tool.functionDeclarations;
      if (decls === undefined) continue;
      if (!Array.isArray(decls)) return bad;
      for (const d of decls) {
        if (!isObj(d) || typeof d.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(d.name)) return bad;
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
