import pg from 'pg';

/**
 * `@nexus-store/server/testing`: helpers for tests that run against the PostgreSQL store.
 */

/** The database the tests use: `NEXUS_PG_URL`, or `test` on 127.0.0.1:5432 as user postgres. */
export const TEST_POSTGRES_URL = process.env.NEXUS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether PostgreSQL answers at `url`. Elsewhere an unreachable database skips the tests with a
 * warning naming `what`; under CI=true it is an error, so those tests always run in CI.
 */
export async function postgresAvailable(what = 'PostgreSQL tests', url = TEST_POSTGRES_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL at ${url} is unreachable and CI=true: ${(error as Error).message}`);
    console.warn(`Skipping ${what}: ${url} is unreachable (${(error as Error).message}). They run (and must pass) under CI=true.`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops the schemas a test run created in the database at `url` (with everything in them). */
export async function dropPostgresSchemas(schemas: readonly string[], url = TEST_POSTGRES_URL): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`);
  } finally {
    await client.end();
  }
}
