// A durable local spool for Plivo callbacks the gateway answered but could not apply (the shared store was down).
// Plivo documents no redelivery of hangup_url callbacks after a non-2xx answer (nothing in its voice docs promises a
// retry, so we take the strict side: a callback refused is a callback lost). So the gateway keeps its own copy:
// one append-only JSON-lines file, fsync'd before the entry counts as kept, replayed in order when the store is
// back, and still there after a restart of the process (mount OUTBOUND_SPOOL_DIR on a volume to survive a pod move).
//
// Lines: {"a":id,"at":ms,"e":entry} adds an entry, {"d":id} marks it done. The file is cut back to empty when
// nothing is pending, so it stays small.
//
// Each open spool writes its own file (`<name>-<pid>-<random>.jsonl`), so that several gateways sharing a host
// directory (or two in one test process) never truncate each other's entries. On open, a spool adopts the files of
// spools that are gone: their process is not running, or it is this process and no open spool holds the file
// (a restart in a container reuses pid 1).
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { childLogger } from '../log.ts';

export interface SpoolEntry<T> {
  id: string;
  /** When it was first spooled (epoch ms). */
  at: number;
  entry: T;
}

export interface Spool<T> {
  /** Keeps `entry` on disk (resolves once it is fsync'd). */
  append(entry: T): Promise<void>;
  /** Pending entries, oldest first. */
  pending(): Array<SpoolEntry<T>>;
  done(id: string): Promise<void>;
  readonly size: number;
  close(): Promise<void>;
}

/** Files held by open spools of this process. */
const held = new Set<string>();

function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function readEntries<T>(path: string, into: Map<string, SpoolEntry<T>>): number {
  let torn = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      const v = JSON.parse(line) as { a?: string; at?: number; e?: T; d?: string };
      if (typeof v.a === 'string') into.set(v.a, { id: v.a, at: v.at ?? Date.now(), entry: v.e as T });
      else if (typeof v.d === 'string') into.delete(v.d);
    } catch {
      torn++; // a line cut by a crash mid-write: it was never acknowledged, so nothing is lost by skipping it
    }
  }
  return torn;
}

export function openSpool<T>(dir: string, name: string): Spool<T> {
  const log = childLogger({ component: 'spool', spool: name });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${name}-${process.pid}-${randomUUID().slice(0, 8)}.jsonl`);
  held.add(path);
  const entries = new Map<string, SpoolEntry<T>>();
  const pattern = new RegExp(`^${name}-(\\d+)-[0-9a-f]{8}\\.jsonl$`);
  const adopted: string[] = [];
  let torn = 0;
  for (const f of readdirSync(dir)) {
    const m = pattern.exec(f);
    const other = join(dir, f);
    if (!m || held.has(other)) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processGone(pid)) continue;
    torn += readEntries(other, entries);
    adopted.push(other);
  }
  // The adopted entries are written to our file before the old files go, so a crash in between loses nothing.
  writeFileSync(
    path,
    [...entries.values()].map((e) => `${JSON.stringify({ a: e.id, at: e.at, e: e.entry })}\n`).join(''),
    { mode: 0o600, flush: true },
  );
  for (const f of adopted) unlinkSync(f);
  if (entries.size > 0 || torn > 0) log.warn({ pending: entries.size, torn }, 'spool reopened with pending entries');

  let handle: Promise<FileHandle> | undefined;
  // Writes are chained so that lines never interleave and a truncate never races an append.
  let chain: Promise<unknown> = Promise.resolve();
  const file = () => {
    handle ??= open(path, 'a', 0o600);
    return handle;
  };
  const write = (line: string, truncate = false): Promise<void> => {
    const next = chain.then(async () => {
      const h = await file();
      if (truncate) await h.truncate(0);
      else await h.appendFile(`${line}\n`);
      await h.datasync();
    });
    chain = next.catch(() => {});
    return next;
  };

  return {
    async append(entry) {
      const e: SpoolEntry<T> = { id: randomUUID(), at: Date.now(), entry };
      await write(JSON.stringify({ a: e.id, at: e.at, e: entry }));
      entries.set(e.id, e);
    },
    pending: () => [...entries.values()],
    async done(id) {
      if (!entries.delete(id)) return;
      if (entries.size === 0) await write('', true);
      else await write(JSON.stringify({ d: id }));
    },
    get size() {
      return entries.size;
    },
    async close() {
      await chain;
      const h = handle;
      handle = undefined;
      if (h) await (await h).close();
      held.delete(path);
      // An empty spool leaves nothing behind; a non-empty one is adopted by the next spool opened here.
      if (entries.size === 0) {
        try {
          unlinkSync(path);
        } catch {}
      }
    },
  };
}
