/** Prometheus metrics of the provider service (one registry per service instance). */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface ProviderMetrics {
  readonly registry: Registry;
  readonly bytesServed: Counter;
  readonly chunksServed: Counter;
  readonly blocksServed: Counter;
  readonly vouchersAccepted: Counter;
  readonly vouchersRejected: Counter<'reason'>;
  readonly vouchersIgnored: Counter<'reason'>;
  readonly vouchersCoalesced: Counter;
  readonly earnings: Gauge;
  readonly openSessions: Gauge;
  readonly sessionsClosed: Counter<'code'>;
  readonly protocolErrors: Counter<'reason'>;
}

/** Create the metrics; `defaults` also collects Node process metrics. */
export function createProviderMetrics(options: { defaults?: boolean; backend?: string } = {}): ProviderMetrics {
  const registry = new Registry();
  if (options.defaults === true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const m: ProviderMetrics = {
    registry,
    bytesServed: new Counter({ name: 'sluice_provider_bytes_served_total', help: 'Chunk payload bytes sent', registers }),
    chunksServed: new Counter({ name: 'sluice_provider_chunks_served_total', help: 'Chunks sent (each paid before it was sent)', registers }),
    blocksServed: new Counter({ name: 'sluice_provider_blocks_served_total', help: 'Interior DAG blocks sent (free)', registers }),
    vouchersAccepted: new Counter({ name: 'sluice_provider_vouchers_accepted_total', help: 'Vouchers accepted as a new best (persisted)', registers }),
    vouchersRejected: new Counter({ name: 'sluice_provider_vouchers_rejected_total', help: 'Vouchers refused, by Sluice error code', labelNames: ['reason'] as const, registers }),
    vouchersIgnored: new Counter({ name: 'sluice_provider_vouchers_ignored_total', help: 'Vouchers that changed nothing (duplicate or lower amount)', labelNames: ['reason'] as const, registers }),
    vouchersCoalesced: new Counter({ name: 'sluice_provider_vouchers_coalesced_total', help: 'Queued vouchers superseded by a newer cumulative one before being checked', registers }),
    earnings: new Gauge({ name: 'sluice_provider_earnings', help: 'Sum of the best accepted voucher amounts over all channels (asset base units; may lose precision above 2^53)', registers }),
    openSessions: new Gauge({ name: 'sluice_provider_open_sessions', help: 'Open WebSocket sessions', registers }),
    sessionsClosed: new Counter({ name: 'sluice_provider_sessions_closed_total', help: 'Sessions closed, by close code', labelNames: ['code'] as const, registers }),
    protocolErrors: new Counter({ name: 'sluice_provider_protocol_errors_total', help: 'Sessions ended by an error, by Sluice error code', labelNames: ['reason'] as const, registers }),
  };
  if (options.backend !== undefined) {
    const g = new Gauge({ name: 'sluice_provider_crypto_backend', help: 'Active secp256k1 backend (1 = active)', labelNames: ['backend'] as const, registers });
    g.set({ backend: options.backend }, 1);
  }
  return m;
}
