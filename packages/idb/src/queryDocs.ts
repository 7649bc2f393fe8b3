import { applyQuery, compareInOrder, compareValues, fieldValue, isFieldRange, matchesWhere, orderValues } from '@nexus-store/core';
import type { Comparable, FieldFilter, StorageQuery, StoredDoc } from '@nexus-store/core';
import { unwrap } from 'idb';
import type { IDBPObjectStore } from 'idb';
import { allOrFirstError } from './allOrFirstError.js';
import { encodeValue, fieldEntryOf, fromDocRecord } from './docRecord.js';
import type { DocRecord } from './docRecord.js';
import type { ALL_STORES, NexusDB } from './schema.js';
import { walkCursor } from './walkCursor.js';

/**
 * Query planning over the `docs` store (see schema.ts). The result is always `applyQuery` over the
 * rows a plan reads, so the semantics are exactly core's; an index only narrows what is read and,
 * when it follows the first order term, lets a limited query stop early.
 */

/** What a query runs against: the docs store of an open transaction. */
export interface DocsSource {
  docs: IDBPObjectStore<NexusDB, typeof ALL_STORES, 'docs', 'readonly' | 'readwrite'>;
  keyRange: typeof IDBKeyRange;
  cmp(a: unknown, b: unknown): number;
}

interface Bound {
  lower: IDBValidKey;
  upper: IDBValidKey;
  lowerOpen?: boolean;
}

/** Sorts after every string and number in a key position. */
const TOP: IDBValidKey = [];

interface FieldScan {
  field: string;
  /** Disjoint bounds in ascending order; empty means nothing can match. */
  bounds: Bound[];
  /** eq/in (a few points) or a range. */
  kind: 'point' | 'range';
  /** True when the bounds select exactly the rows the filter matches (so an index count is the answer). */
  exact: boolean;
}

interface Plan {
  index: 'live' | 'fields';
  /** The field of the `fields` index scanned. */
  field?: string;
  bounds: Bound[];
  direction: 'next' | 'prev';
  /** 'key': rows come in query order; 'field': ordered by the first order term; 'none': no useful order. */
  order: 'key' | 'field' | 'none';
}

const isComparable = (value: unknown): value is Comparable => value === null || ['string', 'number', 'boolean'].includes(typeof value);

function point(collection: string, field: string, value: unknown): Bound | undefined {
  const encoded = encodeValue(value);
  if (!encoded) return undefined;
  return { lower: [collection, field, ...encoded], upper: [collection, field, ...encoded, TOP] };
}

/** The index bounds of one where filter on a declared field, or undefined when it cannot narrow. */
function fieldScan(source: DocsSource, collection: string, field: string, filter: FieldFilter): FieldScan | undefined {
  if (!isFieldRange(filter)) {
    const bound = isComparable(filter) ? point(collection, field, filter) : undefined;
    return bound && { field, bounds: [bound], kind: 'point', exact: true };
  }
  const used = Object.keys(filter).filter((k) => filter[k as keyof typeof filter] !== undefined);
  if (filter.eq !== undefined) {
    const bound = point(collection, field, filter.eq);
    return bound && { field, bounds: [bound], kind: 'point', exact: used.length === 1 };
  }
  if (filter.in !== undefined) {
    if (!filter.in.every(isComparable)) return undefined;
    const values = [...filter.in].sort(compareValues).filter((v, i, all) => i === 0 || compareValues(all[i - 1]!, v) !== 0);
    const bounds = values.map((v) => point(collection, field, v));
    if (bounds.some((b) => b === undefined)) return undefined;
    return { field, bounds: bounds as Bound[], kind: 'point', exact: used.length === 1 };
  }
  const ops = [filter.gt, filter.gte, filter.lt, filter.lte].filter((v) => v !== undefined);
  if (ops.length === 0 || !ops.every(isComparable)) return undefined;
  // Ranges never match null: start at the numbers (type rank 1); end after the strings (rank 2).
  const candidatesLow: IDBValidKey[] = [[collection, field, 1]];
  const candidatesHigh: IDBValidKey[] = [[collection, field, 3]];
  const enc = (v: Comparable) => encodeValue(v);
  for (const [value, low, inclusive] of [
    [filter.gt, true, false],
    [filter.gte, true, true],
    [filter.lt, false, false],
    [filter.lte, false, true],
  ] as const) {
    if (value === undefined) continue;
    const e = enc(value);
    if (!e) return undefined;
    // Entries are [c, f, rank, value, key]: [c, f, rank, value] sorts before all of a value's entries,
    // [c, f, rank, value, TOP] after them.
    if (low) candidatesLow.push(inclusive ? [collection, field, ...e] : [collection, field, ...e, TOP]);
    else candidatesHigh.push(inclusive ? [collection, field, ...e, TOP] : [collection, field, ...e]);
  }
  const lower = candidatesLow.reduce((a, b) => (source.cmp(a, b) >= 0 ? a : b));
  const upper = candidatesHigh.reduce((a, b) => (source.cmp(a, b) <= 0 ? a : b));
  const bounds = source.cmp(lower, upper) < 0 ? [{ lower, upper }] : [];
  return { field, bounds, kind: 'range', exact: used.length === ops.length };
}

