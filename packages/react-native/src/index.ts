export { reactNativeBridge, NATIVE_MODULE_NAME, RUN_EVENT, EXPIRE_EVENT } from './reactNativeBridge.js';
export type { NexusBackgroundSyncNativeModule, EventEmitterLike, ReactNativeLike } from './reactNativeBridge.js';
export { reactNativeSyncServices, createReactNativeBridge } from './reactNativeSyncServices.js';
export type { ReactNativeSyncServicesOptions } from './reactNativeSyncServices.js';
export { registerHeadlessSyncTask, HEADLESS_TASK_NAME } from './registerHeadlessSyncTask.js';
export type { AppRegistryLike, RegisterHeadlessSyncTaskOptions } from './registerHeadlessSyncTask.js';
export { WorkManagerSyncService, BGTaskSchedulerService } from '@nexus-store/background';
