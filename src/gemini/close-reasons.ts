// What a Gemini Live close most likely means, for the log line an operator reads when every call fails. The
// service sends no JSON errors: a failure is a WebSocket close with a short human-readable reason, and the same
// 1007 text covers a wrong voice, an unknown field and a bad frame. Facts: research notes gemini-live.md §1.4, each
// with its public report named below. Matching is on the reason text first, then on the code.

export type CloseCause =
  | 'invalid-argument'
  | 'api-key'
  | 'api-key-expired'
  | 'model-or-api'
  | 'tool-call-audio'
  | 'quota'
  | 'deadline'
  | 'service'
  | 'normal'
  | 'unknown';

export interface CloseExplanation {
  cause: CloseCause;
  /** One plain sentence: what probably happened. */
  meaning: string;
  /** The settings to check, most likely first (empty when nothing to configure). */
  check: readonly string[];
  /** Retrying with the same setup can work (a service fault, quota that frees up, a planned rotation). */
  transient: boolean;
}

const QUOTA = /exceeded your current quota|quota|rate limit|resource.?exhausted/i;

export function explainGeminiClose(code: number, reason: string): CloseExplanation {
  const r = reason ?? '';
  // 1011 "You exceeded your current quota…" (kazunori279/interpretab#13). Checked first: the text is unambiguous.
  if (QUOTA.test(r)) {
    return {
      cause: 'quota',
      meaning:
        'quota exhausted for this key or project (requests, tokens per minute, or concurrent sessions); new sessions move to the next credential when several are configured',
      check: ['GEMINI_API_KEYS', 'GOOGLE_CLOUD_PROJECTS', 'GEMINI_MAX_SESSIONS_PER_CREDENTIAL', 'MAX_CALLS'],
      transient: true,
    };
  }
  // 1007 "API key expired. Please renew the API key." (yagudaev/voiceclaw#155).
  if (/api key expired/i.test(r)) {
    return {
      cause: 'api-key-expired',
      meaning: 'the API key has expired',
      check: ['GEMINI_API_KEY', 'GEMINI_API_KEYS'],
      transient: false,
    };
  }
  // 1008 "Method doesn't allow unregistered callers…" (kailashsp/realtime-conversation-voice-AI-agent#1); REST-style
  // "API key not valid" texts too.
  if (/unregistered callers|api key not valid|invalid api key|permission denied|unauthenticated/i.test(r)) {
    return {
      cause: 'api-key',
      meaning: 'the API key is missing or not valid (or Vertex credentials are not authorised)',
      check: ['GEMINI_API_KEY', 'GEMINI_API_KEYS', 'GOOGLE_GENAI_USE_VERTEXAI', 'GOOGLE_CLOUD_PROJECT'],
      transient: false,
    };
  }
  // 1008 "Operation is not implemented, or supported, or enabled." (livekit/agents#4545: a Vertex model id on the
  // Developer API, or the reverse).
  if (/not implemented|not supported|not enabled|not found/i.test(r)) {
    return {
      cause: 'model-or-api',
      meaning:
        'the model is not available on this API: a Vertex model id on the Gemini Developer API (or the reverse), or a model this key cannot use',
      check: ['GEMINI_MODEL', 'GOOGLE_GENAI_USE_VERTEXAI', 'GOOGLE_CLOUD_LOCATION'],
      transient: false,
    };
  }
  // 1008 "The operation was aborted." (autonomous-ai/autonomous-os#231): audio kept streaming during a tool call.
  if (/operation was aborted/i.test(r)) {
    return {
      cause: 'tool-call-audio',
      meaning:
        'the model aborted while a tool call was unanswered and caller audio kept streaming (some models do this)',
      check: ['TOOL_TIMEOUT_MS', 'GEMINI_MODEL'],
      transient: true,
    };
  }
  // 1011 "Deadline expired before operation could complete." after goAway (kizuna-ai-lab/sokuji#179).
  if (/deadline expired/i.test(r)) {
    return {
      cause: 'deadline',
      meaning:
        'the connection reached its lifetime (about 10 min, announced by goAway); the session resumes on a new one',
      check: [],
      transient: true,
    };
  }
  if (code === 1007) {
    // "Request contains an invalid argument." (LiveKit realtime_api.py): the setup or a message was refused.
    return {
      cause: 'invalid-argument',
      meaning:
        'Gemini refused the setup or a message: most often a voice name it does not know (names are case-sensitive), a setup field this model does not take, or a refused resume',
      check: ['GEMINI_VOICE', 'GEMINI_MODEL', 'GEMINI_VAD_*', 'GEMINI_COMPRESSION_TRIGGER_TOKENS'],
      transient: false,
    };
  }
  if (code === 1008) {
    return {
      cause: 'api-key',
      meaning: 'policy violation: usually a missing or invalid key, or a model this key may not use',
      check: ['GEMINI_API_KEY', 'GEMINI_API_KEYS', 'GEMINI_MODEL'],
      transient: false,
    };
  }
  if (code === 1011) {
    // "Internal error occurred." / "The service is currently unavailable." (livekit/agents#2274).
    return {
      cause: 'service',
      meaning: 'a fault on the Gemini side (internal error or unavailable); retrying usually works',
      check: [],
      transient: true,
    };
  }
  if (code === 1000 || code === 1001 || code === 1005) {
    return { cause: 'normal', meaning: 'a normal close', check: [], transient: true };
  }
  return {
    cause: 'unknown',
    meaning: code === 1006 ? 'the connection dropped without a close frame (network)' : 'an unexpected close',
    check: [],
    transient: true,
  };
}

/** One line for logs and the doctor: `1007 "reason": meaning (check GEMINI_VOICE, GEMINI_MODEL)`. */
export function describeGeminiClose(code: number, reason: string): string {
  const e = explainGeminiClose(code, reason);
  const check = e.check.length > 0 ? ` (check ${e.check.join(', ')})` : '';
  return `${code}${reason ? ` "${reason}"` : ''}: ${e.meaning}${check}`;
}

export function isQuotaClose(code: number | undefined, reason: string | undefined): boolean {
  return code === 1011 && QUOTA.test(reason ?? '');
}
