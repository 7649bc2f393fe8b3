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
  PushOptions,
  PushResult,
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
  OutboxAck,
  OutboxFilter,
  ReadTransaction,
  WriteTransaction,
} from './localStorage.js';
export { memoryStorage } from './memoryStorage.js';
export type { MemoryStorageOptions } from './memoryStorage.js';
export { applyQuery, compareInOrder, compareValues, fieldValue, isFieldRange, matchesFilter, matchesWhere, orderValues } from './query.js';
export { createNexus } from './nexus.js';
export type { Nexus, NexusOptions, AutoSyncOptions, Logger, SyncPhase, SyncStatus, OutboxItem, Conflict, NexusTransaction, TransactionStore } from './nexus.js';
export type { Store, StoreOptions, Query, WhereClause, OrderBy, KeyField, SchemaLike } from './store.js';
export { toMutation } from './syncEngine.js';
export { recordJson } from './recordJson.js';
export { serverStateAfterAck } from './prioritySyncQueue.js';
export type { SyncReport, SyncProgress } from './syncEngine.js';
export type { ConflictPolicy, ConflictPolicyName, ConflictResolver, ConflictResolution, ConflictContext } from './conflict/conflictPolicy.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { HybridLogicalClock, compareHlc, compactFieldClocks, expandFieldClocks } from './hlc.js';
export { alwaysOnline, browserConnectivity, createManualConnectivity } from './connectivity.js';
export type { Connectivity, ManualConnectivity } from './connectivity.js';
export type { RetryOptions } from './retryPolicy.js';
export { PrioritySyncQueue } from './prioritySyncQueue.js';
