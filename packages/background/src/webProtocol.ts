/** The `type` of messages the service worker module posts to its pages about background runs. */
export const BACKGROUND_SYNC_MESSAGE_TYPE = 'nexus-store:background-sync';

/** The default tag of one-off and periodic sync registrations. */
export const DEFAULT_SYNC_TAG = 'nexus-store-sync';

/** A worker-to-page message about one run. 'retry': the browser will fire the one-off sync again. */
export interface BackgroundSyncMessage {
  type: typeof BACKGROUND_SYNC_MESSAGE_TYPE;
  /** The event's tag: the registered tag, or `tag:<id>` for one `runNow()`. */
  tag: string;
  event: 'sync' | 'periodicsync';
  status: 'running' | 'completed' | 'failed' | 'retry';
  error?: { message: string };
}

export function isBackgroundSyncMessage(value: unknown): value is BackgroundSyncMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === BACKGROUND_SYNC_MESSAGE_TYPE;
}
