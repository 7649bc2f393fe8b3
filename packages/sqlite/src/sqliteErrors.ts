import { NexusError, StorageError } from '@nexus-store/core';
import type { StorageErrorCode } from '@nexus-store/core';

/** The SQLite primary result codes we translate, by the `code` better-sqlite3 puts on its `SqliteError`. */
function storageCodeFor(sqliteCode: string): StorageErrorCode {
  if (sqliteCode === 'SQLITE_FULL') return 'QUOTA_EXCEEDED';
  if (sqliteCode.startsWith('SQLITE_CORRUPT') || sqliteCode === 'SQLITE_NOTADB') return 'STORAGE_CORRUPT';
  return 'STORAGE';
}

function describe(sqliteCode: string): string {
  if (sqliteCode === 'SQLITE_FULL') return 'the disk is full; free some space and retry';
  if (sqliteCode.startsWith('SQLITE_BUSY') || sqliteCode.startsWith('SQLITE_LOCKED')) {
    return 'the database is locked by another connection or process; close it or raise busyTimeout';
  }
  if (sqliteCode.startsWith('SQLITE_CORRUPT')) return 'the database file is corrupt; restore it from a backup or delete it and sync again';
  if (sqliteCode === 'SQLITE_NOTADB') return 'the file is not a SQLite database';
  if (sqliteCode.startsWith('SQLITE_READONLY')) return 'the database file is read-only; check its permissions';
  if (sqliteCode.startsWith('SQLITE_CANTOPEN')) return 'the database file cannot be opened; check that its folder exists and is writable';
  if (sqliteCode.startsWith('SQLITE_IOERR')) return 'the operating system reported an I/O error';
  return 'SQLite reported an error';
}

function sqliteCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Translates an error thrown by better-sqlite3 into a `StorageError` with one of our codes
 * (SQLITE_FULL: QUOTA_EXCEEDED; SQLITE_CORRUPT and SQLITE_NOTADB: STORAGE_CORRUPT; anything
 * thrown while the connection is closed (`connectionOpen` false): CLOSED; anything else from SQLite: STORAGE). Errors that did not come from SQLite
 * (for example thrown by a write callback) are returned unchanged.
 */
export function toStorageError(error: unknown, path: string, connectionOpen = true): unknown {
  if (error instanceof NexusError) return error;
  if (!connectionOpen) {
    return new StorageError('CLOSED', `SQLite storage ${path} is closed; open it again before using it.`, { cause: error, path });
  }
  const code = sqliteCodeOf(error);
  if (code === undefined) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new StorageError(storageCodeFor(code), `SQLite storage ${path}: ${describe(code)} (${code}: ${detail}).`, { cause: error, path });
}
