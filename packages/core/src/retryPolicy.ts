export interface RetryOptions {
  /** Push attempts per mutation before it is marked `failed`. @default 5 */
  maxAttempts?: number;
  /** First backoff delay in ms. @default 1000 */
  initialDelayMs?: number;
  /** Upper bound of a backoff delay in ms. @default 60000 */
  maxDelayMs?: number;
  /** Growth factor per attempt. @default 2 */
  multiplier?: number;
}

export type ResolvedRetryOptions = Required<RetryOptions>;

export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  return {
    maxAttempts: options.maxAttempts ?? 5,
    initialDelayMs: options.initialDelayMs ?? 1000,
    maxDelayMs: options.maxDelayMs ?? 60_000,
    multiplier: options.multiplier ?? 2,
  };
}

/** Exponential backoff with full jitter: a uniform delay in [0, min(max, initial * multiplier^attempt)). */
export function backoffDelay(attempt: number, options: ResolvedRetryOptions, random: () => number): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