function collectionBound(collection: string): Bound {
  return { lower: [collection], upper: [collection, TOP] };
}

function countBounds(source: DocsSource, bounds: readonly Bound[]): Promise<number> {
  const index = source.docs.index('fields');
  return allOrFirstError(bounds.map((b) => index.count(source.keyRange.bound(b.lower, b.upper, b.lowerOpen ?? false, false)))).then((counts) =>
    counts.reduce((a, b) => a + b, 0),
  );
}

/**
 * Picks what to read. With one way to narrow, it is taken. With several (more than one declared
 * where field, or a where field plus a limited orderBy on a declared field), index counts decide:
 * the narrowest where range, unless scanning in order of the first order term is expected to read
 * fewer rows before `limit` matches (limit × live rows / matching rows).
 */
async function planQuery(source: DocsSource, collection: string, declared: ReadonlySet<string>, query: StorageQuery): Promise<Plan | 'empty'> {
  const scans: FieldScan[] = [];
  for (const [field, filter] of Object.entries(query.where ?? {})) {
    if (!declared.has(field)) continue;
    const scan = fieldScan(source, collection, field, filter);
    if (scan?.bounds.length === 0) return 'empty';
    if (scan) scans.push(scan);
  }
  const first = query.orderBy?.[0];
  const onOrder = (scan: FieldScan) => first !== undefined && scan.field === first.field;
  const orderedScan = (): FieldScan =>
    scans.find(onOrder) ?? { field: first!.field, bounds: [{ lower: [collection, first!.field], upper: [collection, first!.field, TOP] }], kind: 'range', exact: true };
  const canScanInOrder = first !== undefined && declared.has(first.field) && query.limit !== undefined;

  let chosen: FieldScan | undefined;
  if (scans.length === 0) chosen = canScanInOrder ? orderedScan() : undefined;
  else if (scans.length === 1 && (!canScanInOrder || onOrder(scans[0]!))) chosen = scans[0];
  else {
    const counts = await allOrFirstError(scans.map((scan) => countBounds(source, scan.bounds)));
    let best = 0;
    for (let i = 1; i < scans.length; i++) if (counts[i]! < counts[best]! || (counts[i] === counts[best] && onOrder(scans[i]!))) best = i;
    if (counts[best] === 0) return 'empty';
    chosen = scans[best];
    if (canScanInOrder && !onOrder(chosen!)) {
      const { lower, upper } = collectionBound(collection);
      const live = await source.docs.index('live').count(source.keyRange.bound(lower, upper));
      if ((query.limit! * live) / counts[best]! < counts[best]!) chosen = orderedScan();
    }
  }

  if (!chosen) {
    const bound = collectionBound(collection);
    const keyOrdered = !query.orderBy?.length;
    if (keyOrdered && query.after) {
      bound.lower = [collection, query.after.key];
      bound.lowerOpen = true;
    }
    return { index: 'live', bounds: [bound], direction: 'next', order: keyOrdered ? 'key' : 'none' };
  }

  const ordered = first !== undefined && chosen.field === first.field;
  const direction = ordered && first.direction === 'desc' ? 'prev' : 'next';
  let bounds = chosen.bounds.map((b) => ({ ...b }));
  const afterValue = query.after?.values[0];
  const afterEncoded = ordered && query.after ? encodeValue(afterValue === undefined ? null : afterValue) : undefined;
  if (afterEncoded) {
    // Rows before the cursor's first order value cannot follow it: skip them in the index.
    const edge: IDBValidKey = direction === 'next' ? [collection, chosen.field, ...afterEncoded] : [collection, chosen.field, ...afterEncoded, TOP];
    bounds = bounds
      .map((b) => (direction === 'next' ? (source.cmp(edge, b.lower) > 0 ? { ...b, lower: edge, lowerOpen: false } : b) : source.cmp(edge, b.upper) < 0 ? { ...b, upper: edge } : b))
      .filter((b) => source.cmp(b.lower, b.upper) < 0);
    if (bounds.length === 0) return 'empty';
  }
  if (direction === 'prev') bounds.reverse();
  return { index: 'fields', field: chosen.field, bounds, direction, order: ordered ? 'field' : 'none' };
}

