/**
 * The SQLite connection moved down to database/sqlite.connection.ts (issue 11). This module keeps the old path for
 * the SQLite job queue, which is being moved to the platform/ workspace and is left untouched here meanwhile.
 */
export { migrateSqlite, openSqlite, type Migration, type SqliteDb } from '../database/sqlite.connection.ts';
