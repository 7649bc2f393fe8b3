import { isNexusError } from '@nexus-store/core';
import type { BackoffConfig } from './backgroundSyncConfig.js';

/**
 * Delay before retry number `attempt` (0 for the first retry): `initialDelay * multiplier^attempt`,
 * capped at `maxDelay`, spread by ±`jitter` with `random` (a function returning [0, 1)).
 */
export function computeBackoffDelay(backoff: BackoffConfig, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxDelay, backoff.initialDelay * backoff.multiplier ** Math.max(0, attempt));
  const spread = base * backoff.jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(backoff.maxDelay, Math.round(base + spread)));
}

/** Whether a failed run may be retried: yes unless the error is a NexusError with a final code (AUTH, VALIDATION...). */
export function isRetryableFailure(error: unknown): boolean {
  if (!isNexusError(error)) return true;
  return error.retryable || error.code === 'ABORTED';
}

/** What to do after a run ended. */
export type RunDecision = { kind: 'success' } | { kind: 'retry'; delay: number; nextAttempt: number } | { kind: 'failed' };

/**
 * The retry rule every service shares: retry while the error is retryable and `attempt < maxRetries`.
 * `attempt` is the attempt that just ran (0 for the first).
 */
export function decideAfterRun(
  outcome: { ok: true } | { ok: false; error: unknown },
  attempt: number,
  config: { backoff: BackoffConfig; maxRetries: number },
  random: () => number = Math.random,
): RunDecision {
  if (outcome.ok) return { kind: 'success' };
  if (!isRetryableFailure(outcome.error) || attempt >= config.maxRetries) return { kind: 'failed' };
  return { kind: 'retry', delay: computeBackoffDelay(config.backoff, attempt, random), nextAttempt: attempt + 1 };
}
