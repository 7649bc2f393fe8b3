export { idbStorage } from './idbStorage.js';
export type { IdbStorage, IdbStorageOptions } from './idbStorage.js';
