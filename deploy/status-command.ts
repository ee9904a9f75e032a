// `nicplex status`: GET /v1/status on the agent's unix socket, shown as tables or as the JSON itself.
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { renderTable } from '../config/text-table.js';
import { STATUS_PATH, type AgentStatus } from './agent-status.js';
import type { StatusArgs } from './status-cli.js';

/** The agent's socket in `socketDir`: nicplex.sock, else multus.sock (an agent serving a multus-shim conf). */
export function statusSocket(socketDir: string): string {
  const own = join(socketDir, 'nicplex.sock');
  const multus = join(socketDir, 'multus.sock');
  return !existsSync(own) && existsSync(multus) ? multus : own;
}

export class AgentUnreachableError extends Error {}

/** Fetches the status; rejects with a message naming the socket when no agent answers. */
export function fetchStatus(socketPath: string, timeoutMs: number): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    const fail = (what: string, cause?: unknown) => reject(new AgentUnreachableError(
      `no nicplex agent answers on ${socketPath} (${what}): start \`nicplex agent\`, or pass the --socket-dir it was started with`, { cause }));
    const call = request({ socketPath, path: STATUS_PATH, method: 'GET', timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => {
        if (response.statusCode !== 200) {
          reject(new Error(`the agent on ${socketPath} answered ${STATUS_PATH} with HTTP ${response.statusCode}: ${body.trim()} (an agent older than this CLI?)`));
          return;
        }
        try {
          resolve(JSON.parse(body) as AgentStatus);
        } catch (error) {
          reject(new Error(`the agent on ${socketPath} answered ${STATUS_PATH} with invalid JSON: ${(error as Error).message}`, { cause: error }));
        }
      });
    });
    call.once('timeout', () => { call.destroy(); fail(`no answer within ${timeoutMs} ms`); });
    call.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message, error));
    call.end();
  });
}

const dash = (value: string | number | null | undefined) => (value === null || value === undefined || value === '' ? '-' : String(value));

function section(title: string, header: string[], rows: string[][]): string {
  return `${title}\n${rows.length === 0 ? '  (none)' : renderTable(header, rows)}`;
}

export function renderStatusTable(status: AgentStatus): string {
  const kubelet = status.kubelet.registration === 'none'
    ? 'no device plugin (the agent runs without --config)'
    : `${status.kubelet.registration} registration (${status.kubelet.path}), ${status.kubelet.registeredPools}/${status.kubelet.pools} pools registered`;
  const informers = status.informers.length === 0
    ? 'none (standalone: no Kubernetes API)'
    : status.informers.map((informer) => `${informer.name} ${informer.synced ? 'synced' : 'not synced'}, ${informer.objects} objects`).join('; ');
  const caches = status.caches.map((cache) => [cache.dir, String(cache.containers), String(cache.foreign.length), cache.corrupt.map((entry) => `${entry.containerId}: ${entry.reason}`).join('; ') || '-']);
  return [
    `agent:     ${status.ready ? 'ready' : `not ready: ${status.notReadyReason ?? 'unknown'}`}`,
    `socket:    ${status.socket}`,
    `requests:  ${status.requests.inFlight} in flight, ${status.requests.queued} queued`,
    `kubelet:   ${kubelet}`,
    `informers: ${informers}`,
    '',
    section('POOLS', ['RESOURCE', 'SOURCE', 'TOTAL', 'HEALTHY', 'ALLOCATED', 'REGISTERED', 'HELD BY'], status.pools.map((pool) => [
      pool.resourceName, pool.source, String(pool.total), dash(pool.healthy), String(pool.allocated),
      pool.registrations === undefined ? '-' : pool.registrations > 0 ? 'yes' : 'no',
      Object.entries(pool.holders ?? {}).map(([device, holder]) => `${device}=${holder.slice(0, 12)}`).join(', ') || '-',
    ])),
    '',
    section('ATTACHMENTS', ['POD', 'CONTAINER', 'NETWORK', 'INTERFACE', 'DEVICE', 'IPS'], status.attachments.map((attachment) => [
      dash(attachment.pod), attachment.containerId.slice(0, 12), attachment.network, attachment.interface, dash(attachment.device), attachment.ips.join(',') || '-',
    ])),
    '',
    section('CNI CACHES', ['DIR', 'CONTAINERS', 'MULTUS', 'CORRUPT'], caches),
  ].join('\n');
}

export async function runStatus(args: StatusArgs): Promise<number> {
  const socketPath = statusSocket(args['socket-dir']);
  let status: AgentStatus;
  try {
    status = await fetchStatus(socketPath, args['timeout-seconds'] * 1000);
  } catch (error) {
    process.stderr.write(`nicplex status: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(args.output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : `${renderStatusTable(status)}\n`);
  return 0;
}
