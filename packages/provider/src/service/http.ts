/**
 * The provider's HTTP API (express 5): catalog, file metadata, health, Prometheus
 * metrics, and the admin API behind a bearer token.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type Address, type ChannelId, SluiceError, type SluiceErrorCode, isSluiceError, parseBytes32 } from '@sluice/channel-core';
import { CHUNK_SIZE } from '../content/constants.ts';
import { parseCid } from '../content/cid.ts';
import { advertisedMultiaddrs } from '../wire/multiaddrs.ts';
import type { PayeeChannels, SettleRequest } from './channels.ts';
import type { ChannelSettleResult } from '../fallback/settle-all.ts';
import type { ServedFiles } from './files.ts';
import type { ProviderMetrics } from './metrics.ts';
import type { Logger, SessionRegistry } from './session.ts';
import type { UsageStore } from './usage-store.ts';

/** File metadata as served by `GET /files/:cid`. */
export interface FileMetadata {
  readonly cid: string;
  readonly name: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunks: number;
  /** Decimal string, asset base units. */
  readonly pricePerChunk: string;
  readonly asset: Address;
  readonly payee: Address;
  /** The hub's libp2p multiaddrs: at most 8, public before private before loopback (see `advertisedMultiaddrs`). */
  readonly hub: { readonly address: Address | null; readonly multiaddrs: readonly string[] };
  /**
   * libp2p multiaddrs of the payee's channel node (absent when it has none to give): a client
   * sends the virtual channel's messages for the payee there directly, the hub relaying them
   * only when that fails.
   */
  readonly payeeMultiaddrs?: readonly string[];
  /** WebSocket URL of the paid stream. */
  readonly ws: string;
}

export interface HttpApiInit {
  readonly files: ServedFiles;
  readonly channels: PayeeChannels;
  readonly usage: UsageStore;
  readonly metrics: ProviderMetrics;
  readonly sessions: SessionRegistry;
  readonly logger: Logger;
  readonly pricePerChunk: bigint;
  readonly asset: Address;
  readonly hub: { readonly address: Address | null; readonly multiaddrs: readonly string[] };
  /** libp2p multiaddrs of our channel node, advertised as {@link FileMetadata.payeeMultiaddrs} (ordered and capped by `advertisedMultiaddrs`). */
  readonly payeeMultiaddrs?: () => readonly string[];
  /** Public base URL (e.g. `http://host:port`); derived from the request's Host when absent. */
  readonly publicUrl?: string;
  /** Our listening address (`http://host:port`): the base URL when there is no public URL and a request's Host is malformed. */
  readonly listenUrl?: () => string;
  /** Admin bearer token; the admin API answers 404 when absent. */
  readonly adminToken?: string;
  readonly refreshEarnings: () => Promise<void>;
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** HTTP status for an error (one table at the edge). */
function statusFor(e: unknown): number {
  if (!isSluiceError(e)) return 500;
  switch (e.code) {
    case 'INVALID_ARGUMENT':
    case 'DECODE_FAILED':
      return 400;
    case 'CHANNEL_UNKNOWN':
    case 'CONTENT_NOT_FOUND':
      return 404;
    case 'CHANNEL_CLOSING':
    case 'CHANNEL_NOT_FUNDED':
      return 409;
    case 'CHAIN_TIMEOUT':
    case 'PEER_TIMEOUT':
      return 504;
    case 'OVERLOADED':
      return 503;
    default:
      return 500;
  }
}

/** A client error raised by express or its router (e.g. a bad percent-encoding in the path: `status` 400). */
function isClientError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { status, statusCode } = e as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' && code >= 400 && code < 500;
}

/** A Host header we may build a URL from: a name or an IPv4/IPv6 literal, and an optional port. */
const HOST_HEADER = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** `?force=1` and `?cooperativeTimeoutMs=N` of the settle routes. */
function settleRequest(req: Request): SettleRequest {
  const q = req.query;
  const force = q['force'] === '1' || q['force'] === 'true';
  const raw = q['cooperativeTimeoutMs'];
  let cooperativeTimeoutMs: number | undefined;
  if (raw !== undefined) {
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isInteger(n) || n < 1) throw new SluiceError('INVALID_ARGUMENT', 'cooperativeTimeoutMs must be a positive integer (milliseconds)');
    cooperativeTimeoutMs = n;
  }
  return { ...(force ? { force: true } : {}), ...(cooperativeTimeoutMs === undefined ? {} : { cooperativeTimeoutMs }) };
}

