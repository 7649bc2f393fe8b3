import {
  createNativeRunHandler,
  type BackgroundSyncConfigInput,
  type BackgroundSyncLogger,
  type BackgroundSyncTask,
  type NativeBridge,
  type NativeRunEvent,
} from '@nexus-store/background';

/** `AppRegistry`, structurally. */
export interface AppRegistryLike {
  registerHeadlessTask(taskKey: string, taskProvider: () => (data: any) => Promise<void>): void;
}

/** The headless task's name (the Kotlin HeadlessJsTaskService starts it). */
export const HEADLESS_TASK_NAME = 'NexusBackgroundSync';

export interface RegisterHeadlessSyncTaskOptions {
  /** The bridge (`createReactNativeBridge(ReactNative)`). */
  bridge: NativeBridge;
  /**
   * Builds the task in the headless context, where no app code ran: open the storage, create the
   * nexus, return `createSyncTask(nexus)`.
   */
  createTask: () => BackgroundSyncTask | Promise<BackgroundSyncTask>;
  /** The configuration the app uses (for maxRetries and backoff). */
  config?: BackgroundSyncConfigInput;
  logger?: BackgroundSyncLogger;
}

/**
 * Android: registers the headless JS task WorkManager starts while the app is terminated, so the
 * TypeScript sync runs without UI. Call it in index.js, next to `AppRegistry.registerComponent`.
 */
export function registerHeadlessSyncTask(appRegistry: AppRegistryLike, options: RegisterHeadlessSyncTaskOptions): void {
  const handler = createNativeRunHandler(options);
  appRegistry.registerHeadlessTask(HEADLESS_TASK_NAME, () => (data: NativeRunEvent) => handler(data));
}
