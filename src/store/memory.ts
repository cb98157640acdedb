// The single-process call store. Records are cloned in and out so that a caller mutating what it read can never
// change the stored record behind the store's back (the Redis store behaves the same way by construction).
import { InvalidStateError } from '../errors.ts';
import type { CallRecord, CallStore } from './types.ts';

export interface MemoryCallStoreOptions {
  /** Records older than this (by createdAt) are dropped by the sweep. */
  ttlS?: number;
  /** Hard cap so that memory stays bounded whatever the traffic; the oldest records go first. */
  maxRecords?: number;
  /** Sweep period; the timer is unref'd so it never keeps a process alive. */
  sweepIntervalMs?: number;
  now?: () => number;
}

export function createMemoryCallStore(options: MemoryCallStoreOptions = {}): CallStore {
  const ttlMs = (options.ttlS ?? 7 * 86_400) * 1000;
  const maxRecords = options.maxRecords ?? 200_000;
  const now = options.now ?? Date.now;
  // Map iteration order is insertion order, which is creation order: the first entries are the oldest.
  const records = new Map<string, { json: string; createdMs: number; uuids: string[] }>();
  const byUuid = new Map<string, string>();
  const byCampaign = new Map<string, Set<string>>();
  let closed = false;

  const drop = (id: string): void => {
    const entry = records.get(id);
    if (!entry) return;
    records.delete(id);
    for (const uuid of entry.uuids) if (byUuid.get(uuid) === id) byUuid.delete(uuid);
    const r = JSON.parse(entry.json) as CallRecord;
    if (r.campaignId) byCampaign.get(r.campaignId)?.delete(id);
  };

  const sweep = (): void => {
    const cutoff = now() - ttlMs;
    for (const [id, entry] of records) {
      if (entry.createdMs >= cutoff && records.size <= maxRecords) break;
      drop(id);
    }
  };
  const timer = setInterval(sweep, options.sweepIntervalMs ?? 60_000);
  timer.unref();

  const check = (): void => {
    if (closed) throw new InvalidStateError('call store is closed');
  };

  const index = (r: CallRecord, uuids: string[]): void => {
    if (r.plivoCallUuid) {
      byUuid.set(r.plivoCallUuid, r.id);
      if (!uuids.includes(r.plivoCallUuid)) uuids.push(r.plivoCallUuid);
    }
    if (r.campaignId) {
      let set = byCampaign.get(r.campaignId);
      if (!set) {
        set = new Set();
        byCampaign.set(r.campaignId, set);
      }
      set.add(r.id);
    }
  };

  return {
    async create(record) {
      check();
      if (records.has(record.id)) throw new InvalidStateError(`call record ${record.id} already exists`);
      const createdMs = Date.parse(record.createdAt);
      const entry = { json: JSON.stringify(record), createdMs: Number.isNaN(createdMs) ? now() : createdMs, uuids: [] };
      records.set(record.id, entry);
      index(record, entry.uuids);
      if (records.size > maxRecords) sweep();
    },
    async get(id) {
      check();
      const entry = records.get(id);
      return entry ? (JSON.parse(entry.json) as CallRecord) : undefined;
    },
    async getByPlivoUuid(uuid) {
      check();
      const id = byUuid.get(uuid);
      const entry = id === undefined ? undefined : records.get(id);
      return entry ? (JSON.parse(entry.json) as CallRecord) : undefined;
    },
    async update(id, change) {
      check();
      const entry = records.get(id);
      if (!entry) return undefined;
      // Synchronous read-modify-write: nothing else runs in between, so this is atomic in one process.
      const next = change(JSON.parse(entry.json) as CallRecord);
      if (next.id !== id) throw new InvalidStateError('update() must not change a record id', { callId: id });
      entry.json = JSON.stringify(next);
      index(next, entry.uuids);
      return JSON.parse(entry.json) as CallRecord;
    },
    async linkPlivoUuid(id, uuid) {
      check();
      const entry = records.get(id);
      if (!entry) throw new InvalidStateError(`no call record ${id} to link`, { callId: id });
      byUuid.set(uuid, id);
      if (!entry.uuids.includes(uuid)) entry.uuids.push(uuid);
      const r = JSON.parse(entry.json) as CallRecord;
      if (r.plivoCallUuid !== uuid) {
        r.plivoCallUuid = uuid;
        entry.json = JSON.stringify(r);
      }
    },
    async listByCampaign(campaignId) {
      check();
      const ids = byCampaign.get(campaignId);
      if (!ids) return [];
      const out: CallRecord[] = [];
      for (const id of ids) {
        const entry = records.get(id);
        if (entry) out.push(JSON.parse(entry.json) as CallRecord);
      }
      return out;
    },
    async close() {
      closed = true;
      clearInterval(timer);
    },
  };
}
