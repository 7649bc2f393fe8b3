import { Buffer, isUtf8 } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
/** Why a body could not be read; mapped to a 4xx by the handler. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

async function readCapped(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new BodyError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes; send fewer mutations per push.`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof BodyError) throw error;
    throw new BodyError(400, 'BAD_BODY', `The request body could not be read: ${(error as Error).message}`);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/**
 * Decompresses, refusing output beyond `maxBytes` (a small gzip bomb included). Synchronously: on
 * zlib's thread pool the output came back in 16 KB chunks, a turn of the event loop each (2.6 ms
 * for a 350 KB push whose inflating costs 0.3 ms); the JSON.parse that follows blocks longer anyway.
 */
function gunzipCapped(bytes: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BodyError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes; send fewer mutations per push.`);
    }
    throw new BodyError(400, 'BAD_BODY', `The request body could not be read: ${(error as Error).message}`);
  }
}

/**
 * Reads a JSON body of at most `maxBytes` (after gzip decompression, so a small compressed bomb
 * is refused too). Accepts `Content-Encoding: gzip` or none.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const length = Number(request.headers.get('content-length') ?? '0');
  if (Number.isFinite(length) && length > maxBytes) {
    throw new BodyError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes; send fewer mutations per push.`);
  }
  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== '') {
    throw new BodyError(415, 'UNSUPPORTED_ENCODING', `Content-Encoding ${encoding} is not supported; use gzip or none.`);
  }
  if (!request.body) throw new BodyError(400, 'INVALID_JSON', 'The request needs a JSON body.');
  let bytes = await readCapped(request.body, maxBytes);
  if (encoding === 'gzip') bytes = gunzipCapped(bytes, maxBytes);
  // isUtf8 + toString: a tenth of the time of a fatal TextDecoder (~1 ms per 300 KB).
  if (!isUtf8(bytes)) throw new BodyError(400, 'INVALID_JSON', 'The request body is not valid UTF-8.');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new BodyError(400, 'INVALID_JSON', `The request body is not valid JSON: ${(error as Error).message}`);
  }
  if (depthExceeds(value, MAX_DEPTH)) throw new BodyError(400, 'TOO_DEEP', `The request body nests deeper than ${MAX_DEPTH} levels.`);
  return value;
}

/** JSON nesting allowed in a body; deeper values would overflow the stack when stored (JSON.stringify recurses). */
const MAX_DEPTH = 64;

/**
 * Iterative, so a hostile body cannot overflow the stack here either. Two parallel stacks and
 * `for…in` (a parsed JSON object has no inherited enumerable keys) allocate nothing per value:
 * ~0.08 ms per push of 1,000 mutations, where pairs and Object.values took ~0.15 (0.4 cold).
 */
function depthExceeds(root: unknown, max: number): boolean {
  const values: unknown[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > max) return true;
    // Only objects and arrays go on the stacks (no closure per value: it allocated ~0.8 MB per push).
    if (Array.isArray(value)) {
      for (const child of value) {
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    for (const key in value) {
      const child = (value as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
