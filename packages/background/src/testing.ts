export {
  FakeNativePlatform,
  ANDROID_MIN_PERIODIC_INTERVAL,
  ANDROID_MIN_BACKOFF,
  ANDROID_MAX_BACKOFF,
  MAX_NATIVE_REPLAY_RETRIES,
} from './fakeNativePlatform.js';
export type { FakeNativePlatformOptions, FakeAppState, FakePlatformEvent } from './fakeNativePlatform.js';
export { createManualClock } from './manualClock.js';
export { NATIVE_BRIDGE_METHODS } from './nativeBridge.js';
export type { ManualClock } from './manualClock.js';
