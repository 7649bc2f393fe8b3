import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_BRIDGE_METHODS } from '@nexus-store/background/testing';
import { describe, expect, it } from 'vitest';

// The Kotlin and Swift code cannot be compiled here; this keeps its message names and fields in step
// with BRIDGE.md and the TypeScript bridge (a rename on one side fails this test).
const root = fileURLToPath(new URL('..', import.meta.url));
const read = (dir: string) =>
  readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
const kotlin = read('android/src');
const swift = read('ios/Sources');
const methods = NATIVE_BRIDGE_METHODS;

describe('native sources follow BRIDGE.md', () => {
  it('Kotlin: every plugin method, both events retained until consumed, the request fields', () => {
    expect(kotlin).toContain('@CapacitorPlugin(name = "NexusBackgroundSync")');
    for (const m of methods) expect(kotlin, m).toMatch(new RegExp(`@PluginMethod\\s+fun ${m}\\(call: PluginCall\\)`));
    expect(kotlin).toMatch(/notifyListeners\("run", .*, true\)/);
    expect(kotlin).toMatch(/notifyListeners\("expire", .*, true\)/);
    for (const field of ['taskId', 'intervalMs', 'initialDelayMs', 'constraints', 'initialDelayMs', 'attempt', 'runId', 'retryAfterMs', 'snapshot', 'runs']) {
      expect(kotlin, field).toContain(`"${field}"`);
    }
    expect(kotlin).toContain('enqueueUniquePeriodicWork');
    expect(kotlin).toContain('BackoffPolicy.EXPONENTIAL');
    expect(kotlin).toContain('MIN_PERIODIC_INTERVAL_MILLIS');
  });

  it('Swift: every plugin method, both events retained until consumed, both task kinds', () => {
    expect(swift).toContain('jsName = "NexusBackgroundSync"');
    for (const m of methods) {
      expect(swift, m).toContain(`CAPPluginMethod(name: "${m}"`);
      expect(swift, m).toContain(`@objc func ${m}(_ call: CAPPluginCall)`);
    }
    expect(swift).toMatch(/notifyListeners\("run", data: .*retainUntilConsumed: true\)/);
    expect(swift).toMatch(/notifyListeners\("expire", data: .*retainUntilConsumed: true\)/);
    expect(swift).toContain('BGAppRefreshTaskRequest');
    expect(swift).toContain('BGProcessingTaskRequest');
    expect(swift).toContain('expirationHandler');
    expect(swift).toContain('setTaskCompleted(success:');
  });
});
