import { describe, expect, it } from 'vitest';
import type { ConflictPolicy } from '@nexus-store/core';
import { createMemoryRemote } from '@nexus-store/core/testing';
import { device, fakeClock, type Contact } from './helpers.js';

/** Two devices start from the same synced record, then both edit it offline; A syncs first. */
async function concurrentEdit(policy: ConflictPolicy<Contact>, edits: { a: Partial<Contact>; b: Partial<Contact> }, options: { pullFirst?: boolean; skewB?: number } = {}) {
  const clockA = fakeClock();
  const clockB = fakeClock(1_700_000_000_000 + (options.skewB ?? 0));
  const remote = createMemoryRemote();
  const a = await device(remote, { clientId: 'A', clock: clockA, conflict: policy });
  const b = await device(remote, { clientId: 'B', clock: clockB, conflict: policy });
  await a.contacts.save({ id: '1', name: 'Ada', phone: '111', email: 'ada@x' });
  await a.nexus.sync();
  await b.nexus.sync();
  await clockA.advance(1000);
  await clockB.advance(1000);
  const base = (await a.contacts.get('1'))!;
  await a.contacts.save({ ...base, ...edits.a });
  await clockB.advance(1000); // B edits a second later (by wall time)
  await b.contacts.save({ ...base, ...edits.b });
  await a.nexus.sync();
  if (options.pullFirst) {
    // B pulls A's change first (the pull becomes the base of B's pending write), then pushes.
    await b.nexus.sync();
  }
  await b.nexus.sync();
  await a.nexus.sync();
  const result = { a: await a.contacts.get('1'), b: await b.contacts.get('1'), server: remote.get('contacts', '1')?.data, remote, devices: { a, b } };
  return result;
}

