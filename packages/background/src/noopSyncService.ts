import type { BackgroundSyncCapabilities } from './backgroundSyncService.js';
import { SyncServiceBase, type SyncServiceOptions } from './syncServiceBase.js';

const NOOP_CAPABILITIES: BackgroundSyncCapabilities = {
  platform: 'noop',
  minInterval: 0,
  minBackoffDelay: 0,
  constraints: { network: true, charging: true, batteryNotLow: true },
  runsWhenTerminated: false,
};

/**
 * The service for platforms without background execution (Node by default, unknown runtimes).
 * It schedules nothing and its status stays 'idle'; `runNow()` still runs the task once, so a
 * "Sync now" button works everywhere.
 */
export class NoopSyncService extends SyncServiceBase {
  readonly isSupported = false;
  readonly capabilities = NOOP_CAPABILITIES;

  constructor(options: SyncServiceOptions = {}) {
    super(options);
  }

  async scheduleSync(): Promise<void> {
    this.assertOpen();
    this.logger.info?.('[nexus-store/background] background sync is not supported here; nothing scheduled.');
  }

  async cancelSync(): Promise<void> {
    this.assertOpen();
  }

  async runNow(): Promise<void> {
    this.assertOpen();
    if (!this.task) return;
    this.setStatus('running');
    const outcome = await this.executeTask({ signal: new AbortController().signal, trigger: 'manual', attempt: 0 });
    this.setStatus(outcome.ok ? 'completed' : 'failed');
  }
}