/** Reads the plan's records in index order; `visit` returns false to stop. */
async function scan(source: DocsSource, plan: Plan, stopsEarly: boolean, visit: (record: DocRecord) => boolean): Promise<void> {
  const index = source.docs.index(plan.index);
  const indexKey = (record: DocRecord): IDBValidKey | undefined => (plan.index === 'live' ? record.$l : fieldEntryOf(record, plan.field!));
  for (const bound of plan.bounds) {
    const range = source.keyRange.bound(bound.lower, bound.upper, bound.lowerOpen ?? false, false);
    if (!stopsEarly) {
      const records = await index.getAll(range);
      for (const record of records) if (!visit(record)) return;
      continue;
    }
    if (plan.direction === 'next') {
      // Batched reads (one request per batch, not per row), resuming after the last index key.
      let lower = bound.lower;
      let lowerOpen = bound.lowerOpen ?? false;
      for (let batch = 32; ; batch = Math.min(batch * 2, 4096)) {
        if (source.cmp(lower, bound.upper) >= 0) break;
        const records = await index.getAll(source.keyRange.bound(lower, bound.upper, lowerOpen, false), batch);
        for (const record of records) if (!visit(record)) return;
        if (records.length < batch) break;
        const last = indexKey(records[records.length - 1]!);
        if (last === undefined) break;
        lower = last;
        lowerOpen = true;
      }
      continue;
    }
    // Raw cursor: idb's promise per row measurably slowed long scans (README).
    if (await walkCursor(unwrap(index).openCursor(range, 'prev'), (cursor) => visit(cursor.value as DocRecord))) return;
  }
}

/** `queryDocs` of the ReadTransaction contract. */
export async function queryDocs(source: DocsSource, collection: string, declared: ReadonlySet<string>, query: StorageQuery): Promise<StoredDoc[]> {
  const { limit, after, orderBy, where } = query;
  if (limit !== undefined && limit <= 0) return [];
  const plan = await planQuery(source, collection, declared, query);
  if (plan === 'empty') return [];
  const firstField = orderBy?.[0]?.field;
  const stopsEarly = limit !== undefined && plan.order !== 'none';
  const rows: StoredDoc[] = [];
  let boundary: Comparable = null;
  await scan(source, plan, stopsEarly, (record) => {
    if (stopsEarly && plan.order === 'field' && rows.length >= limit!) {
      // Rows come ordered by the first order term: once `limit` rows are in, only ties with the
      // last of them can still make the page (the full sort below decides between them).
      if (compareValues(fieldValue(record.data, firstField!), boundary) !== 0) return false;
    }
    if (record.deleted || !matchesWhere(record.data, where)) return true;
    if (after && compareInOrder(orderBy, { key: record.key, values: orderValues(record.data, orderBy) }, after) <= 0) return true;
    rows.push(fromDocRecord(record));
    if (stopsEarly && rows.length === limit) {
      if (plan.order === 'key') return false;
      boundary = fieldValue(record.data, firstField!);
    }
    return true;
  });
  return applyQuery(rows, query);
}

/** `countDocs` of the ReadTransaction contract: an index count when one declared field decides it alone. */
export async function countDocs(source: DocsSource, collection: string, declared: ReadonlySet<string>, where: StorageQuery['where']): Promise<number> {
  const entries = Object.entries(where ?? {});
  if (entries.length === 0) {
    const { lower, upper } = collectionBound(collection);
    return source.docs.index('live').count(source.keyRange.bound(lower, upper));
  }
  if (entries.length === 1 && declared.has(entries[0]![0])) {
    const [field, filter] = entries[0]!;
    const scan = fieldScan(source, collection, field, filter);
    if (scan?.exact) {
      return countBounds(source, scan.bounds);
    }
  }
  return (await queryDocs(source, collection, declared, { where })).length;
}
