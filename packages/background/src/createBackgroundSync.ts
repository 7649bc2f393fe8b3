import { InvalidArgumentError, NetworkError, NexusError, type LocalStorage } from '@nexus-store/core';
import { BehaviorSubject, type Observable } from 'rxjs';
import { parseBackgroundSyncConfig, type BackgroundSyncConfigInput, type BackgroundSyncPreset } from './backgroundSyncConfig.js';
import type { BackgroundSyncLogger, BackgroundSyncRunContext, BackgroundSyncService, BackgroundSyncStatus, BackgroundSyncTask } from './backgroundSyncService.js';
import { createBackgroundSyncService, type BackgroundSyncPlatform, type BackgroundSyncServiceProviders } from './createBackgroundSyncService.js';
import { systemClock, systemTimers, type Clock, type TimerPort } from './environmentPorts.js';
import { memoryLastRunStore, storageLastRunStore, type BackgroundSyncCounts, type BackgroundSyncRun, type LastRunStore } from './lastRunStore.js';
import { isPushSnapshotSink } from './nativeSyncService.js';
import { pendingPushFromStorage, type PendingPush } from './pushSnapshot.js';
import { describeError } from './syncServiceBase.js';

/**
 * What background sync needs from a Nexus: `sync({ signal })` (push then pull; aborting the signal
 * aborts the run), and optionally its status, storage and client id. A `Nexus` fits.
 */
export interface SyncTarget {
  sync(options?: { signal?: AbortSignal }): Promise<unknown>;
  /** When present, a change of its `pending` count refreshes the native push snapshot. */
  readonly status$?: { subscribe(observer: (value: unknown) => void): { unsubscribe(): void } };
  /** When present, the default storage of the last run and of the pending push (`nexus.storage`). */
  readonly storage?: Pick<LocalStorage, 'read' | 'write'>;
  /** When present, the client id of the push snapshot (`nexus.clientId`). */
  readonly clientId?: string;
}

/** Keeps the serialized push request native code replays while no JavaScript runs. */
export interface PushSnapshotOptions {
  /** Absolute URL of `POST /sync/push`. */
  url: string;
  /** The bearer token, read each time the snapshot is written. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /**
   * The pending push body.
   * @default pendingPushFromStorage(storage ?? nexus.storage, { clientId: nexus.clientId })
   */
  pending?: () => Promise<PendingPush | null>;
}

export interface CreateBackgroundSyncOptions {
  /** The Nexus (or anything with `sync({ signal })`). */
  nexus: SyncTarget;
  /** A configuration or a preset name. @default {} (defaults) */
  config?: BackgroundSyncConfigInput | BackgroundSyncPreset;
  /** Forces a platform. @default detected */
  platform?: BackgroundSyncPlatform;
  /** Native services from @nexus-store/capacitor or @nexus-store/react-native. */
  services?: BackgroundSyncServiceProviders;
  /** A ready service; wins over `platform` and `services`. */
  service?: BackgroundSyncService;
  /** The storage whose metadata keeps the last run. @default nexus.storage */
  storage?: Pick<LocalStorage, 'read' | 'write'>;
  /** Where the last run is kept. @default storageLastRunStore(storage ?? nexus.storage), in memory when neither exists */
  lastRunStore?: LastRunStore;
  /** Native push snapshot (used by native services). */
  push?: PushSnapshotOptions;
  /** @default 'nexus-store.sync' */
  taskId?: string;
  /** Schedule at once when the configuration is enabled. @default true */
  autoSchedule?: boolean;
  /** @default Date.now */
  clock?: Clock;
  /** Timers for the abort grace (a core `Clock` fits). @default systemTimers */
  timers?: TimerPort;
  /** See `CreateSyncTaskOptions.abortGrace`. @default 2_000 */
  abortGrace?: number;
  /** @default console */
  logger?: BackgroundSyncLogger;
  /** The global object the platform probe looks at. @default globalThis */
  globalObject?: unknown;
}

/** A service bound to `nexus.sync()`, with the last run. */
export interface BackgroundSync {
  readonly service: BackgroundSyncService;
  readonly task: BackgroundSyncTask;
  readonly status$: Observable<BackgroundSyncStatus>;
  /** The last run (persisted), first the stored one, then each new run. */
  readonly lastRun$: Observable<BackgroundSyncRun | undefined>;
  lastRun(): Promise<BackgroundSyncRun | undefined>;
  scheduleSync(): Promise<void>;
  cancelSync(): Promise<void>;
  runNow(): Promise<void>;
  /** Writes the current pending push request to native storage (no-op without `push` or a native service). */
  refreshPushSnapshot(): Promise<void>;
  dispose(): Promise<void>;
}

