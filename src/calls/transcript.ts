// The conversation as text: caller and agent turns built from Gemini's transcription fragments, agent turns also
// opened by their first audio (transcripts can lag the audio or be missing). Bounded: long calls keep the latest turns.
import type { TranscriptTurn } from '../store/types.ts';

const MAX_TURNS = 500;
const MAX_TURN_CHARS = 4000;
/** A transcript fragment this soon after its agent turn closed still belongs to it (transcription lags audio). */
const LATE_FRAGMENT_MS = 1500;

export class Transcript {
  readonly turns: TranscriptTurn[] = [];
  #openAgent: TranscriptTurn | undefined;
  #lastAgentEndedAt = 0;
  #dirty = false;
  #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  clean(): void {
    this.#dirty = false;
  }

  caller(text: string): void {
    if (text === '') return;
    const last = this.turns[this.turns.length - 1];
    if (last?.role === 'caller' && last.endedAt === undefined) {
      last.text = join(last.text, text);
    } else {
      this.#push({ role: 'caller', text: text.trimStart(), startedAt: this.#now().toISOString() });
    }
    this.#dirty = true;
  }

  /** An agent transcript fragment. */
  agent(text: string): void {
    if (text === '') return;
    const last = this.turns[this.turns.length - 1];
    const recentAgent =
      last?.role === 'agent' && !last.interrupted && Date.now() - this.#lastAgentEndedAt < LATE_FRAGMENT_MS;
    const turn = this.#openAgent ?? (recentAgent ? last : this.agentTurn());
    turn.text = join(turn.text, text);
    this.#dirty = true;
  }

  /** The open agent turn, opening one (and closing the caller's) if needed. */
  agentTurn(): TranscriptTurn {
    if (this.#openAgent) return this.#openAgent;
    const now = this.#now().toISOString();
    const last = this.turns[this.turns.length - 1];
    if (last?.role === 'caller' && last.endedAt === undefined) last.endedAt = now;
    const turn: TranscriptTurn = { role: 'agent', text: '', startedAt: now };
    this.#push(turn);
    this.#openAgent = turn;
    this.#dirty = true;
    return turn;
  }

  hasOpenAgentTurn(): boolean {
    return this.#openAgent !== undefined;
  }

  endAgentTurn(): TranscriptTurn | undefined {
    const turn = this.#openAgent;
    if (!turn) return undefined;
    turn.endedAt = this.#now().toISOString();
    this.#openAgent = undefined;
    this.#lastAgentEndedAt = Date.now();
    this.#dirty = true;
    return turn;
  }

  markInterrupted(turn: TranscriptTurn, heardMs: number): void {
    turn.interrupted = true;
    turn.heardMs = Math.max(0, Math.round(heardMs));
    turn.endedAt ??= this.#now().toISOString();
    if (this.#openAgent === turn) this.#openAgent = undefined;
    this.#dirty = true;
  }

  /** Closes whatever is open (end of call). */
  close(): void {
    const now = this.#now().toISOString();
    for (const t of this.turns) t.endedAt ??= now;
    this.#openAgent = undefined;
    this.#dirty = true;
  }

  /** The latest turns as plain text, for re-seeding a fresh Gemini session. */
  contextText(maxChars = 6000): string {
    const lines: string[] = [];
    let size = 0;
    for (let i = this.turns.length - 1; i >= 0; i--) {
      const t = this.turns[i]!;
      if (t.text === '') continue;
      const cut = t.interrupted ? ' [interrupted by the caller]' : '';
      const line = `${t.role === 'caller' ? 'Caller' : 'Agent'}: ${t.text}${cut}`;
      if (size + line.length > maxChars) break;
      lines.push(line);
      size += line.length + 1;
    }
    return lines.reverse().join('\n');
  }

  #push(turn: TranscriptTurn): void {
    this.turns.push(turn);
    if (this.turns.length > MAX_TURNS) this.turns.splice(0, this.turns.length - MAX_TURNS);
  }
}

/** Joins streaming fragments: Gemini sends them with their own leading spaces, emulators sometimes without. */
function join(prev: string, next: string): string {
  let out: string;
  if (prev === '') out = next.trimStart();
  else if (/\s$/.test(prev) || /^[\s.,!?;:'’)]/.test(next)) out = prev + next;
  else out = `${prev} ${next}`;
  return out.length > MAX_TURN_CHARS ? out.slice(0, MAX_TURN_CHARS) : out;
}
