import { InvalidArgumentError, NexusError } from '@nexus-store/core';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { applyPlatformLimits, parseBackgroundSyncConfig, type BackgroundSyncConfig, type BackgroundSyncConfigInput, type BackgroundSyncPreset } from './backgroundSyncConfig.js';
import type {
  BackgroundSyncCapabilities,
  BackgroundSyncLogger,
  BackgroundSyncRunContext,
  BackgroundSyncService,
  BackgroundSyncStatus,
  BackgroundSyncTask,
} from './backgroundSyncService.js';

/** Options every service accepts. */
export interface SyncServiceOptions {
  /** Receives warnings (floors raised, constraints ignored) and run failures. @default console */
  logger?: BackgroundSyncLogger;
  /** Source of randomness for backoff jitter, returning [0, 1). @default Math.random */
  random?: () => number;
}

export type RunOutcome = { ok: true } | { ok: false; error: unknown };

/**
 * State every service shares: the status subject, the validated configuration and the task.
 * Subclasses decide when runs happen.
 */
export abstract class SyncServiceBase implements BackgroundSyncService {
  abstract readonly isSupported: boolean;
  abstract readonly capabilities: BackgroundSyncCapabilities;

  protected readonly logger: BackgroundSyncLogger;
  protected readonly random: () => number;
  protected task: BackgroundSyncTask | undefined;
  protected disposed = false;
  private readonly statusSubject = new BehaviorSubject<BackgroundSyncStatus>('idle');
  private effectiveConfig: BackgroundSyncConfig | undefined;

  private readonly statusStream: Observable<BackgroundSyncStatus> = this.statusSubject.pipe(distinctUntilChanged());

  constructor(options: SyncServiceOptions = {}) {
    this.logger = options.logger ?? console;
    this.random = options.random ?? Math.random;
  }

  get status$(): Observable<BackgroundSyncStatus> {
    return this.statusStream;
  }

  get status(): BackgroundSyncStatus {
    return this.statusSubject.value;
  }

  get config(): BackgroundSyncConfig | undefined {
    return this.effectiveConfig;
  }

  registerTask(task: BackgroundSyncTask): void {
    this.task = task;
  }

  async initialize(config: BackgroundSyncConfigInput | BackgroundSyncPreset = {}): Promise<void> {
    this.assertOpen();
    this.effectiveConfig = applyPlatformLimits(parseBackgroundSyncConfig(config), this.capabilities, this.logger);
    await this.onInitialized(this.effectiveConfig);
  }

  abstract scheduleSync(): Promise<void>;
  abstract cancelSync(): Promise<void>;
  abstract runNow(): Promise<void>;

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.onDispose();
    this.statusSubject.complete();
  }

  /** Hook: the configuration changed. */
  protected async onInitialized(_config: BackgroundSyncConfig): Promise<void> {}

  /** Hook: release listeners and timers. */
  protected async onDispose(): Promise<void> {}

  protected setStatus(status: BackgroundSyncStatus): void {
    if (!this.disposed) this.statusSubject.next(status);
  }

  protected requireConfig(): BackgroundSyncConfig {
    if (!this.effectiveConfig) throw new InvalidArgumentError('Call initialize(config) before scheduling background sync.');
    return this.effectiveConfig;
  }

  /** Whether scheduling should go ahead; says so in the log when the config disables it. */
  protected schedulingEnabled(config: BackgroundSyncConfig): boolean {
    if (!config.enabled) this.logger.info?.('[nexus-store/background] background sync is disabled; nothing scheduled.');
    return config.enabled;
  }

  protected requireTask(): BackgroundSyncTask {
    if (!this.task) throw new InvalidArgumentError('No task registered: call registerTask(task) or use createBackgroundSync({ nexus }).');
    return this.task;
  }

  protected assertOpen(): void {
    if (this.disposed) throw new NexusError('CLOSED', 'This background sync service was disposed; create a new one.');
  }

  /** Runs the task once; never throws. */
  protected async executeTask(context: BackgroundSyncRunContext): Promise<RunOutcome> {
    const task = this.requireTask();
    try {
      const ok = await task.execute(context);
      if (context.signal.aborted) return { ok: false, error: abortReason(context.signal) };
      return ok ? { ok: true } : { ok: false, error: new NexusError('SERVER', `Task ${task.taskId} reported a failed run.`) };
    } catch (error) {
      this.logger.warn(`[nexus-store/background] run of ${task.taskId} failed`, { error: describeError(error), attempt: context.attempt });
      return { ok: false, error: context.signal.aborted ? abortReason(context.signal) : error };
    }
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof NexusError ? signal.reason : new NexusError('ABORTED', 'The background run was aborted.', { cause: signal.reason });
}

/** `{ code, message }` of anything thrown. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof NexusError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'UNKNOWN', message: error.message };
  return { code: 'UNKNOWN', message: String(error) };
}
