import { registerPlugin, type PluginListenerHandle } from '@capacitor/core';
import type {
  NativeExpireEvent,
  NativeRunEvent,
  NativeRunNowRequest,
  NativeRunRecord,
  NativeRunResult,
  NativeScheduleRequest,
  PushSnapshot,
} from '@nexus-store/background';

/**
 * The Capacitor plugin `NexusBackgroundSync` (Kotlin under android/, Swift under ios/). Its methods
 * and events are the messages of BRIDGE.md; `capacitorBridge()` adapts it to `NativeBridge`.
 */
export interface NexusBackgroundSyncPlugin {
  schedule(options: NativeScheduleRequest): Promise<void>;
  cancel(options: { taskId: string }): Promise<void>;
  runNow(options: NativeRunNowRequest): Promise<void>;
  complete(options: { runId: string } & NativeRunResult): Promise<void>;
  setPushSnapshot(options: { snapshot: PushSnapshot | null }): Promise<void>;
  takeNativeRuns(): Promise<{ runs: NativeRunRecord[] }>;
  addListener(eventName: 'run', listener: (event: NativeRunEvent) => void): Promise<PluginListenerHandle>;
  addListener(eventName: 'expire', listener: (event: NativeExpireEvent) => void): Promise<PluginListenerHandle>;
}

/** The plugin's registered name, as in `@CapacitorPlugin(name = ...)` and `jsName`. */
export const PLUGIN_NAME = 'NexusBackgroundSync';

let plugin: NexusBackgroundSyncPlugin | undefined;

/** The registered plugin proxy (registered on first use, so importing this package has no side effect). */
export function getNexusBackgroundSyncPlugin(): NexusBackgroundSyncPlugin {
  plugin ??= registerPlugin<NexusBackgroundSyncPlugin>(PLUGIN_NAME);
  return plugin;
}
