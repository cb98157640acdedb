// Chooses the DSP backend once at start (AUDIO_BACKEND=auto|native|ts). 'auto' prefers the native addon and falls
// back to pure TS with exactly one actionable warning for the caller to log; 'native' fails hard.
import { errorMessage, GatewayError } from '../errors.ts';
import { DEFAULT_ADDON_PATH, loadNativeBackend } from './native.ts';
import { tsBackend } from './ts-backend.ts';
import type { AudioBackend } from './types.ts';

export type AudioBackendPreference = 'auto' | 'native' | 'ts';

export interface LoadedAudioBackend {
  backend: AudioBackend;
  /** Set when 'auto' fell back to TS: what failed and how to fix it (log it once at warn). */
  warning?: string;
}

export function loadAudioBackend(
  pref: AudioBackendPreference,
  addonPath: string = DEFAULT_ADDON_PATH,
): LoadedAudioBackend {
  if (pref === 'ts') return { backend: tsBackend };
  if (pref !== 'native' && pref !== 'auto') {
    throw new GatewayError('GW_ERR_INVALID_ARGUMENT', `audio backend must be auto, native or ts (got ${String(pref)})`);
  }
  try {
    return { backend: loadNativeBackend(addonPath) };
  } catch (err) {
    const why = `the native DSP addon could not be loaded from ${addonPath}: ${firstLine(errorMessage(err))}`;
    if (pref === 'native') {
      throw new GatewayError(
        'GW_ERR_NATIVE_UNAVAILABLE',
        `${why}. Build it with \`npm run build:native\` (needs cmake and a C++17 compiler), or set AUDIO_BACKEND=auto or ts.`,
        { cause: err },
      );
    }
    return {
      backend: tsBackend,
      warning: `${why}. Using the pure-TS DSP (same output, slower). Build the addon with \`npm run build:native\` (needs cmake and a C++17 compiler).`,
    };
  }
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}
