/**
 * The quick-start demo: an embedded sync server (SQLite, port 0) and two devices with their own
 * SQLite files. The phone saves contacts offline with priorities, a laptop edits concurrently, both
 * sync, and the conflict policy decides. Run: npm run demo
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createNexus, createManualConnectivity } from '@nexus-store/core';
import { sqliteStorage } from '@nexus-store/sqlite';
import { createSyncServer, silentLogger, sqliteServerStore } from '@nexus-store/server';
import { httpRemote } from '@nexus-store/http';

const quiet = process.argv.includes('--quiet');
const log = (...args: unknown[]) => {
  if (!quiet) console.log(...args);
};

const Contact = z.object({ id: z.string(), name: z.string().min(1), phone: z.string(), company: z.string().optional() });
type Contact = z.infer<typeof Contact>;

const dir = mkdtempSync(join(tmpdir(), 'nexus-demo-'));
const server = createSyncServer({ database: sqliteServerStore({ filename: join(dir, 'server.db') }), auth: { jwtSecret: 'demo-secret-change-me-0123456789' }, logger: silentLogger });
const { url } = await server.listen(0, '127.0.0.1');
log(`sync server on ${url} (SQLite at ${join(dir, 'server.db')})`);

async function openDevice(name: string) {
  const token = await server.issueToken(name);
  const connectivity = createManualConnectivity(true);
  const nexus = await createNexus({ storage: sqliteStorage({ filename: join(dir, `${name}.db`) }), remote: httpRemote({ url, token }), connectivity });
  const contacts = nexus.store<Contact, string>('contacts', { schema: Contact, key: 'id', conflict: 'fieldMerge', indexes: ['company'] });
  return { name, nexus, contacts, connectivity };
}

const phone = await openDevice('phone');
const laptop = await openDevice('laptop');

phone.connectivity.setOnline(false);
log('\nphone is offline; it saves three contacts (one critical) ...');
await phone.contacts.save({ id: 'c1', name: 'Ada Lovelace', phone: '+44 20 1234', company: 'Analytical' }, 'critical');
await phone.contacts.saveAll([{ id: 'c2', name: 'Grace Hopper', phone: '+1 555 0101', company: 'Navy' }, { id: 'c3', name: 'Alan Turing', phone: '+44 20 9999' }], 'low');
log('phone outbox:', (await phone.nexus.pending()).map((p) => `${p.key}(${p.priority})`).join(' '));

phone.connectivity.setOnline(true);
await phone.nexus.sync();
await laptop.nexus.sync();
log('laptop sees', await laptop.contacts.count(), 'contacts after one sync');

log('\nboth edit c1 while apart: the phone changes the phone number, the laptop the company ...');
await phone.contacts.save({ ...(await phone.contacts.get('c1'))!, phone: '+44 20 0000' });
await laptop.contacts.save({ ...(await laptop.contacts.get('c1'))!, company: 'Babbage & Co' });
await phone.nexus.sync();
await laptop.nexus.sync();
await phone.nexus.sync();
const a = await phone.contacts.get('c1');
const b = await laptop.contacts.get('c1');
log('phone  has', a);
log('laptop has', b);
if (JSON.stringify(a) !== JSON.stringify(b) || a?.phone !== '+44 20 0000' || a?.company !== 'Babbage & Co') {
  throw new Error('demo: the devices did not converge as fieldMerge defines');
}
log('\nfieldMerge kept both edits; query by company:', (await laptop.contacts.getAll({ where: { company: 'Navy' } })).map((c) => c.name));

await phone.nexus.close();
await laptop.nexus.close();
await server.close();
rmSync(dir, { recursive: true, force: true });
log('\ndone.');
