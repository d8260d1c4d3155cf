/**
 * Imported first by the spec files of this folder: the service suites they import run with
 * eventStore 'eventstoredb' (the protocol test server, or KURRENTDB_URL), read tables on PostgreSQL.
 */
process.env.TEST_BACKENDS ??= 'postgres';
// eslint-disable-next-line @typescript-eslint/no-require-imports
(require('../../support/module') as typeof import('../../support/module')).useEventStore('eventstoredb');
