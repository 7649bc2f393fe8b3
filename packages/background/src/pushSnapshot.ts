import { PRIORITY_RANK, toMutation, type LocalStorage, type Mutation } from '@nexus-store/core';

/** The pending push request body, exactly as `POST /sync/push` takes it. */
export interface PendingPush {
  clientId: string;
  mutations: Mutation[];
}

export interface PendingPushFromStorageOptions {
  /** The nexus's client id; pass `nexus.clientId` when a nexus is at hand. @default read from the storage metadata key `clientIdMetaKey` */
  clientId?: string;
  /** @default 'clientId' */
  clientIdMetaKey?: string;
  /** Largest number of mutations in the snapshot (the server's batch limit). @default 500 */
  limit?: number;
}

/**
 * Reads the pending outbox (push order: priority, then seq) and shapes it as a push request body.
 * In-flight entries are included: push is idempotent, so replaying them is harmless.
 */
export function pendingPushFromStorage(storage: Pick<LocalStorage, 'read'>, options: PendingPushFromStorageOptions = {}): () => Promise<PendingPush | null> {
  const limit = options.limit ?? 500;
  return () =>
    storage.read(async (tx) => {
      const clientId = options.clientId ?? (await tx.getMeta<string>(options.clientIdMetaKey ?? 'clientId'));
      if (!clientId) return null;
      const entries = [...(await tx.listOutbox({ status: 'pending' })), ...(await tx.listOutbox({ status: 'inflight' }))]
        .sort((a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.seq - b.seq)
        .slice(0, limit);
      return { clientId, mutations: entries.map((entry) => toMutation(entry, clientId)) };
    });
}

