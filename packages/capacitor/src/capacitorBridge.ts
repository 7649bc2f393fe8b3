import type { PluginListenerHandle } from '@capacitor/core';
import type { NativeBridge, NativePlatform } from '@nexus-store/background';
import type { NexusBackgroundSyncPlugin } from './nexusBackgroundSyncPlugin.js';

function detach(handle: Promise<PluginListenerHandle>): () => void {
  return () => void handle.then((h) => h.remove());
}

/** Adapts the Capacitor plugin to the `NativeBridge` the background services speak. */
export function capacitorBridge(plugin: NexusBackgroundSyncPlugin, platform: NativePlatform): NativeBridge {
  return {
    platform,
    schedule: (request) => plugin.schedule(request),
    cancel: (taskId) => plugin.cancel({ taskId }),
    runNow: (request) => plugin.runNow(request),
    complete: (runId, result) => plugin.complete({ runId, ...result }),
    setPushSnapshot: (snapshot) => plugin.setPushSnapshot({ snapshot }),
    takeNativeRuns: async () => (await plugin.takeNativeRuns()).runs ?? [],
    onRun: (listener) => detach(plugin.addListener('run', listener)),
    onExpire: (listener) => detach(plugin.addListener('expire', listener)),
  };
}