/** Counts from a sync report: numbers or arrays under pushed/pulled/failed/conflicts. */
export function countsOf(report: unknown): BackgroundSyncCounts | null {
  if (typeof report !== 'object' || report === null) return null;
  const r = report as Record<string, unknown>;
  const read = (...names: string[]): number | undefined => {
    for (const name of names) {
      const value = r[name];
      if (typeof value === 'number') return value;
      if (Array.isArray(value)) return value.length;
    }
    return undefined;
  };
  const pushed = read('pushed', 'pushedCount');
  const pulled = read('pulled', 'pulledCount');
  const failed = read('failed', 'failedCount', 'rejected');
  const conflicts = read('conflicts', 'conflictCount');
  if (pushed === undefined && pulled === undefined && failed === undefined && conflicts === undefined) return null;
  return { pushed: pushed ?? 0, pulled: pulled ?? 0, failed: failed ?? 0, conflicts: conflicts ?? 0 };
}

/**
 * Settles with `promise`. Once `signal` aborts, waits at most `grace` ms for `promise` to settle
 * (a Nexus that honours the signal puts its in-flight entries back to pending), then rejects with the
 * signal's reason (as a NexusError), so a target that ignores the signal cannot hold the run past the
 * platform's grace.
 */
function settleWithin<T>(promise: Promise<T>, signal: AbortSignal, grace: number, timers: TimerPort): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: unknown = null;
    const onAbort = () => {
      timer = timers.setTimeout(() => reject(abortedError(signal)), grace);
    };
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      if (timer !== null) timers.clearTimeout(timer);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        done();
        if (signal.aborted) reject(abortedError(signal));
        else resolve(value);
      },
      (error: unknown) => {
        done();
        reject(signal.aborted ? abortedError(signal) : error);
      },
    );
  });
}

/** The signal's reason when it is a NexusError (e.g. an expiration), else an ABORTED NexusError caused by it. */
function abortedError(signal: AbortSignal): NexusError {
  return signal.reason instanceof NexusError ? signal.reason : new NexusError('ABORTED', 'The background run was aborted.', { cause: signal.reason });
}

export interface CreateSyncTaskOptions {
  /** @default 'nexus-store.sync' */
  taskId?: string;
  /** @default Date.now */
  clock?: Clock;
  /** Timers for the abort grace (a core `Clock` fits). @default systemTimers */
  timers?: TimerPort;
  /**
   * After the run's signal aborts (iOS expiration, Android worker stop, dispose), how long to wait,
   * in milliseconds, for `nexus.sync()` to wind down before the run is reported as aborted. Keep it
   * below the platform's grace (native completes the run itself 5 s after an expiration).
   * @default 2_000
   */
  abortGrace?: number;
  /** Called after each run with its record. */
  onRun?: (run: BackgroundSyncRun) => void | Promise<void>;
}

/**
 * A task that runs `nexus.sync({ signal })` with the run's signal, so an expiration aborts the sync
 * itself (entries in flight go back to pending), and records the run.
 */
export function createSyncTask(nexus: SyncTarget, options: CreateSyncTaskOptions = {}): BackgroundSyncTask {
  const clock = options.clock ?? systemClock;
  const timers = options.timers ?? systemTimers;
  const abortGrace = options.abortGrace ?? 2_000;
  return {
    taskId: options.taskId ?? 'nexus-store.sync',
    async execute(context: BackgroundSyncRunContext): Promise<boolean> {
      const startedAt = clock.now();
      const base = { source: 'app' as const, trigger: context.trigger, attempt: context.attempt, startedAt };
      try {
        if (context.signal.aborted) throw abortedError(context.signal);
        const report = await settleWithin(nexus.sync({ signal: context.signal }), context.signal, abortGrace, timers);
        const skipped = (report as { skipped?: unknown } | null)?.skipped;
        if (skipped === 'offline') throw new NetworkError('NETWORK', 'The device is offline; the background sync will be retried.');
        if (skipped === 'closed') throw new NexusError('CLOSED', 'The nexus is closed; dispose the background sync with it.');
        await options.onRun?.({ ...base, finishedAt: clock.now(), outcome: 'success', counts: countsOf(report), error: null });
        return true;
      } catch (error) {
        await options.onRun?.({ ...base, finishedAt: clock.now(), outcome: 'failure', counts: null, error: describeError(error) });
        throw error;
      }
    },
  };
}

