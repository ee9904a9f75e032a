// The agent's Prometheus metrics (prom-client) and its HTTP endpoint: /metrics, /healthz (alive),
// /readyz (caches synced, pools registered, the cluster network's conf in place).
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const CNI_CODE_KINDS: Record<number, string> = {
  1: 'incompatible_version', 2: 'unsupported_field', 3: 'unknown_container', 4: 'invalid_environment', 5: 'io_failure',
  6: 'decode_failure', 7: 'invalid_config', 8: 'invalid_netns', 11: 'try_again_later', 50: 'not_available', 51: 'limited_connectivity', 999: 'internal',
};

export function errorKind(code: number | undefined): string {
  return code === undefined ? 'unknown' : CNI_CODE_KINDS[code] ?? `delegate_code_${code}`;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface PoolSize { resource: string; total: number; healthy: number; allocated: number; registrations: number }

export interface MetricsSources {
  queued(): number;
  inFlight(): number;
  pools(): PoolSize[];
  informers(): Record<string, boolean>;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly requestDuration: Histogram<'command' | 'result'>;
  readonly delegateDuration: Histogram<'delegate' | 'command' | 'result'>;
  readonly errors: Counter<'kind'>;
  readonly reconcileFound: Counter<'kind'>;
  readonly reconcileReleased: Counter<'kind'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'nicplex_' });
    this.requestDuration = new Histogram({
      name: 'nicplex_cni_request_duration_seconds', help: 'CNI requests served by the agent, by command and result (success or error)',
      labelNames: ['command', 'result'], buckets: LATENCY_BUCKETS, registers,
    });
    this.delegateDuration = new Histogram({
      name: 'nicplex_cni_delegate_duration_seconds', help: 'Delegate plugin calls, by plugin type, command and result',
      labelNames: ['delegate', 'command', 'result'], buckets: LATENCY_BUCKETS, registers,
    });
    this.reconcileFound = new Counter({
      name: 'nicplex_reconcile_found_total', help: 'Leftovers startup reconcile found, by kind (staleAttachment, displacedLink, orphanDelegateState, orphanAllocation, malformedAllocation, staleTempFile)',
      labelNames: ['kind'], registers,
    });
    this.reconcileReleased = new Counter({ name: 'nicplex_reconcile_released_total', help: 'Leftovers startup reconcile released, by kind', labelNames: ['kind'], registers });
    this.errors = new Counter({ name: 'nicplex_errors_total', help: 'Failed CNI requests and delegate calls, by CNI error kind', labelNames: ['kind'], registers });
    new Gauge({ name: 'nicplex_cni_requests_queued', help: 'CNI requests waiting for their container or for a free slot', registers, collect() { this.set(sources.queued()); } });
    new Gauge({ name: 'nicplex_cni_requests_in_flight', help: 'CNI requests running now', registers, collect() { this.set(sources.inFlight()); } });
    new Gauge({
      name: 'nicplex_device_pool_devices', help: 'Devices per resource pool: total, healthy, and allocated (Allocate calls seen / standalone allocations)',
      labelNames: ['resource', 'state'], registers,
      collect() {
        this.reset();
        for (const pool of sources.pools()) {
          this.set({ resource: pool.resource, state: 'total' }, pool.total);
          this.set({ resource: pool.resource, state: 'healthy' }, pool.healthy);
          this.set({ resource: pool.resource, state: 'allocated' }, pool.allocated);
        }
      },
    });
    new Gauge({
      name: 'nicplex_kubelet_registrations', help: 'Successful registrations with the kubelet, per resource pool', labelNames: ['resource'], registers,
      collect() {
        this.reset();
        for (const pool of sources.pools()) this.set({ resource: pool.resource }, pool.registrations);
      },
    });
    new Gauge({
      name: 'nicplex_informer_synced', help: '1 when the informer cache has synced with the API server', labelNames: ['informer'], registers,
      collect() {
        this.reset();
        for (const [informer, synced] of Object.entries(sources.informers())) this.set({ informer }, synced ? 1 : 0);
      },
    });
  }
}

export interface HealthChecks {
  /** undefined when ready, else why not. */
  notReadyReason(): string | undefined;
}

/** Serves /metrics, /healthz and /readyz on HOST:PORT; resolves with the server once listening. */
export async function startMetricsServer(address: string, metrics: AgentMetrics, health: HealthChecks): Promise<Server> {
  const match = /^(.*):(\d+)$/.exec(address);
  if (!match) throw new Error(`--metrics-address "${address}": expected HOST:PORT (e.g. 127.0.0.1:9184), or "" to disable`);
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
  const port = Number(match[2]);
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
        (error: Error) => response.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${error.message}\n`),
      );
    } else if (path === '/healthz') {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const reason = health.notReadyReason();
      response.writeHead(reason === undefined ? 200 : 503, { 'Content-Type': 'text/plain' }).end(reason === undefined ? 'ready\n' : `not ready: ${reason}\n`);
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`--metrics-address ${address}: cannot listen: ${error.message}`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
  return server;
}
