import { defineConfig } from 'vitest/config';
import { vitestConfig } from '../../tooling/vitest.shared.js';
// idb recognises IndexedDB objects by the global IDB* classes: fake-indexeddb installs them in Node.
export default defineConfig(vitestConfig({ setupFiles: ['fake-indexeddb/auto'] }));
