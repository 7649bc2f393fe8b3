import type { NativeRunResult, PushSnapshot } from '@nexus-store/background';
import type { FakeNativePlatform } from '@nexus-store/background/testing';
import { EXPIRE_EVENT, HEADLESS_TASK_NAME, RUN_EVENT, type AppRegistryLike, type NexusBackgroundSyncNativeModule, type ReactNativeLike } from '@nexus-store/react-native';

/**
 * A JavaScript context's view of react-native, with NativeModules.NexusBackgroundSync doing what the
 * Kotlin/Swift module does per BRIDGE.md: forward to the platform, and buffer events until JS listens.
 */
export function fakeReactNative(platform: FakeNativePlatform, os: 'android' | 'ios'): ReactNativeLike {
  const listeners = new Map<string, Set<(data: unknown) => void>>();
  const buffered: [string, unknown][] = [];
  const emit = (name: string, data: unknown) => {
    const set = listeners.get(name);
    if (!set || set.size === 0) buffered.push([name, data]);
    else for (const l of set) l(data);
  };
  platform.bridge.onRun((event) => emit(RUN_EVENT, event));
  platform.bridge.onExpire((event) => emit(EXPIRE_EVENT, event));
  const nativeModule: NexusBackgroundSyncNativeModule = {
    schedule: (request) => platform.bridge.schedule(request),
    cancel: (taskId) => platform.bridge.cancel(taskId),
    runNow: (request) => platform.bridge.runNow(request),
    complete: (runId, result: NativeRunResult) => platform.bridge.complete(runId, result),
    setPushSnapshot: (json) => platform.bridge.setPushSnapshot(json === null ? null : (JSON.parse(json) as PushSnapshot)),
    takeNativeRuns: () => platform.bridge.takeNativeRuns(),
    addListener: () => {},
    removeListeners: () => {},
  };
  class NativeEventEmitter {
    addListener(name: string, listener: (data: unknown) => void) {
      const set = listeners.get(name) ?? new Set();
      listeners.set(name, set);
      set.add(listener);
      for (const [i, [n, data]] of [...buffered.entries()].reverse()) {
        if (n === name) {
          buffered.splice(i, 1);
          listener(data);
        }
      }
      return { remove: () => set.delete(listener) };
    }
  }
  return { NativeModules: { NexusBackgroundSync: nativeModule }, NativeEventEmitter, Platform: { OS: os } };
}

/** AppRegistry with the platform starting headless JS on Android. */
export function fakeAppRegistry(platform: FakeNativePlatform): AppRegistryLike & { names: string[] } {
  const names: string[] = [];
  return {
    names,
    registerHeadlessTask(name, provider) {
      names.push(name);
      if (name === HEADLESS_TASK_NAME) platform.registerHeadlessTask((event) => provider()(event));
    },
  };
}
