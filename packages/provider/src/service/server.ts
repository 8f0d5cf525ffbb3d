/**
 * The provider service: one HTTP server carrying the express API and the WebSocket
 * stream endpoint (`/stream`). Factory in the js-libp2p style: `createProviderService(init)(components)`,
 * then `start()` / `stop()`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import { WebSocketServer } from 'ws';
import { type Address, SluiceError, ZERO_ADDRESS, cryptoBackend } from '@sluice/channel-core';
import type { ChunkStore } from '../content/chunk-store.ts';
import { encodeFrame } from '../wire/frames.ts';
import { errorFrameFor } from '../wire/codes.ts';
import type { PayeeChannels } from './channels.ts';
import { ServedFiles } from './files.ts';
import { createHttpApi } from './http.ts';
import { type ProviderMetrics, createProviderMetrics } from './metrics.ts';
import { DEFAULT_LIMITS, type Logger, ProviderSession, SessionRegistry, type SessionLimits } from './session.ts';
import type { UsageStore } from './usage-store.ts';

/** Largest message a client may send: ERROR (259 bytes) is its biggest frame. Above this ws closes with 1009. */
export const MAX_CLIENT_MESSAGE_BYTES = 1024;

export interface ProviderServiceInit {
  readonly host?: string;
  /** 0 = any free port. */
  readonly port?: number;
  readonly pricePerChunk: bigint;
  readonly asset?: Address;
  readonly hub?: { readonly address: Address | null; readonly multiaddrs: readonly string[] };
  /** libp2p multiaddrs of the payee's channel node, advertised in file metadata (see FileMetadata.payeeMultiaddrs). */
  readonly payeeMultiaddrs?: () => readonly string[];
  readonly publicUrl?: string;
  readonly adminToken?: string;
  readonly limits?: Partial<SessionLimits>;
  /** Refuse a HELLO while this many sessions are past theirs (OVERLOADED). Default 256. */
  readonly maxSessions?: number;
  /** Refuse a connection while this many others have not sent HELLO yet (OVERLOADED). Default 128. */
  readonly maxPendingSessions?: number;
  /**
   * Refuse a connection while this many others from the same IP address are open (OVERLOADED).
   * Default 32; 0 = no limit (behind a reverse proxy every client has the proxy's address).
   */
  readonly maxConnectionsPerIp?: number;
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed, in `proxy-addr` syntax: addresses,
   * CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`, comma-separated (e.g.
   * `loopback,10.0.0.0/8`). A connection from one of them counts against the per-IP cap (and is
   * logged) under the client address the proxies report: the rightmost address in the header not
   * itself trusted. Unset (the default): the header is ignored, so a client cannot choose its
   * address. Validate with {@link parseTrustProxy} first.
   */
  readonly trustProxy?: string;
  /** Re-hash chunks read from the store before sending (default false). */
  readonly verifyOnServe?: boolean;
}

export interface ProviderServiceComponents {
  readonly store: ChunkStore;
  readonly channels: PayeeChannels;
  readonly usage: UsageStore;
  readonly logger?: Logger;
  readonly metrics?: ProviderMetrics;
}

export interface ProviderService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `http://host:port` once started. */
  readonly url: string;
  readonly port: number;
  readonly metrics: ProviderMetrics;
  readonly sessions: SessionRegistry;
}

const silent: Logger = { info() {}, warn() {}, debug() {} };

