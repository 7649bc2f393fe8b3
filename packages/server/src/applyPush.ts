import type { Mutation, MutationResult, RecordData, ServerRecord } from '@nexus-store/core';
import type { MaybePromise, ServerStoreTransaction } from './serverStore.js';

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Anything with zod's `safeParse` (zod 3 or 4 schemas). */
export interface CollectionSchema {
  safeParse(data: unknown): { success: true } | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

/** What the server knows about one collection. */
export interface CollectionConfig {
  /** Upserts whose data fails this schema are rejected with code VALIDATION. */
  schema?: CollectionSchema;
  /**
   * Fields whose value must be unique among the live records of the collection (per tenant).
   * The first committed record keeps the value; a later one gets a `unique` conflict.
   * @default []
   */
  unique?: readonly string[];
}

export type CollectionsConfig = Readonly<Record<string, CollectionConfig>>;

/**
 * Applies one push batch inside one store transaction. The order of the checks is the protocol:
 * dedup, base version, unique values, schema, then apply and record the dedup entry.
 */
export async function applyPush(
  tx: ServerStoreTransaction,
  clientId: string,
  mutations: readonly Mutation[],
  collections: CollectionsConfig | undefined,
  now: number,
  clientCursor?: number,
): Promise<{ results: MutationResult[]; cursor?: string }> {
  const results: MutationResult[] = [];
  await tx.preload?.(clientId, mutations);
  let last = tx.startVersion;
  for (const mutation of mutations) {
    const result = await applyOne(tx, clientId, mutation, collections?.[mutation.collection], now);
    if (result.status === 'applied') last = Math.max(last, result.version);
    results.push(result);
  }
  // The client had pulled everything up to the tenant's version when this push took the lock: the
  // versions after its cursor are this push's own, and it need not pull them back.
  if (clientCursor !== undefined && clientCursor === tx.startVersion) return { results, cursor: String(last) };
  return { results };
}

async function applyOne(
  tx: ServerStoreTransaction,
  clientId: string,
  m: Mutation,
  config: CollectionConfig | undefined,
  now: number,
): Promise<MutationResult> {
  // A store's answer is awaited only when it is a promise (see ServerStoreTransaction).
  const dedup = tx.getDedup(clientId, m.mutationId);
  const firstVersion = isPromise(dedup) ? await dedup : dedup;
  if (firstVersion !== null) return { mutationId: m.mutationId, status: 'duplicate', version: firstVersion };

  const found = tx.getRecord(m.collection, m.key);
  const current = isPromise(found) ? await found : found;
  if (m.baseVersion !== (current?.version ?? 0)) {
    return { mutationId: m.mutationId, status: 'conflict', reason: 'version', current };
  }

  const isDelete = m.op === 'delete';
  const data: RecordData | null = isDelete ? null : m.data;
  const uniqueFields = config?.unique?.length ? config.unique : null;
  const uniqueValues = isDelete || !uniqueFields ? NO_UNIQUE_VALUES : uniqueValuesOf(data, uniqueFields);
  for (const { field, value } of uniqueValues) {
    const owner = await tx.findUniqueOwner(m.collection, field, value);
    if (owner !== null && owner !== m.key) {
      const holder = await tx.getRecord(m.collection, owner);
      return { mutationId: m.mutationId, status: 'conflict', reason: 'unique', field, current: holder };
    }
  }

  if (!isDelete && config?.schema) {
    const parsed = config.schema.safeParse(data);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
      return { mutationId: m.mutationId, status: 'rejected', code: 'VALIDATION', message: `Invalid ${m.collection} record: ${issues.join('; ')}` };
    }
  }

  const next = tx.nextVersion();
  const version = isPromise(next) ? await next : next;
  const record: ServerRecord = {
    collection: m.collection,
    key: m.key,
    version,
    deleted: isDelete,
    data,
    hlc: m.hlc,
    fieldClocks: m.fieldClocks,
    clientId,
  };
  const put = tx.putRecord(record, now);
  if (isPromise(put)) await put;
  if (uniqueFields) await tx.replaceUniques(m.collection, m.key, uniqueValues);
  const dedupPut = tx.putDedup(clientId, m.mutationId, version, now);
  if (isPromise(dedupPut)) await dedupPut;
  return { mutationId: m.mutationId, status: 'applied', version };
}

/** The unique values of a record whose collection has no unique fields (or of a delete): one shared empty list. */
const NO_UNIQUE_VALUES: ReadonlyArray<{ field: string; value: string }> = Object.freeze([]);

/** Unique values as JSON text; null and missing values are not unique-constrained. */
function uniqueValuesOf(data: RecordData | null, fields: readonly string[]): Array<{ field: string; value: string }> {
  const out: Array<{ field: string; value: string }> = [];
  if (!data) return out;
  for (const field of fields) {
    const value = data[field];
    if (value === null || value === undefined) continue;
    out.push({ field, value: JSON.stringify(value) });
  }
  return out;
}
