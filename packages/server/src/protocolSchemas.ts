import { z } from 'zod';
import { SYNC_PRIORITIES } from '@nexus-store/core';

const SHORT = 256;

/** A pull cursor as text: up to 15 digits (a safe integer). */
export const CURSOR = /^\d{1,15}$/;

/** A JSON object: not an array, not null. */
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A record's data: a JSON object (not an array, not null). Its fields are the collection schema's
 * business (`CollectionConfig.schema`); checking here that each key is a string, as
 * `z.record(z.string(), z.unknown())` did, cost a third of a push body's validation and could not
 * fail on parsed JSON.
 */
const recordData = z.custom<Record<string, unknown>>(isObject, { message: 'expected an object' });

/** One mutation as the client sends it (see Mutation in @nexus-store/core). Key length is checked separately. */
export const mutationSchema = z
  .object({
    mutationId: z.string().min(1).max(SHORT),
    clientId: z.string().min(1).max(SHORT),
    collection: z.string().min(1).max(SHORT),
    key: z.string().min(1),
    op: z.enum(['upsert', 'delete']),
    data: recordData.nullable(),
    changedFields: z.array(z.string()).nullable().default(null),
    baseVersion: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    hlc: z.string().max(SHORT),
    fieldClocks: z.record(z.string(), z.string()).nullable().default(null),
    priority: z.enum(SYNC_PRIORITIES as [string, ...string[]]).default('normal'),
    txId: z.string().max(SHORT).nullable().optional(),
  })
  .refine((m) => m.op === 'delete' || m.data !== null, { message: 'an upsert needs data (an object)', path: ['data'] });

export const pushBodySchema = z.object({
  clientId: z.string().min(1).max(SHORT),
  mutations: z.array(mutationSchema).min(1, 'a push needs at least one mutation'),
  /** The client's pull cursor (null: never pulled); optional. */
  cursor: z.string().regex(CURSOR, 'cursor must be a cursor returned by a pull (digits)').nullable().optional(),
});

export type PushBody = z.infer<typeof pushBodySchema>;

const PRIORITIES: ReadonlySet<unknown> = new Set(SYNC_PRIORITIES);

const isShortString = (value: unknown, min: number): value is string => typeof value === 'string' && value.length >= min && value.length <= SHORT;

/** `changedFields` as pushBodySchema reads it; undefined when it is not valid. */
function changedFieldsOf(value: unknown): string[] | null | undefined {
  if (value == null) return null;
  if (!Array.isArray(value)) return undefined;
  for (const field of value) if (typeof field !== 'string') return undefined;
  return value as string[];
}

/**
 * `fieldClocks` as pushBodySchema reads it; undefined when it is not valid, or when zod would not
 * return it as it is (it drops an own `__proto__` key): the body then goes to zod.
 */
function fieldClocksOf(value: unknown): Record<string, string> | null | undefined {
  if (value == null) return null;
  if (!isObject(value) || Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  for (const key in value) if (typeof value[key] !== 'string') return undefined;
  return Object.hasOwn(value, '__proto__') ? undefined : (value as Record<string, string>);
}

/** One mutation as pushBodySchema reads it, or undefined when it is not valid. */
function mutationOf(value: unknown): z.infer<typeof mutationSchema> | undefined {
  if (!isObject(value)) return undefined;
  const { mutationId, clientId, collection, key, op, data, baseVersion, hlc, priority = 'normal', txId } = value;
  if (!isShortString(mutationId, 1) || !isShortString(clientId, 1) || !isShortString(collection, 1) || typeof key !== 'string' || key.length === 0) return undefined;
  if (op !== 'upsert' && op !== 'delete') return undefined;
  if (data === null ? op !== 'delete' : !isObject(data)) return undefined;
  if (typeof baseVersion !== 'number' || !Number.isSafeInteger(baseVersion) || baseVersion < 0) return undefined;
  if (!isShortString(hlc, 0) || !PRIORITIES.has(priority) || (txId != null && !isShortString(txId, 0))) return undefined;
  const changedFields = changedFieldsOf(value.changedFields);
  const fieldClocks = fieldClocksOf(value.fieldClocks);
  if (changedFields === undefined || fieldClocks === undefined) return undefined;
  const mutation = { mutationId, clientId, collection, key, op: op as 'upsert' | 'delete', data: data as Record<string, unknown> | null, changedFields, baseVersion, hlc, fieldClocks, priority: priority as string };
  return txId === undefined ? mutation : { ...mutation, txId: txId as string | null };
}

/**
 * Reads a push body: `{ success: true, data }` as `pushBodySchema.safeParse` would give, or its
 * failure. The rules of pushBodySchema are written out here for the bodies they accept: zod's checks
 * of every field of every mutation cost ~1.1 ms per push of 1,000 on a warm server and 2–13 ms on
 * each of a fresh server's first five bodies; these cost ~0.03 ms and 0.1–0.9 ms. A body they do not
 * accept goes through pushBodySchema, which decides and words the error, so the two can differ only
 * in speed (a property test holds them to that: whatever this accepts, zod accepts as the same value).
 */
export function parsePushBody(body: unknown): { success: true; data: PushBody } | { success: false; error: z.ZodError } {
  const data = fastPushBody(body);
  return data ? { success: true, data } : pushBodySchema.safeParse(body);
}

function fastPushBody(body: unknown): PushBody | undefined {
  if (!isObject(body)) return undefined;
  const { clientId, mutations, cursor } = body;
  if (!isShortString(clientId, 1) || !Array.isArray(mutations) || mutations.length === 0) return undefined;
  if (cursor != null && (typeof cursor !== 'string' || !CURSOR.test(cursor))) return undefined;
  const read: PushBody['mutations'] = new Array(mutations.length);
  for (let i = 0; i < mutations.length; i++) {
    const mutation = mutationOf(mutations[i]);
    if (!mutation) return undefined;
    read[i] = mutation;
  }
  return cursor === undefined ? { clientId, mutations: read } : { clientId, mutations: read, cursor: cursor as string | null };
}

export const loginBodySchema = z.object({
  username: z.string().min(1).max(SHORT),
  password: z.string().min(1).max(1024),
});

export const createUserBodySchema = z.object({
  username: z.string().min(1).max(SHORT),
  password: z.string().min(8).max(1024),
  tenant: z.string().min(1).max(SHORT).optional(),
});

/** A zod error as one readable line. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`)
    .join('; ');
}
