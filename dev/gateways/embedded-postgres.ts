import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * PostgreSQL without a PostgreSQL server: PGlite (Postgres compiled to WASM) served on a TCP port with the wire
 * protocol, so node-postgres, and the Neon gateway in front of it, talk to it like to a real server.
 *
 * Limits that matter to callers:
 * - ONE connection at a time (PGlite is a single backend; interleaving two clients' extended-protocol messages
 *   would mix their unnamed statements). A second concurrent connection is refused, so the Neon gateway in front
 *   of it must use `maxConnectionsPerDatabase: 1` and a single set of credentials.
 * - ONE database and no authentication: the startup packet's user, password, database and options are ignored.
 *   A connection string naming database `eventra` or user `app` silently reaches the same `postgres` database as
 *   user `postgres`; use `postgres://postgres@host:port/postgres` to say what actually happens.
 * - Session state (SET, temporary tables) belongs to that single backend and survives reconnects.
 */
export interface EmbeddedPostgres {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedPostgres(
  options: { dataDir?: string; port?: number } = {},
): Promise<EmbeddedPostgres> {
  const host = '127.0.0.1';
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const db = options.dataDir === undefined ? await PGlite.create() : await PGlite.create({ dataDir: options.dataDir });
  const server = new PGLiteSocketServer({ db, host, port: options.port ?? 0, maxConnections: 1 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  // getServerConn() reports the port the OS picked when 0 was asked for.
  const port = Number(server.getServerConn().split(':').pop());
  let closed = false;
  return {
    host,
    port,
    url: `postgres://postgres@${host}:${port}/postgres`,
    async close() {
      if (closed) return;
      closed = true;
      await server.stop();
      await db.close();
    },
  };
}
