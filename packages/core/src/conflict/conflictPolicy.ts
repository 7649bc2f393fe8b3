import { compactFieldClocks, compareHlc, expandFieldClocks, maxHlc } from '../hlc.js';
import type { RecordData } from '../remoteBackend.js';

/** What a conflict handler sees: the local and the server side of one record. */
export interface ConflictContext<T> {
  collection: string;
  /** The record's id (for a `unique` conflict: the local record's id; `remoteKey` is the winner's). */
  key: string;
  /** 'version': both sides changed the record. 'unique': another, older record holds a unique value. */
  reason: 'version' | 'unique';
  /** The unique field that collided, for reason 'unique'. */
  field?: string;
  /** The local value; null when deleted locally. */
  local: T | null;
  /** The server's value; null when deleted (or absent) on the server. */
  remote: T | null;
  remoteKey: string;
  localHlc: string;
  remoteHlc: string;
}

/** A resolver's answer: keep one side, or a merged value (`null` deletes the record). */
export type ConflictResolution<T> = 'local' | 'remote' | { value: T | null };

/** A custom policy. It must be deterministic (same inputs, same answer) so every device converges. */
export type ConflictResolver<T> = (conflict: ConflictContext<T>) => ConflictResolution<T>;

export type ConflictPolicyName = 'serverWins' | 'clientWins' | 'lastWriteWins' | 'fieldMerge' | 'manual';

export type ConflictPolicy<T = unknown> = ConflictPolicyName | ConflictResolver<T>;

/** One side of a record with its clocks. */
export interface VersionedValue {
  data: RecordData | null;
  deleted: boolean;
  hlc: string;
  fieldClocks: Record<string, string> | null;
}

export type ConflictOutcome =
  | { kind: 'remote' }
  | { kind: 'local' }
  | { kind: 'merged'; value: VersionedValue }
  | { kind: 'park' };

function fieldMerge(local: VersionedValue, remote: VersionedValue): ConflictOutcome {
  if (local.deleted || remote.deleted || !local.data || !remote.data) {
    // A delete is a write to the whole record: the newer side wins.
    return compareHlc(local.hlc, remote.hlc) > 0 ? { kind: 'local' } : { kind: 'remote' };
  }
  const localClocks = expandFieldClocks(local.data, local.hlc, local.fieldClocks);
  const remoteClocks = expandFieldClocks(remote.data, remote.hlc, remote.fieldClocks);
  const fields = new Set([...Object.keys(remote.data), ...Object.keys(local.data), ...Object.keys(localClocks), ...Object.keys(remoteClocks)]);
  const data: RecordData = {};
  const clocks: Record<string, string> = {};
  let takesLocal = false;
  for (const field of fields) {
    const lc = localClocks[field] ?? '';
    const rc = remoteClocks[field] ?? '';
    const fromLocal = compareHlc(lc, rc) > 0;
    const source = fromLocal ? local.data : remote.data;
    if (fromLocal) takesLocal = true;
    if (Object.prototype.hasOwnProperty.call(source, field)) data[field] = source[field];
    const clock = maxHlc(lc, rc);
    if (clock) clocks[field] = clock;
  }
  if (!takesLocal) return { kind: 'remote' };
  const hlc = maxHlc(local.hlc, remote.hlc);
  return { kind: 'merged', value: { data, deleted: false, hlc, fieldClocks: compactFieldClocks(data, hlc, clocks) } };
}

/**
 * Decides a conflict by a built-in policy. Every policy is a pure function of both sides, so all
 * devices reach the same answer.
 */
export function decideConflict(policy: ConflictPolicyName, local: VersionedValue, remote: VersionedValue): ConflictOutcome {
  switch (policy) {
    case 'serverWins':
      return { kind: 'remote' };
    case 'clientWins':
      return { kind: 'local' };
    case 'lastWriteWins':
      return compareHlc(local.hlc, remote.hlc) > 0 ? { kind: 'local' } : { kind: 'remote' };
    case 'fieldMerge':
      return fieldMerge(local, remote);
    case 'manual':
      return { kind: 'park' };
  }
}
