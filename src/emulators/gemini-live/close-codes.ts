// Close codes and reason texts as observed from the real service (it sends no JSON errors: every failure is a
// WebSocket close frame with a human-readable reason).
export const CLOSE = {
  // LiveKit realtime_api.py L997-1011; yagudaev/voiceclaw#66.
  invalidArgument: { code: 1007, reason: 'Request contains an invalid argument.' },
  /** Kept for callers of the old wrong-key close; the emulator now answers a wrong key like a missing one. */
  badApiKey: { code: 1007, reason: 'API key not valid. Please pass a valid API key.' },
  // kailashsp/realtime-conversation-voice-AI-agent#1: missing or invalid key.
  missingApiKey: {
    code: 1008,
    reason:
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
  },
  notSupported: { code: 1008, reason: 'Operation is not implemented, or supported, or enabled.' },
  aborted: { code: 1008, reason: 'The operation was aborted.' },
  internal: { code: 1011, reason: 'Internal error occurred.' },
  unavailable: { code: 1011, reason: 'The service is currently unavailable.' },
  deadline: { code: 1011, reason: 'Deadline expired before operation could complete.' },
  // kazunori279/interpretab#13 (clamped to the 123-byte close-reason limit on the wire).
  quota: {
    code: 1011,
    reason:
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
  },
} as const;

export type CloseSpec = { code: number; reason: string };

/** Close reasons are limited to 123 bytes by RFC 6455; longer real-service texts arrive truncated. */
export function clampReason(reason: string): string {
  const buf = Buffer.from(reason, 'utf8');
  if (buf.length <= 123) return reason;
  let end = 123;
  // Do not cut a UTF-8 sequence in half.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}
