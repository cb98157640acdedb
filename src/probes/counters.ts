// Process-wide counters of call and Gemini session events that the shipped alerts read, kept as plain numbers and
// exported by /metrics at scrape time (src/server/metrics.ts). They live on the ground floor, next to the probe
// channels, so that the producers (src/calls, src/gemini) and the reader (src/server) import nothing of each other,
// and the metrics side does not load the SDK.

/**
 * Silent agent turns (src/gemini/live-session.ts): `silentTurns` every silent turn, `reprompted` the ones answered
 * with a re-prompt, `gaveUp` the calls that then ended with the technical-difficulty prompt.
 */
export const silentTurnCounters = { silentTurns: 0, reprompted: 0, gaveUp: 0 };

/**
 * Caller-audio messages sent to Gemini (src/gemini/live-session.ts): `chunk` at GEMINI_UPLINK_CHUNK_MS (speech, the
 * hangover after it, backlogs), `quiet` at GEMINI_UPLINK_SILENCE_CHUNK_MS. A line whose noise is above
 * GEMINI_UPLINK_SILENCE_DBFS never sends `quiet` ones: the share tells an operator whether the quiet uplink works.
 */
export const uplinkCounters = { chunk: 0, quiet: 0 };

/** Completed mid-call reconnects (goAway rotations and drops), by how the session came back. */
export const reconnectCounters = { resume: 0, fresh: 0 };

/**
 * Calls that could not be set up, by reason (`gateway_call_setup_failures_total`):
 * - `gemini-connect`: the first Gemini Live connection failed (the caller heard the technical-difficulty prompt);
 * - `no-stream`: the answer webhook opened a session but no audio stream arrived within the warm-session TTL.
 */
export const callSetupFailures = new Map<string, number>();

export function countSetupFailure(reason: 'gemini-connect' | 'no-stream'): void {
  callSetupFailures.set(reason, (callSetupFailures.get(reason) ?? 0) + 1);
}
