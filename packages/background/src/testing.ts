export {
  FakeNativePlatform,
  ANDROID_MIN_PERIODIC_INTERVAL,
  ANDROID_MIN_BACKOFF,
  ANDROID_MAX_BACKOFF,
} from './fakeNativePlatform.js';
export type { FakeNativePlatformOptions, FakeAppState, FakePlatformEvent } from './fakeNativePlatform.js';
export { createManualClock } from './manualClock.js';
export type { ManualClock } from './manualClock.js';
