import { AuthError, CursorExpiredError, NetworkError, type NexusError } from '@nexus-store/core';

/** The `{ error: { code, message } }` body of a server error, when there is one. */
export function errorBody(text: string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const e = parsed?.error;
    return { code: typeof e?.code === 'string' ? e.code : undefined, message: typeof e?.message === 'string' ? e.message : undefined };
  } catch {
    return {};
  }
}

/**
 * Maps a non-2xx response to a NexusError whose code decides retries: 5xx, 429 → SERVER and 408 →
 * TIMEOUT (retried); 401 → AUTH, 403 → FORBIDDEN; 410 CURSOR_EXPIRED → CursorExpiredError;
 * any other 4xx → PROTOCOL (the request itself is wrong; retrying will not help).
 */
export function errorFromResponse(status: number, text: string, what: string): NexusError {
  const { code, message } = errorBody(text);
  const detail = `${what} answered ${status}${code ? ` ${code}` : ''}${message ? `: ${message.replace(/[.\s]+$/, '')}` : ''}`;
  if (status === 401) return new AuthError('AUTH', `${detail}. Log in again (getToken) and retry.`, { status });
  if (status === 403) return new AuthError('FORBIDDEN', `${detail}. This token may not do that.`, { status });
  if (status === 410 && code === 'CURSOR_EXPIRED') return new CursorExpiredError(`${detail}. Resync from cursor null.`);
  if (status === 408) return new NetworkError('TIMEOUT', `${detail}; will retry.`, { status });
  if (status === 429 || status >= 500) return new NetworkError('SERVER', `${detail}; will retry.`, { status });
  return new NetworkError('PROTOCOL', `${detail}. The request was refused and retrying will not help.`, { status });
}
