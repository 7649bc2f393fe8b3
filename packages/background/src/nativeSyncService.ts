import { InvalidArgumentError } from '@nexus-store/core';
import { parseBackgroundSyncConfig, type BackgroundSyncConfig } from './backgroundSyncConfig.js';
import type { BackgroundSyncCapabilities } from './backgroundSyncService.js';
import type { NativeBridge, NativeConstraints, NativeRunEvent, NativeRunRecord, PushSnapshot } from './nativeBridge.js';
import { executeNativeRun, expirationError } from './nativeRun.js';
import { decideAfterRun } from './retryPolicy.js';
import { SyncServiceBase, type SyncServiceOptions } from './syncServiceBase.js';

const MINUTE = 60_000;

/** Android WorkManager: 15-minute periodic floor, 10 s minimum backoff, every constraint, runs when terminated. */
export const WORK_MANAGER_CAPABILITIES: BackgroundSyncCapabilities = {
  platform: 'android-workmanager',
  minInterval: 15 * MINUTE,
  minBackoffDelay: 10_000,
  constraints: { network: true, charging: true, batteryNotLow: true },
  runsWhenTerminated: true,
};

/**
 * iOS BGTaskScheduler: iOS decides when to run; BGAppRefreshTask (~30 s) cannot require anything,
 * `requiresCharging` moves the work to a BGProcessingTask (requiresExternalPower). The app is
 * relaunched in the background unless the user force-quit it.
 */
export const BG_TASK_SCHEDULER_CAPABILITIES: BackgroundSyncCapabilities = {
  platform: 'ios-bgtaskscheduler',
  minInterval: 15 * MINUTE,
  minBackoffDelay: 0,
  constraints: { network: false, charging: true, batteryNotLow: false },
  runsWhenTerminated: true,
};

export interface NativeSyncServiceOptions extends SyncServiceOptions {
  /** The task id native code registers (iOS: listed in BGTaskSchedulerPermittedIdentifiers). @default 'nexus-store.sync' */
  taskId?: string;
}

/** Something that can keep the native push snapshot up to date. */
export interface PushSnapshotSink {
  setPushSnapshot(snapshot: PushSnapshot | null): Promise<void>;
  takeNativeRuns(): Promise<NativeRunRecord[]>;
}

/** Whether a service accepts push snapshots (the native services do). */
export function isPushSnapshotSink(value: unknown): value is PushSnapshotSink {
  return typeof value === 'object' && value !== null && typeof (value as PushSnapshotSink).setPushSnapshot === 'function' && typeof (value as PushSnapshotSink).takeNativeRuns === 'function';
}

/**
 * The logic of both native services: schedule through the bridge, run the task when native code
 * says so, abort it on expiration, and tell native code success, retry or failure.
 */
abstract class NativeSyncService extends SyncServiceBase implements PushSnapshotSink {
  readonly isSupported = true;
  readonly taskId: string;
  protected readonly bridge: NativeBridge;
  private readonly active = new Map<string, AbortController>();
  private readonly runWaiters: (() => void)[] = [];
  private unsubscribers: (() => void)[] = [];
  private foregroundRuns = 0;

  constructor(bridge: NativeBridge, expected: NativeBridge['platform'], options: NativeSyncServiceOptions) {
    super(options);
    if (bridge.platform !== expected) throw new InvalidArgumentError(`This service needs the ${expected} bridge, got ${bridge.platform}.`);
    this.bridge = bridge;
    this.taskId = options.taskId ?? 'nexus-store.sync';
  }

  override registerTask(task: Parameters<SyncServiceBase['registerTask']>[0]): void {
    super.registerTask(task);
    if (this.config) this.listen();
  }

  // Listen only once the task and the configuration are both known: native code delivers buffered
  // runs as soon as a listener exists, and they must run with the app's maxRetries and backoff.
  protected override async onInitialized(): Promise<void> {
    if (this.task) this.listen();
  }

  async scheduleSync(): Promise<void> {
    this.assertOpen();
    const config = this.requireConfig();
    this.requireTask();
    if (!this.schedulingEnabled(config)) return;
    await this.bridge.schedule({
      taskId: this.taskId,
      intervalMs: config.minInterval,
      initialDelayMs: config.minInterval,
      constraints: constraintsOf(config),
      backoff: { initialDelayMs: config.backoff.initialDelay },
      attempt: 0,
    });
    this.setStatus('scheduled');
  }

  async cancelSync(): Promise<void> {
    this.assertOpen();
    await this.bridge.cancel(this.taskId);
    this.setStatus('idle');
  }

  setPushSnapshot(snapshot: PushSnapshot | null): Promise<void> {
    return this.bridge.setPushSnapshot(snapshot);
  }

