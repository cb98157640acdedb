// The prebuilt voices of the Live native-audio models. The service compares names case-sensitively and answers an
// unknown one by closing every session with 1007 "Request contains an invalid argument." (which names nothing), so
// GEMINI_VOICE is checked here at start instead (src/config.ts).
//
// Source: the 30 "HD voices" of native audio (https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/
// 2-5-flash-live-api), names as listed by LiveKit (https://docs.livekit.io/reference/agents-js/types/
// plugins_agents_plugin_google.beta.realtime.Voice.html); case sensitivity: hermes-talk #73. Whether 3.x models add
// voices is not published: GEMINI_VOICE_ALLOW_UNLISTED=true lets a new name through until this list catches up.
export const GEMINI_VOICES: readonly string[] = [
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

/**
 * Undefined when `name` is a listed voice; otherwise why not, with the likely intended name when there is one.
 * `allowUnlisted` lets unknown names through, but never a listed one in the wrong case: that is always a typo.
 */
export function voiceProblem(name: string, allowUnlisted = false): string | undefined {
  if (GEMINI_VOICES.includes(name)) return undefined;
  const folded = GEMINI_VOICES.find((v) => v.toLowerCase() === name.trim().toLowerCase());
  if (folded !== undefined) {
    return `voice names are case-sensitive: use "${folded}" (Gemini closes every session with 1007 otherwise)`;
  }
  if (allowUnlisted) return undefined;
  const near = closestVoice(name);
  const hint = near === undefined ? '' : ` Did you mean "${near}"?`;
  return (
    `is not a known Gemini voice.${hint} Known: ${GEMINI_VOICES.join(', ')}. ` +
    'Set GEMINI_VOICE_ALLOW_UNLISTED=true to use a voice newer than this list'
  );
}

/** The listed voice within edit distance 2 of `name` (case-insensitive), if any. */
function closestVoice(name: string): string | undefined {
  const n = name.trim().toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const v of GEMINI_VOICES) {
    const d = editDistance(n, v.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = v;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
