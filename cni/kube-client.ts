// A small Kubernetes REST client over node:http(s) for the meta-CNI's few calls (get pod, get NAD, patch
// pod status, create event, DRA reads, list + watch for the agent's informers). Loading
// @kubernetes/client-node costs ≈ 0.75 s per process, which thin mode would pay on every CNI call.
// Credentials come from the kubeconfig's current context: CA, client certificate/key, token or
// tokenFile, basic auth, insecure-skip-tls-verify. A kubeconfig whose user needs `exec` or an
// `auth-provider` is handed to client-node, which then only fills in each request's credentials.
// In a pod, the "kubeconfig" may instead be the service-account directory: see inClusterKubeconfig.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { IncomingMessage, RequestOptions } from 'node:http';

/** An HTTP error answer; `code` is the status and `body` the raw body (the shape client-node errors have). */
export class KubeHttpError extends Error {
  constructor(readonly code: number, readonly body: string, method: string, path: string) {
    super(`${method} ${path}: HTTP ${code}`);
    this.name = 'KubeHttpError';
  }
}

export interface KubeClient {
  readonly server: string;
  request(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown, contentType?: string): Promise<unknown>;
  /** Streams a watch (`?watch=1`): one parsed event per line until the server ends it or `signal` aborts. */
  watch(path: string, onEvent: (event: { type: string; object: Record<string, unknown> }) => void, signal: AbortSignal): Promise<void>;
}

type Json = Record<string, unknown>;
const REQUEST_TIMEOUT_MS = 15_000;

function named(list: unknown, name: unknown, what: string, path: string): Json {
  const entry = Array.isArray(list) ? (list as Json[]).find((item) => item?.['name'] === name) : undefined;
  if (!entry) throw new Error(`kubeconfig ${path}: no ${what} named "${String(name)}"`);
  return (entry[what] as Json | undefined) ?? {};
}

/**
 * The kubeconfig of a pod's service account (what client-go's rest.InClusterConfig reads): the API
 * server from $KUBERNETES_SERVICE_HOST/PORT (set by the kubelet, reachable from the host network
 * namespace), the CA and the token from `dir` (the token file is read per request, so a rotated
 * bound token is picked up).
 */
export function inClusterKubeconfig(dir: string, env: NodeJS.ProcessEnv = process.env): Json {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] || '443';
  if (!host) throw new Error(`kubeconfig ${dir} is a service-account directory, but KUBERNETES_SERVICE_HOST is not set (not in a pod?): pass a kubeconfig file instead`);
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    'current-context': 'in-cluster',
    clusters: [{ name: 'in-cluster', cluster: { server, 'certificate-authority': join(dir, 'ca.crt') } }],
    users: [{ name: 'in-cluster', user: { tokenFile: join(dir, 'token') } }],
    contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'in-cluster' } }],
  };
}

async function parseKubeconfig(path: string): Promise<Json> {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return inClusterKubeconfig(path);
  const text = readFileSync(path, 'utf8');
  if (text.trimStart().startsWith('{')) return JSON.parse(text) as Json;
  // js-yaml: a third of the `yaml` package's load time, paid by every thin-mode call in Kubernetes mode.
  const { load } = (await import('js-yaml')).default;
  const config = load(text);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error(`kubeconfig ${path}: not a YAML mapping`);
  return config as Json;
}

interface Credentials { base: RequestOptions; token?: string | undefined; tokenFile?: string | undefined; applyExtra?: (options: RequestOptions) => Promise<void> }

