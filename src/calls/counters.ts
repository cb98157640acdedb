// Process-wide counts of call events the shipped alerts read, kept as plain numbers here and exported by /metrics at
// scrape time (src/server/metrics.ts), like src/gemini/counters.ts: the calls layer imports nothing of the server's.

/**
 * Calls that could not be set up, by reason (`gateway_call_setup_failures_total`):
 * - `gemini-connect`: the first Gemini Live connection failed (the caller heard the technical-difficulty prompt);
 * - `no-stream`: the answer webhook opened a session but no audio stream arrived within the warm-session TTL.
 */
export const callSetupFailures = new Map<string, number>();

export function countSetupFailure(reason: 'gemini-connect' | 'no-stream'): void {
  callSetupFailures.set(reason, (callSetupFailures.get(reason) ?? 0) + 1);
}
