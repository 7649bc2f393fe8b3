import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { systemClock, type Clock } from './clock.js';
import type { ConflictOutcome } from './conflict/conflictPolicy.js';
import { alwaysOnline, type Connectivity } from './connectivity.js';
import { InvalidArgumentError, NexusError, NotFoundError, StorageError, toNexusError } from './errors.js';
import { HybridLogicalClock } from './hlc.js';
import type { DocChangeRef, LocalStorage, OutboxEntry, OutboxStatus } from './localStorage.js';
import { LocalWriter, type WriteOp } from './localWriter.js';
import { deriveSyncState, PrioritySyncQueue } from './prioritySyncQueue.js';
import { normalizeRecord } from './recordJson.js';
import type { RecordData, RemoteBackend, SyncPriority } from './remoteBackend.js';
import { backoffDelay, resolveRetryOptions, type ResolvedRetryOptions, type RetryOptions } from './retryPolicy.js';
import { assertPriority, CollectionCodec, StoreImpl, type Store, type StoreHost, type StoreOptions } from './store.js';
import { SyncEngine, type CollectionRuntime, type SyncProgress, type SyncReport } from './syncEngine.js';

/**
 * Resolves once the event loop has run its pending I/O: `setImmediate` where the runtime has it
 * (Node; a 0 ms timer waits at least 1 ms there), else a 0 ms timer. Not a clock: nothing waits on
 * it for time, and the sync engine races it with the answer it is waiting for anyway.
 */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return new Promise<void>((resolve) => (immediate ? immediate(resolve) : globalThis.setTimeout(resolve, 0)));
}

export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

export interface AutoSyncOptions {
  /** Sync on this interval while online; 0 turns the interval off. @default 0 */
  intervalMs?: number;
  /** Sync shortly after every local write. @default true */
  onWrite?: boolean;
  /** Delay before a write-triggered sync, so bursts share one run. @default 50 */
  debounceMs?: number;
  /** Sync when the remote pokes (server-sent events). @default true */
  live?: boolean;
}

export interface NexusOptions {
  /** Where documents, the outbox and sync metadata live: `memoryStorage()`, `sqliteStorage()`, `idbStorage()`. */
  storage: LocalStorage;
  /** The server. A local-only app has none. */
  remote?: RemoteBackend;
  /** This device's id; must not contain ":". @default a random id, persisted in storage */
  clientId?: string;
  /** Time and timers. @default the system clock */
  clock?: Clock;
  /** Randomness for backoff jitter and ids. @default Math.random */
  random?: () => number;
  /**
   * Retry of failed syncs: after a network, timeout or 5xx failure, with `autoSync` on, the next
   * run is scheduled with exponential backoff and full jitter; a mutation is `failed` after
   * `maxAttempts` pushes (with or without autoSync).
   */
  retry?: RetryOptions;
  /** Mutations per push request. @default 100 */
  batchSize?: number;
  /** Changes per pull request. @default 500 */
  pullLimit?: number;
  /** Online state; going offline pauses sync, coming back online syncs at once. @default always online */
  connectivity?: Connectivity;
  /**
   * Background sync while the app runs: on an interval, after writes, on pokes, and retries with
   * backoff after failures. @default false (call `nexus.sync()` yourself; nothing runs on its own)
   */
  autoSync?: boolean | AutoSyncOptions;
  logger?: Logger;
}

export type SyncPhase = 'idle' | 'pushing' | 'pulling' | 'offline' | 'error';

export interface SyncStatus {
  phase: SyncPhase;
  online: boolean;
  /** Mutations waiting to be pushed (pending or in flight). */
  pending: number;
  failed: number;
  conflicts: number;
  lastSyncAt: number | null;
  lastError: NexusError | null;
  /** Progress of the current run. */
  progress: SyncProgress | null;
  /** When the next automatic retry will run, after a failure. */
  nextRetryAt: number | null;
}

/** A mutation in the outbox, as the app sees it. */
export interface OutboxItem {
  id: string;
  collection: string;
  key: string;
  op: 'upsert' | 'delete';
  data: RecordData | null;
  priority: SyncPriority;
  status: OutboxStatus;
  attempts: number;
  lastError: { code: string; message: string } | null;
  createdAt: number;
}

