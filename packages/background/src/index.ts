export { backgroundSyncPresets, parseBackgroundSyncConfig, applyPlatformLimits } from './backgroundSyncConfig.js';
export type { BackgroundSyncConfig, BackgroundSyncConfigInput, BackoffConfig, BackgroundSyncPreset } from './backgroundSyncConfig.js';
export type {
  BackgroundSyncStatus,
  BackgroundSyncService,
  BackgroundSyncTask,
  BackgroundSyncCapabilities,
  BackgroundSyncConstraints,
  BackgroundSyncRunContext,
  BackgroundSyncTrigger,
  BackgroundSyncLogger,
} from './backgroundSyncService.js';
export { computeBackoffDelay, decideAfterRun, isRetryableFailure } from './retryPolicy.js';
export type { RunDecision } from './retryPolicy.js';
export { SyncServiceBase } from './syncServiceBase.js';
export type { SyncServiceOptions, RunOutcome } from './syncServiceBase.js';
export { NoopSyncService } from './noopSyncService.js';
export { TimerSyncService } from './timerSyncService.js';
export type { TimerSyncServiceOptions } from './timerSyncService.js';
export { systemTimers, systemClock, browserConnectivity, documentAppState } from './environmentPorts.js';
export type { TimerPort, Clock, ConnectivitySource, AppStateSource, AppState } from './environmentPorts.js';
export { WebSyncService } from './webSyncService.js';
export type { WebSyncServiceOptions, WebGlobalLike } from './webSyncService.js';
export { BACKGROUND_SYNC_MESSAGE_TYPE, DEFAULT_SYNC_TAG, isBackgroundSyncMessage } from './webProtocol.js';
export type { BackgroundSyncMessage } from './webProtocol.js';
export {
  WorkManagerSyncService,
  BGTaskSchedulerService,
  WORK_MANAGER_CAPABILITIES,
  BG_TASK_SCHEDULER_CAPABILITIES,
  isPushSnapshotSink,
} from './nativeSyncService.js';
export type { NativeSyncServiceOptions, PushSnapshotSink } from './nativeSyncService.js';
export { executeNativeRun, createNativeRunHandler, expirationError } from './nativeRun.js';
export type { NativeRunOptions, NativeRunHandlerOptions } from './nativeRun.js';
export type {
  NativeBridge,
  NativePlatform,
  NativeConstraints,
  NativeScheduleRequest,
  NativeRunNowRequest,
  NativeRunKind,
  NativeRunEvent,
  NativeExpireEvent,
  NativeRunResult,
  NativeRunRecord,
  PushSnapshot,
} from './nativeBridge.js';
export { createBackgroundSyncService, detectEnvironment, selectBackgroundSyncPlatform } from './createBackgroundSyncService.js';
export type {
  BackgroundSyncPlatform,
  DetectedEnvironment,
  BackgroundSyncServiceProviders,
  ServiceProviderContext,
  CreateBackgroundSyncServiceOptions,
} from './createBackgroundSyncService.js';
export { createBackgroundSync, createSyncTask, countsOf } from './createBackgroundSync.js';
export type { BackgroundSync, CreateBackgroundSyncOptions, CreateSyncTaskOptions, SyncTarget, PushSnapshotOptions } from './createBackgroundSync.js';
export { storageLastRunStore, memoryLastRunStore, LAST_RUN_META_KEY } from './lastRunStore.js';
export type { BackgroundSyncRun, BackgroundSyncCounts, LastRunStore } from './lastRunStore.js';
export { pendingPushFromStorage } from './pushSnapshot.js';
export type { PendingPush, PendingPushFromStorageOptions } from './pushSnapshot.js';
