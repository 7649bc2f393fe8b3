// Minimal types for the peers that ship none (only what the benchmarks call).
declare module 'pouchdb' {
  export interface ReplicationResult {
    ok: boolean;
    docs_written: number;
    doc_write_failures: number;
  }
  export interface PouchDatabase {
    put(doc: Record<string, unknown> & { _id: string }): Promise<unknown>;
    bulkDocs(docs: readonly (Record<string, unknown> & { _id: string })[]): Promise<unknown[]>;
    get(id: string): Promise<Record<string, unknown>>;
    info(): Promise<{ doc_count: number }>;
    replicate: {
      to(target: string, options?: { batch_size?: number; batches_limit?: number }): Promise<ReplicationResult>;
      from(source: string, options?: { batch_size?: number; batches_limit?: number }): Promise<ReplicationResult>;
    };
    close(): Promise<void>;
    destroy(): Promise<void>;
  }
  export interface PouchConstructor {
    new (name: string): PouchDatabase;
    defaults(options: { prefix: string }): PouchConstructor;
  }
  const PouchDB: PouchConstructor;
  export default PouchDB;
}

declare module 'express-pouchdb' {
  import type { RequestListener } from 'node:http';
  function expressPouchDB(PouchDB: unknown, options?: { mode?: 'minimumForPouchDB' | 'fullCouchDB'; logPath?: string; inMemoryConfig?: boolean }): RequestListener;
  export default expressPouchDB;
}

declare module 'fake-indexeddb/auto';
