import { WebSyncService, type BackgroundSyncStatus } from '@nexus-store/background';
import { openNexus, type Contact } from './shared.js';

interface TestWindow {
  statuses: BackgroundSyncStatus[];
  setup(): Promise<{ mode: string; scope: string }>;
  save(contact: Contact): Promise<void>;
  pendingCount(): Promise<number>;
  runNow(): Promise<void>;
  scheduleSync(): Promise<void>;
  warnings: string[];
}

const w = window as unknown as TestWindow;
w.statuses = [];
w.warnings = [];

w.setup = async () => {
  const registration = await navigator.serviceWorker.register('/sw.js');
  await navigator.serviceWorker.ready;
  const { nexus, contacts } = await openNexus(location.origin);
  const service = new WebSyncService({ logger: { warn: (message) => w.warnings.push(message), info: () => {} } });
  service.status$.subscribe((status) => w.statuses.push(status));
  service.registerTask({ taskId: 'page', execute: async () => (await nexus.sync(), true) });
  await service.initialize({});
  w.save = async (contact) => {
    await contacts.save(contact as never);
  };
  w.pendingCount = async () => (await nexus.pending()).length;
  w.runNow = () => service.runNow();
  w.scheduleSync = () => service.scheduleSync();
  return { mode: service.mode, scope: registration.scope };
};
