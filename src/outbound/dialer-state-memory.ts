// The dialer state of one process. Every method runs synchronously to completion, which is what makes each
// operation atomic here (the Redis implementation gets the same from Lua scripts).
import type { CampaignDef, CampaignInfo, CampaignState, ContactState, DialerState } from './dialer-types.ts';

interface Campaign {
  def: CampaignDef;
  state: CampaignState;
  remaining: number;
  seq: number;
  contacts: Map<string, string>;
  ready: string[];
  /** contactId → lease expiry (ms) */
  active: Map<string, number>;
  nextAt: number;
}

export function createMemoryDialerState(): DialerState {
  const campaigns = new Map<string, Campaign>();
  const claims = new Map<string, number>();
  const copy = (c: ContactState): ContactState => JSON.parse(JSON.stringify(c)) as ContactState;

  const expire = (c: Campaign, nowMs: number) => {
    for (const [id, until] of c.active) if (until <= nowMs) c.active.delete(id);
  };

  return {
    async createCampaign(def, contacts) {
      if (campaigns.has(def.id)) return false;
      const map = new Map<string, string>();
      for (const c of contacts) map.set(c.id, JSON.stringify(c));
      campaigns.set(def.id, {
        def: JSON.parse(JSON.stringify(def)) as CampaignDef,
        state: 'running',
        remaining: contacts.length,
        seq: contacts.length,
        contacts: map,
        ready: [],
        active: new Map(),
        nextAt: 0,
      });
      return true;
    },
    async addContacts(campaignId, contacts) {
      const c = campaigns.get(campaignId);
      if (!c) return [];
      return contacts.map((contact) => {
        const full = { ...contact, id: String(c.seq++) } as ContactState;
        c.contacts.set(full.id, JSON.stringify(full));
        c.remaining++;
        return copy(full);
      });
    },
    async getCampaign(campaignId): Promise<CampaignInfo | undefined> {
      const c = campaigns.get(campaignId);
      return c
        ? { def: JSON.parse(JSON.stringify(c.def)) as CampaignDef, state: c.state, remaining: c.remaining }
        : undefined;
    },
    async setState(campaignId, state, from) {
      const c = campaigns.get(campaignId);
      if (!c || (from && !from.includes(c.state)) || c.state === state) return false;
      c.state = state;
      return true;
    },
    async activeCampaigns() {
      return [...campaigns].filter(([, c]) => c.state === 'running' || c.state === 'paused').map(([id]) => id);
    },
    async getContacts(campaignId) {
      const c = campaigns.get(campaignId);
      return c ? [...c.contacts.values()].map((j) => JSON.parse(j) as ContactState) : [];
    },
    async getContact(campaignId, contactId) {
      const j = campaigns.get(campaignId)?.contacts.get(contactId);
      return j === undefined ? undefined : (JSON.parse(j) as ContactState);
    },
    async updateContact(campaignId, contactId, change) {
      const c = campaigns.get(campaignId);
      const j = c?.contacts.get(contactId);
      if (!c || j === undefined) return undefined;
      const next = change(JSON.parse(j) as ContactState);
      if (!next) return { contact: JSON.parse(j) as ContactState, changed: false };
      c.contacts.set(contactId, JSON.stringify({ ...next, id: contactId }));
      return { contact: copy({ ...next, id: contactId }), changed: true };
    },
    async pushReady(campaignId, contactIds, front) {
      const c = campaigns.get(campaignId);
      if (!c) return;
      if (front) c.ready.unshift(...contactIds);
      else c.ready.push(...contactIds);
    },
    async take(campaignId, nowMs, leaseMs) {
      const c = campaigns.get(campaignId);
      if (c?.state !== 'running') return [];
      expire(c, nowMs);
      const gap = 1000 / c.def.callsPerSecond;
      const out: Array<{ contactId: string; atMs: number }> = [];
      while (c.active.size < c.def.maxConcurrent && c.ready.length > 0) {
        const contactId = c.ready.shift()!;
        if (c.active.has(contactId)) continue;
        const atMs = Math.max(nowMs, c.nextAt);
        c.nextAt = atMs + gap;
        c.active.set(contactId, nowMs + leaseMs);
        out.push({ contactId, atMs });
      }
      return out;
    },
    async release(campaignId, contactId) {
      return campaigns.get(campaignId)?.active.delete(contactId) ?? false;
    },
    async activeSlots(campaignId, nowMs) {
      const c = campaigns.get(campaignId);
      if (!c) return 0;
      expire(c, nowMs);
      return c.active.size;
    },
    async claim(key, ttlMs) {
      const now = Date.now();
      const until = claims.get(key);
      if (until !== undefined && until > now) return false;
      claims.set(key, now + ttlMs);
      // Bounded: forget expired claims once the map grows.
      if (claims.size > 100_000) for (const [k, u] of claims) if (u <= now) claims.delete(k);
      return true;
    },
    async finishContact(campaignId) {
      const c = campaigns.get(campaignId);
      if (!c) return 0;
      c.remaining = Math.max(0, c.remaining - 1);
      return c.remaining;
    },
    async close() {},
  };
}
