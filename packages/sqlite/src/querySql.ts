import { isFieldRange } from '@nexus-store/core';
import type { Comparable, FieldFilter, StorageQuery } from '@nexus-store/core';

/**
 * Translates a `StorageQuery` into SQL over the `nx_docs` table with the semantics of
 * `applyQuery` in @nexus-store/core: a field is the top-level property of the JSON data; missing,
 * null, object and array values are NULL; booleans are 0/1 (as json_extract returns them); SQLite's
 * storage-class order (NULL < INTEGER/REAL < TEXT) is the reference order null < numbers < strings.
 */

export interface SqlFragment {
  sql: string;
  params: SqlValue[];
}

export type SqlValue = string | number | null;

/** Field names we can put in a quoted JSON path literal (no quote, backslash or control character). Others are answered in JavaScript. */
export function isSqlField(field: string): boolean {
  if (field.length === 0) return false;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * The SQL expression for a field's comparable value. Expression indexes use exactly this text, so
 * that the planner can match them.
 */
export function fieldExpr(field: string): string {
  const path = sqlString(`$."${field}"`);
  return `(CASE json_type(data, ${path}) WHEN 'object' THEN NULL WHEN 'array' THEN NULL ELSE json_extract(data, ${path}) END)`;
}

function isComparable(value: unknown): value is Comparable {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function toSql(value: Comparable): SqlValue {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

/** Whether a query can run in SQL; otherwise the adapter answers it with `applyQuery`. */
export function canQueryInSql(query: StorageQuery): boolean {
  for (const [field, filter] of Object.entries(query.where ?? {})) {
    if (!isSqlField(field) || !isSqlFilter(filter)) return false;
  }
  for (const term of query.orderBy ?? []) {
    if (!isSqlField(term.field) || (term.direction !== 'asc' && term.direction !== 'desc')) return false;
  }
  if (query.after) {
    if (typeof query.after.key !== 'string' || !query.after.values.every(isComparable)) return false;
  }
  return true;
}

function isSqlFilter(filter: FieldFilter): boolean {
  if (isComparable(filter)) return true;
  if (!isFieldRange(filter)) return false;
  for (const [op, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (op === 'in') {
      if (!Array.isArray(value) || !value.every(isComparable)) return false;
    } else if (!isComparable(value)) return false;
  }
  return true;
}

const FALSE: SqlFragment = { sql: '0', params: [] };

function filterSql(expr: string, filter: FieldFilter): SqlFragment[] {
  if (!isFieldRange(filter)) return [eqSql(expr, filter as Comparable)];
  const parts: SqlFragment[] = [];
  if (filter.eq !== undefined) parts.push(eqSql(expr, filter.eq));
  if (filter.ne !== undefined) {
    parts.push(filter.ne === null ? { sql: `${expr} IS NOT NULL`, params: [] } : { sql: `${expr} IS NOT ?`, params: [toSql(filter.ne)] });
  }
  if (filter.in !== undefined) parts.push(inSql(expr, filter.in));
  const ranged = filter.gt !== undefined || filter.gte !== undefined || filter.lt !== undefined || filter.lte !== undefined;
  // A range never matches null. Against a null bound: every non-null value is > and >= null, none is < or <=.
  if (ranged) parts.push({ sql: `${expr} IS NOT NULL`, params: [] });
  for (const [op, value] of [
    ['>', filter.gt],
    ['>=', filter.gte],
    ['<', filter.lt],
    ['<=', filter.lte],
  ] as const) {
    if (value === undefined) continue;
    if (value === null) {
      if (op === '<' || op === '<=') parts.push(FALSE);
      continue;
    }
    parts.push({ sql: `${expr} ${op} ?`, params: [toSql(value)] });
  }
  return parts;
}

function eqSql(expr: string, value: Comparable): SqlFragment {
  if (value === null) return { sql: `${expr} IS NULL`, params: [] };
  return { sql: `${expr} = ?`, params: [toSql(value)] };
}

function inSql(expr: string, values: readonly Comparable[]): SqlFragment {
  const nonNull = values.filter((v) => v !== null).map(toSql);
  const hasNull = nonNull.length < values.length;
  const terms: string[] = [];
  if (nonNull.length > 0) terms.push(`${expr} IN (${nonNull.map(() => '?').join(', ')})`);
  if (hasNull) terms.push(`${expr} IS NULL`);
  if (terms.length === 0) return FALSE;
  return { sql: terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`, params: nonNull };
}

/** `after`: strictly after the row with these order values and key, in query order. */
function afterSql(orderBy: StorageQuery['orderBy'], after: NonNullable<StorageQuery['after']>): SqlFragment {
  const terms = orderBy ?? [];
  const alternatives: SqlFragment[] = [];
  const equalPrefix: SqlFragment[] = [];
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i]!;
    const expr = fieldExpr(term.field);
    const raw = after.values[i];
    const value = raw === undefined ? null : toSql(raw);
    let beyond: SqlFragment | null;
    if (term.direction === 'asc') {
      beyond = value === null ? { sql: `${expr} IS NOT NULL`, params: [] } : { sql: `${expr} > ?`, params: [value] };
    } else {
      // Descending: nulls come last, so a null is beyond every value.
      beyond = value === null ? null : { sql: `(${expr} < ? OR ${expr} IS NULL)`, params: [value] };
    }
    if (beyond) alternatives.push(and([...equalPrefix, beyond]));
    equalPrefix.push(value === null ? { sql: `${expr} IS NULL`, params: [] } : { sql: `${expr} = ?`, params: [value] });
  }
  alternatives.push(and([...equalPrefix, { sql: 'key > ?', params: [after.key] }]));
  return {
    sql: `(${alternatives.map((a) => a.sql).join(' OR ')})`,
    params: alternatives.flatMap((a) => a.params),
  };
}

function and(parts: SqlFragment[]): SqlFragment {
  return { sql: `(${parts.map((p) => p.sql).join(' AND ')})`, params: parts.flatMap((p) => p.params) };
}

/**
 * The WHERE clause (without the keyword) for live documents of a collection matching `where`.
 * `deleted = 0` is a literal term so that the planner can use the partial (live rows only)
 * expression indexes that `ensureIndexes` creates.
 */
export function whereSql(collection: string, where: StorageQuery['where']): SqlFragment {
  const parts: SqlFragment[] = [{ sql: `collection = ${sqlString(collection)} AND deleted = 0`, params: [] }];
  for (const [field, filter] of Object.entries(where ?? {})) parts.push(...filterSql(fieldExpr(field), filter));
  return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params) };
}

/**
 * Picks the field whose index should drive a query, among `indexed` fields: an equality or `in`
 * filter first, then a range, then the first order term. Without statistics SQLite's planner would
 * often prefer the primary key (it already yields key order), scanning the whole collection.
 */
export function pickIndexedField(query: StorageQuery, indexed: ReadonlySet<string> | undefined): string | undefined {
  if (!indexed || indexed.size === 0) return undefined;
  const where = Object.entries(query.where ?? {}).filter(([field]) => indexed.has(field));
  const equality = where.find(([, f]) => !isFieldRange(f) || f.eq !== undefined || f.in !== undefined);
  if (equality) return equality[0];
  const ranged = where.find(([, f]) => isFieldRange(f) && (f.gt !== undefined || f.gte !== undefined || f.lt !== undefined || f.lte !== undefined));
  if (ranged) return ranged[0];
  const first = query.orderBy?.[0]?.field;
  return first !== undefined && indexed.has(first) ? first : undefined;
}

/** `FROM nx_docs`, forced onto an index when one is named. */
export function fromSql(indexName: string | undefined): string {
  return indexName ? `FROM nx_docs INDEXED BY ${indexName}` : 'FROM nx_docs';
}

/** A full SELECT of the document columns for `query`; `columns` is the select list. */
export function selectSql(columns: string, collection: string, query: StorageQuery, indexName?: string): SqlFragment {
  const where = whereSql(collection, query.where);
  const parts = [where];
  if (query.after) parts.push(afterSql(query.orderBy, query.after));
  const order = [...(query.orderBy ?? []).map((t) => `${fieldExpr(t.field)} ${t.direction === 'desc' ? 'DESC' : 'ASC'}`), 'key ASC'];
  let sql = `SELECT ${columns} ${fromSql(indexName)} WHERE ${parts.map((p) => p.sql).join(' AND ')} ORDER BY ${order.join(', ')}`;
  const params = parts.flatMap((p) => p.params);
  if (query.limit !== undefined) {
    sql += ' LIMIT ?';
    params.push(limitOf(query.limit));
  }
  return { sql, params };
}

/** The reference slices `limit` rows: Infinity is no limit (-1 in SQLite), NaN and negatives are none. */
function limitOf(limit: number): number {
  if (limit === Number.POSITIVE_INFINITY) return -1;
  const n = Math.trunc(limit);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
