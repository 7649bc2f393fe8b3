export { getNexusBackgroundSyncPlugin, PLUGIN_NAME } from './nexusBackgroundSyncPlugin.js';
export type { NexusBackgroundSyncPlugin } from './nexusBackgroundSyncPlugin.js';
export { capacitorBridge } from './capacitorBridge.js';
export { capacitorSyncServices } from './capacitorSyncServices.js';
export type { CapacitorSyncServicesOptions } from './capacitorSyncServices.js';
export { WorkManagerSyncService, BGTaskSchedulerService } from '@nexus-store/background';
