/**
 * The hub's HTTP server (node:http, read-only): `/healthz`, `/status` (JSON) and `/metrics`
 * (Prometheus text). Anything else is 404; only GET/HEAD.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface HttpServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpHandlers {
  health(): Promise<{ ok: boolean }>;
  status(): unknown;
  readonly metrics: Registry;
  readonly logger: Logger;
}

function json(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** Listen on `host:port` (port 0: any free port). */
export async function startHttpServer(opts: { host: string; port: number }, h: HttpHandlers): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    (async () => {
      switch (path) {
        case '/healthz': {
          const r = await h.health();
          send(r.ok ? 200 : 503, 'application/json', json(r));
          return;
        }
        case '/status':
          send(200, 'application/json', json(h.status()));
          return;
        case '/metrics':
          send(200, h.metrics.contentType, await h.metrics.metrics());
          return;
        default:
          send(404, 'application/json', json({ error: 'not found', paths: ['/healthz', '/status', '/metrics'] }));
      }
    })().catch((e: unknown) => {
      h.logger.error({ path, reason: e instanceof Error ? e.message : String(e) }, 'http handler failed');
      if (!res.headersSent) send(500, 'application/json', json({ error: 'internal error' }));
      else res.end();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
