import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXPIRE_EVENT, HEADLESS_TASK_NAME, NATIVE_MODULE_NAME, RUN_EVENT } from '@nexus-store/react-native';
import { NATIVE_BRIDGE_METHODS } from '@nexus-store/background/testing';
import { describe, expect, it } from 'vitest';

// The Kotlin and Swift code cannot be compiled here; this keeps its names in step with BRIDGE.md and
// the TypeScript constants (a rename on one side fails this test).
const root = fileURLToPath(new URL('..', import.meta.url));
const read = (dir: string) =>
  readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
const kotlin = read('android/src');
const ios = read('ios');
const methods = NATIVE_BRIDGE_METHODS;

describe('native sources follow BRIDGE.md', () => {
  it('Kotlin: module name, methods, event names, headless task name', () => {
    expect(kotlin).toContain(`override fun getName() = "${NATIVE_MODULE_NAME}"`);
    for (const m of methods) expect(kotlin, m).toMatch(new RegExp(`@ReactMethod\\s+fun ${m}\\(`));
    expect(kotlin).toMatch(/fun addListener\(eventName: String\)/);
    expect(kotlin).toMatch(/fun removeListeners\(count: Int\)/);
    expect(kotlin).toContain(`"${RUN_EVENT}"`);
    expect(kotlin).toContain(`"${EXPIRE_EVENT}"`);
    expect(kotlin).toContain(`TASK_NAME = "${HEADLESS_TASK_NAME}"`);
    expect(kotlin).toContain('HeadlessJsTaskConfig');
  });

  it('Swift/ObjC: module name, methods, event names', () => {
    expect(ios).toContain(`@objc(${NATIVE_MODULE_NAME})`);
    expect(ios).toContain(`RCT_EXTERN_MODULE(${NATIVE_MODULE_NAME}, RCTEventEmitter)`);
    for (const m of methods) expect(ios, m).toMatch(new RegExp(`RCT_EXTERN_METHOD\\(${m}[:(]`));
    expect(ios).toContain(`"${RUN_EVENT}"`);
    expect(ios).toContain(`"${EXPIRE_EVENT}"`);
    expect(ios).toContain('setTaskCompleted(success:');
  });
});
