import type {
  NativeBridge,
  NativeExpireEvent,
  NativePlatform,
  NativeRunEvent,
  NativeRunNowRequest,
  NativeRunRecord,
  NativeRunResult,
  NativeScheduleRequest,
} from '@nexus-store/background';

/** `NativeModules.NexusBackgroundSync` (Kotlin and Swift under android/ and ios/), per BRIDGE.md. */
export interface NexusBackgroundSyncNativeModule {
  schedule(request: NativeScheduleRequest): Promise<void>;
  cancel(taskId: string): Promise<void>;
  runNow(request: NativeRunNowRequest): Promise<void>;
  complete(runId: string, result: NativeRunResult): Promise<void>;
  /** The push snapshot as a JSON string (stored as is natively), or null to clear it. */
  setPushSnapshot(snapshotJson: string | null): Promise<void>;
  takeNativeRuns(): Promise<NativeRunRecord[]>;
  /** Required by NativeEventEmitter. */
  addListener(eventName: string): void;
  removeListeners(count: number): void;
}

/** A NativeEventEmitter instance, structurally. */
export interface EventEmitterLike {
  addListener(eventName: string, listener: (data: any) => void): { remove(): void };
}

/** The parts of `react-native` this package uses, passed in by the app (this package does not depend on react-native). */
export interface ReactNativeLike {
  NativeModules: Record<string, unknown>;
  NativeEventEmitter: new (nativeModule?: any) => EventEmitterLike;
  Platform: { OS: string };
}

/** The module's name in NativeModules. */
export const NATIVE_MODULE_NAME = 'NexusBackgroundSync';
/** Event names the module emits. */
export const RUN_EVENT = 'NexusBackgroundSync.run';
export const EXPIRE_EVENT = 'NexusBackgroundSync.expire';

/** Adapts the React Native module and its event emitter to `NativeBridge`. */
export function reactNativeBridge(nativeModule: NexusBackgroundSyncNativeModule, emitter: EventEmitterLike, platform: NativePlatform): NativeBridge {
  return {
    platform,
    schedule: (request) => nativeModule.schedule(request),
    cancel: (taskId) => nativeModule.cancel(taskId),
    runNow: (request) => nativeModule.runNow(request),
    complete: (runId, result) => nativeModule.complete(runId, result),
    setPushSnapshot: (snapshot) => nativeModule.setPushSnapshot(snapshot === null ? null : JSON.stringify(snapshot)),
    takeNativeRuns: async () => (await nativeModule.takeNativeRuns()) ?? [],
    onRun: (listener) => {
      const subscription = emitter.addListener(RUN_EVENT, (event: NativeRunEvent) => listener(event));
      return () => subscription.remove();
    },
    onExpire: (listener) => {
      const subscription = emitter.addListener(EXPIRE_EVENT, (event: NativeExpireEvent) => listener(event));
      return () => subscription.remove();
    },
  };
}
