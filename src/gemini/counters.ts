// Process-wide counters of Gemini session events, read by /metrics at scrape time (src/server/metrics.ts). Plain
// numbers in a module of their own, so the metrics side does not load the SDK.

/**
 * Silent agent turns (src/gemini/live-session.ts): `silentTurns` every silent turn, `reprompted` the ones answered
 * with a re-prompt, `gaveUp` the calls that then ended with the technical-difficulty prompt.
 */
export const silentTurnCounters = { silentTurns: 0, reprompted: 0, gaveUp: 0 };

/** Completed mid-call reconnects (goAway rotations and drops), by how the session came back. */
export const reconnectCounters = { resume: 0, fresh: 0 };
