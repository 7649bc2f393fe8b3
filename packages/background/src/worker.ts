import { BACKGROUND_SYNC_MESSAGE_TYPE, DEFAULT_SYNC_TAG, type BackgroundSyncMessage } from './webProtocol.js';

export { BACKGROUND_SYNC_MESSAGE_TYPE, DEFAULT_SYNC_TAG } from './webProtocol.js';
export type { BackgroundSyncMessage } from './webProtocol.js';

/** A `sync` or `periodicsync` event, as far as this module needs it. */
export interface SyncEventLike {
  readonly tag: string;
  /** One-off sync only: the browser will not retry after this attempt. */
  readonly lastChance?: boolean;
  waitUntil(promise: Promise<unknown>): void;
}

/** The service worker global scope, as far as this module needs it (`self` in a worker). */
export interface ServiceWorkerScopeLike {
  addEventListener(type: 'sync' | 'periodicsync', listener: (event: SyncEventLike) => void): void;
  removeEventListener(type: 'sync' | 'periodicsync', listener: (event: SyncEventLike) => void): void;
  clients?: { matchAll(options?: { includeUncontrolled?: boolean; type?: string }): Promise<readonly { postMessage(message: unknown): void }[]> };
}

export interface WorkerSyncContext {
  event: 'sync' | 'periodicsync';
  lastChance: boolean;
}

export interface BackgroundSyncWorkerOptions {
  /** The tag the page registers. @default 'nexus-store-sync' */
  tag?: string;
  /**
   * Pushes (and pulls) from inside the worker, e.g. `() => nexus.sync()` over `idbStorage` and
   * `httpRemote`. Throw to let the browser retry a one-off sync later.
   */
  sync(context: WorkerSyncContext): Promise<unknown>;
}

/**
 * The service-worker side of web background sync. In the worker:
 * `registerBackgroundSyncHandlers(self, { sync: () => nexus.sync() })`.
 * Answers `sync` and `periodicsync` events of the tag, keeps the worker alive with `waitUntil`, and
 * posts `running`/`completed`/`failed`/`retry` messages to the pages. Returns an unregister function.
 */
export function registerBackgroundSyncHandlers(scope: ServiceWorkerScopeLike, options: BackgroundSyncWorkerOptions): () => void {
  const tag = options.tag ?? DEFAULT_SYNC_TAG;
  const post = async (message: Omit<BackgroundSyncMessage, 'type'>) => {
    const clients = (await scope.clients?.matchAll({ includeUncontrolled: true, type: 'window' })) ?? [];
    for (const client of clients) client.postMessage({ type: BACKGROUND_SYNC_MESSAGE_TYPE, ...message });
  };
  const handler = (kind: 'sync' | 'periodicsync') => (event: SyncEventLike) => {
    // `tag` itself, or `tag:<id>` for one runNow() (so the page can tell its run from others).
    if (event.tag !== tag && !event.tag.startsWith(`${tag}:`)) return;
    const lastChance = event.lastChance === true;
    const eventTag = event.tag;
    event.waitUntil(
      (async () => {
        await post({ tag: eventTag, event: kind, status: 'running' });
        try {
          await options.sync({ event: kind, lastChance });
          await post({ tag: eventTag, event: kind, status: 'completed' });
        } catch (error) {
          const retry = kind === 'sync' && !lastChance;
          await post({ tag: eventTag, event: kind, status: retry ? 'retry' : 'failed', error: { message: error instanceof Error ? error.message : String(error) } });
          // Rejecting makes the browser retry a one-off sync with its own backoff.
          throw error;
        }
      })(),
    );
  };
  const onSync = handler('sync');
  const onPeriodic = handler('periodicsync');
  scope.addEventListener('sync', onSync);
  scope.addEventListener('periodicsync', onPeriodic);
  return () => {
    scope.removeEventListener('sync', onSync);
    scope.removeEventListener('periodicsync', onPeriodic);
  };
}
