import { InvalidArgumentError } from '@nexus-store/core';
import {
  BGTaskSchedulerService,
  WorkManagerSyncService,
  type BackgroundSyncServiceProviders,
  type NativeBridge,
  type NativeSyncServiceOptions,
} from '@nexus-store/background';
import { NATIVE_MODULE_NAME, reactNativeBridge, type NexusBackgroundSyncNativeModule, type ReactNativeLike } from './reactNativeBridge.js';

export interface ReactNativeSyncServicesOptions extends Omit<NativeSyncServiceOptions, 'logger'> {
  /** `import * as ReactNative from 'react-native'` (or `{ NativeModules, NativeEventEmitter, Platform }`). */
  reactNative: ReactNativeLike;
}

/** The bridge for the running OS. Throws when the native module is not linked. */
export function createReactNativeBridge(reactNative: ReactNativeLike): NativeBridge {
  const os = reactNative.Platform.OS;
  if (os !== 'android' && os !== 'ios') throw new InvalidArgumentError(`@nexus-store/react-native supports android and ios, not ${os}.`);
  const nativeModule = reactNative.NativeModules[NATIVE_MODULE_NAME] as NexusBackgroundSyncNativeModule | undefined;
  if (!nativeModule) {
    throw new InvalidArgumentError(`NativeModules.${NATIVE_MODULE_NAME} is missing: rebuild the app after installing @nexus-store/react-native (see its README).`);
  }
  return reactNativeBridge(nativeModule, new reactNative.NativeEventEmitter(nativeModule), os);
}

/**
 * The service of the running OS over the React Native module, for
 * `createBackgroundSync({ services: reactNativeSyncServices({ reactNative }) })`. Only the current
 * OS's provider is returned, which is how the platform factory knows the OS.
 */
export function reactNativeSyncServices(options: ReactNativeSyncServicesOptions): Pick<BackgroundSyncServiceProviders, 'android' | 'ios'> {
  const { reactNative, ...serviceOptions } = options;
  if (reactNative.Platform.OS === 'android') {
    return { android: ({ logger }) => new WorkManagerSyncService(createReactNativeBridge(reactNative), { ...serviceOptions, logger }) };
  }
  if (reactNative.Platform.OS === 'ios') {
    return { ios: ({ logger }) => new BGTaskSchedulerService(createReactNativeBridge(reactNative), { ...serviceOptions, logger }) };
  }
  return {};
}
