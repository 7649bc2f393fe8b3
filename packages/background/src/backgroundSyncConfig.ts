import { ValidationError } from '@nexus-store/core';
import { z } from 'zod';
import type { BackgroundSyncCapabilities, BackgroundSyncLogger } from './backgroundSyncService.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const backoffSchema = z
  .object({
    initialDelay: z.number().int().positive().default(30_000),
    maxDelay: z.number().int().positive().default(HOUR),
    multiplier: z.number().min(1).max(10).default(2),
    jitter: z.number().min(0).max(1).default(0.2),
  })
  .strict()
  .refine((b) => b.maxDelay >= b.initialDelay, { message: 'backoff.maxDelay must be at least backoff.initialDelay', path: ['maxDelay'] });

const configSchema = z
  .object({
    enabled: z.boolean().default(true),
    minInterval: z.number().int().positive().default(15 * MINUTE),
    requiresNetwork: z.boolean().default(true),
    requiresCharging: z.boolean().default(false),
    requiresBatteryNotLow: z.boolean().default(false),
    backoff: backoffSchema.prefault({}),
    maxRetries: z.number().int().min(0).max(100).default(5),
  })
  .strict();

/** Exponential backoff between retries of a failed run. Durations in milliseconds. */
export interface BackoffConfig {
  /** Delay before the first retry. @default 30_000 */
  initialDelay: number;
  /** Longest delay between retries. @default 3_600_000 (1 hour) */
  maxDelay: number;
  /** Factor applied to the delay after each retry. @default 2 */
  multiplier: number;
  /** Random spread, as a fraction of the delay (0.2: ±20 %). @default 0.2 */
  jitter: number;
}

/** The effective configuration of a background sync service. Durations in milliseconds. */
export interface BackgroundSyncConfig {
  /** When false, `scheduleSync()` schedules nothing. @default true */
  enabled: boolean;
  /** Shortest time between periodic runs; raised to the platform's floor with a warning. @default 900_000 (15 minutes) */
  minInterval: number;
  /** Run only with network connectivity. @default true */
  requiresNetwork: boolean;
  /** Run only on external power. @default false */
  requiresCharging: boolean;
  /** Run only when the battery is not low. @default false */
  requiresBatteryNotLow: boolean;
  /** Retry delays. */
  backoff: BackoffConfig;
  /** Retries after a failed run before the status becomes 'failed'. @default 5 */
  maxRetries: number;
}

/** What `initialize()` accepts: every field optional, `backoff` partial too. */
export type BackgroundSyncConfigInput = z.input<typeof configSchema>;

/** Ready-made configurations. */
export const backgroundSyncPresets = {
  /** Nothing runs in the background. */
  disabled: { enabled: false },
  /** Hourly, on power and network, patient retries. */
  conservative: {
    enabled: true,
    minInterval: HOUR,
    requiresNetwork: true,
    requiresCharging: true,
    requiresBatteryNotLow: true,
    backoff: { initialDelay: 5 * MINUTE, maxDelay: 6 * HOUR, multiplier: 2, jitter: 0.2 },
    maxRetries: 3,
  },
  /** As often as mobile platforms allow (15 minutes), network only, quick retries. */
  aggressive: {
    enabled: true,
    minInterval: 15 * MINUTE,
    requiresNetwork: true,
    requiresCharging: false,
    requiresBatteryNotLow: false,
    backoff: { initialDelay: 10_000, maxDelay: 15 * MINUTE, multiplier: 2, jitter: 0.1 },
    maxRetries: 10,
  },
} as const satisfies Record<string, BackgroundSyncConfigInput>;

export type BackgroundSyncPreset = keyof typeof backgroundSyncPresets;

/** Validates a configuration and fills defaults. Throws `ValidationError` listing every problem. */
export function parseBackgroundSyncConfig(input: BackgroundSyncConfigInput | BackgroundSyncPreset = {}): BackgroundSyncConfig {
  const raw = typeof input === 'string' ? presetOrThrow(input) : input;
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: issue.path, message: issue.message, code: issue.code }));
    const summary = issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new ValidationError(`Invalid background sync configuration: ${summary}`, issues);
  }
  return result.data;
}

function presetOrThrow(name: string): BackgroundSyncConfigInput {
  if (!Object.hasOwn(backgroundSyncPresets, name)) {
    const names = Object.keys(backgroundSyncPresets).join(', ');
    throw new ValidationError(`Unknown background sync preset "${name}"; use one of ${names}.`, [{ path: [], message: `unknown preset ${name}` }]);
  }
  return backgroundSyncPresets[name as BackgroundSyncPreset];
}

/**
 * Adapts a valid configuration to a platform: a value below a floor is raised to it, a constraint the
 * platform cannot honour is dropped, each with a warning through `logger` (never silently).
 */
export function applyPlatformLimits(config: BackgroundSyncConfig, capabilities: BackgroundSyncCapabilities, logger: BackgroundSyncLogger): BackgroundSyncConfig {
  const out: BackgroundSyncConfig = { ...config, backoff: { ...config.backoff } };
  const platform = capabilities.platform;
  if (out.minInterval < capabilities.minInterval) {
    logger.warn(`[nexus-store/background] minInterval ${out.minInterval} ms is below the ${platform} floor; raised to ${capabilities.minInterval} ms.`, {
      platform,
      requested: out.minInterval,
      applied: capabilities.minInterval,
    });
    out.minInterval = capabilities.minInterval;
  }
  if (out.backoff.initialDelay < capabilities.minBackoffDelay) {
    logger.warn(`[nexus-store/background] backoff.initialDelay ${out.backoff.initialDelay} ms is below the ${platform} floor; raised to ${capabilities.minBackoffDelay} ms.`, {
      platform,
      requested: out.backoff.initialDelay,
      applied: capabilities.minBackoffDelay,
    });
    out.backoff.initialDelay = capabilities.minBackoffDelay;
    if (out.backoff.maxDelay < out.backoff.initialDelay) out.backoff.maxDelay = out.backoff.initialDelay;
  }
  const dropped: string[] = [];
  if (out.requiresNetwork && !capabilities.constraints.network) dropped.push('requiresNetwork');
  if (out.requiresCharging && !capabilities.constraints.charging) dropped.push('requiresCharging');
  if (out.requiresBatteryNotLow && !capabilities.constraints.batteryNotLow) dropped.push('requiresBatteryNotLow');
  if (dropped.length > 0) {
    logger.warn(`[nexus-store/background] ${platform} cannot hold runs back for ${dropped.join(', ')}; ignored.`, { platform, ignored: dropped });
    if (dropped.includes('requiresNetwork')) out.requiresNetwork = false;
    if (dropped.includes('requiresCharging')) out.requiresCharging = false;
    if (dropped.includes('requiresBatteryNotLow')) out.requiresBatteryNotLow = false;
  }
  return out;
}
