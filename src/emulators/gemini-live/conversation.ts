// A conversation outlives connections: session resumption re-attaches a new socket to it. Handles snapshot the
// conversation at a resumable point, so resuming from an older handle loses what happened since (as the real
// service warns), and a handle outlives its socket by a configurable TTL (2 h on the real service).
import { randomBytes } from 'node:crypto';
import type { ParsedScenario } from './scenario.ts';

export interface ConversationOwner {
  /** Whether the socket that owns the conversation is still open (a resume must then be rejected). */
  readonly isOpen: boolean;
}

export class Conversation {
  readonly id: string;
  readonly model: string;
  /** Index of the next scenario turn that has not started. */
  position = 0;
  ended = false;
  /** Latest response per tool name, for `{{tool.field}}` placeholders. */
  toolResponses = new Map<string, unknown>();
  /** Turns whose scripted goAway has been sent (never repeated after a resume). */
  readonly goAwaysSent = new Set<number>();
  owner: ConversationOwner | undefined;
  /** Rough token accounting for usageMetadata. */
  contextTokens = 0;

  /** The scenario this conversation plays (and keeps across resumptions), with its folder for relative paths. */
  readonly script: { scenario: ParsedScenario; baseDir: string } | undefined;

  constructor(id: string, model: string, script?: { scenario: ParsedScenario; baseDir: string }) {
    this.id = id;
    this.model = model;
    this.script = script;
  }
}

interface HandleEntry {
  conversation: Conversation;
  position: number;
  ended: boolean;
  toolResponses: Map<string, unknown>;
  issuedAt: number;
}

const MAX_HANDLES = 20_000;

export class HandleStore {
  private readonly ttlMs: number;
  private readonly entries = new Map<string, HandleEntry>();

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }

  issue(c: Conversation): string {
    // Real handles are long opaque strings; clients must not parse them.
    const handle = randomBytes(36).toString('base64url');
    this.entries.set(handle, {
      conversation: c,
      position: c.position,
      ended: c.ended,
      toolResponses: new Map(c.toolResponses),
      issuedAt: Date.now(),
    });
    if (this.entries.size > MAX_HANDLES) this.entries.delete(this.entries.keys().next().value as string);
    return handle;
  }

  /** The conversation rewound to the handle's snapshot, or undefined for an unknown or expired handle. */
  redeem(handle: string): Conversation | undefined {
    const e = this.entries.get(handle);
    if (!e) return undefined;
    if (Date.now() - e.issuedAt > this.ttlMs) {
      this.entries.delete(handle);
      return undefined;
    }
    const c = e.conversation;
    c.position = e.position;
    c.ended = e.ended;
    c.toolResponses = new Map(e.toolResponses);
    return c;
  }

  peek(handle: string): Conversation | undefined {
    const e = this.entries.get(handle);
    if (!e || Date.now() - e.issuedAt > this.ttlMs) return undefined;
    return e.conversation;
  }

  clear(): void {
    this.entries.clear();
  }
}
