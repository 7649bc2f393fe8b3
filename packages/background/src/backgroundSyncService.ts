import type { Observable } from 'rxjs';
import type { BackgroundSyncConfig, BackgroundSyncConfigInput, BackgroundSyncPreset } from './backgroundSyncConfig.js';

/**
 * Where a background sync service stands.
 * - `idle`: not scheduled (before `scheduleSync()`, after `cancelSync()`, or disabled).
 * - `scheduled`: a run is planned (the first periodic run, or a retry after a failure).
 * - `running`: the task is executing.
 * - `completed`: the last run succeeded; the periodic schedule stays in place.
 * - `failed`: the last run failed and no retry is left (or the error cannot be retried); the periodic
 *   schedule stays in place and the next period starts a fresh retry budget.
 */
export type BackgroundSyncStatus = 'idle' | 'scheduled' | 'running' | 'completed' | 'failed';

/** The constraints a platform can hold a run back for. */
export interface BackgroundSyncConstraints {
  /** Network connectivity. */
  network: boolean;
  /** External power. */
  charging: boolean;
  /** Battery not low. */
  batteryNotLow: boolean;
}

/** What a platform can do. Used to raise values below its floors and to warn about ignored constraints. */
export interface BackgroundSyncCapabilities {
  /** The platform's name, for logs. */
  readonly platform: string;
  /** Shortest interval between periodic runs the platform accepts, in milliseconds. */
  readonly minInterval: number;
  /** Shortest first retry delay the platform accepts, in milliseconds. */
  readonly minBackoffDelay: number;
  /** Which constraints the platform honours. A requested constraint it cannot honour is logged and ignored. */
  readonly constraints: Readonly<BackgroundSyncConstraints>;
  /** Whether a run can happen while the app is terminated (natively, or by headless JavaScript). */
  readonly runsWhenTerminated: boolean;
}

/** What the task is told about one run. */
export interface BackgroundSyncRunContext {
  /** Aborted when the platform takes the run's time back (iOS expiration, Android worker stop, dispose). */
  signal: AbortSignal;
  /** Why the run happens. */
  trigger: BackgroundSyncTrigger;
  /** 0 for a first attempt, then 1, 2... for retries. */
  attempt: number;
}

export type BackgroundSyncTrigger = 'periodic' | 'manual' | 'retry' | 'reconnect' | 'resume' | 'headless' | 'worker';

/**
 * The unit of work a service runs. `execute` resolves `true` on success. It resolves `false` or throws
 * on failure; a thrown `NexusError` whose code is not retryable (e.g. AUTH) ends the run as failed
 * without retries, anything else is retried with backoff up to `maxRetries`.
 */
export interface BackgroundSyncTask {
  readonly taskId: string;
  execute(context: BackgroundSyncRunContext): Promise<boolean>;
}

/** The platform-neutral background sync contract. */
export interface BackgroundSyncService {
  /** Whether this service can schedule anything on the current platform. */
  readonly isSupported: boolean;
  readonly capabilities: BackgroundSyncCapabilities;
  /** The current status first, then every change. */
  readonly status$: Observable<BackgroundSyncStatus>;
  /** The current status. */
  readonly status: BackgroundSyncStatus;
  /** The effective configuration after validation and platform floors (undefined before `initialize`). */
  readonly config: BackgroundSyncConfig | undefined;
  /** Sets the task that runs. Call before `scheduleSync()` or `runNow()`. */
  registerTask(task: BackgroundSyncTask): void;
  /** Validates the configuration (ValidationError), raises values below the platform's floors (logged). */
  initialize(config?: BackgroundSyncConfigInput | BackgroundSyncPreset): Promise<void>;
  /** Plans periodic runs. Does nothing when the configuration is disabled (status stays 'idle'). */
  scheduleSync(): Promise<void>;
  /** Removes the periodic schedule and pending retries; status becomes 'idle'. */
  cancelSync(): Promise<void>;
  /** Runs the task as soon as the platform allows; resolves when that run has settled. */
  runNow(): Promise<void>;
  /** Cancels listeners and timers, aborts a running task, completes `status$`. */
  dispose(): Promise<void>;
}

/** A logger; `console` fits. */
export interface BackgroundSyncLogger {
  warn(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  debug?(message: string, details?: Record<string, unknown>): void;
}