/**
 * Binds a background sync service to `nexus.sync()`: builds the platform service (or takes
 * `service`), validates the configuration, schedules it when enabled, keeps the last run in the
 * nexus's storage and, on native platforms, keeps the push snapshot for terminated-app replays.
 */
export async function createBackgroundSync(options: CreateBackgroundSyncOptions): Promise<BackgroundSync> {
  const logger = options.logger ?? console;
  const clock = options.clock ?? systemClock;
  const config = typeof options.config === 'string' ? options.config : (options.config ?? {});
  parseBackgroundSyncConfig(config); // fail fast with ValidationError before building anything
  const storage = options.storage ?? options.nexus.storage;
  const pendingPush = options.push?.pending ?? (storage ? pendingPushFromStorage(storage, { clientId: options.nexus.clientId }) : undefined);
  if (options.push && !pendingPush) {
    throw new InvalidArgumentError('push.pending is required when neither storage nor nexus.storage is given: pass pendingPushFromStorage(storage).');
  }
  const store = options.lastRunStore ?? (storage ? storageLastRunStore(storage) : memoryLastRunStore());
  const lastRunSubject = new BehaviorSubject<BackgroundSyncRun | undefined>(await store.get());
  const service =
    options.service ?? createBackgroundSyncService({ platform: options.platform, services: options.services, logger, globalObject: options.globalObject });

  const record = async (run: BackgroundSyncRun) => {
    try {
      await store.set(run);
    } catch (error) {
      logger.warn('[nexus-store/background] could not persist the last run', { error: describeError(error) });
    }
    lastRunSubject.next(run);
  };

  let snapshotChain: Promise<void> = Promise.resolve();
  const refreshPushSnapshot = (): Promise<void> => {
    const push = options.push;
    if (!push || !pendingPush || !isPushSnapshotSink(service)) return Promise.resolve();
    snapshotChain = snapshotChain.then(async () => {
      try {
        const pending = await pendingPush();
        if (!pending || pending.mutations.length === 0) {
          await service.setPushSnapshot(null);
          return;
        }
        const token = await push.getToken?.();
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (token) headers.authorization = `Bearer ${token}`;
        await service.setPushSnapshot({ url: push.url, headers, body: pending, updatedAt: clock.now() });
      } catch (error) {
        logger.warn('[nexus-store/background] could not write the push snapshot', { error: describeError(error) });
      }
    });
    return snapshotChain;
  };

  const task = createSyncTask(options.nexus, {
    taskId: options.taskId,
    clock,
    timers: options.timers,
    abortGrace: options.abortGrace,
    onRun: async (run) => {
      await record(run);
      await refreshPushSnapshot();
    },
  });
  service.registerTask(task);
  await service.initialize(config);

  if (isPushSnapshotSink(service)) {
    const nativeRuns = await service.takeNativeRuns();
    const latest = nativeRuns.reduce<(typeof nativeRuns)[number] | undefined>((a, b) => (a && a.finishedAt >= b.finishedAt ? a : b), undefined);
    const current = lastRunSubject.value;
    if (latest && (!current || current.finishedAt < latest.finishedAt)) {
      await record({
        source: 'native',
        trigger: 'native-replay',
        attempt: 0,
        startedAt: latest.startedAt,
        finishedAt: latest.finishedAt,
        outcome: latest.result === 'success' ? 'success' : 'failure',
        counts: latest.result === 'success' ? { pushed: latest.mutationCount, pulled: 0, failed: 0, conflicts: 0 } : null,
        error: latest.result === 'success' ? null : { code: 'NATIVE_REPLAY', message: `Native push replay answered ${latest.httpStatus ?? 'no response'}.` },
      });
    }
    await refreshPushSnapshot();
  }
  // Rewrite the snapshot when the number of pending mutations changes (every status when it has no count).
  let lastPending: unknown = Symbol('none');
  const subscription =
    options.push && options.nexus.status$
      ? options.nexus.status$.subscribe((status) => {
          const pending = (status as { pending?: unknown } | null)?.pending;
          if (typeof pending === 'number' && pending === lastPending) return;
          lastPending = pending;
          void refreshPushSnapshot();
        })
      : undefined;

  if (options.autoSchedule !== false && service.config?.enabled) await service.scheduleSync();

  return {
    service,
    task,
    status$: service.status$,
    lastRun$: lastRunSubject.asObservable(),
    lastRun: () => store.get(),
    scheduleSync: () => service.scheduleSync(),
    cancelSync: () => service.cancelSync(),
    runNow: () => service.runNow(),
    refreshPushSnapshot,
    async dispose() {
      subscription?.unsubscribe();
      await snapshotChain;
      await service.dispose();
      lastRunSubject.complete();
    },
  };
}
