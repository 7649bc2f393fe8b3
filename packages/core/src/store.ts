import { Observable, defer, filter, from, startWith, switchMap, type Subject } from 'rxjs';
import type { ConflictPolicy } from './conflict/conflictPolicy.js';
import { InvalidArgumentError, ValidationError, type ValidationIssue } from './errors.js';
import type { Comparable, DocChangeRef, FieldFilter, LocalStorage, OrderTerm, StorageQuery, StoredDoc, SyncState } from './localStorage.js';
import type { WriteOp } from './localWriter.js';
import { isFieldRange, orderValues } from './query.js';
import { normalizeRecord } from './recordJson.js';
import { SYNC_PRIORITIES, type SyncPriority } from './remoteBackend.js';

/** Anything with zod's `safeParse` (zod 3 and 4 schemas fit). */
export interface SchemaLike<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: { issues: readonly ValidationIssue[] } };
}

/** The fields of T whose values are of the ID type. */
export type KeyField<T, ID> = { [K in keyof T & string]-?: T[K] extends ID ? K : never }[keyof T & string];

export interface StoreOptions<T, ID extends string | number> {
  /** The zod schema every item is validated with; an invalid item is refused with `ValidationError`. */
  schema: SchemaLike<T>;
  /** The field holding the record's id, or a function returning it. */
  key: KeyField<T, ID> | ((item: T) => ID);
  /**
   * How a conflict with the server is decided.
   * @default 'lastWriteWins'
   */
  conflict?: ConflictPolicy<T>;
  /**
   * Fields whose values are unique across all devices (enforced by the server: the oldest record wins,
   * the newer one is handed to the conflict policy with reason 'unique').
   * @default []
   */
  unique?: readonly (keyof T & string)[];
  /** Fields to index locally for `getAll` filters and ordering. @default [] */
  indexes?: readonly (keyof T & string)[];
}

export type WhereClause<T> = { [K in keyof T & string]?: FieldFilter };
export type OrderBy<T> = (keyof T & string) | readonly [keyof T & string, 'asc' | 'desc'];

export interface Query<T, ID> {
  /** Equality (`{ status: 'open' }`) and ranges (`{ score: { gte: 5, lt: 10 } }`, `{ status: { in: [...] } }`). */
  where?: WhereClause<T>;
  /** One field, `[field, 'desc']`, or a list of them; the id breaks ties. @default id ascending */
  orderBy?: OrderBy<T> | readonly OrderBy<T>[];
  /** At most this many items. */
  limit?: number;
  /** Cursor pagination: continue after the item with this id (the last item of the previous page). */
  after?: ID;
}

/** The typed view of one collection. */
export interface Store<T, ID extends string | number = string> {
  readonly name: string;
  get(id: ID): Promise<T | undefined>;
  getMany(ids: readonly ID[]): Promise<(T | undefined)[]>;
  getAll(query?: Query<T, ID>): Promise<T[]>;
  count(query?: Pick<Query<T, ID>, 'where'>): Promise<number>;
  /** Emits the current value first, then again on every change (local or by sync). */
  watch(id: ID): Observable<T | undefined>;
  /** Emits the current result first, then again on every change to the collection. */
  watchAll(query?: Query<T, ID>): Observable<T[]>;
  /** Validates, writes the item and its outbox entry in one transaction; resolves with the stored item. */
  save(item: T, priority?: SyncPriority): Promise<T>;
  saveAll(items: readonly T[], priority?: SyncPriority): Promise<T[]>;
  delete(id: ID, priority?: SyncPriority): Promise<void>;
  deleteAll(ids: readonly ID[], priority?: SyncPriority): Promise<void>;
  /** The record's sync state, or undefined when there is no such record. */
  syncState(id: ID): Promise<SyncState | undefined>;
  watchSyncState(id: ID): Observable<SyncState | undefined>;
}

/** What a store needs from its Nexus. */
export interface StoreHost {
  readonly storage: LocalStorage;
  readonly changes$: Subject<readonly DocChangeRef[]>;
  writeLocal(ops: readonly WriteOp[], txId: string | null): Promise<void>;
  /** A plain write of one op (batched with the writes of the same tick) that resolves with `value`; the caller checks `assertOpen` first. */
  writeOne<V>(op: WriteOp, value: V): Promise<V>;
  assertOpen(): void;
}

const MAX_KEY_LENGTH = 512;

export function encodeId(id: unknown, collection: string): string {
  if (typeof id === 'string') {
    if (id.length === 0) throw new InvalidArgumentError(`An id in "${collection}" must not be empty.`);
    if (id.length > MAX_KEY_LENGTH) throw new InvalidArgumentError(`An id in "${collection}" is ${id.length} characters; the limit is ${MAX_KEY_LENGTH}.`);
    return id;
  }
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  throw new InvalidArgumentError(`An id in "${collection}" must be a non-empty string or a finite number, got ${id === null ? 'null' : typeof id}.`);
}