  takeNativeRuns(): Promise<NativeRunRecord[]> {
    return this.bridge.takeNativeRuns();
  }

  protected override async onDispose(): Promise<void> {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    for (const controller of this.active.values()) controller.abort(expirationError('dispose'));
    for (const resolve of this.runWaiters.splice(0)) resolve();
  }

  protected effective(): BackgroundSyncConfig {
    return this.config ?? parseBackgroundSyncConfig({});
  }

  /** Resolves when the next native run has settled. */
  protected nextRunSettled(): Promise<void> {
    return new Promise((resolve) => this.runWaiters.push(resolve));
  }

  private listen(): void {
    if (this.unsubscribers.length > 0) return;
    this.unsubscribers.push(
      this.bridge.onRun((event) => void this.handleRun(event)),
      this.bridge.onExpire((event) => this.active.get(event.runId)?.abort(expirationError(this.capabilities.platform))),
    );
  }

  private async handleRun(event: NativeRunEvent): Promise<void> {
    if (this.active.has(event.runId) || this.disposed || !this.task) return;
    const controller = new AbortController();
    this.active.set(event.runId, controller);
    this.setStatus('running');
    try {
      const decision = await executeNativeRun({
        bridge: this.bridge,
        task: this.task,
        event,
        config: this.effective(),
        signal: controller.signal,
        random: this.random,
        logger: this.logger,
      });
      this.setStatus(decision.kind === 'success' ? 'completed' : decision.kind === 'retry' ? 'scheduled' : 'failed');
    } catch (error) {
      this.logger.warn('[nexus-store/background] could not complete the native run', { runId: event.runId, error: String(error) });
      this.setStatus('failed');
    } finally {
      this.active.delete(event.runId);
      for (const resolve of this.runWaiters.splice(0)) resolve();
    }
  }

  /** Runs the task in this process (the app is in the foreground) and plans a retry natively. */
  protected async runInProcess(): Promise<void> {
    const config = this.effective();
    const controller = new AbortController();
    this.foregroundRuns += 1;
    const runId = `foreground-${this.foregroundRuns}`;
    this.active.set(runId, controller);
    this.setStatus('running');
    try {
      const outcome = await this.executeTask({ signal: controller.signal, trigger: 'manual', attempt: 0 });
      const decision = decideAfterRun(outcome, 0, config, this.random);
      if (decision.kind === 'retry') {
        await this.bridge.schedule({
          taskId: this.taskId,
          intervalMs: config.minInterval,
          initialDelayMs: decision.delay,
          constraints: constraintsOf(config),
          backoff: { initialDelayMs: config.backoff.initialDelay },
          attempt: decision.nextAttempt,
        });
        this.setStatus('scheduled');
      } else {
        this.setStatus(decision.kind === 'success' ? 'completed' : 'failed');
      }
    } finally {
      this.active.delete(runId);
    }
  }
}

function constraintsOf(config: BackgroundSyncConfig): NativeConstraints {
  return { network: config.requiresNetwork, charging: config.requiresCharging, batteryNotLow: config.requiresBatteryNotLow };
}

/**
 * Android: a unique periodic WorkManager job under constraints with exponential native backoff;
 * `runNow()` enqueues unique one-time work. Runs also happen when the app is terminated (the
 * Capacitor worker replays the push snapshot; React Native starts headless JS).
 */
export class WorkManagerSyncService extends NativeSyncService {
  readonly capabilities = WORK_MANAGER_CAPABILITIES;

  constructor(bridge: NativeBridge, options: NativeSyncServiceOptions = {}) {
    super(bridge, 'android', options);
  }

  /** Enqueues one-time work; resolves when WorkManager has run it (after its constraints are met). */
  async runNow(): Promise<void> {
    this.assertOpen();
    this.requireTask();
    const config = this.effective();
    const settled = this.nextRunSettled();
    await this.bridge.runNow({ taskId: this.taskId, constraints: constraintsOf(config), backoff: { initialDelayMs: config.backoff.initialDelay } });
    await settled;
  }
}

/**
 * iOS: BGAppRefreshTask (or BGProcessingTask when charging is required) submitted with
 * earliestBeginDate = now + interval; iOS chooses the moment. An expiration aborts the task
 * through its AbortSignal and counts as a retry. `runNow()` runs in the foreground process.
 */
export class BGTaskSchedulerService extends NativeSyncService {
  readonly capabilities = BG_TASK_SCHEDULER_CAPABILITIES;

  constructor(bridge: NativeBridge, options: NativeSyncServiceOptions = {}) {
    super(bridge, 'ios', options);
  }

  async runNow(): Promise<void> {
    this.assertOpen();
    this.requireTask();
    await this.runInProcess();
  }
}
