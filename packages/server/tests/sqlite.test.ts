import { runServerSuite } from './serverSuite.js';
import { sqliteFactory } from './helpers.js';

runServerSuite('SQLite', sqliteFactory());
