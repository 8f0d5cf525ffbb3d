/** `@sluice/channel-core/sqlite`: the embedded durable store (node:sqlite, WAL, synchronous=FULL). */
export { openSqliteStore, STORE_SCHEMA_VERSION, type SqliteStoreInit } from './store.ts';

import { openSqliteStore } from './store.ts';
import type { Store } from '../ports/store.ts';

/** A throw-away store with the same code and semantics, held in memory (tests, ephemeral nodes). */
export function openMemoryStore(): Store {
  return openSqliteStore({ path: ':memory:' });
}