export function createProviderService(init: ProviderServiceInit): (components: ProviderServiceComponents) => ProviderService {
  return (components) => {
    const logger = components.logger ?? silent;
    const metrics = components.metrics ?? createProviderMetrics({ backend: cryptoBackend().name });
    const files = new ServedFiles(components.store, { verifyOnServe: init.verifyOnServe ?? false });
    const sessions = new SessionRegistry({ maxSessions: init.maxSessions ?? 256 });
    const limits: SessionLimits = { ...DEFAULT_LIMITS, ...init.limits };
    const maxPending = init.maxPendingSessions ?? 128;
    const maxPerIp = init.maxConnectionsPerIp ?? 32;
    const trusted = init.trustProxy === undefined ? undefined : parseTrustProxy(init.trustProxy);
    /** The client's address: the socket's, or behind trusted proxies the one they forward. */
    const clientIp = (req: IncomingMessage): string => {
      const socketIp = req.socket.remoteAddress ?? '?';
      if (trusted === undefined) return socketIp;
      const forwarded = proxyaddr(req, trusted);
      return isIP(forwarded) === 0 ? socketIp : forwarded; // a proxy that forwards junk: count the proxy
    };
    /** Open connections per remote IP address. */
    const perIp = new Map<string, number>();
    let server: Server | undefined;
    let wss: WebSocketServer | undefined;
    let port = 0;
    let host = init.host ?? '127.0.0.1';

    const refreshEarnings = async (): Promise<void> => {
      const channels = components.channels;
      const total = channels.earnings !== undefined ? await channels.earnings() : (await channels.listVirtualChannels()).reduce((a, c) => a + c.paid, 0n);
      metrics.earnings.set(Number(total));
    };
    let earningsTimer: NodeJS.Timeout | undefined;
    const onEarnings = (): void => {
      if (earningsTimer !== undefined) return;
      earningsTimer = setTimeout(() => {
        earningsTimer = undefined;
        refreshEarnings().catch(() => undefined);
      }, 250);
      earningsTimer.unref();
    };

    const service: ProviderService = {
      metrics,
      sessions,
      get url() {
        return init.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      },
      get port() {
        return port;
      },
      async start() {
        await components.channels.start?.();
        const app = createHttpApi({
          files,
          channels: components.channels,
          usage: components.usage,
          metrics,
          sessions,
          logger,
          pricePerChunk: init.pricePerChunk,
          asset: init.asset ?? ZERO_ADDRESS,
          hub: init.hub ?? { address: null, multiaddrs: [] },
          ...(init.payeeMultiaddrs === undefined ? {} : { payeeMultiaddrs: init.payeeMultiaddrs }),
          ...(init.publicUrl === undefined ? {} : { publicUrl: init.publicUrl }),
          listenUrl: () => service.url,
          ...(init.adminToken === undefined ? {} : { adminToken: init.adminToken }),
          refreshEarnings,
        });
        server = createServer(app);
        // autoPong off: the session answers pings itself, within its buffer and frame budget.
        wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false, autoPong: false });
        server.on('upgrade', (req, socket, head) => {
          const path = (req.url ?? '').split('?')[0];
          if (path !== '/stream') {
            socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
            return;
          }
          wss?.handleUpgrade(req, socket, head, (ws) => {
            const ip = clientIp(req);
            const remote = ip === req.socket.remoteAddress ? `${ip}:${req.socket.remotePort ?? 0}` : `${ip} via ${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
            const refuse = (message: string): void => {
              const f = errorFrameFor(new SluiceError('OVERLOADED', message));
              ws.send(encodeFrame(f));
              ws.close(f.wireCode, 'overloaded');
              setTimeout(() => ws.terminate(), 2_000).unref(); // a client that does not answer the close
              metrics.protocolErrors.inc({ reason: 'OVERLOADED' });
            };
            const fromIp = perIp.get(ip) ?? 0;
            if (maxPerIp > 0 && fromIp >= maxPerIp) return refuse('too many connections from your address; retry later');
            if (sessions.pending >= maxPending) return refuse('provider at capacity; retry later');
            perIp.set(ip, fromIp + 1);
            ws.once('close', () => {
              const n = (perIp.get(ip) ?? 1) - 1;
              if (n > 0) perIp.set(ip, n);
              else perIp.delete(ip);
            });
            new ProviderSession(ws, remote, {
              channels: components.channels,
              files,
              usage: components.usage,
              metrics,
              logger,
              pricePerChunk: init.pricePerChunk,
              limits,
              sessions,
              onEarnings,
            });
          });
        });
        await new Promise<void>((resolve, reject) => {
          server?.once('error', reject);
          server?.listen(init.port ?? 0, host, () => resolve());
        });
        const a = server.address() as AddressInfo;
        port = a.port;
        host = a.address;
        await refreshEarnings().catch(() => undefined);
        logger.info({ url: service.url, price: init.pricePerChunk.toString(), crypto: cryptoBackend().name }, 'provider listening');
      },
      async stop() {
        clearTimeout(earningsTimer);
        for (const s of [...sessions.all]) s.shutdown();
        wss?.close();
        await new Promise<void>((resolve) => {
          if (server === undefined) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await components.channels.stop?.();
      },
    };
    return service;
  };
}

/**
 * Compile a `trustProxy` list (see {@link ProviderServiceInit.trustProxy}).
 * @throws SluiceError INVALID_ARGUMENT naming the entry it cannot read
 */
export function parseTrustProxy(list: string): (addr: string, i: number) => boolean {
  const entries = list.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (entries.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'trust-proxy: give addresses, CIDR ranges or loopback/linklocal/uniquelocal, comma-separated');
  try {
    return proxyaddr.compile(entries);
  } catch (e) {
    throw new SluiceError('INVALID_ARGUMENT', `trust-proxy: ${e instanceof Error ? e.message : String(e)}`);
  }
}
