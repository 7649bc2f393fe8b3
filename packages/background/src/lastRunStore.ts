import type { LocalStorage } from '@nexus-store/core';
import type { BackgroundSyncTrigger } from './backgroundSyncService.js';

/** Counts taken from the sync report, when it has them. */
export interface BackgroundSyncCounts {
  pushed: number;
  pulled: number;
  failed: number;
  conflicts: number;
}

/** The last background run, as persisted. Times are epoch milliseconds. */
export interface BackgroundSyncRun {
  /** 'app': JavaScript ran `nexus.sync()`; 'native': the native worker replayed the push snapshot alone. */
  source: 'app' | 'native';
  trigger: BackgroundSyncTrigger | 'native-replay';
  attempt: number;
  startedAt: number;
  finishedAt: number;
  outcome: 'success' | 'failure';
  counts: BackgroundSyncCounts | null;
  error: { code: string; message: string } | null;
}

/** Where the last run is kept. */
export interface LastRunStore {
  get(): Promise<BackgroundSyncRun | undefined>;
  set(run: BackgroundSyncRun): Promise<void>;
}

/** The metadata key of the last run in the nexus's storage. */
export const LAST_RUN_META_KEY = 'nexus-store/background/lastRun';

/** Keeps the last run in the nexus's storage metadata (survives restarts, same database as the data). */
export function storageLastRunStore(storage: Pick<LocalStorage, 'read' | 'write'>, key: string = LAST_RUN_META_KEY): LastRunStore {
  return {
    get: () => storage.read((tx) => tx.getMeta<BackgroundSyncRun>(key)),
    set: (run) => storage.write((tx) => tx.setMeta(key, run)),
  };
}

/** Keeps the last run in memory (tests, apps without storage access). */
export function memoryLastRunStore(initial?: BackgroundSyncRun): LastRunStore {
  let value = initial;
  return {
    get: async () => value,
    set: async (run) => {
      value = run;
    },
  };
}