function settleResponse(r: ChannelSettleResult): Record<string, unknown> {
  if (r.mode === 'failed') throw new SluiceError((r.code ?? 'INTERNAL') as SluiceErrorCode, r.message ?? 'settle failed');
  return { ...r, status: r.mode === 'cooperative' ? 'closed' : 'settling on chain' };
}

export function createHttpApi(init: HttpApiInit): express.Express {
  const hub = { address: init.hub.address, multiaddrs: advertisedMultiaddrs(init.hub.multiaddrs) };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const baseUrl = (req: Request): URL => {
    if (init.publicUrl !== undefined) return new URL(init.publicUrl);
    const host = req.get('host');
    if (host !== undefined && HOST_HEADER.test(host)) {
      try {
        return new URL(`${req.protocol}://${host}`);
      } catch {
        // e.g. a port above 65535: fall through
      }
    }
    // A missing or malformed Host (clients that reach us send a valid one): our own address.
    return new URL(init.listenUrl?.() ?? `${req.protocol}://localhost`);
  };
  const wsUrl = (req: Request): string => {
    const u = baseUrl(req);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = '/stream';
    return u.toString();
  };

  app.get('/healthz', (_req, res) => {
    const reason = init.channels.notReceiving?.();
    if (reason !== undefined) res.status(503);
    res.json({ status: reason === undefined ? 'ok' : 'not receiving payments', ...(reason === undefined ? {} : { reason }), payee: init.channels.address, sessions: init.sessions.all.size });
  });

  app.get('/metrics', async (_req, res, next) => {
    try {
      await init.refreshEarnings();
      res.type(init.metrics.registry.contentType).send(await init.metrics.registry.metrics());
    } catch (e) {
      next(e);
    }
  });

  app.get('/files', async (_req, res, next) => {
    try {
      const list = await init.files.store.listFiles();
      res.json(list.map((f) => ({ cid: f.cid, name: f.name, size: f.size })));
    } catch (e) {
      next(e);
    }
  });

  app.get('/files/:cid', async (req, res, next) => {
    try {
      let key: string | undefined;
      try {
        key = parseCid(String(req.params['cid'])).toString(); // any multibase spelling of the CID
      } catch {
        key = undefined;
      }
      const rec = key === undefined ? undefined : await init.files.store.getFile(key);
      if (rec === undefined) {
        res.status(404).json({ error: { code: 'CONTENT_NOT_FOUND', message: 'this file is not served here' } });
        return;
      }
      // A client would deposit and open a channel that cannot be funded: say so before it does.
      const reason = init.channels.notReceiving?.();
      if (reason !== undefined) {
        res.status(503).json({ error: { code: 'OVERLOADED', message: `this provider cannot be paid now: ${reason}` } });
        return;
      }
      const payeeMultiaddrs = advertisedMultiaddrs(init.payeeMultiaddrs?.() ?? []);
      const meta: FileMetadata = {
        cid: rec.cid,
        name: rec.name,
        size: rec.size,
        chunkSize: CHUNK_SIZE,
        chunks: rec.chunks,
        pricePerChunk: init.pricePerChunk.toString(),
        asset: init.asset,
        payee: init.channels.address,
        hub,
        ...(payeeMultiaddrs.length === 0 ? {} : { payeeMultiaddrs }),
        ws: wsUrl(req),
      };
      res.json(meta);
    } catch (e) {
      next(e);
    }
  });

  const admin = express.Router();
  admin.use((req: Request, res: Response, next: NextFunction) => {
    const token = init.adminToken;
    const header = req.get('authorization') ?? '';
    const m = /^Bearer (.+)$/.exec(header);
    if (token === undefined || m === null || !sameSecret(m[1] ?? '', token)) {
      res.status(401).set('www-authenticate', 'Bearer').json({ error: { code: 'UNAUTHORIZED', message: 'a valid bearer token is required' } });
      return;
    }
    next();
  });
  admin.get('/earnings', async (_req, res, next) => {
    try {
      const channels = await init.channels.listVirtualChannels();
      let listed = 0n;
      const rows = channels.map((c) => {
        listed += c.paid;
        const u = init.usage.get(c.channelId);
        return {
          channelId: c.channelId,
          payer: c.payer,
          asset: c.asset,
          status: c.status,
          balance: c.balance.toString(),
          earned: c.paid.toString(),
          consumed: (u?.consumed ?? 0n).toString(),
          chunks: u?.chunks ?? 0,
          bytes: u?.bytes ?? 0,
        };
      });
      // the node's total also counts channels whose records history retention deleted
      const total = (await init.channels.earnings?.()) ?? listed;
      res.json({ total: total.toString(), channels: rows });
    } catch (e) {
      next(e);
    }
  });
  admin.get('/sessions', (_req, res) => {
    res.json(init.sessions.list());
  });
  admin.post('/channels/:id/close', async (req, res, next) => {
    try {
      let id: ChannelId;
      try {
        id = parseBytes32(String(req.params['id']), 'channelId');
      } catch {
        res.status(400).json({ error: { code: 'INVALID_ARGUMENT', message: 'channel id must be 0x + 64 hex digits' } });
        return;
      }
      const request = settleRequest(req);
      const s = init.sessions.byChannel.get(id.toLowerCase() as ChannelId);
      const settle = init.channels.settleVirtualChannel?.bind(init.channels);
      if (settle !== undefined && request.force === true) {
        s?.fail(new SluiceError('CHANNEL_CLOSING', 'channel is closing'));
        res.json(settleResponse(await settle(id, request)));
        return;
      }
      try {
        await init.channels.closeVirtualChannel(id);
      } catch (e) {
        // The payer (or the hub) is gone: settle on chain (the cooperative attempt already timed out).
        if (settle === undefined || !isSluiceError(e, 'PEER_TIMEOUT')) throw e;
        init.logger.warn({ channelId: id, code: e.code }, 'cooperative close timed out: settling on chain');
        s?.fail(new SluiceError('CHANNEL_CLOSING', 'channel is closing'));
        res.json(settleResponse(await settle(id, { ...request, force: true })));
        return;
      }
      s?.fail(new SluiceError('CHANNEL_CLOSING', 'channel is closing'));
      res.json({ channelId: id, status: 'closing', mode: 'cooperative' });
    } catch (e) {
      next(e);
    }
  });
  admin.post('/withdraw', async (req, res, next) => {
    try {
      res.json({ result: JSON.parse(JSON.stringify(await init.channels.withdraw(settleRequest(req)), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as unknown });
    } catch (e) {
      next(e);
    }
  });
  admin.post('/settle', async (req, res, next) => {
    try {
      const settleAll = init.channels.settleAll?.bind(init.channels);
      if (settleAll === undefined) throw new SluiceError('INVALID_ARGUMENT', 'this provider has no channel node (dev channels): nothing to settle on chain');
      const request = settleRequest(req);
      for (const s of init.sessions.all) s.fail(new SluiceError('CHANNEL_CLOSING', 'the provider is settling its channels'));
      const report = await settleAll(request);
      init.logger.info({ force: request.force === true, virtualChannels: report.virtualChannels.length, ledgers: report.ledgers.length, onChain: report.onChain }, 'settle requested');
      res.json({ ...report, disputes: init.channels.disputes?.() ?? [], ...(init.channels.fallbackActivity?.() ?? { transactions: [], payouts: [] }) });
    } catch (e) {
      next(e);
    }
  });
  admin.get('/status', async (_req, res, next) => {
    try {
      const channels = await init.channels.listVirtualChannels();
      res.json({
        payee: init.channels.address,
        virtualChannels: channels.map((c) => ({ channelId: c.channelId, payer: c.payer, asset: c.asset, status: c.status, balance: c.balance.toString(), earned: c.paid.toString() })),
        ledgers: init.channels.ledgers?.() ?? [],
        disputes: init.channels.disputes?.() ?? [],
        ...(init.channels.fallbackActivity?.() ?? { transactions: [], payouts: [] }),
      });
    } catch (e) {
      next(e);
    }
  });
  app.use('/admin', admin);

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } });
  });
  app.use((e: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (isClientError(e)) {
      // the request was malformed (express/router said so): the client's problem, not worth a warning
      res.status(400).json({ error: { code: 'INVALID_ARGUMENT', message: 'malformed request' } });
      return;
    }
    const status = statusFor(e);
    if (status === 500) init.logger.warn({ err: String(e) }, 'http error');
    res.status(status).json({
      error: isSluiceError(e) && status !== 500 ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: 'internal error' },
    });
  });
  return app;
}