async function credentialsFrom(config: Json, path: string): Promise<{ server: URL; credentials: Credentials }> {
  const contextName = config['current-context'];
  if (typeof contextName !== 'string' || contextName === '') throw new Error(`kubeconfig ${path}: no current-context`);
  const context = named(config['contexts'], contextName, 'context', path);
  const cluster = named(config['clusters'], context['cluster'], 'cluster', path);
  const user = context['user'] === undefined ? {} : named(config['users'], context['user'], 'user', path);
  if (typeof cluster['server'] !== 'string') throw new Error(`kubeconfig ${path}: cluster "${String(context['cluster'])}" has no server`);
  const server = new URL(cluster['server']);
  const relative = (file: unknown) => (typeof file === 'string' ? (isAbsolute(file) ? file : join(dirname(path), file)) : undefined);
  const dataOrFile = (data: unknown, file: unknown) =>
    (typeof data === 'string' ? Buffer.from(data, 'base64') : relative(file) ? readFileSync(relative(file)!) : undefined);
  const base: RequestOptions & { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string } = {};
  const ca = dataOrFile(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) base.ca = ca;
  const cert = dataOrFile(user['client-certificate-data'], user['client-certificate']);
  const key = dataOrFile(user['client-key-data'], user['client-key']);
  if (cert && key) { base.cert = cert; base.key = key; }
  if (cluster['insecure-skip-tls-verify'] === true) base.rejectUnauthorized = false;
  if (typeof cluster['tls-server-name'] === 'string') base.servername = cluster['tls-server-name'];
  if (typeof user['username'] === 'string' && typeof user['password'] === 'string') base.auth = `${user['username']}:${user['password']}`;
  const credentials: Credentials = { base, token: typeof user['token'] === 'string' ? user['token'] : undefined, tokenFile: relative(user['tokenFile']) };
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined) {
    // Credential plugins: client-node runs them and caches their answer.
    const k8s = await import('@kubernetes/client-node');
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(path);
    credentials.applyExtra = async (options) => { await kubeConfig.applyToHTTPSOptions(options as never); };
  }
  return { server, credentials };
}

export async function openKubeClient(kubeconfigPath: string): Promise<KubeClient> {
  const config = await parseKubeconfig(kubeconfigPath);
  const { server, credentials } = await credentialsFrom(config, kubeconfigPath);
  const transport = server.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const basePath = server.pathname.replace(/\/$/, '');

  async function options(method: string, path: string, headers: Record<string, string>): Promise<RequestOptions> {
    const result: RequestOptions = {
      ...credentials.base, method, hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'), port: server.port || undefined,
      path: `${basePath}${path}`, headers: { Accept: 'application/json', 'User-Agent': 'nicplex', ...headers },
    };
    const token = credentials.tokenFile ? readFileSync(credentials.tokenFile, 'utf8').trim() : credentials.token;
    if (token) (result.headers as Record<string, string>)['Authorization'] = `Bearer ${token}`;
    if (credentials.applyExtra) await credentials.applyExtra(result);
    return result;
  }

  function send(method: string, path: string, body: string | undefined, headers: Record<string, string>, timeoutMs: number | undefined): Promise<IncomingMessage> {
    return options(method, path, headers).then((requestOptions) => new Promise((resolve, reject) => {
      const request = transport.request(requestOptions, resolve);
      request.on('error', reject);
      if (timeoutMs !== undefined) request.setTimeout(timeoutMs, () => request.destroy(Object.assign(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      request.end(body);
    }));
  }

  const readAll = async (response: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  return {
    server: server.toString(),
    async request(method, path, body, contentType = 'application/json') {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = text === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(text)) };
      const response = await send(method, path, text, headers, REQUEST_TIMEOUT_MS);
      const answer = await readAll(response);
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) throw new KubeHttpError(status, answer, method, path);
      return answer === '' ? undefined : JSON.parse(answer);
    },
    async watch(path, onEvent, signal) {
      const response = await send('GET', path, undefined, {}, undefined);
      if ((response.statusCode ?? 0) !== 200) throw new KubeHttpError(response.statusCode ?? 0, await readAll(response), 'GET', path);
      const abort = () => response.destroy();
      signal.addEventListener('abort', abort, { once: true });
      let pending = '';
      try {
        for await (const chunk of response) {
          pending += (chunk as Buffer).toString('utf8');
          let newline: number;
          while ((newline = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, newline).trim();
            pending = pending.slice(newline + 1);
            if (line) onEvent(JSON.parse(line) as { type: string; object: Json });
          }
        }
      } catch (error) {
        if (!signal.aborted) throw error;
      } finally {
        signal.removeEventListener('abort', abort);
      }
    },
  };
}