/** A conflict parked by the 'manual' policy. */
export interface Conflict<T = RecordData> {
  id: string;
  collection: string;
  key: string;
  reason: 'version' | 'unique';
  /** Local value; null when deleted locally. */
  local: T | null;
  /** Server value; null when deleted on the server. For 'unique' it is the older record (another key). */
  remote: T | null;
  remoteKey: string;
}

/** Writes staged in `nexus.transaction()`; they commit together when the callback resolves. */
export interface NexusTransaction {
  store<T, ID extends string | number>(store: Store<T, ID>): TransactionStore<T, ID>;
}

export interface TransactionStore<T, ID extends string | number> {
  save(item: T, priority?: SyncPriority): T;
  saveAll(items: readonly T[], priority?: SyncPriority): T[];
  delete(id: ID, priority?: SyncPriority): void;
  deleteAll(ids: readonly ID[], priority?: SyncPriority): void;
}

export interface Nexus {
  readonly clientId: string;
  store<T, ID extends string | number = string>(name: string, options: StoreOptions<T, ID>): Store<T, ID>;
  /**
   * Stages writes to several stores in `fn` and commits them locally all or none; their mutations
   * travel in one push batch. Reads inside `fn` see the data before the transaction.
   */
  transaction<R>(fn: (tx: NexusTransaction) => R | Promise<R>): Promise<R>;
  /** The storage this Nexus owns (for tools that keep their own metadata next to the data). */
  readonly storage: LocalStorage;
  /**
   * Push, then pull. Concurrent calls share one run. `signal` aborts the run (for every caller
   * sharing it); entries in flight go back to pending, and the push is idempotent.
   */
  sync(options?: { signal?: AbortSignal }): Promise<SyncReport>;
  pending(): Promise<OutboxItem[]>;
  failed(): Promise<OutboxItem[]>;
  /** Sends a failed mutation again. */
  retry(id: string): Promise<void>;
  retryAll(): Promise<number>;
  /** Drops a record's unsynced writes (the failed or conflicting mutation `id` and any later ones) and restores the server's version locally. */
  discard(id: string): Promise<void>;
  conflicts(): Promise<Conflict[]>;
  resolveConflict(id: string, resolution: 'local' | 'remote' | { value: RecordData | null }): Promise<void>;
  readonly status$: Observable<SyncStatus>;
  readonly status: SyncStatus;
  close(): Promise<void>;
}

function randomId(random: () => number): string {
  const uuid = (globalThis.crypto as Crypto | undefined)?.randomUUID?.();
  if (uuid) return uuid.replace(/-/g, '').slice(0, 16);
  return Array.from({ length: 16 }, () => Math.floor(random() * 36).toString(36)).join('');
}

function toOutboxItem(e: OutboxEntry): OutboxItem {
  return { id: e.mutationId, collection: e.collection, key: e.key, op: e.op, data: e.data, priority: e.priority, status: e.status, attempts: e.attempts, lastError: e.lastError, createdAt: e.createdAt };
}

/** A plain write waiting in a batch (see NexusImpl.joinWrite): one op or several, and what it resolves with. */
interface WriteMember {
  ops: WriteOp | readonly WriteOp[];
  value: unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const opsOf = (member: WriteMember): readonly WriteOp[] => (Array.isArray(member.ops) ? member.ops : [member.ops as WriteOp]);

class NexusImpl implements Nexus, StoreHost {
  readonly changes$ = new Subject<readonly DocChangeRef[]>();
  private readonly statusSubject: BehaviorSubject<SyncStatus>;
  private readonly codecs = new Map<string, { codec: CollectionCodec<any, any>; store: StoreImpl<any, any>; runtime: CollectionRuntime; options: StoreOptions<any, any> }>();
  private readonly writer: LocalWriter;
  private readonly queue: PrioritySyncQueue;
  private readonly engine: SyncEngine | null;
  private readonly retryOptions: ResolvedRetryOptions;
  private readonly autoSync: Required<AutoSyncOptions> | null;
  private readonly cleanups: (() => void)[] = [];
  private running: Promise<SyncReport> | null = null;
  private abort: AbortController | null = null;
  private retryTimer: unknown = null;
  private writeTimer: unknown = null;
  private intervalTimer: unknown = null;
  private failures = 0;
  private closed = false;
  private countsDirty = false;
  private countsRefreshing = false;

