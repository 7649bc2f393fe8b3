import type { Comparable, FieldFilter, FieldRange, StorageQuery, StoredDoc } from './localStorage.js';
import type { RecordData } from './remoteBackend.js';

/**
 * Query semantics shared by every storage adapter (and used as-is by memoryStorage): the reference
 * an adapter's SQL or index plan must agree with.
 */

const RANGE_KEYS = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in']);

export function isFieldRange(filter: FieldFilter): filter is FieldRange {
  return typeof filter === 'object' && filter !== null && !Array.isArray(filter) && Object.keys(filter).every((k) => RANGE_KEYS.has(k));
}

/** Normalises a stored field value for comparison: missing and non-scalar values are null, booleans 0/1. */
export function fieldValue(data: RecordData | null, field: string): Comparable {
  const value = data?.[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return null;
}

function normalise(value: Comparable | undefined): Comparable {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

function typeRank(value: Comparable): number {
  if (value === null) return 0;
  if (typeof value === 'number') return 1;
  return 2;
}

/** Total order: null < numbers (and booleans) < strings; strings by UTF-16 code units. */
export function compareValues(a: Comparable, b: Comparable): number {
  const x = normalise(a);
  const y = normalise(b);
  const rx = typeRank(x);
  const ry = typeRank(y);
  if (rx !== ry) return rx - ry;
  if (x === null || y === null) return 0;
  if (x < y) return -1;
  if (x > y) return 1;
  return 0;
}

export function matchesFilter(value: Comparable, filter: FieldFilter): boolean {
  if (!isFieldRange(filter)) return compareValues(value, filter) === 0;
  const v = normalise(value);
  if (filter.eq !== undefined && compareValues(v, filter.eq) !== 0) return false;
  if (filter.ne !== undefined && compareValues(v, filter.ne) === 0) return false;
  if (filter.in !== undefined && !filter.in.some((candidate) => compareValues(v, candidate) === 0)) return false;
  const ranged = filter.gt !== undefined || filter.gte !== undefined || filter.lt !== undefined || filter.lte !== undefined;
  if (ranged && v === null) return false;
  if (filter.gt !== undefined && !(compareValues(v, filter.gt) > 0)) return false;
  if (filter.gte !== undefined && !(compareValues(v, filter.gte) >= 0)) return false;
  if (filter.lt !== undefined && !(compareValues(v, filter.lt) < 0)) return false;
  if (filter.lte !== undefined && !(compareValues(v, filter.lte) <= 0)) return false;
  return true;
}

export function matchesWhere(data: RecordData | null, where: StorageQuery['where']): boolean {
  if (!where) return true;
  for (const [field, filter] of Object.entries(where)) {
    if (!matchesFilter(fieldValue(data, field), filter)) return false;
  }
  return true;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares two rows in query order: the order terms, then the key ascending. */
export function compareInOrder(
  orderBy: StorageQuery['orderBy'],
  a: { key: string; values: readonly Comparable[] },
  b: { key: string; values: readonly Comparable[] },
): number {
  const terms = orderBy ?? [];
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i]!;
    const c = compareValues(a.values[i] ?? null, b.values[i] ?? null);
    if (c !== 0) return term.direction === 'desc' ? -c : c;
  }
  return compareKeys(a.key, b.key);
}

export function orderValues(data: RecordData | null, orderBy: StorageQuery['orderBy']): Comparable[] {
  return (orderBy ?? []).map((term) => fieldValue(data, term.field));
}

/** Applies a StorageQuery to documents in memory: the reference semantics. */
export function applyQuery(docs: Iterable<StoredDoc>, query: StorageQuery): StoredDoc[] {
  const rows: { doc: StoredDoc; row: { key: string; values: Comparable[] } }[] = [];
  for (const doc of docs) {
    if (doc.deleted || !matchesWhere(doc.data, query.where)) continue;
    rows.push({ doc, row: { key: doc.key, values: orderValues(doc.data, query.orderBy) } });
  }
  rows.sort((x, y) => compareInOrder(query.orderBy, x.row, y.row));
  let start = 0;
  if (query.after) {
    const after = query.after;
    start = rows.findIndex((r) => compareInOrder(query.orderBy, r.row, after) > 0);
    if (start < 0) start = rows.length;
  }
  const end = query.limit === undefined ? rows.length : start + query.limit;
  return rows.slice(start, end).map((r) => r.doc);
}
