import { wrap } from 'idb';
import type { DBSchema, IDBPDatabase, IDBPTransaction, OpenDBCallbacks, StoreNames } from 'idb';

/**
 * idb's `openDB`, through a given factory: idb's own always opens with the global `indexedDB`, and
 * the `indexedDB` option may inject another. The callbacks are hooked exactly as `openDB` hooks them.
 */
export function openDatabase<DB extends DBSchema>(factory: IDBFactory, name: string, version: number, callbacks: OpenDBCallbacks<DB>): Promise<IDBPDatabase<DB>> {
  const { upgrade, blocked, blocking, terminated } = callbacks;
  const request = factory.open(name, version);
  const opened = wrap(request) as Promise<IDBPDatabase<DB>>;
  if (upgrade) {
    request.addEventListener('upgradeneeded', (event) => {
      // wrap() types any transaction as readonly; this one is the versionchange transaction.
      const tx = wrap(request.transaction!) as unknown as IDBPTransaction<DB, StoreNames<DB>[], 'versionchange'>;
      upgrade(wrap(request.result) as IDBPDatabase<DB>, event.oldVersion, event.newVersion, tx, event);
    });
  }
  if (blocked) request.addEventListener('blocked', (event) => blocked(event.oldVersion, event.newVersion, event));
  opened.then(
    (db) => {
      if (terminated) db.addEventListener('close', () => terminated());
      if (blocking) db.addEventListener('versionchange', (event) => blocking(event.oldVersion, event.newVersion, event));
    },
    () => undefined,
  );
  return opened;
}
