// The agent's meta-CNI server: HTTP/1.1 over a unix socket (0600, in a 0700 directory), one request
// per connection. Two endpoints run the same per-request code as thin mode:
//   POST /v1/cni  the nicplex shim: {"env": {CNI_*}, "config": "<base64 stdin>"} → 200, header
//                 X-Cni-Exit-Code, body = the plugin's stdout (the shim writes both back verbatim)
//   POST /cni     Multus thick's shim protocol, same request → ADD {"Result": …}, errors 400 + CNI error JSON
//   POST /delegate  Multus thick's hot-plug API: one network added to / removed from a running pod
//                 ({"env", "config", "interfaceAttributes"}), answered like /cni; queued with the container's requests
//   GET|POST /healthz  200 (what Multus's shim probes)
//   GET /v1/status  the agent's status as JSON (`nicplex status`), when the agent provides one
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, lstat, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CniCode, CniError } from './errors.js';
import type { CniRunOutcome } from './entry.js';
import { parseDelegateCall, type DelegateCall } from './hotplug-request.js';
import type { Logger } from './log.js';
import { QueueFullError, RequestQueue } from './request-queue.js';
import { CURRENT_VERSION } from './version.js';

/** The shim forwards up to 16 MiB of stdin, base64-encoded (4/3), plus the CNI_* environment. */
const MAX_BODY_BYTES = 24 << 20;
/** Headers and body must arrive within this (the shim sends both within its own 10 s write deadline). */
const RECEIVE_TIMEOUT_MS = 10_000;

export interface CniCall {
  env: Record<string, string>;
  stdin: string;
}

export interface CniServerOptions {
  socketPath: string;
  maxConcurrent: number;
  maxQueued?: number;
  log: Logger;
  /** Runs one CNI call (the agent: runCni with its long-lived services). */
  handle(call: CniCall): Promise<CniRunOutcome>;
  /** Runs one POST /delegate call (404 without it). */
  delegate?: (call: DelegateCall) => Promise<CniRunOutcome>;
  /** Answers GET /v1/status (404 without it). */
  status?: () => Promise<unknown>;
}

function cniErrorOutcome(code: number, message: string): CniRunOutcome {
  return { exitCode: 1, stdout: `${JSON.stringify(new CniError(code, message).toJSON(CURRENT_VERSION))}\n` };
}

/** Parses the shim's body; only CNI_* variables are taken from `env`. */
export function parseCniCall(body: string): CniCall {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (error) {
    throw new CniError(CniCode.decodeFailure, `request body is not JSON: ${(error as Error).message}`);
  }
  const object = raw as { env?: unknown; config?: unknown };
  if (!object || typeof object !== 'object' || !object.env || typeof object.env !== 'object' || typeof object.config !== 'string') {
    throw new CniError(CniCode.decodeFailure, 'request body must be {"env": {...}, "config": "<base64>"}');
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(object.env as Record<string, unknown>)) {
    if (key.startsWith('CNI_') && typeof value === 'string') env[key] = value;
  }
  return { env, stdin: Buffer.from(object.config, 'base64').toString('utf8') };
}

export class CniServer {
  readonly queue: RequestQueue;
  private server: Server | null = null;

