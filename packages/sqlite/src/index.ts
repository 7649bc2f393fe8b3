export { sqliteStorage } from './sqliteStorage.js';
export type { SqliteStorageOptions, SqliteDurability } from './sqliteStorage.js';
export { SCHEMA_VERSION } from './schema.js';
