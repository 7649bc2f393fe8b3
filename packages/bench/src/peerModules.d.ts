// Minimal types for the peers that ship none (only what the benchmark calls).
declare module 'pouchdb' {
  interface PouchDatabase {
    put(doc: Record<string, unknown> & { _id: string }): Promise<unknown>;
    bulkDocs(docs: readonly (Record<string, unknown> & { _id: string })[]): Promise<unknown[]>;
    get(id: string): Promise<Record<string, unknown>>;
    close(): Promise<void>;
    destroy(): Promise<void>;
  }
  const PouchDB: new (name: string) => PouchDatabase;
  export default PouchDB;
}

declare module 'fake-indexeddb/auto';