  constructor(
    readonly storage: LocalStorage,
    readonly clientId: string,
    private readonly hlc: HybridLogicalClock,
    private readonly options: NexusOptions,
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly connectivity: Connectivity,
  ) {
    this.retryOptions = resolveRetryOptions(options.retry);
    const auto = options.autoSync;
    this.autoSync = auto ? { intervalMs: 0, onWrite: true, debounceMs: 50, live: true, ...(auto === true ? {} : auto) } : null;
    // A mutation id is unique per client (the server dedups by clientId and mutationId): a random
    // session tag of this Nexus instance (60 random bits: tabs and processes sharing one database
    // share the client id, and a restart must not reuse an id) and a counter. Short ids keep outbox
    // rows, request bodies and the server's dedup index small.
    const session = randomId(random);
    let counter = 0;
    const newMutationId = () => `${session}.${(counter++).toString(36)}`;
    this.queue = new PrioritySyncQueue(newMutationId, clock.now);
    this.writer = new LocalWriter(this.queue, hlc);
    this.statusSubject = new BehaviorSubject<SyncStatus>({
      phase: connectivity.isOnline() ? 'idle' : 'offline',
      online: connectivity.isOnline(),
      pending: 0,
      failed: 0,
      conflicts: 0,
      lastSyncAt: null,
      lastError: null,
      progress: null,
      nextRetryAt: null,
    });
    this.engine = options.remote
      ? new SyncEngine({
          storage,
          remote: options.remote,
          queue: this.queue,
          hlc,
          clientId,
          batchSize: options.batchSize ?? 100,
          pullLimit: options.pullLimit ?? 500,
          maxAttempts: this.retryOptions.maxAttempts,
          now: clock.now,
          collection: (name) => this.codecs.get(name)?.runtime ?? { policy: 'lastWriteWins', keyField: null },
          collections: () => [...this.codecs.keys()],
          emit: (changes) => this.emit(changes),
          onPhase: (phase, progress) => this.patchStatus({ phase, progress }),
          yieldToEventLoop,
        })
      : null;
  }

  /** Recovers the outbox (in-flight entries go back to pending), then starts listening and syncing. */
  async start(): Promise<void> {
    await this.storage.write((tx) => this.queue.recoverInflight(tx));
    this.cleanups.push(
      this.connectivity.subscribe((online) => {
        this.patchStatus({ online, phase: online ? (this.running ? this.status.phase : 'idle') : 'offline' });
        if (!online) this.abort?.abort();
        else if (this.engine) this.syncInBackground();
      }),
    );
    const external = this.storage.onExternalChange?.((changes) => {
      this.changes$.next(changes);
      this.markCountsDirty();
    });
    if (external) this.cleanups.push(external);
    if (this.autoSync && this.engine) {
      if (this.autoSync.live && this.options.remote?.subscribe) {
        this.cleanups.push(this.options.remote.subscribe(() => this.syncInBackground()));
      }
      if (this.autoSync.intervalMs > 0) this.scheduleInterval();
      this.syncInBackground();
    }
    this.markCountsDirty();
  }

  get status(): SyncStatus {
    return this.statusSubject.value;
  }

  get status$(): Observable<SyncStatus> {
    return this.statusSubject.asObservable();
  }

  assertOpen(): void {
    if (this.closed) throw new StorageError('CLOSED', 'This Nexus is closed; create a new one with createNexus().', { path: this.storage.name });
  }

  private patchStatus(patch: Partial<SyncStatus>): void {
    this.statusSubject.next({ ...this.statusSubject.value, ...patch });
  }

  private emit(changes: readonly DocChangeRef[]): void {
    if (changes.length > 0) this.changes$.next(changes);
    this.markCountsDirty();
  }

  /** Outbox counts are recomputed lazily, once per burst of writes, and only while someone listens. */
  private markCountsDirty(): void {
    this.countsDirty = true;
    if (this.countsRefreshing || this.closed || !this.statusSubject.observed) return;
    this.countsRefreshing = true;
    void (async () => {
      try {
        while (this.countsDirty && !this.closed) {
          this.countsDirty = false;
          const counts = await this.storage.read((tx) => tx.countOutbox());
          this.patchStatus({ pending: counts.pending + counts.inflight, failed: counts.failed, conflicts: counts.conflict });
        }
      } catch (error) {
        this.options.logger?.warn?.('nexus: could not count the outbox', { error: String(error) });
      } finally {
        this.countsRefreshing = false;
      }
    })();
  }

