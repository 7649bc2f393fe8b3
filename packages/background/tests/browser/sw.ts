import { registerBackgroundSyncHandlers, type ServiceWorkerScopeLike } from '@nexus-store/background/worker';
import { openNexus } from './shared.js';

interface WorkerScope extends ServiceWorkerScopeLike {
  location: { origin: string };
  skipWaiting(): Promise<void>;
  clients: NonNullable<ServiceWorkerScopeLike['clients']> & { claim(): Promise<void> };
  addEventListener(type: string, listener: (event: never) => void): void;
}

const scope = self as unknown as WorkerScope;
scope.addEventListener('install', () => void scope.skipWaiting());
scope.addEventListener('activate', (event: { waitUntil(p: Promise<unknown>): void }) => event.waitUntil(scope.clients.claim()));

let opened: ReturnType<typeof openNexus> | undefined;

// The app's worker: push the outbox (then pull) with the same storage the page writes to.
registerBackgroundSyncHandlers(scope, {
  async sync() {
    opened ??= openNexus(scope.location.origin);
    const { nexus } = await opened;
    await nexus.sync();
  },
});
