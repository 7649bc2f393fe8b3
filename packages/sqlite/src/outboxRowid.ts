import { PRIORITY_RANK, type SyncPriority } from '@nexus-store/core';

/** Outbox rowids: priority rank * SEQ_SLOT + seq (seqs stay far below 2^44). */
export const SEQ_SLOT = 2 ** 44;

/** The rowid of the entry with this seq and priority. */
export function rowidOf(seq: number, priority: SyncPriority): number {
  return PRIORITY_RANK[priority] * SEQ_SLOT + seq;
}

/** The rowid an entry with this seq has under each of the four priority ranks. */
export function rowidsOf(seq: number): [number, number, number, number] {
  return [seq, SEQ_SLOT + seq, 2 * SEQ_SLOT + seq, 3 * SEQ_SLOT + seq];
}

/** SQL: `rowid` is the rowid of the entry with seq `seq` (one of four, by priority). */
export const ROWID_OF_SEQ = (rowid: string, seq: string) => `${rowid} IN (${seq}, ${seq} + ${SEQ_SLOT}, ${seq} + ${2 * SEQ_SLOT}, ${seq} + ${3 * SEQ_SLOT})`;

/**
 * `[first, last]` when `rowids` are consecutive integers in ascending order (a batch of one priority
 * whose seqs follow each other, as a bulk write makes them), else null. Then `id BETWEEN first AND
 * last` names exactly these rows: a range scan instead of a JSON list and a seek per row.
 */
export function consecutiveRange(rowids: readonly number[]): [number, number] | null {
  if (rowids.length < 2) return null;
  const first = rowids[0]!;
  for (let i = 1; i < rowids.length; i++) if (rowids[i] !== first + i) return null;
  return [first, first + rowids.length - 1];
}
