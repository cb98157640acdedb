// Fault injection: the failures the gateway must survive, each modelled on a public report (see the README). The
// per-emulator counters live in index.ts; a session asks them through SessionFaults.

/** How a "silent" agent turn looks on the wire. */
export type SilentTurnAudio = 'none' | 'near-zero';

export interface SessionFaults {
  refuseResumption: boolean;
  setupDelayMs: number;
  abortOnAudioDuringToolCall: boolean;
  silentAfterGoAway: boolean;
  silentTurnAudio: SilentTurnAudio;
  /** Whether this agent turn comes out silent (consumes one of `faults.silentTurns`). */
  takeSilentTurn(): boolean;
  /** Whether this connection's setup never completes (consumes one of `faults.setupNeverCompletes`). */
  takeSetupStall(): boolean;
}

/**
 * The audio of a near-silent turn: as long as the real answer, but within ±2 LSB (about -80 dBFS), like the
 * near-zero-amplitude turns of google-gemini/gemini-live-api-examples#40. Deterministic, so tests can assert on it.
 */
export function nearZero(length: number): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = ((i * 7) % 5) - 2;
  return out;
}

/** A count option: `true` = every time, a number = the first N times, absent/false/0 = never. */
export class Budget {
  private left: number;

  constructor(v: boolean | number | undefined) {
    this.left = v === true ? Number.POSITIVE_INFINITY : typeof v === 'number' && v > 0 ? v : 0;
  }

  take(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }

  add(n: number): void {
    this.left += n;
  }
}
