import type { Mutation } from '@nexus-store/core';

/**
 * The contract between the TypeScript services and the native schedulers (Kotlin WorkManager,
 * Swift BGTaskScheduler), implemented by the Capacitor plugin and the React Native module.
 * BRIDGE.md in @nexus-store/capacitor describes the same messages for the native side; the fake
 * bridge in `@nexus-store/background/testing` follows it too.
 */
export type NativePlatform = 'android' | 'ios';

export interface NativeConstraints {
  network: boolean;
  charging: boolean;
  batteryNotLow: boolean;
}

/** Plans the periodic work (Android: unique periodic work; iOS: the next BGAppRefresh/BGProcessing request). */
export interface NativeScheduleRequest {
  taskId: string;
  /** Period between runs, never below the platform floor (the TS side raises it). */
  intervalMs: number;
  /** Delay before the first run. iOS: earliestBeginDate = now + initialDelayMs. */
  initialDelayMs: number;
  constraints: NativeConstraints;
  /** Native backoff for retried runs (Android `setBackoffCriteria(EXPONENTIAL, initialDelayMs)`). */
  backoff: { initialDelayMs: number };
  /** The attempt number the next run reports (non-zero when this request is a retry). */
  attempt: number;
}

/** Asks for one run as soon as constraints allow (Android: unique one-time expedited work). */
export interface NativeRunNowRequest {
  taskId: string;
  constraints: NativeConstraints;
  backoff: { initialDelayMs: number };
}

/** Android: 'periodic' | 'oneTime'. iOS: 'appRefresh' | 'processing'. */
export type NativeRunKind = 'periodic' | 'oneTime' | 'appRefresh' | 'processing';

/** The native scheduler started a run and waits for `complete(runId, ...)`. */
export interface NativeRunEvent {
  runId: string;
  taskId: string;
  kind: NativeRunKind;
  /** 0 for a first attempt; Android: `runAttemptCount`; iOS: the attempt given with the retry. */
  attempt: number;
}

/** The platform takes the run's time back (iOS expirationHandler, Android `onStopped`). */
export interface NativeExpireEvent {
  runId: string;
  taskId: string;
}

/** How a run ended, as told to the native side. */
export type NativeRunResult =
  | { result: 'success' }
  /** Android: `Result.retry()` (native backoff). iOS: resubmit the request at now + retryAfterMs. */
  | { result: 'retry'; retryAfterMs: number; attempt: number }
  /** Android: `Result.failure()`. iOS: `setTaskCompleted(false)`, next request at the normal interval. */
  | { result: 'failure' };

/** The serialized push request native code replays when no JavaScript can run (terminated Capacitor app). */
export interface PushSnapshot {
  /** Absolute URL of `POST /sync/push`. */
  url: string;
  /** Request headers, e.g. `{ authorization: 'Bearer …', 'content-type': 'application/json' }`. */
  headers: Record<string, string>;
  /** Exactly the body the HTTP remote sends: the pending outbox in push order. */
  body: { clientId: string; mutations: Mutation[] };
  /** When the TS side wrote it (epoch ms). */
  updatedAt: number;
}

/** A run the native side did alone (replay of the push snapshot), reported on the next launch. */
export interface NativeRunRecord {
  runId: string;
  kind: NativeRunKind;
  startedAt: number;
  finishedAt: number;
  result: 'success' | 'retry' | 'failure';
  /** HTTP status of the replayed push, or null without a response. */
  httpStatus: number | null;
  mutationCount: number;
}

export interface NativeBridge {
  readonly platform: NativePlatform;
  schedule(request: NativeScheduleRequest): Promise<void>;
  /** Cancels periodic work, pending retries and one-time work of `taskId`. */
  cancel(taskId: string): Promise<void>;
  /** Android only (iOS cannot start background work on demand). */
  runNow(request: NativeRunNowRequest): Promise<void>;
  /** Ends a run. Must be called exactly once per run event, also after an expire event. */
  complete(runId: string, result: NativeRunResult): Promise<void>;
  /** Stores (or with null clears) the push request native code replays when JavaScript cannot run. */
  setPushSnapshot(snapshot: PushSnapshot | null): Promise<void>;
  /** Runs the native side did without JavaScript since the last call; clears them. */
  takeNativeRuns(): Promise<NativeRunRecord[]>;
  /** Native code buffers run events until the first listener is attached. Returns an unsubscribe. */
  onRun(listener: (event: NativeRunEvent) => void): () => void;
  onExpire(listener: (event: NativeExpireEvent) => void): () => void;
}

type NativeBridgeMethod = Exclude<keyof NativeBridge, 'platform' | 'onRun' | 'onExpire'>;

/** The bridge calls each native plugin implements as a method (BRIDGE.md); `onRun`/`onExpire` are its events. */
export const NATIVE_BRIDGE_METHODS = ['schedule', 'cancel', 'runNow', 'complete', 'setPushSnapshot', 'takeNativeRuns'] as const satisfies readonly NativeBridgeMethod[];
// A method added to NativeBridge but not listed above fails to compile here.
const _everyMethodListed: [NativeBridgeMethod] extends [(typeof NATIVE_BRIDGE_METHODS)[number]] ? true : never = true;
