/**
 * Every error nexus-store throws is a `NexusError` with a readonly `code`.
 * Retry decisions come from the code (see {@link isRetryableCode}), never from the message.
 */
export type NexusErrorCode =
  | 'VALIDATION'
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'STORAGE'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_VERSION'
  | 'QUOTA_EXCEEDED'
  | 'UPGRADE_BLOCKED'
  | 'CLOSED'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'SERVER'
  | 'AUTH'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'REJECTED'
  | 'CURSOR_EXPIRED'
  | 'PROTOCOL'
  | 'ABORTED';

const RETRYABLE: ReadonlySet<NexusErrorCode> = new Set(['NETWORK', 'TIMEOUT', 'SERVER']);

/** Whether a failure with this code may succeed when tried again later (network, timeout, 5xx). */
export function isRetryableCode(code: NexusErrorCode): boolean {
  return RETRYABLE.has(code);
}

export class NexusError extends Error {
  readonly code: NexusErrorCode;
  override readonly cause: unknown;

  constructor(code: NexusErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message);
    this.name = 'NexusError';
    this.code = code;
    this.cause = options.cause;
  }

  /** True for network, timeout and server (5xx) failures. */
  get retryable(): boolean {
    return isRetryableCode(this.code);
  }
}

/** One problem found by schema validation (the shape of a zod issue). */
export interface ValidationIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
}

export class ValidationError extends NexusError {
  /** The zod issues, when the failure came from a schema. */
  readonly issues: readonly ValidationIssue[];

  constructor(message: string, issues: readonly ValidationIssue[] = [], options: { cause?: unknown } = {}) {
    super('VALIDATION', message, options);
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** A bad argument to a nexus-store API (wrong id, unknown option, misuse). */
export class InvalidArgumentError extends NexusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

export class NotFoundError extends NexusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

export type StorageErrorCode = 'STORAGE' | 'STORAGE_CORRUPT' | 'STORAGE_VERSION' | 'QUOTA_EXCEEDED' | 'UPGRADE_BLOCKED' | 'CLOSED';

export class StorageError extends NexusError {
  /** The file or database name, when the adapter has one. */
  readonly path: string | undefined;

  constructor(code: StorageErrorCode, message: string, options: { cause?: unknown; path?: string } = {}) {
    super(code, message, options);
    this.name = 'StorageError';
    this.path = options.path;
  }
}

export type NetworkErrorCode = 'NETWORK' | 'TIMEOUT' | 'SERVER' | 'PROTOCOL' | 'ABORTED';

export class NetworkError extends NexusError {
  /** The HTTP status, when there was a response. */
  readonly status: number | undefined;

  constructor(code: NetworkErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(code, message, options);
    this.name = 'NetworkError';
    this.status = options.status;
  }
}

export class AuthError extends NexusError {
  readonly status: number | undefined;

  constructor(code: 'AUTH' | 'FORBIDDEN', message: string, options: { cause?: unknown; status?: number } = {}) {
    super(code, message, options);
    this.name = 'AuthError';
    this.status = options.status;
  }
}

export class ConflictError extends NexusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFLICT', message, options);
    this.name = 'ConflictError';
  }
}

/** The server compacted history past the client's cursor: the client must resync from scratch. */
export class CursorExpiredError extends NexusError {
  constructor(message = 'The sync cursor is older than the server compaction horizon; a full resync is needed.', options: { cause?: unknown } = {}) {
    super('CURSOR_EXPIRED', message, options);
    this.name = 'CursorExpiredError';
  }
}

export function isNexusError(value: unknown): value is NexusError {
  return value instanceof NexusError;
}

/** Wraps anything thrown into a NexusError, keeping NexusErrors as they are. */
export function toNexusError(value: unknown, fallback: NexusErrorCode = 'NETWORK'): NexusError {
  if (value instanceof NexusError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new NexusError(fallback, message, { cause: value });
}
