import { item } from '../fixtures.js';
import type { Item } from '../fixtures.js';

/** What the sync benchmark hands a client process: where the server is and where its own file goes. */
export interface ClientConfig {
  url: string;
  token: string;
  filename: string;
  /** Records per push request. */
  batchSize: number;
  /** Records per pull request. */
  pullLimit: number;
}

/** What a server process answers to `start`. */
export interface ServerInfo {
  url: string;
  token: string;
}

/** One timed sync run: its duration and how many records went each way. */
export interface SyncRun {
  ms: number;
  pushed: number;
  pulled: number;
}

/** Queuing happens in chunks so that the untimed setup does not inflate a process's peak RSS much. */
export const QUEUE_CHUNK = 5000;

export function chunkOf(start: number, end: number, prefix: string): Item[] {
  const list: Item[] = [];
  for (let i = start; i < end; i++) list.push(item(i, prefix));
  return list;
}
