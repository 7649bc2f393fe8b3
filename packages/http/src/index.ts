export { httpRemote } from './httpRemote.js';
export type { HttpRemote, HttpRemoteOptions, HttpRemoteTimers, ReconnectOptions } from './httpRemote.js';
export { errorFromResponse } from './classifyResponse.js';
export { readServerSentEvents } from './serverSentEvents.js';
export type { ServerSentEvent } from './serverSentEvents.js';
