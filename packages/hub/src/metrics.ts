/**
 * The hub's Prometheus metrics (prom-client). Gauges of channels and collateral are computed at
 * scrape time from the node; counters and the latency histogram are fed by node events and the
 * logging tap.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HubMetricsSource {
  ledgers(): { status: string; asset: string }[];
  virtualChannels(): { status: string; asset: string; role: string; amount: bigint }[];
  objectivesInFlight(): { type: string }[];
  /** Hub deposits in ledgers not open yet, by asset (absent: the gauge is not exported). */
  openingCollateral?(): ReadonlyMap<string, bigint>;
}

export interface HubMetrics {
  readonly registry: Registry;
  observeObjective(type: string, seconds: number): void;
  objectiveOutcome(type: string, outcome: 'completed' | 'failed'): void;
  /** A message relayed: forwarded at once (`cut_through`) or stored and forwarded (`stored`). */
  relayed(mode: 'cut_through' | 'stored'): void;
  error(code: string): void;
  /** A history retention pass deleted these records. */
  historyPruned(channels: number, objectives: number, forgottenIds?: number): void;
}

/** Bigint amounts as a float for Prometheus (exact up to 2^53; larger values lose precision only in the metric). */
function toNumber(x: bigint): number {
  return Number(x);
}

/**
 * Create the registry and metrics.
 * @param source - read at scrape time
 * @param options.defaultMetrics - also export Node's process metrics (default true)
 */
export function createHubMetrics(source: HubMetricsSource, options: { defaultMetrics?: boolean } = {}): HubMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sluice_hub_' });
  new Gauge({
    name: 'sluice_hub_ledger_channels_open',
    help: 'Ledger channels with peers, by status (funding, open, closing)',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>([['open', 0]]);
      for (const l of source.ledgers()) if (l.status !== 'closed' && l.status !== 'failed') counts.set(l.status, (counts.get(l.status) ?? 0) + 1);
      for (const [status, n] of counts) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'sluice_hub_virtual_channels_open',
    help: 'Virtual channels the hub is the intermediary of, by status (funding, funded, closing)',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>([['funded', 0]]);
      for (const v of source.virtualChannels()) {
        if (v.role === 'intermediary' && v.status !== 'closed' && v.status !== 'failed') counts.set(v.status, (counts.get(v.status) ?? 0) + 1);
      }
      for (const [status, n] of counts) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'sluice_hub_objectives_in_flight',
    help: 'Active objectives, by type',
    labelNames: ['type'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const o of source.objectivesInFlight()) counts.set(o.type, (counts.get(o.type) ?? 0) + 1);
      for (const [type, n] of counts) this.set({ type }, n);
    },
  });
  new Gauge({
    name: 'sluice_hub_collateral_locked',
    help: 'Hub collateral locked toward payees in open virtual channels, by asset (base units)',
    labelNames: ['asset'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const sums = new Map<string, bigint>();
      for (const v of source.virtualChannels()) {
        if (v.role === 'intermediary' && v.status !== 'closed' && v.status !== 'failed') sums.set(v.asset, (sums.get(v.asset) ?? 0n) + v.amount);
      }
      for (const [asset, n] of sums) this.set({ asset }, toNumber(n));
    },
  });
  if (source.openingCollateral !== undefined) {
    const read = source.openingCollateral.bind(source);
    new Gauge({
      name: 'sluice_hub_collateral_in_openings',
      help: 'Hub deposits in ledger channels not open yet (openings, and openings exited on chain after their peer vanished), by asset (base units); capped by --max-opening-collateral',
      labelNames: ['asset'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [asset, n] of read()) this.set({ asset }, toNumber(n));
      },
    });
  }
  const latency = new Histogram({
    name: 'sluice_hub_objective_duration_seconds',
    help: 'Time from an objective\'s creation (at the hub) to its completion, by type',
    labelNames: ['type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const outcomes = new Counter({
    name: 'sluice_hub_objectives_total',
    help: 'Objectives finished, by type and outcome (completed, failed)',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });
  const relayed = new Counter({ name: 'sluice_hub_messages_relayed_total', help: 'Messages relayed between peers, by how (cut_through: forwarded at once, nothing stored; stored: stored and forwarded)', labelNames: ['mode'] as const, registers: [registry] });
  const errors = new Counter({
    name: 'sluice_hub_errors_total',
    help: 'Errors by code (rejected peer messages, failed objectives, stalls, chain and messaging errors)',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const pruned = new Counter({
    name: 'sluice_hub_history_pruned_total',
    help: 'Records of virtual channels closed longer ago than the retention deleted, by record (channels, objectives), and retired channel ids forgotten once their nonces were past the window (forgotten_ids)',
    labelNames: ['record'] as const,
    registers: [registry],
  });
  return {
    registry,
    observeObjective: (type, seconds) => latency.observe({ type }, seconds),
    objectiveOutcome: (type, outcome) => outcomes.inc({ type, outcome }),
    relayed: (mode) => relayed.inc({ mode }),
    error: (code) => errors.inc({ code }),
    historyPruned: (channels, objectives, forgottenIds = 0) => {
      pruned.inc({ record: 'channels' }, channels);
      pruned.inc({ record: 'objectives' }, objectives);
      pruned.inc({ record: 'forgotten_ids' }, forgottenIds);
    },
  };
}
