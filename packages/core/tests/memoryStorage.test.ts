import { memoryStorage } from '@nexus-store/core';
import { createMemoryStorageState, runStorageConformance } from '@nexus-store/core/testing';

await runStorageConformance('memoryStorage', () => {
  const state = createMemoryStorageState();
  return { create: () => memoryStorage({ state }) };
});
