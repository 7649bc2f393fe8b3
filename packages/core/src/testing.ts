/**
 * `@nexus-store/core/testing`: tools for testing adapters and apps.
 *
 * Storage adapters: `await runStorageConformance('name', () => ({ create: () => myStorage(...), cleanup }))`
 * at the top level of a vitest file. `create()` must return a new, not yet opened storage over the SAME
 * database every time it is called within one harness (the suite reopens); each harness is a fresh,
 * empty database. `storageConformanceCases()` gives the same cases as plain async functions for other
 * runners (a browser page): each case throws `ConformanceFailure` on a mismatch.
 */
export { runStorageConformance, storageConformanceCases, ConformanceFailure, makeDoc, makeEntry } from './testing/storageConformance.js';
export type { StorageHarness, CreateStorageHarness, ConformanceCase } from './testing/storageConformance.js';
export { createMemoryStorageState } from './memoryStorage.js';
export type { MemoryStorageState } from './memoryStorage.js';
export { seededRandom } from './testing/seededRandom.js';
export { makeMutation } from './testing/makeMutation.js';
export { createMemoryRemote } from './testing/memoryRemote.js';
export type { MemoryRemote, MemoryRemoteOptions, AppliedMutation } from './testing/memoryRemote.js';
export { createFaultyRemote } from './testing/faultyRemote.js';
export type { FaultyRemote, FaultOptions } from './testing/faultyRemote.js';
