import { ValidationError } from '@nexus-store/core';
import { describe, expect, it, vi } from 'vitest';
import {
  WORK_MANAGER_CAPABILITIES,
  BG_TASK_SCHEDULER_CAPABILITIES,
  applyPlatformLimits,
  backgroundSyncPresets,
  computeBackoffDelay,
  decideAfterRun,
  parseBackgroundSyncConfig,
} from '@nexus-store/background';
import { AuthError, NetworkError } from '@nexus-store/core';

const MINUTE = 60_000;

describe('BackgroundSyncConfig', () => {
  it('fills defaults', () => {
    expect(parseBackgroundSyncConfig({})).toEqual({
      enabled: true,
      minInterval: 15 * MINUTE,
      requiresNetwork: true,
      requiresCharging: false,
      requiresBatteryNotLow: false,
      backoff: { initialDelay: 30_000, maxDelay: 60 * MINUTE, multiplier: 2, jitter: 0.2 },
      maxRetries: 5,
    });
    expect(parseBackgroundSyncConfig({ backoff: { initialDelay: 1_000 } }).backoff).toEqual({ initialDelay: 1_000, maxDelay: 60 * MINUTE, multiplier: 2, jitter: 0.2 });
  });

  it('refuses invalid values with a ValidationError naming each field', () => {
    const attempt = () => parseBackgroundSyncConfig({ minInterval: -5, maxRetries: 1.5, backoff: { initialDelay: 10_000, maxDelay: 5_000 } });
    expect(attempt).toThrow(ValidationError);
    try {
      attempt();
    } catch (error) {
      const paths = (error as ValidationError).issues.map((i) => i.path.join('.'));
      expect(paths).toEqual(expect.arrayContaining(['minInterval', 'maxRetries', 'backoff.maxDelay']));
      expect((error as ValidationError).message).toContain('minInterval');
    }
    expect(() => parseBackgroundSyncConfig({ interval: 5 } as never)).toThrow(ValidationError);
    expect(() => parseBackgroundSyncConfig({ backoff: { jitter: 2 } })).toThrow(ValidationError);
    expect(() => parseBackgroundSyncConfig('hourly' as never)).toThrow(/Unknown background sync preset "hourly"/);
  });

  it('has disabled, conservative (hourly, charging) and aggressive presets', () => {
    expect(parseBackgroundSyncConfig('disabled').enabled).toBe(false);
    const conservative = parseBackgroundSyncConfig('conservative');
    expect(conservative).toMatchObject({ enabled: true, minInterval: 60 * MINUTE, requiresCharging: true, requiresNetwork: true });
    const aggressive = parseBackgroundSyncConfig(backgroundSyncPresets.aggressive);
    expect(aggressive.minInterval).toBe(15 * MINUTE);
    expect(aggressive.requiresCharging).toBe(false);
    expect(aggressive.maxRetries).toBeGreaterThan(conservative.maxRetries);
  });

  it('raises values below a platform floor with a logged warning, never silently', () => {
    const logger = { warn: vi.fn() };
    const config = applyPlatformLimits(parseBackgroundSyncConfig({ minInterval: MINUTE, backoff: { initialDelay: 1_000 } }), WORK_MANAGER_CAPABILITIES, logger);
    expect(config.minInterval).toBe(15 * MINUTE);
    expect(config.backoff.initialDelay).toBe(10_000);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    expect(logger.warn.mock.calls[0]?.[0]).toMatch(/minInterval 60000 ms is below the android-workmanager floor; raised to 900000 ms/);
    expect(logger.warn.mock.calls[0]?.[1]).toMatchObject({ requested: MINUTE, applied: 15 * MINUTE });

    const quiet = { warn: vi.fn() };
    applyPlatformLimits(parseBackgroundSyncConfig('aggressive'), WORK_MANAGER_CAPABILITIES, quiet);
    expect(quiet.warn).not.toHaveBeenCalled();
  });

  it('warns about constraints the platform cannot honour and drops them', () => {
    const logger = { warn: vi.fn() };
    const config = applyPlatformLimits(parseBackgroundSyncConfig('conservative'), BG_TASK_SCHEDULER_CAPABILITIES, logger);
    expect(config.requiresNetwork).toBe(false);
    expect(config.requiresBatteryNotLow).toBe(false);
    expect(config.requiresCharging).toBe(true);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('requiresNetwork, requiresBatteryNotLow'), expect.anything());
  });
});

describe('retry policy', () => {
  const backoff = { initialDelay: 1_000, maxDelay: 10_000, multiplier: 2, jitter: 0.5 };

  it('grows exponentially, caps at maxDelay and spreads by jitter', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 10].map((a) => computeBackoffDelay(backoff, a, mid))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(computeBackoffDelay(backoff, 1, () => 0)).toBe(1_000);
    expect(computeBackoffDelay(backoff, 1, () => 0.999_999)).toBe(3_000);
  });

  it('retries retryable failures up to maxRetries, never AUTH', () => {
    const config = { backoff, maxRetries: 2 };
    const network = { ok: false as const, error: new NetworkError('NETWORK', 'offline') };
    expect(decideAfterRun(network, 0, config, () => 0.5)).toEqual({ kind: 'retry', delay: 1_000, nextAttempt: 1 });
    expect(decideAfterRun(network, 1, config, () => 0.5)).toEqual({ kind: 'retry', delay: 2_000, nextAttempt: 2 });
    expect(decideAfterRun(network, 2, config)).toEqual({ kind: 'failed' });
    expect(decideAfterRun({ ok: false, error: new AuthError('AUTH', 'expired') }, 0, config)).toEqual({ kind: 'failed' });
    expect(decideAfterRun({ ok: false, error: new Error('boom') }, 0, config, () => 0.5).kind).toBe('retry');
    expect(decideAfterRun({ ok: true }, 2, config)).toEqual({ kind: 'success' });
  });
});
