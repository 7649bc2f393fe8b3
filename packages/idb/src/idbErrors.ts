import { NexusError, StorageError } from '@nexus-store/core';

function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const name = (error as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Translates an IndexedDB failure (a `DOMException`, by its `name`) into a `StorageError`:
 * `QuotaExceededError` is QUOTA_EXCEEDED, `VersionError` is STORAGE_VERSION, `InvalidStateError`
 * (the connection is closing or closed) is CLOSED, anything else is STORAGE. NexusErrors pass through.
 */
export function toStorageError(error: unknown, path: string): NexusError {
  if (error instanceof NexusError) return error;
  const options = { cause: error, path };
  const detail = error instanceof Error && error.message ? ` (${error.message})` : '';
  switch (errorName(error)) {
    case 'QuotaExceededError':
      return new StorageError(
        'QUOTA_EXCEEDED',
        `IndexedDB database "${path}" is over its storage quota${detail}. Free space (delete data, or ask the user to allow persistent storage) and retry.`,
        options,
      );
    case 'VersionError':
      return new StorageError(
        'STORAGE_VERSION',
        `IndexedDB database "${path}" was created by a newer version of the app${detail}. Update the app (reload the page) to open it.`,
        options,
      );
    case 'InvalidStateError':
      return new StorageError('CLOSED', `IndexedDB database "${path}" is closed${detail}. Open the storage again before using it.`, options);
    case 'TransactionInactiveError':
      return new StorageError(
        'STORAGE',
        `The IndexedDB transaction on "${path}" finished before its callback did${detail}. A read()/write() callback must await only the methods of its transaction (no timers, network or other storage).`,
        options,
      );
    case 'DataCloneError':
      return new StorageError('STORAGE', `A value cannot be stored in IndexedDB database "${path}"${detail}: use plain JSON-like data (no functions, symbols or class instances).`, options);
    default:
      return new StorageError('STORAGE', `IndexedDB database "${path}" failed${detail}.`, options);
  }
}

/** A StorageError for use of a storage that is not open. */
export function closedError(path: string, reason: string): StorageError {
  return new StorageError('CLOSED', `IndexedDB storage "${path}" is closed${reason}. Open it (createNexus does) before use.`, { path });
}
