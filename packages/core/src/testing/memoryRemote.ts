import { CursorExpiredError, InvalidArgumentError } from '../errors.js';
import type { Mutation, MutationResult, PullResult, RemoteBackend, RemotePoke, ServerRecord } from '../remoteBackend.js';

export interface MemoryRemoteOptions {
  /** Per collection: fields whose values must be unique among live records (the oldest record wins). */
  collections?: Record<string, { unique?: readonly string[] }>;
  /** Upper bound for one pull page. @default 1000 */
  maxPullLimit?: number;
}

export interface AppliedMutation {
  mutationId: string;
  clientId: string;
  collection: string;
  key: string;
  op: Mutation['op'];
  version: number;
}

/**
 * An in-process server with the reference server's semantics: per-record versions from one
 * monotonic counter, idempotency by (clientId, mutationId), conflicts by baseVersion, unique fields
 * (oldest wins), tombstones, cursor pulls, compaction with a horizon, and pokes.
 */
export interface MemoryRemote extends RemoteBackend {
  /** The latest version handed out. */
  readonly version: number;
  /** Every record, tombstones included, ordered by version. */
  records(collection?: string): ServerRecord[];
  get(collection: string, key: string): ServerRecord | undefined;
  /** Every applied effect, in commit order. */
  readonly applied: readonly AppliedMutation[];
  /** Every push request received, in order (what clients sent, before any dedup). */
  readonly pushes: readonly Mutation[][];
  /** Removes tombstones and dedup records; older cursors must then resync from scratch. */
  compact(): void;
}

const id = (collection: string, key: string) => `${collection}\u0000${key}`;

export function createMemoryRemote(options: MemoryRemoteOptions = {}): MemoryRemote {
  const records = new Map<string, ServerRecord>();
  const byVersion = new Map<number, string>();
  const dedup = new Map<string, number>();
  const applied: AppliedMutation[] = [];
  const pushes: Mutation[][] = [];
  const listeners = new Set<(poke: RemotePoke) => void>();
  const maxPullLimit = options.maxPullLimit ?? 1000;
  let version = 0;
  let horizon = 0;

  const uniqueHolder = (m: Mutation): { field: string; record: ServerRecord } | undefined => {
    const fields = options.collections?.[m.collection]?.unique ?? [];
    for (const field of fields) {
      const value = m.data?.[field];
      if (value === undefined || value === null) continue;
      for (const record of records.values()) {
        if (record.collection === m.collection && record.key !== m.key && !record.deleted && record.data?.[field] === value) return { field, record };
      }
    }
    return undefined;
  };

  const applyOne = (m: Mutation): MutationResult => {
    const dedupKey = `${m.clientId}\u0000${m.mutationId}`;
    const first = dedup.get(dedupKey);
    if (first !== undefined) return { mutationId: m.mutationId, status: 'duplicate', version: first };
    const current = records.get(id(m.collection, m.key));
    if ((current?.version ?? 0) !== m.baseVersion) {
      return { mutationId: m.mutationId, status: 'conflict', reason: 'version', current: current ? structuredClone(current) : null };
    }
    if (m.op === 'upsert') {
      const holder = uniqueHolder(m);
      if (holder) return { mutationId: m.mutationId, status: 'conflict', reason: 'unique', field: holder.field, current: structuredClone(holder.record) };
      if (!m.data || typeof m.data !== 'object') return { mutationId: m.mutationId, status: 'rejected', code: 'VALIDATION', message: 'An upsert needs data.' };
    }
    version++;
    if (current) byVersion.delete(current.version);
    const record: ServerRecord = {
      collection: m.collection,
      key: m.key,
      version,
      deleted: m.op === 'delete',
      data: m.op === 'delete' ? null : structuredClone(m.data),
      hlc: m.hlc,
      fieldClocks: m.fieldClocks ? structuredClone(m.fieldClocks) : null,
      clientId: m.clientId,
    };
    records.set(id(m.collection, m.key), record);
    byVersion.set(version, id(m.collection, m.key));
    dedup.set(dedupKey, version);
    applied.push({ mutationId: m.mutationId, clientId: m.clientId, collection: m.collection, key: m.key, op: m.op, version });
    return { mutationId: m.mutationId, status: 'applied', version };
  };

  return {
    get version() {
      return version;
    },
    applied,
    pushes,
    records(collection) {
      return [...records.values()].filter((r) => collection === undefined || r.collection === collection).sort((a, b) => a.version - b.version).map((r) => structuredClone(r));
    },
    get(collection, key) {
      const r = records.get(id(collection, key));
      return r ? structuredClone(r) : undefined;
    },
    async push(mutations, callOptions) {
      pushes.push(structuredClone(mutations));
      const before = version;
      const results = mutations.map(applyOne);
      if (version > before) for (const listener of [...listeners]) listener({ version });
      // The client was up to date before this push: it may move its cursor past its own changes.
      const sent = callOptions?.cursor;
      if (sent !== undefined && (sent === null ? 0 : Number(sent)) === before) return { results, cursor: String(version) };
      return results;
    },
    async pull(cursor, limit): Promise<PullResult> {
      const from = cursor === null ? 0 : Number(cursor);
      if (!Number.isInteger(from) || from < 0) throw new InvalidArgumentError(`Bad cursor ${JSON.stringify(cursor)}.`);
      if (cursor !== null && from < horizon) throw new CursorExpiredError();
      const max = Math.max(1, Math.min(limit, maxPullLimit));
      const changes: ServerRecord[] = [];
      let v = from;
      while (v < version && changes.length < max) {
        v++;
        const key = byVersion.get(v);
        if (key) changes.push(structuredClone(records.get(key)!));
      }
      let hasMore = false;
      for (let w = v + 1; w <= version; w++) {
        if (byVersion.has(w)) {
          hasMore = true;
          break;
        }
      }
      return { changes, cursor: String(changes.length > 0 ? v : from), hasMore };
    },
    subscribe(onPoke) {
      listeners.add(onPoke);
      return () => listeners.delete(onPoke);
    },
    compact() {
      for (const [key, record] of records) {
        if (record.deleted) {
          records.delete(key);
          byVersion.delete(record.version);
        }
      }
      dedup.clear();
      horizon = version;
    },
  };
}
