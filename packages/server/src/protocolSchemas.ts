import { z } from 'zod';
import { SYNC_PRIORITIES } from '@nexus-store/core';

const SHORT = 256;

/**
 * A record's data: a JSON object (not an array, not null). Its fields are the collection schema's
 * business (`CollectionConfig.schema`); checking here that each key is a string, as
 * `z.record(z.string(), z.unknown())` did, cost a third of a push body's validation and could not
 * fail on parsed JSON.
 */
const recordData = z.custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), { message: 'expected an object' });

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
  cursor: z.string().regex(/^\d{1,15}$/, 'cursor must be a cursor returned by a pull (digits)').nullable().optional(),
});

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
