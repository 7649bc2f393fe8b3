export {
  NexusError,
  ValidationError,
  InvalidArgumentError,
  NotFoundError,
  StorageError,
  NetworkError,
  AuthError,
  ConflictError,
  CursorExpiredError,
  isNexusError,
  isRetryableCode,
  toNexusError,
} from './errors.js';
export type { NexusErrorCode, StorageErrorCode, NetworkErrorCode, ValidationIssue } from './errors.js';
export { PRIORITY_RANK, SYNC_PRIORITIES } from './remoteBackend.js';
export type {
  SyncPriority,
  MutationOp,
  RecordData,
  Mutation,
  ServerRecord,
  ServerChange,
  MutationResult,
  PullResult,
  RemoteCallOptions,
  RemotePoke,
  RemoteBackend,
} from './remoteBackend.js';
export type {
  LocalStorage,
  SyncState,
  ServerState,
  StoredDoc,
  DocChangeRef,
  Comparable,
  FieldRange,
  FieldFilter,
  OrderTerm,
  StorageQuery,
  OutboxStatus,
  OutboxEntry,
  NewOutboxEntry,
  OutboxFilter,
  ReadTransaction,
  WriteTransaction,
} from './localStorage.js';
export { memoryStorage } from './memoryStorage.js';
export type { MemoryStorageOptions } from './memoryStorage.js';
export { applyQuery, compareInOrder, compareValues, fieldValue, isFieldRange, matchesFilter, matchesWhere, orderValues } from './query.js';