  store<T, ID extends string | number = string>(name: string, options: StoreOptions<T, ID>): Store<T, ID> {
    this.assertOpen();
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new InvalidArgumentError(`Store name ${JSON.stringify(name)} is invalid: use 1-64 letters, digits, "_", "-" or ".".`);
    }
    if (!options || typeof options.schema?.safeParse !== 'function') throw new InvalidArgumentError(`nexus.store("${name}") needs a zod schema in options.schema.`);
    if (typeof options.key !== 'string' && typeof options.key !== 'function') throw new InvalidArgumentError(`nexus.store("${name}") needs options.key: a field name or a function.`);
    const policy = options.conflict ?? 'lastWriteWins';
    if (typeof policy !== 'function' && !['serverWins', 'clientWins', 'lastWriteWins', 'fieldMerge', 'manual'].includes(policy)) {
      throw new InvalidArgumentError(`Unknown conflict policy ${JSON.stringify(policy)} for "${name}".`);
    }
    const existing = this.codecs.get(name);
    if (existing) {
      if (existing.options.schema !== options.schema || existing.options.key !== options.key || existing.options.conflict !== options.conflict) {
        throw new InvalidArgumentError(`Store "${name}" is already open with other options; open each store once and share it.`);
      }
      return existing.store as Store<T, ID>;
    }
    const codec = new CollectionCodec<T, ID>(name, options);
    const store = new StoreImpl<T, ID>(this, codec, [...(options.indexes ?? [])]);
    this.codecs.set(name, { codec, store, runtime: { policy: policy as CollectionRuntime['policy'], keyField: codec.keyField }, options });
    return store;
  }

  writeLocal(ops: readonly WriteOp[], txId: string | null): Promise<void> {
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (ops.length === 0) return Promise.resolve();
    if (txId === null) return this.joinWrite(ops, undefined);
    return this.storage.write((tx) => this.writer.apply(tx, ops, txId)).then((changes) => this.afterWrite(changes));
  }

  /**
   * A plain write of one op that resolves with `value`: one promise per `store.save()`, which has
   * checked that this Nexus is open in the same synchronous step.
   */
  writeOne<V>(op: WriteOp, value: V): Promise<V> {
    return this.joinWrite(op, value);
  }

  /**
   * The open batch of plain writes: its storage callback has not started yet, so later writes still
   * join it. Writes issued in the same tick (a loop of unawaited `save()` calls) then cost one
   * storage callback, not one each.
   */
  private openBatch: WriteMember[] | null = null;