export function assertPriority(priority: unknown): SyncPriority {
  if (typeof priority === 'string' && (SYNC_PRIORITIES as readonly string[]).includes(priority)) return priority as SyncPriority;
  throw new InvalidArgumentError(`Unknown sync priority ${JSON.stringify(priority)}; use one of ${SYNC_PRIORITIES.join(', ')}.`);
}

function isComparable(value: unknown): value is Comparable {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * Validation and key handling of one collection, shared by its Store and by `nexus.transaction()`.
 */
export class CollectionCodec<T, ID extends string | number> {
  constructor(
    readonly name: string,
    private readonly options: StoreOptions<T, ID>,
  ) {}

  get keyField(): string | null {
    return typeof this.options.key === 'string' ? this.options.key : null;
  }

  validate(item: unknown): T {
    const result = this.options.schema.safeParse(item);
    if (!result.success) {
      const issues = result.error.issues;
      const first = issues[0];
      const where = first && first.path.length > 0 ? ` at ${first.path.map(String).join('.')}` : '';
      throw new ValidationError(`Invalid item for "${this.name}"${where}: ${first?.message ?? 'schema rejected it'}. Nothing was written.`, issues, { cause: result.error });
    }
    if (typeof result.data !== 'object' || result.data === null || Array.isArray(result.data)) {
      throw new ValidationError(`Items of "${this.name}" must be objects. Nothing was written.`);
    }
    return result.data;
  }

  keyOf(item: T): string {
    const key = this.options.key;
    const id = typeof key === 'function' ? key(item) : (item as Record<string, unknown>)[key];
    return encodeId(id, this.name);
  }

  upsert(item: T, priority: SyncPriority): { op: WriteOp; value: T } {
    const value = this.validate(item);
    return { op: this.upsertOf(value, item, priority), value };
  }

  /** The write of a validated `value` (the schema's output for `item`). */
  upsertOf(value: T, item: unknown, priority: SyncPriority): WriteOp {
    return { type: 'upsert', collection: this.name, key: this.keyOf(value), data: normalizeRecord(value, item), priority };
  }

  remove(id: ID, priority: SyncPriority): WriteOp {
    return { type: 'delete', collection: this.name, key: encodeId(id, this.name), priority };
  }
}

export class StoreImpl<T, ID extends string | number> implements Store<T, ID> {
  private indexesReady: Promise<void> | null = null;

  constructor(
    private readonly host: StoreHost,
    readonly codec: CollectionCodec<T, ID>,
    private readonly indexes: readonly string[],
  ) {}

  get name(): string {
    return this.codec.name;
  }

  private live(doc: StoredDoc | undefined): T | undefined {
    return doc && !doc.deleted && doc.data ? (doc.data as T) : undefined;
  }

  private ensureIndexes(): Promise<void> {
    if (!this.indexesReady) this.indexesReady = this.host.storage.ensureIndexes && this.indexes.length > 0 ? this.host.storage.ensureIndexes(this.name, this.indexes) : Promise.resolve();
    return this.indexesReady;
  }

  async get(id: ID): Promise<T | undefined> {
    return (await this.getMany([id]))[0];
  }

  async getMany(ids: readonly ID[]): Promise<(T | undefined)[]> {
    const keys = ids.map((id) => encodeId(id, this.name));
    const docs = await this.host.storage.read((tx) => tx.getDocs(this.name, keys));
    return docs.map((d) => this.live(d));
  }

  private whereClause(where: WhereClause<T> | undefined): StorageQuery['where'] {
    if (where === undefined) return undefined;
    if (typeof where !== 'object' || where === null) throw new InvalidArgumentError(`where for "${this.name}" must be an object of field filters.`);
    for (const [field, f] of Object.entries(where as Record<string, FieldFilter>)) {
      const ok = isComparable(f) || (typeof f === 'object' && f !== null && isFieldRange(f) && Object.entries(f).every(([op, v]) => (op === 'in' ? Array.isArray(v) && v.every(isComparable) : isComparable(v))));
      if (!ok) throw new InvalidArgumentError(`where.${field} for "${this.name}" must be a string, number, boolean, null or a range { eq, ne, gt, gte, lt, lte, in }.`);
    }
    return where as StorageQuery['where'];
  }

  private async toStorageQuery(query: Query<T, ID> = {}): Promise<StorageQuery> {
    const where = this.whereClause(query.where);
    const terms: OrderTerm[] = [];
    if (query.orderBy !== undefined) {
      const list = (typeof query.orderBy === 'string' || (Array.isArray(query.orderBy) && query.orderBy.length === 2 && (query.orderBy[1] === 'asc' || query.orderBy[1] === 'desc')) ? [query.orderBy] : query.orderBy) as readonly OrderBy<T>[];
      if (!Array.isArray(list)) throw new InvalidArgumentError(`orderBy for "${this.name}" takes a field name, [field, 'asc' | 'desc'], or a list of them.`);
      for (const term of list) {
        if (typeof term !== 'string' && !(Array.isArray(term) && term.length === 2)) {
          throw new InvalidArgumentError(`orderBy for "${this.name}" takes a field name or [field, 'asc' | 'desc'], got ${JSON.stringify(term)}.`);
        }
        const [field, direction] = typeof term === 'string' ? [term, 'asc' as const] : term;
        if (typeof field !== 'string' || (direction !== 'asc' && direction !== 'desc')) throw new InvalidArgumentError(`orderBy for "${this.name}" takes a field name or [field, 'asc' | 'desc'].`);
        terms.push({ field, direction });
      }
    }
    if (query.limit !== undefined && (!Number.isInteger(query.limit) || query.limit < 0)) {
      throw new InvalidArgumentError(`limit for "${this.name}" must be a non-negative integer, got ${String(query.limit)}.`);
    }
    const out: StorageQuery = { where, orderBy: terms.length > 0 ? terms : undefined, limit: query.limit };
    if (query.after !== undefined) {
      const key = encodeId(query.after, this.name);
      const [doc] = await this.host.storage.read((tx) => tx.getDocs(this.name, [key]));
      if (!doc) throw new InvalidArgumentError(`after: "${this.name}" has no item with id ${JSON.stringify(query.after)} to continue from.`);
      out.after = { key, values: orderValues(doc.data, out.orderBy) };
    }
    return out;
  }

  async getAll(query?: Query<T, ID>): Promise<T[]> {
    const q = await this.toStorageQuery(query);
    await this.ensureIndexes();
    return this.host.storage.read(async (tx) => (tx.queryData ? ((await tx.queryData(this.name, q)) as T[]) : (await tx.queryDocs(this.name, q)).map((d) => d.data as T)));
  }

  async count(query?: Pick<Query<T, ID>, 'where'>): Promise<number> {
    const where = this.whereClause(query?.where);
    await this.ensureIndexes();
    return this.host.storage.read((tx) => tx.countDocs(this.name, where));
  }

  private changesOf(key: string | null): Observable<unknown> {
    return this.host.changes$.pipe(filter((changes) => changes.some((c) => c.collection === this.name && (key === null || c.key === key))));
  }

  watch(id: ID): Observable<T | undefined> {
    return defer(() => {
      const key = encodeId(id, this.name);
      return this.changesOf(key).pipe(startWith(null), switchMap(() => from(this.get(id))));
    });
  }

  watchAll(query?: Query<T, ID>): Observable<T[]> {
    return defer(() => this.changesOf(null).pipe(startWith(null), switchMap(() => from(this.getAll(query)))));
  }

  async syncState(id: ID): Promise<SyncState | undefined> {
    const [doc] = await this.host.storage.read((tx) => tx.getDocs(this.name, [encodeId(id, this.name)]));
    if (!doc || (doc.deleted && doc.syncState === 'synced')) return undefined;
    return doc.syncState;
  }

  watchSyncState(id: ID): Observable<SyncState | undefined> {
    return defer(() => this.changesOf(encodeId(id, this.name)).pipe(startWith(null), switchMap(() => from(this.syncState(id)))));
  }

  save(item: T, priority: SyncPriority = 'normal'): Promise<T> {
    // Not an async function over saveAll: a loop of unawaited saves makes one promise per save, not five.
    try {
      this.host.assertOpen();
      const p = assertPriority(priority);
      const value = this.codec.validate(item);
      return this.host.writeOne(this.codec.upsertOf(value, item, p), value);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async saveAll(items: readonly T[], priority: SyncPriority = 'normal'): Promise<T[]> {
    this.host.assertOpen();
    if (!Array.isArray(items)) throw new InvalidArgumentError(`saveAll on "${this.name}" takes an array of items.`);
    const p = assertPriority(priority);
    const values: T[] = new Array(items.length);
    const ops: WriteOp[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      values[i] = this.codec.validate(items[i]!);
      ops[i] = this.codec.upsertOf(values[i]!, items[i], p);
    }
    await this.host.writeLocal(ops, null);
    return values;
  }

  async delete(id: ID, priority: SyncPriority = 'normal'): Promise<void> {
    await this.deleteAll([id], priority);
  }

  async deleteAll(ids: readonly ID[], priority: SyncPriority = 'normal'): Promise<void> {
    this.host.assertOpen();
    if (!Array.isArray(ids)) throw new InvalidArgumentError(`deleteAll on "${this.name}" takes an array of ids.`);
    const p = assertPriority(priority);
    await this.host.writeLocal(ids.map((id) => this.codec.remove(id, p)), null);
  }
}
