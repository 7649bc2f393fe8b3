import {
  BGTaskSchedulerService,
  WorkManagerSyncService,
  type BackgroundSyncServiceProviders,
  type NativeSyncServiceOptions,
} from '@nexus-store/background';
import { capacitorBridge } from './capacitorBridge.js';
import { getNexusBackgroundSyncPlugin, type NexusBackgroundSyncPlugin } from './nexusBackgroundSyncPlugin.js';

export interface CapacitorSyncServicesOptions extends Omit<NativeSyncServiceOptions, 'logger'> {
  /** @default the registered `NexusBackgroundSync` plugin */
  plugin?: NexusBackgroundSyncPlugin;
}

/**
 * The Android and iOS services over the Capacitor plugin, for `createBackgroundSync({ services })`
 * or `createBackgroundSyncService({ services })`.
 */
export function capacitorSyncServices(options: CapacitorSyncServicesOptions = {}): Required<Pick<BackgroundSyncServiceProviders, 'android' | 'ios'>> {
  const { plugin, ...serviceOptions } = options;
  const resolve = () => plugin ?? getNexusBackgroundSyncPlugin();
  return {
    android: ({ logger }) => new WorkManagerSyncService(capacitorBridge(resolve(), 'android'), { ...serviceOptions, logger }),
    ios: ({ logger }) => new BGTaskSchedulerService(capacitorBridge(resolve(), 'ios'), { ...serviceOptions, logger }),
  };
}
