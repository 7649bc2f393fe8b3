/**
 * POST over node:http / node:https where the runtime lends them without an import (Node 20.16+,
 * Electron; a browser bundle never references them), for pushes. Measured in the sync benchmark:
 * fetch (undici) spent ~2 ms of client CPU per push of 1,000 on its streams and Request/Response
 * objects, ~10% of a push's cycle; this sends the body in one write and reads the answer as text.
 * Pulls and the event stream stay on fetch (a pull page is read as it streams in).
 */

import { runtimeBuiltin } from './runtimeBuiltin.js';

/** The part of a fetch Response that httpRemote's push reads. */
export interface PostAnswer {
  status: number;
  ok: boolean;
  text(): Promise<string>;
  body: null;
}

export type PostFunction = (url: string, init: { method: string; headers: Record<string, string>; body?: Uint8Array | string; signal: AbortSignal }) => Promise<PostAnswer>;

interface NodeHttpModule {
  Agent: new (options: { keepAlive: boolean }) => unknown;
  request(url: URL, options: { method: string; headers: Record<string, string>; agent: unknown }, onResponse: (res: NodeIncoming) => void): NodeOutgoing;
}
interface NodeIncoming {
  statusCode?: number;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'end' | 'aborted', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}
interface NodeOutgoing {
  on(event: 'error', listener: (error: Error) => void): void;
  destroy(error: Error): void;
  end(body?: Uint8Array | string): void;
}

/** A POST function over node:http(s) with keep-alive agents, or undefined outside Node. */
export function nodePost(): PostFunction | undefined {
  const http = runtimeBuiltin<NodeHttpModule>('node:http');
  const https = runtimeBuiltin<NodeHttpModule>('node:https');
  const buffer = runtimeBuiltin<{ Buffer: { concat(chunks: Uint8Array[]): Uint8Array & { toString(encoding: 'utf8'): string } } }>('node:buffer');
  if (!http?.request || !https?.request || !buffer?.Buffer) return undefined;
  const agents = new Map<string, unknown>();
  return (input, init) =>
    new Promise<PostAnswer>((resolve, reject) => {
      const url = new URL(input);
      const module = url.protocol === 'https:' ? https : http;
      let agent = agents.get(url.protocol);
      if (agent === undefined) agents.set(url.protocol, (agent = new module.Agent({ keepAlive: true })));
      let settled = false;
      /** True the first time only: the request ends once, by its answer or by its first failure. */
      const settle = () => {
        if (settled) return false;
        settled = true;
        init.signal.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (error: unknown) => {
        if (settle()) reject(error);
      };
      const onAbort = () => request.destroy(init.signal.reason instanceof Error ? init.signal.reason : new Error('aborted'));
      const request = module.request(url, { method: init.method, headers: init.headers, agent }, (res) => {
        const chunks: Uint8Array[] = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', fail);
        res.on('aborted', () => fail(new Error('the connection closed before the answer ended')));
        res.on('end', () => {
          if (!settle()) return;
          const text = buffer.Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          resolve({ status, ok: status >= 200 && status < 300, text: () => Promise.resolve(text), body: null });
        });
      });
      request.on('error', fail);
      if (init.signal.aborted) return onAbort();
      init.signal.addEventListener('abort', onAbort, { once: true });
      request.end(init.body);
    });
}