  constructor(private readonly options: CniServerOptions) {
    this.queue = new RequestQueue(options.maxConcurrent, options.maxQueued);
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  async start(): Promise<void> {
    const dir = dirname(this.options.socketPath);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const existing = await lstat(this.options.socketPath).catch(() => null);
    if (existing && !existing.isSocket()) {
      throw new Error(`${this.options.socketPath} exists and is not a socket; remove it or choose another --socket-dir`);
    }
    if (existing) await unlink(this.options.socketPath);
    // Per-request deadlines are the delegates' own; a client that stops sending (headers or body) mid-request
    // is dropped after RECEIVE_TIMEOUT_MS (checked every second), so stuck connections cannot pile up.
    const server = createServer({ keepAlive: false, connectionsCheckingInterval: 1000 }, (request, response) => void this.onRequest(request, response));
    server.headersTimeout = RECEIVE_TIMEOUT_MS;
    server.requestTimeout = RECEIVE_TIMEOUT_MS;
    // Bound under a temporary name, made 0600, then renamed into place: no client ever sees the socket
    // with the umask's mode (the temporary name is about as long as the final one: the 108-byte path limit holds for both).
    const bound = join(dir, `.${process.pid}.sock`);
    await unlink(bound).catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => { server.off('error', reject); resolve(); });
    });
    try {
      await chmod(bound, 0o600);
      await rename(bound, this.options.socketPath);
    } catch (error) {
      server.close();
      throw error;
    }
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.options.socketPath).catch(() => undefined);
  }

  /** Stops accepting connections at once (requests in flight still finish). */
  stopListening(): void {
    this.server?.close();
  }

  private async sendStatus(request: IncomingMessage, response: ServerResponse, status: () => Promise<unknown>): Promise<void> {
    if (request.method !== 'GET') {
      response.writeHead(405, { 'Content-Type': 'text/plain' }).end('Method not allowed\n');
      return;
    }
    let body: string;
    let code = 200;
    try {
      body = `${JSON.stringify(await status())}\n`;
    } catch (error) {
      this.options.log.error(`status request failed: ${(error as Error).message}`);
      code = 500;
      body = `${JSON.stringify({ error: (error as Error).message })}\n`;
    }
    if (!response.destroyed) response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }).end(body);
  }

  private async onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0];
    if (path === '/healthz') {
      response.writeHead(200).end();
      return;
    }
    if (path === '/v1/status' && this.options.status) {
      await this.sendStatus(request, response, this.options.status);
      return;
    }
    const delegate = this.options.delegate;
    if (path !== '/v1/cni' && path !== '/cni' && !(path === '/delegate' && delegate)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (request.method !== 'POST') {
      response.writeHead(405, { 'Content-Type': 'text/plain' }).end('Method not allowed\n');
      return;
    }
    let outcome: CniRunOutcome;
    try {
      const body = await readBody(request);
      // One queue for both: a hot-plug waits for the container's ADD or DEL in flight, and the other way round.
      const queued = <T extends CniCall | DelegateCall>(call: T, run: (call: T) => Promise<CniRunOutcome>) =>
        this.queue.run(call.env['CNI_CONTAINERID'] || `(${call.env['CNI_COMMAND'] ?? ''})`, () => run(call));
      outcome = path === '/delegate' ? await queued(parseDelegateCall(body), delegate!) : await queued(parseCniCall(body), (call) => this.options.handle(call));
    } catch (error) {
      if (error instanceof QueueFullError) outcome = cniErrorOutcome(CniCode.tryAgainLater, `${error.message}; retry`);
      else if (error instanceof CniError) outcome = cniErrorOutcome(error.code, error.message);
      else {
        this.options.log.error(`CNI request failed outside the command code: ${(error as Error).message}`);
        outcome = cniErrorOutcome(CniCode.internal, (error as Error).message);
      }
    }
    if (response.destroyed) return;
    // Content-Length, never chunked: the shim reads the body verbatim up to EOF.
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...headers }).end(body);
    };
    if (path === '/v1/cni') send(200, outcome.stdout, { 'X-Cni-Exit-Code': String(outcome.exitCode) });
    else if (outcome.exitCode !== 0) send(400, outcome.stdout);
    else {
      const text = outcome.stdout.trim();
      send(200, text ? `{"Result":${text}}` : '');
    }
  }
}

/**
 * The body, at most MAX_BODY_BYTES. A longer one is read to its end and dropped (within the receive
 * timeout), so the client still gets its CNI error instead of a reset connection it would retry forever.
 */
function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    });
    request.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new CniError(CniCode.decodeFailure, `request body of ${size} bytes exceeds ${MAX_BODY_BYTES} bytes (the network configuration is at most 16 MiB)`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', reject);
    // A client that hangs up mid-body: settle, so nothing waits on a request that will never end.
    request.on('close', () => { if (!request.complete) reject(new CniError(CniCode.decodeFailure, 'the client closed the connection before the request body was complete')); });
  });
}