  /** Writes `ops` with the other plain writes of the open batch, in the order they were issued; resolves with `value`. */
  private joinWrite<V>(ops: WriteOp | readonly WriteOp[], value: V): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const member: WriteMember = { ops, value, resolve: resolve as (value: unknown) => void, reject };
      if (this.openBatch) {
        this.openBatch.push(member);
        return;
      }
      const batch: WriteMember[] = [member];
      this.openBatch = batch;
      const seal = () => {
        if (this.openBatch === batch) this.openBatch = null;
      };
      this.storage
        .write((tx) => {
          seal();
          return this.writer.apply(tx, batch.length === 1 ? opsOf(batch[0]!) : batch.flatMap(opsOf), null);
        })
        .then(
          (changes) => {
            this.afterWrite(changes);
            for (const m of batch) m.resolve(m.value);
          },
          (error: unknown) => {
            seal();
            if (batch.length === 1) batch[0]!.reject(error);
            // Each write succeeds or fails on its own, as if it had not been batched.
            else
              for (const m of batch) {
                this.storage
                  .write((tx) => this.writer.apply(tx, opsOf(m), null))
                  .then((changes) => this.afterWrite(changes))
                  .then(() => m.resolve(m.value), m.reject);
              }
          },
        );
    });
  }

  private afterWrite(changes: readonly DocChangeRef[]): void {
    this.emit(changes);
    if (changes.length > 0 && this.autoSync?.onWrite && this.engine) this.scheduleWriteSync();
  }

  async transaction<R>(fn: (tx: NexusTransaction) => R | Promise<R>): Promise<R> {
    this.assertOpen();
    const ops: WriteOp[] = [];
    let open = true;
    const guard = () => {
      if (!open) throw new InvalidArgumentError('This transaction has already finished; stage writes inside the callback.');
    };
    const tx: NexusTransaction = {
      store: <T, ID extends string | number>(store: Store<T, ID>): TransactionStore<T, ID> => {
        const entry = this.codecs.get(store.name);
        if (!entry || entry.store !== (store as unknown)) throw new InvalidArgumentError('tx.store() takes a store opened on this Nexus.');
        const codec = entry.codec as CollectionCodec<T, ID>;
        return {
          save: (item, priority = 'normal') => {
            guard();
            const staged = codec.upsert(item, assertPriority(priority));
            ops.push(staged.op);
            return staged.value;
          },
          saveAll: (items, priority = 'normal') => {
            guard();
            const p = assertPriority(priority);
            const staged = items.map((item) => codec.upsert(item, p));
            ops.push(...staged.map((s) => s.op));
            return staged.map((s) => s.value);
          },
          delete: (id, priority = 'normal') => {
            guard();
            ops.push(codec.remove(id, assertPriority(priority)));
          },
          deleteAll: (ids, priority = 'normal') => {
            guard();
            const p = assertPriority(priority);
            ops.push(...ids.map((id) => codec.remove(id, p)));
          },
        };
      },
    };
    try {
      const result = await fn(tx);
      open = false;
      await this.writeLocal(ops, ops.length > 1 ? `tx.${this.clientId}.${this.hlc.tick()}` : null);
      return result;
    } finally {
      open = false;
    }
  }

  // ---------------------------------------------------------------- sync

  sync(options: { signal?: AbortSignal } = {}): Promise<SyncReport> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new NexusError('ABORTED', 'Sync was aborted before it started.', { cause: signal.reason }));
    const run = this.startSync();
    if (signal && this.abort) {
      const abort = this.abort;
      const onAbort = () => abort.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      void run.then(
        () => signal.removeEventListener('abort', onAbort),
        () => signal.removeEventListener('abort', onAbort),
      );
    }
    return run;
  }

  private startSync(): Promise<SyncReport> {
    if (this.closed) return Promise.resolve({ pushed: 0, pulled: 0, conflicts: 0, rejected: 0, durationMs: 0, skipped: 'closed' });
    if (!this.engine) return Promise.resolve({ pushed: 0, pulled: 0, conflicts: 0, rejected: 0, durationMs: 0, skipped: 'no-remote' });
    if (!this.connectivity.isOnline()) {
      this.patchStatus({ phase: 'offline', online: false });
      return Promise.resolve({ pushed: 0, pulled: 0, conflicts: 0, rejected: 0, durationMs: 0, skipped: 'offline' });
    }
    if (this.running) return this.running;
    this.clearRetry();
    const engine = this.engine;
    const abort = new AbortController();
    this.abort = abort;
    const run = async () => engine.run(abort.signal);
    const started = this.storage.lock ? this.storage.lock('nexus-sync', run) : run();
    this.running = started.then(
      (report) => {
        this.failures = 0;
        this.patchStatus({ phase: 'idle', lastSyncAt: this.clock.now(), lastError: null, progress: null, nextRetryAt: null });
        this.options.logger?.debug?.('nexus: sync done', { ...report });
        return report;
      },
      (error: unknown) => {
        const failure = toNexusError(error);
        const online = this.connectivity.isOnline();
        this.patchStatus({ phase: online ? 'error' : 'offline', lastError: failure, progress: null });
        this.options.logger?.warn?.('nexus: sync failed', { code: failure.code, message: failure.message });
        // Retries are background work: with autoSync off the app decides when to sync again.
        if (failure.retryable && online && !this.closed && this.autoSync) this.scheduleRetry();
        throw failure;
      },
    ).finally(() => {
      this.running = null;
      this.abort = null;
      this.markCountsDirty();
    });
    return this.running;
  }

  private syncInBackground(): void {
    if (this.closed) return;
    this.sync().catch(() => undefined);
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private scheduleRetry(): void {
    this.clearRetry();
    const delay = backoffDelay(this.failures++, this.retryOptions, this.random);
    this.patchStatus({ nextRetryAt: this.clock.now() + delay });
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.syncInBackground();
    }, delay);
  }

  private scheduleWriteSync(): void {
    if (this.writeTimer !== null) return;
    this.writeTimer = this.clock.setTimeout(() => {
      this.writeTimer = null;
      this.syncInBackground();
    }, this.autoSync?.debounceMs ?? 0);
  }

  private scheduleInterval(): void {
    this.intervalTimer = this.clock.setTimeout(() => {
      this.intervalTimer = null;
      if (this.closed) return;
      this.syncInBackground();
      this.scheduleInterval();
    }, this.autoSync!.intervalMs);
  }

  // ---------------------------------------------------------------- outbox management

  pending(): Promise<OutboxItem[]> {
    this.assertOpen();
    return this.storage.read(async (tx) => [...(await tx.listOutbox({ status: 'inflight' })), ...(await tx.listOutbox({ status: 'pending' }))].map(toOutboxItem));
  }

  failed(): Promise<OutboxItem[]> {
    this.assertOpen();
    return this.storage.read(async (tx) => (await tx.listOutbox({ status: 'failed' })).map(toOutboxItem));
  }

  private async findEntry(id: string, statuses: readonly OutboxStatus[]): Promise<OutboxEntry> {
    if (typeof id !== 'string') throw new InvalidArgumentError('A mutation id is a string (see nexus.pending(), failed() or conflicts()).');
    const found = await this.storage.read(async (tx) => {
      for (const status of statuses) {
        const hit = (await tx.listOutbox({ status })).find((e) => e.mutationId === id);
        if (hit) return hit;
      }
      return undefined;
    });
    if (!found) throw new NotFoundError(`No ${statuses.join(' or ')} mutation with id "${id}".`);
    return found;
  }

  async retry(id: string): Promise<void> {
    this.assertOpen();
    const entry = await this.findEntry(id, ['failed']);
    await this.requeue([entry]);
  }

  async retryAll(): Promise<number> {
    this.assertOpen();
    const failed = await this.storage.read((tx) => tx.listOutbox({ status: 'failed' }));
    await this.requeue(failed);
    return failed.length;
  }

  private async requeue(entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const changes = await this.storage.write(async (tx) => {
      const out: DocChangeRef[] = [];
      for (const entry of entries) {
        // A fresh budget of attempts, but an entry that was ever sent keeps attempts > 0: the server
        // may have applied it, so a later write must not join it (its re-push would be a duplicate).
        const again: OutboxEntry = { ...entry, status: 'pending', attempts: Math.min(entry.attempts, 1), lastError: null };
        await tx.updateOutbox([again]);
        const all = (await tx.getOutboxForKeys(entry.collection, [entry.key])).map((e) => (e.seq === again.seq ? again : e));
        const [doc] = await tx.getDocs(entry.collection, [entry.key]);
        if (doc) await tx.putDocs([{ ...doc, syncState: deriveSyncState(all) }]);
        out.push({ collection: entry.collection, key: entry.key });
      }
      return out;
    });
    this.emit(changes);
    if (this.autoSync && this.engine) this.syncInBackground();
  }

  async discard(id: string): Promise<void> {
    this.assertOpen();
    const entry = await this.findEntry(id, ['failed', 'conflict', 'pending']);
    const changes = await this.storage.write(async (tx) => {
      const all = await tx.getOutboxForKeys(entry.collection, [entry.key]);
      await tx.deleteOutbox(all.map((e) => e.seq));
      const [doc] = await tx.getDocs(entry.collection, [entry.key]);
      if (doc?.server) {
        const s = doc.server;
        await tx.putDocs([{ ...doc, data: s.deleted ? null : s.data, deleted: s.deleted, hlc: s.hlc, fieldClocks: s.fieldClocks, syncState: 'synced' }]);
      } else if (doc) {
        await tx.removeDocs(entry.collection, [entry.key]);
      }
      return [{ collection: entry.collection, key: entry.key }];
    });
    this.emit(changes);
  }

  async conflicts(): Promise<Conflict[]> {
    this.assertOpen();
    const entries = await this.storage.read((tx) => tx.listOutbox({ status: 'conflict' }));
    return entries.map((e) => ({
      id: e.mutationId,
      collection: e.collection,
      key: e.key,
      reason: e.conflict && e.conflict.key !== e.key ? 'unique' : 'version',
      local: e.op === 'delete' ? null : e.data,
      remote: e.conflict && !e.conflict.deleted ? e.conflict.data : null,
      remoteKey: e.conflict?.key ?? e.key,
    }));
  }

  async resolveConflict(id: string, resolution: 'local' | 'remote' | { value: RecordData | null }): Promise<void> {
    this.assertOpen();
    const engine = this.engine;
    if (!engine) throw new InvalidArgumentError('This Nexus has no remote, so it has no conflicts to resolve.');
    let outcome: ConflictOutcome;
    const entry = await this.findEntry(id, ['conflict']);
    if (resolution === 'local') outcome = { kind: 'local' };
    else if (resolution === 'remote') outcome = { kind: 'remote' };
    else if (resolution && typeof resolution === 'object' && 'value' in resolution) {
      let data: RecordData | null = null;
      if (resolution.value !== null) {
        const codec = this.codecs.get(entry.collection)?.codec;
        const value = codec ? codec.validate(resolution.value) : resolution.value;
        data = normalizeRecord(value);
        if (codec && codec.keyOf(value as never) !== (entry.conflict && entry.conflict.key !== entry.key ? entry.conflict.key : entry.key)) {
          throw new InvalidArgumentError(`The merged value's id must be the record's id ("${entry.key}").`);
        }
      }
      const hlc = this.hlc.tick();
      outcome = { kind: 'merged', value: { data, deleted: data === null, hlc, fieldClocks: null } };
    } else {
      throw new InvalidArgumentError(`resolveConflict takes 'local', 'remote' or { value }, got ${JSON.stringify(resolution)}.`);
    }
    const changes = await this.storage.write(async (tx) => {
      const entries = await tx.getOutboxForKeys(entry.collection, [entry.key]);
      const current = entries.find((e) => e.seq === entry.seq && e.status === 'conflict');
      if (!current) throw new NotFoundError(`The conflict "${id}" was already resolved.`);
      const [doc] = await tx.getDocs(entry.collection, [entry.key]);
      const remote = current.conflict;
      if (remote && remote.key !== entry.key) return engine.resolveUnique(tx, entry.collection, doc, entries, remote, outcome);
      await engine.resolveVersion(tx, entry.collection, entry.key, doc, entries, remote && remote.version > 0 ? remote : null, outcome);
      return [{ collection: entry.collection, key: entry.key }];
    });
    this.emit(changes);
    if (this.autoSync) this.syncInBackground();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    for (const timer of [this.retryTimer, this.writeTimer, this.intervalTimer]) if (timer !== null) this.clock.clearTimeout(timer);
    this.abort?.abort();
    await this.running?.catch(() => undefined);
    await this.storage.write((tx) => tx.setMeta('hlc', this.hlc.last)).catch(() => undefined);
    await this.storage.close();
    this.changes$.complete();
    this.statusSubject.complete();
  }
}

