/**
 * `@sluice/hub`: the Sluice hub service — a node in hub mode with a collateral policy, health,
 * status and Prometheus metrics over HTTP, and structured logs. The `sluice-hub` CLI wraps it.
 */
export { createHub, type Hub, type HubInit, type HubComponents, type HubCollateralPolicy, type HealthReport, type HubStatus, type HubLedgerStatus, type HubVirtualStatus } from './hub.ts';
export { createHubMetrics, type HubMetrics, type HubMetricsSource } from './metrics.ts';
export { createLogger, tapLogger, REDACT_PATHS } from './logger.ts';
export { OPTIONS, CONFIG_FILE_OPTION, resolveConfig, readConfigFile, type HubConfig, type ConfigSource } from './config.ts';
export { parseDeployment, readDeployment, writeDeployment, type Deployment } from './deployment.ts';
export { fetchStatus, renderStatus } from './status.ts';