describe('conflict policies', () => {
  it('serverWins: the first pushed value stays; the later device takes it', async () => {
    const r = await concurrentEdit('serverWins', { a: { name: 'A-name' }, b: { name: 'B-name' } });
    expect(r.server).toMatchObject({ name: 'A-name' });
    expect(r.a).toEqual(r.server);
    expect(r.b).toEqual(r.server);
  });

  it('clientWins: the conflicting device re-pushes its value on the server version', async () => {
    const r = await concurrentEdit('clientWins', { a: { name: 'A-name' }, b: { name: 'B-name' } });
    expect(r.server).toMatchObject({ name: 'B-name' });
    expect(r.a).toEqual(r.server);
    expect(r.b).toEqual(r.server);
    expect(r.remote.applied.map((m) => m.clientId)).toEqual(['A', 'A', 'B']);
  });

  it('lastWriteWins: the later write by hybrid logical clock wins, whichever pushes first', async () => {
    const r = await concurrentEdit('lastWriteWins', { a: { name: 'A-name' }, b: { name: 'B-name' } });
    expect(r.server).toMatchObject({ name: 'B-name' });
    expect(r.a).toEqual(r.server);
    expect(r.b).toEqual(r.server);
  });

  it('lastWriteWins is immune to a device clock that runs an hour behind', async () => {
    const T = 1_700_000_000_000;
    const clockA = fakeClock(T);
    const clockB = fakeClock(T - 3_600_000); // B's wall clock is an hour behind
    const clockC = fakeClock(T);
    const remote = createMemoryRemote();
    const a = await device(remote, { clientId: 'A', clock: clockA });
    const b = await device(remote, { clientId: 'B', clock: clockB });
    const c = await device(remote, { clientId: 'C', clock: clockC });
    await a.contacts.save({ id: '1', name: 'orig' });
    await a.nexus.sync();
    await b.nexus.sync();
    await c.nexus.sync();
    await clockC.advance(60_000);
    await c.contacts.save({ id: '1', name: 'C, offline, at T+1min' });
    for (const clock of [clockA, clockB, clockC]) await clock.advance(600_000);
    await a.contacts.save({ id: '1', name: 'A at T+10min' });
    await a.nexus.sync();
    await b.nexus.sync(); // B sees A's write: its clock moves past it
    await b.contacts.save({ id: '1', name: 'B after seeing A' }); // B's wall clock says T-50min
    await b.nexus.sync();
    await c.nexus.sync(); // C's older write meets B's: by wall clock C would win; by HLC, B's write is later
    await a.nexus.sync();
    await b.nexus.sync();
    for (const d of [a, b, c]) expect(await d.contacts.get('1')).toEqual({ id: '1', name: 'B after seeing A' });
    expect(remote.get('contacts', '1')?.data).toEqual({ id: '1', name: 'B after seeing A' });
  });

  it('lastWriteWins gives the same result whether the pull or the push happens first', async () => {
    const pushFirst = await concurrentEdit('lastWriteWins', { a: { name: 'A-name' }, b: { name: 'B-name' } });
    const pullFirst = await concurrentEdit('lastWriteWins', { a: { name: 'A-name' }, b: { name: 'B-name' } }, { pullFirst: true });
    expect(pullFirst.server).toEqual(pushFirst.server);
    expect(pullFirst.b).toEqual(pushFirst.b);
  });

  it('fieldMerge: concurrent edits to different fields both survive', async () => {
    const r = await concurrentEdit('fieldMerge', { a: { phone: '222' }, b: { email: 'b@x' } });
    expect(r.server).toEqual({ id: '1', name: 'Ada', phone: '222', email: 'b@x' });
    expect(r.a).toEqual(r.server);
    expect(r.b).toEqual(r.server);
    const same = await concurrentEdit('fieldMerge', { a: { phone: '222' }, b: { email: 'b@x' } }, { pullFirst: true });
    expect(same.server).toEqual(r.server);
  });

  it('fieldMerge: the same field edited on both devices keeps the later edit', async () => {
    const r = await concurrentEdit('fieldMerge', { a: { phone: '222', name: 'A' }, b: { phone: '333' } });
    expect(r.server).toEqual({ id: '1', name: 'A', phone: '333', email: 'ada@x' });
  });

  it('fieldMerge: a later write of a field\'s current value still beats an older write of that field', async () => {
    // Found by the convergence model (seed 40845233). B (clock 90 s behind) creates the record, then
    // renames it offline. C (45 s ahead) changes the email. A, which never synced, writes the record
    // with the name it already has: its merge equals the server's data, but A's name is later than
    // B's rename, so it must still reach the server, or B's older rename wins when B comes back.
    const remote = createMemoryRemote();
    const now = 1_700_000_000_000;
    const a = await device(remote, { clientId: 'A', clock: fakeClock(now), conflict: 'fieldMerge' });
    const b = await device(remote, { clientId: 'B', clock: fakeClock(now - 90_000), conflict: 'fieldMerge' });
    const c = await device(remote, { clientId: 'C', clock: fakeClock(now + 45_000), conflict: 'fieldMerge' });
    await b.contacts.save({ id: '1', name: 'Ada', phone: '111' });
    await b.nexus.sync();
    await c.nexus.sync();
    await b.contacts.save({ id: '1', name: 'B-name', phone: '111' });
    await c.contacts.save({ id: '1', name: 'Ada', phone: '111', email: 'c@x' });
    await c.nexus.sync();
    await a.contacts.save({ id: '1', name: 'Ada', email: 'a@x' });
    await a.nexus.sync();
    await b.nexus.sync();
    for (const d of [a, b, c]) await d.nexus.sync();
    expect(remote.get('contacts', '1')?.data).toEqual({ id: '1', name: 'Ada', phone: '111', email: 'c@x' });
    for (const d of [a, b, c]) expect(await d.contacts.get('1')).toEqual({ id: '1', name: 'Ada', phone: '111', email: 'c@x' });
  });

  it('manual: the pair is parked until resolveConflict, then converges', async () => {
    const r = await concurrentEdit('manual', { a: { name: 'A-name' }, b: { name: 'B-name' } });
    const { a, b } = r.devices;
    const conflicts = await b.nexus.conflicts();
    expect(conflicts).toEqual([expect.objectContaining({ collection: 'contacts', key: '1', reason: 'version', local: expect.objectContaining({ name: 'B-name' }), remote: expect.objectContaining({ name: 'A-name' }) })]);
    expect(await b.contacts.syncState('1')).toBe('conflict');
    expect(r.b).toMatchObject({ name: 'B-name' });
    await b.nexus.resolveConflict(conflicts[0]!.id, { value: { id: '1', name: 'A+B', phone: '111', email: 'ada@x' } });
    await b.nexus.sync();
    await a.nexus.sync();
    expect(await a.contacts.get('1')).toEqual({ id: '1', name: 'A+B', phone: '111', email: 'ada@x' });
    expect(await b.contacts.syncState('1')).toBe('synced');
    expect(await b.nexus.conflicts()).toEqual([]);
    await expect(b.nexus.resolveConflict(conflicts[0]!.id, 'local')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('manual: resolveConflict("remote") takes the server value', async () => {
    const r = await concurrentEdit('manual', { a: { name: 'A-name' }, b: { name: 'B-name' } });
    const [conflict] = await r.devices.b.nexus.conflicts();
    await r.devices.b.nexus.resolveConflict(conflict!.id, 'remote');
    expect(await r.devices.b.contacts.get('1')).toMatchObject({ name: 'A-name' });
    expect(await r.devices.b.nexus.pending()).toEqual([]);
  });

  it('a resolver function decides, deterministically', async () => {
    const longestName: ConflictPolicy<Contact> = ({ local, remote }) => {
      if (!local || !remote) return 'remote';
      return { value: { ...remote, name: local.name.length >= remote.name.length ? local.name : remote.name } };
    };
    const r = await concurrentEdit(longestName, { a: { name: 'Short' }, b: { name: 'Much longer' } });
    expect(r.server).toMatchObject({ name: 'Much longer' });
    expect(r.a).toEqual(r.server);
  });

  it('a delete meets an edit: lastWriteWins keeps the later one', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const a = await device(remote, { clientId: 'A', clock });
    const b = await device(remote, { clientId: 'B', clock });
    await a.contacts.save({ id: '1', name: 'x' });
    await a.nexus.sync();
    await b.nexus.sync();
    await a.contacts.delete('1');
    await clock.advance(10);
    await b.contacts.save({ id: '1', name: 'edited later' });
    await a.nexus.sync();
    await b.nexus.sync();
    await a.nexus.sync();
    expect(await a.contacts.get('1')).toEqual({ id: '1', name: 'edited later' });
    expect(await b.contacts.get('1')).toEqual({ id: '1', name: 'edited later' });
  });
});

describe('unique fields', () => {
  it('two devices create the same phone number: the oldest record wins, the newer one merges into it, never two', async () => {
    const remote = createMemoryRemote({ collections: { contacts: { unique: ['phone'] } } });
    const clock = fakeClock();
    const a = await device(remote, { clientId: 'A', clock, unique: ['phone'], conflict: 'lastWriteWins' });
    const b = await device(remote, { clientId: 'B', clock, unique: ['phone'], conflict: 'lastWriteWins' });
    await a.contacts.save({ id: 'a-1', name: 'Ann (from A)', phone: '555' });
    await clock.advance(5);
    await b.contacts.save({ id: 'b-1', name: 'Ann Smith (from B)', phone: '555', email: 'ann@x' });
    await a.nexus.sync();
    await b.nexus.sync();
    await a.nexus.sync();
    for (const d of [a, b]) {
      const all = await d.contacts.getAll();
      expect(all).toEqual([{ id: 'a-1', name: 'Ann Smith (from B)', phone: '555', email: 'ann@x' }]);
    }
    expect(remote.records('contacts').filter((r) => !r.deleted)).toHaveLength(1);
  });

  it('serverWins drops the newer duplicate', async () => {
    const remote = createMemoryRemote({ collections: { contacts: { unique: ['phone'] } } });
    const a = await device(remote, { unique: ['phone'], conflict: 'serverWins' });
    const b = await device(remote, { unique: ['phone'], conflict: 'serverWins' });
    await a.contacts.save({ id: 'a-1', name: 'Ann', phone: '555' });
    await b.contacts.save({ id: 'b-1', name: 'Other Ann', phone: '555' });
    await a.nexus.sync();
    await b.nexus.sync();
    expect(await b.contacts.getAll()).toEqual([{ id: 'a-1', name: 'Ann', phone: '555' }]);
    expect(await b.nexus.pending()).toEqual([]);
  });

  it('manual parks a unique conflict; resolving with "local" merges into the winner', async () => {
    const remote = createMemoryRemote({ collections: { contacts: { unique: ['phone'] } } });
    const a = await device(remote, { unique: ['phone'], conflict: 'manual' });
    const b = await device(remote, { unique: ['phone'], conflict: 'manual' });
    await a.contacts.save({ id: 'a-1', name: 'Ann', phone: '555' });
    await a.nexus.sync();
    await b.contacts.save({ id: 'b-1', name: 'Ann B', phone: '555' });
    await b.nexus.sync();
    const [conflict] = await b.nexus.conflicts();
    expect(conflict).toMatchObject({ reason: 'unique', key: 'b-1', remoteKey: 'a-1' });
    await b.nexus.resolveConflict(conflict!.id, 'local');
    await b.nexus.sync();
    await a.nexus.sync();
    expect(await a.contacts.getAll()).toEqual([{ id: 'a-1', name: 'Ann B', phone: '555' }]);
    expect(await b.contacts.getAll()).toEqual([{ id: 'a-1', name: 'Ann B', phone: '555' }]);
  });
});

describe('field clocks on the wire', () => {
  it('are compact: a new record carries none; an edit carries only the fields written earlier', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const a = await device(remote, { clientId: 'A', clock, conflict: 'fieldMerge' });
    await a.contacts.save({ id: '1', name: 'Ada', phone: '111' });
    await a.nexus.sync();
    await clock.advance(1000);
    await a.contacts.save({ id: '1', name: 'Ada', phone: '222' });
    await a.nexus.sync();
    const [created, edited] = remote.pushes.flat();
    expect(created!.fieldClocks).toBeNull();
    expect(Object.keys(edited!.fieldClocks ?? {}).sort()).toEqual(['id', 'name']);
    expect(edited!.fieldClocks!.name).toBe(created!.hlc);
  });
});
