import { NexusError } from '@nexus-store/core';
import { parseBackgroundSyncConfig, type BackgroundSyncConfig, type BackgroundSyncConfigInput } from './backgroundSyncConfig.js';
import type { BackgroundSyncLogger, BackgroundSyncTask, BackgroundSyncTrigger } from './backgroundSyncService.js';
import type { NativeBridge, NativeRunEvent, NativeRunResult } from './nativeBridge.js';
import { decideAfterRun, type RunDecision } from './retryPolicy.js';
import { describeError } from './syncServiceBase.js';

export interface NativeRunOptions {
  bridge: NativeBridge;
  task: BackgroundSyncTask;
  event: NativeRunEvent;
  config: BackgroundSyncConfig;
  signal: AbortSignal;
  trigger?: BackgroundSyncTrigger;
  random?: () => number;
  logger?: BackgroundSyncLogger;
}

/**
 * Executes one native run and completes it on the bridge: success, retry (while the attempt is
 * below `maxRetries` and the error is retryable; an expiration counts as retryable) or failure.
 * Shared by the foreground services and the headless entry points.
 */
export async function executeNativeRun(options: NativeRunOptions): Promise<RunDecision> {
  const { bridge, task, event, config, signal } = options;
  const trigger = options.trigger ?? (event.attempt > 0 ? 'retry' : event.kind === 'oneTime' ? 'manual' : 'periodic');
  let outcome: { ok: true } | { ok: false; error: unknown };
  try {
    const ok = await task.execute({ signal, trigger, attempt: event.attempt });
    outcome = signal.aborted ? { ok: false, error: abortError(signal) } : ok ? { ok: true } : { ok: false, error: new NexusError('SERVER', `Task ${task.taskId} reported a failed run.`) };
  } catch (error) {
    outcome = { ok: false, error: signal.aborted ? abortError(signal) : error };
  }
  if (!outcome.ok) options.logger?.warn(`[nexus-store/background] native run ${event.runId} failed`, { error: describeError(outcome.error), attempt: event.attempt });
  const decision = decideAfterRun(outcome, event.attempt, config, options.random);
  await bridge.complete(event.runId, toNativeResult(decision));
  return decision;
}

function toNativeResult(decision: RunDecision): NativeRunResult {
  if (decision.kind === 'success') return { result: 'success' };
  if (decision.kind === 'retry') return { result: 'retry', retryAfterMs: decision.delay, attempt: decision.nextAttempt };
  return { result: 'failure' };
}

function abortError(signal: AbortSignal): NexusError {
  return signal.reason instanceof NexusError ? signal.reason : new NexusError('ABORTED', 'The platform stopped the background run.', { cause: signal.reason });
}

/** The error a run is aborted with when the platform expires it. */
export function expirationError(platform: string): NexusError {
  return new NexusError('ABORTED', `${platform} expired the background run before it finished; it will be retried.`);
}

export interface NativeRunHandlerOptions {
  bridge: NativeBridge;
  /** Builds the task in a fresh JavaScript context (headless JS has no app state): open storage, create the nexus. */
  createTask: () => BackgroundSyncTask | Promise<BackgroundSyncTask>;
  /** The same configuration the app gave `initialize()`. */
  config?: BackgroundSyncConfigInput;
  logger?: BackgroundSyncLogger;
  random?: () => number;
}

/**
 * A handler for run events delivered where no service exists (React Native headless JS on Android,
 * started by WorkManager while the app is terminated). It aborts on expiration and completes the run.
 */
export function createNativeRunHandler(options: NativeRunHandlerOptions): (event: NativeRunEvent) => Promise<void> {
  const config = parseBackgroundSyncConfig(options.config ?? {});
  return async (event) => {
    const controller = new AbortController();
    const unsubscribe = options.bridge.onExpire((expired) => {
      if (expired.runId === event.runId) controller.abort(expirationError(options.bridge.platform));
    });
    try {
      const task = await options.createTask();
      await executeNativeRun({ ...options, task, event, config, signal: controller.signal, trigger: 'headless' });
    } catch (error) {
      // The task could not even be built: let native backoff retry it.
      options.logger?.warn('[nexus-store/background] headless run could not start', { error: describeError(error) });
      await options.bridge.complete(event.runId, { result: 'retry', retryAfterMs: config.backoff.initialDelay, attempt: event.attempt + 1 });
    } finally {
      unsubscribe();
    }
  };
}