/**
 * Opens the storage, recovers the outbox (in-flight entries go back to pending) and returns a Nexus.
 */
export async function createNexus(options: NexusOptions): Promise<Nexus> {
  if (!options || typeof options.storage?.write !== 'function') throw new InvalidArgumentError('createNexus needs options.storage (memoryStorage(), sqliteStorage() or idbStorage()).');
  if (options.batchSize !== undefined && (!Number.isInteger(options.batchSize) || options.batchSize < 1)) throw new InvalidArgumentError('batchSize must be a positive integer.');
  if (options.pullLimit !== undefined && (!Number.isInteger(options.pullLimit) || options.pullLimit < 1)) throw new InvalidArgumentError('pullLimit must be a positive integer.');
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(options.clientId))) {
    throw new InvalidArgumentError('clientId must be 1-64 letters, digits, "_" or "-".');
  }
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const storage = options.storage;
  await storage.open();
  try {
    const { clientId, lastHlc } = await storage.write(async (tx) => {
      const stored = await tx.getMeta<string>('clientId');
      const id = options.clientId ?? stored ?? randomId(random);
      if (id !== stored) await tx.setMeta('clientId', id);
      const last = await tx.getMeta<string>('hlc');
      return { clientId: id, lastHlc: last };
    });
    const hlc = new HybridLogicalClock(clientId, clock.now, lastHlc);
    const nexus = new NexusImpl(storage, clientId, hlc, options, clock, random, options.connectivity ?? alwaysOnline);
    await nexus.start();
    return nexus;
  } catch (error) {
    await storage.close().catch(() => undefined);
    throw error instanceof NexusError ? error : new StorageError('STORAGE', `Could not open storage "${storage.name}": ${String(error)}`, { cause: error, path: storage.name });
  }
}

