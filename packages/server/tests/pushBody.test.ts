import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parsePushBody, pushBodySchema } from '../src/protocolSchemas.js';

// parsePushBody reads the bodies pushBodySchema accepts without zod, and hands the others to it.
// These tests hold the two to the same answers; the server suite tests the answers themselves.

const valid = {
  mutationId: 'm1',
  clientId: 'c1',
  collection: 'contacts',
  key: 'k1',
  op: 'upsert',
  data: { name: 'Ada' },
  baseVersion: 0,
  hlc: '0001:0000:c1',
  priority: 'high',
};

/** For each field: values that are valid (the first `validCount`), then values that are not or are edge cases. */
const long = 'x'.repeat(257);
const fieldValues: Record<string, [validCount: number, values: unknown[]]> = {
  mutationId: [2, ['m1', 'x'.repeat(256), '', long, 1, null, undefined]],
  clientId: [1, ['c1', '', long, 7, undefined]],
  collection: [1, ['contacts', '', long, [], undefined]],
  key: [2, ['k1', 'x'.repeat(300), '', 0, undefined]],
  op: [2, ['upsert', 'delete', 'patch', 1, null, undefined]],
  data: [3, [{ a: 1 }, {}, { nested: { deep: [1] } }, null, [], 'x', 1, true, undefined]],
  changedFields: [4, [['a', 'b'], [], null, undefined, ['a', 1], 'a', { 0: 'a' }]],
  baseVersion: [5, [0, 1, 41, -0, Number.MAX_SAFE_INTEGER, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY, '1', null, undefined]],
  hlc: [2, ['h', '', long, 1, null, undefined]],
  fieldClocks: [4, [{ a: 'h' }, {}, null, undefined, { a: 1 }, ['h'], 'h', JSON.parse('{"__proto__":"h","a":"h"}'), Object.create(null)]],
  priority: [5, ['critical', 'high', 'normal', 'low', undefined, 'urgent', null, 2]],
  txId: [4, ['t1', '', null, undefined, long, 3, {}]],
  extra: [3, [undefined, 'ignored', { x: 1 }]],
};

/** The fields whose value is not undefined (a body parsed from JSON has no undefined). */
function definedOnly(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** A mutation of valid values (a delete may have null data), with up to two fields set to any of their values. */
const mutationArb = fc
  .tuple(
    fc.record(Object.fromEntries(Object.entries(fieldValues).map(([field, [validCount, values]]) => [field, fc.constantFrom(...values.slice(0, validCount))]))),
    fc.array(fc.constantFrom(...Object.keys(fieldValues)).chain((field) => fc.tuple(fc.constant(field), fc.constantFrom(...fieldValues[field]![1]))), { maxLength: 2 }),
  )
  .map(([base, changes]) => definedOnly({ ...base, ...Object.fromEntries(changes) }));

const bodyArb = fc.record(
  {
    clientId: fc.oneof({ arbitrary: fc.constant('c1'), weight: 8 }, fc.constantFrom('', long, 5, null)),
    mutations: fc.oneof({ arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }), weight: 8 }, fc.constantFrom([], null, 'x', {})),
    cursor: fc.oneof({ arbitrary: fc.constantFrom(undefined, null, '0', '123'), weight: 4 }, fc.constantFrom('1234567890123456', '12a', '', 5)),
    other: fc.constantFrom(undefined, 1),
  },
  { requiredKeys: ['clientId', 'mutations'] },
).map(definedOnly);

afterEach(() => vi.restoreAllMocks());

describe('parsePushBody', () => {
  it('property: answers what pushBodySchema answers, for any body', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof({ arbitrary: bodyArb, weight: 9 }, fc.anything()), (body) => {
        const zod = pushBodySchema.safeParse(body);
        const ours = parsePushBody(body);
        expect(ours.success).toBe(zod.success);
        if (ours.success && zod.success) expect(ours.data).toStrictEqual(zod.data);
        accepted += zod.success ? 1 : 0;
      }),
      { numRuns: 3000 },
    );
    // Both kinds of body were tried in numbers.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
  });

  it('reads a valid body without zod, with the same defaults', () => {
    const safeParse = vi.spyOn(pushBodySchema, 'safeParse');
    const deletion = { ...valid, mutationId: 'm2', op: 'delete', data: null, priority: undefined, txId: null, fieldClocks: { name: 'h' }, changedFields: ['name'] };
    const body = { clientId: 'c1', mutations: [valid, deletion], cursor: '12' };
    const ours = parsePushBody(body);
    expect(safeParse).not.toHaveBeenCalled();
    expect(ours).toEqual({
      success: true,
      data: {
        clientId: 'c1',
        cursor: '12',
        mutations: [
          { ...valid, changedFields: null, fieldClocks: null },
          { ...deletion, priority: 'normal' },
        ],
      },
    });
    safeParse.mockRestore();
    expect(ours).toStrictEqual(pushBodySchema.safeParse(body));
  });

  it('leaves an invalid body to zod, whose issues name the field', () => {
    const safeParse = vi.spyOn(pushBodySchema, 'safeParse');
    const ours = parsePushBody({ clientId: 'c1', mutations: [valid, { ...valid, baseVersion: -1 }] });
    expect(safeParse).toHaveBeenCalledTimes(1);
    expect(ours.success).toBe(false);
    expect(ours.success ? [] : ours.error.issues.map((i) => i.path.join('.'))).toEqual(['mutations.1.baseVersion']);
  });
});
