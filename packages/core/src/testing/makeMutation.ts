import type { Mutation } from '../remoteBackend.js';

let made = 0;

/** A valid upsert mutation for protocol tests: a fresh id, key `k<n>` and data `{ name: 'Name <n>' }`, then `overrides`. */
export function makeMutation(overrides: Partial<Mutation> = {}): Mutation {
  made += 1;
  return {
    mutationId: `m-${made}-${Math.random().toString(36).slice(2, 10)}`,
    clientId: 'client-a',
    collection: 'contacts',
    key: `k${made}`,
    op: 'upsert',
    data: { name: `Name ${made}` },
    changedFields: null,
    baseVersion: 0,
    hlc: `0000000000001:${String(made).padStart(4, '0')}:client-a`,
    fieldClocks: null,
    priority: 'normal',
    ...overrides,
  };
}
