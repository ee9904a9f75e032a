// A fake Kubernetes API server for meta-CNI tests: real Kubernetes JSON over plain HTTP on 127.0.0.1.
// Serves pods (GET, PATCH incl. the status subresource), NADs, and events (core/v1 and events.k8s.io/v1),
// answers 404 with Status objects, and has hooks to inject NotFound-then-found, 500s and UID changes.
// List + watch (the agent's informers): pods cluster-wide (`spec.nodeName` field selector honoured) and NADs
// across namespaces; a watch streams the changes made after it opened, one JSON event per line.
// DRA: resource.k8s.io/v1 ResourceClaims (namespaced GET) and ResourceSlices (cluster-scoped list; the
// `spec.nodeName` and `spec.driver` field selectors are honoured), with `draErrors` to make either fail.
// Fault injection: `fault` makes every request (watches too) slow, fail with a status (500, 429 with
// Retry-After) or have its connection reset; `pause()`/`resume()` take the server down (connections refused)
// and bring it back on the same port and socket.
// With `rbac` set (deploy/rbac.yaml's ClusterRole: agentRbacRules()), a request its rules do not allow
// is answered 403 as the API server would, and kept in `denied`.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { allowingRule, describeRequest, requestAttributes, type PolicyRule } from './rbac.js';

export interface FakePod { namespace: string; name: string; uid: string; annotations: Record<string, string> }
export interface FakeNad { namespace: string; name: string; config?: string; annotations?: Record<string, string> }
export interface FakeClaimRef { name: string; resourceClaimName: string }
export interface FakeAllocation { request: string; driver: string; pool: string; device: string }
export interface FakeSliceDevice { name: string; attributes?: Record<string, string> }
export interface FakeApiError { code: number; reason: string; message: string }
export type ApiFault = { kind: 'none' } | { kind: 'slow'; ms: number } | { kind: 'status'; code: number } | { kind: 'reset' };
/** `url` is the path with its query (field selectors, watch). */
export interface RecordedRequest { method: string; path: string; url: string; contentType?: string; body?: unknown }
export interface DeniedRequest { method: string; url: string; reason: string }

type Json = Record<string, unknown>;

function status(code: number, reason: string, message: string, details?: Json): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const base: Json = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [key, value] of Object.entries(patch as Json)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

export class FakeApiServer {
  private server: Server | null = null;
  private unixServer: Server | null = null;
  private readonly pods = new Map<string, Json>();
  private readonly nads = new Map<string, Json>();
  private readonly resourceClaims = new Map<string, Json>();
  private readonly resourceSlices: Json[] = [];
  /** While set, every request to that resource answers this Status (e.g. 403 for missing RBAC). */
  readonly draErrors = new Map<'resourceclaims' | 'resourceslices', FakeApiError>();
  readonly requests: RecordedRequest[] = [];
  /** The service account's rules; undefined = allow everything. */
  rbac: PolicyRule[] | undefined;
  readonly denied: DeniedRequest[] = [];
  readonly events: Json[] = [];
  /** GETs of these pods answer 404 this many more times before the pod shows up (informer lag). */
  readonly podNotFoundBudget = new Map<string, number>();
  /** The next N requests whose path contains the key answer 500. */
  readonly failures = new Map<string, number>();
  /** Serve NADs at all (false: the CRD is not installed, every NAD path is a plain 404). */
  nadCrdInstalled = true;
  /** Applied to every request while set. */
  fault: ApiFault = { kind: 'none' };
  port = 0;
  private unixPath: string | undefined;
  private revision = 1;
  private readonly watchers = new Set<{ kind: 'pods' | 'nads'; nodeName?: string | undefined; response: ServerResponse }>();

  private notify(kind: 'pods' | 'nads', type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Json): void {
    for (const watcher of this.watchers) {
      if (watcher.kind !== kind) continue;
      if (watcher.nodeName !== undefined && (object['spec'] as Json | undefined)?.['nodeName'] !== watcher.nodeName) continue;
      watcher.response.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private bump(object: Json): Json {
    (object['metadata'] as Json)['resourceVersion'] = String(++this.revision);
    return object;
  }

  /** Pods and NADs GET requests for single objects so far (informer-served lookups make none). */
  objectGets(): RecordedRequest[] {
    return this.requests.filter((request) => request.method === 'GET' && /\/(pods|network-attachment-definitions)\/[^/]+$/.test(request.path));
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Also serve on a unix socket: it crosses network namespaces, so a proxy inside a test netns can reach us. */
  async listenUnix(path: string): Promise<void> {
    this.unixPath = path;
    this.unixServer = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.unixServer!.listen(path, resolve));
  }

  async stop(): Promise<void> {
    for (const watcher of this.watchers) watcher.response.end();
    this.watchers.clear();
    if (this.unixServer) {
      this.unixServer.closeAllConnections();
      await new Promise<void>((resolve) => this.unixServer!.close(() => resolve()));
      this.unixServer = null;
    }
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** The API server goes down: open connections (watches too) are cut, new ones refused. */
  async pause(): Promise<void> {
    for (const watcher of this.watchers) watcher.response.destroy();
    this.watchers.clear();
    for (const server of [this.server, this.unixServer]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Back on the same port (and unix socket). */
  async resume(): Promise<void> {
    if (this.server) await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    if (this.unixServer && this.unixPath) await new Promise<void>((resolve) => this.unixServer!.listen(this.unixPath, resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig for this server (plain HTTP needs insecure-skip-tls-verify for client-node). */
  writeKubeconfig(path: string, serverUrl = this.url): void {
    writeFileSync(path, [
      'apiVersion: v1', 'kind: Config', 'current-context: fake',
      'clusters:', '- name: fake', '  cluster:', `    server: ${serverUrl}`, '    insecure-skip-tls-verify: true',
      'contexts:', '- name: fake', '  context:', '    cluster: fake', '    user: fake',
      'users:', '- name: fake', '  user:', '    token: fake-token', '',
    ].join('\n'));
  }

  addPod(pod: Partial<FakePod> & { namespace: string; name: string; nodeName?: string; resourceClaims?: FakeClaimRef[] }): FakePod {
    const uid = pod.uid ?? randomUUID();
    const claims = pod.resourceClaims ?? [];
    this.pods.set(`${pod.namespace}/${pod.name}`, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: pod.name, namespace: pod.namespace, uid, annotations: pod.annotations ?? {}, resourceVersion: '1' },
      spec: {
        containers: [{ name: 'app', image: 'busybox', ...(claims.length ? { resources: { claims: claims.map((claim) => ({ name: claim.name })) } } : {}) }],
        ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
        ...(claims.length ? { resourceClaims: claims.map((claim) => ({ name: claim.name, resourceClaimTemplateName: `${claim.name}-template` })) } : {}),
      },
      status: { phase: 'Pending', ...(claims.length ? { resourceClaimStatuses: claims } : {}) },
    });
    const stored = this.bump(this.pods.get(`${pod.namespace}/${pod.name}`)!);
    this.notify('pods', 'ADDED', stored);
    return { namespace: pod.namespace, name: pod.name, uid, annotations: pod.annotations ?? {} };
  }

  deletePod(namespace: string, name: string): void {
    const pod = this.pods.get(`${namespace}/${name}`);
    this.pods.delete(`${namespace}/${name}`);
    if (pod) this.notify('pods', 'DELETED', this.bump(pod));
  }

  /** Simulates delete + recreate under the same name. */
  changePodUid(namespace: string, name: string): string {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    const uid = randomUUID();
    (pod['metadata'] as Json)['uid'] = uid;
    return uid;
  }

  podAnnotations(namespace: string, name: string): Record<string, string> | undefined {
    return ((this.pods.get(`${namespace}/${name}`)?.['metadata'] as Json | undefined)?.['annotations'] as Record<string, string> | undefined) ?? undefined;
  }

  addNad(nad: FakeNad): void {
    this.nads.set(`${nad.namespace}/${nad.name}`, {
      apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
      metadata: { name: nad.name, namespace: nad.namespace, uid: randomUUID(), annotations: nad.annotations ?? {} },
      spec: nad.config === undefined ? {} : { config: nad.config },
    });
    this.notify('nads', 'ADDED', this.bump(this.nads.get(`${nad.namespace}/${nad.name}`)!));
  }

  /** `results` null: a claim the scheduler has not allocated yet. */
  addResourceClaim(claim: { namespace: string; name: string; results: FakeAllocation[] | null }): void {
    this.resourceClaims.set(`${claim.namespace}/${claim.name}`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim',
      metadata: { name: claim.name, namespace: claim.namespace, uid: randomUUID(), resourceVersion: '1' },
      spec: { devices: { requests: [...new Set((claim.results ?? []).map((result) => result.request))].map((name) => ({ name, exactly: { deviceClassName: 'example', allocationMode: 'ExactCount', count: 1 } })) } },
      status: claim.results ? { allocation: { devices: { results: claim.results } } } : {},
    });
  }

  addResourceSlice(slice: { name: string; driver: string; pool: string; nodeName: string; devices: FakeSliceDevice[] }): void {
    this.resourceSlices.push({
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice',
      metadata: { name: slice.name, uid: randomUUID(), resourceVersion: '1' },
      spec: {
        driver: slice.driver, nodeName: slice.nodeName,
        pool: { name: slice.pool, generation: 1, resourceSliceCount: 1 },
        devices: slice.devices.map((device) => ({
          name: device.name,
          attributes: Object.fromEntries(Object.entries(device.attributes ?? {}).map(([key, value]) => [key, { string: value }])),
        })),
      },
    });
  }

  private handleDra(response: ServerResponse, path: string, query: URLSearchParams): boolean {
    let match = /^\/apis\/resource\.k8s\.io\/v1\/namespaces\/([^/]+)\/resourceclaims\/([^/]+)$/.exec(path);
    const injected = (resource: 'resourceclaims' | 'resourceslices') => {
      const error = this.draErrors.get(resource);
      if (error) this.send(response, error.code, status(error.code, error.reason, error.message));
      return error !== undefined;
    };
    if (match) {
      if (injected('resourceclaims')) return true;
      const claim = this.resourceClaims.get(`${match[1]}/${match[2]}`);
      if (claim) this.send(response, 200, claim);
      else this.send(response, 404, status(404, 'NotFound', `resourceclaims.resource.k8s.io "${match[2]}" not found`, { name: match[2], group: 'resource.k8s.io', kind: 'resourceclaims' }));
      return true;
    }
    match = /^\/apis\/resource\.k8s\.io\/v1\/resourceslices$/.exec(path);
    if (!match) return false;
    if (injected('resourceslices')) return true;
    const wanted = (query.get('fieldSelector') ?? '').split(',').filter(Boolean).map((term) => term.split('=') as [string, string]);
    const items = this.resourceSlices.filter((slice) => wanted.every(([field, value]) => {
      const spec = slice['spec'] as Json;
      if (field === 'spec.nodeName') return spec['nodeName'] === value;
      if (field === 'spec.driver') return spec['driver'] === value;
      return true;
    }));
    this.send(response, 200, { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSliceList', metadata: { resourceVersion: '1' }, items });
    return true;
  }

  private send(response: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = (request.url ?? '').split('?')[0]!;
    const method = request.method ?? 'GET';
    let body: unknown;
    if (chunks.length > 0) {
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { body = Buffer.concat(chunks).toString('utf8'); }
    }
    const contentType = request.headers['content-type'];
    const url = request.url ?? '';
    this.requests.push({ method, path, url, ...(contentType ? { contentType } : {}), ...(body !== undefined ? { body } : {}) });
    const fault = this.fault;
    if (fault.kind === 'reset') return void request.socket.destroy();
    if (fault.kind === 'status') {
      if (fault.code === 429) response.setHeader('Retry-After', '1');
      return this.send(response, fault.code, status(fault.code, fault.code === 429 ? 'TooManyRequests' : 'InternalError', `injected ${fault.code}`));
    }
    if (fault.kind === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
      if (response.destroyed) return;
    }
    if (this.rbac) {
      let reason: string | undefined;
      try {
        const attributes = requestAttributes(method, url);
        if (!allowingRule(this.rbac, attributes)) reason = `no rule allows ${describeRequest(attributes)}`;
      } catch (error) {
        reason = (error as Error).message;
      }
      if (reason !== undefined) {
        this.denied.push({ method, url, reason });
        return this.send(response, 403, status(403, 'Forbidden', `${method} ${url} is forbidden: User "system:serviceaccount:kube-system:nicplex": ${reason}`));
      }
    }
    for (const [key, remaining] of this.failures) {
      if (remaining > 0 && path.includes(key)) {
        this.failures.set(key, remaining - 1);
        return this.send(response, 500, status(500, 'InternalError', 'injected failure'));
      }
    }
    const query = new URL(request.url ?? '/', 'http://fake').searchParams;
    if (method === 'GET' && this.handleDra(response, path, query)) return;
    if (method === 'GET' && (path === '/api/v1/pods' || path === '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions')) {
      const kind = path === '/api/v1/pods' ? 'pods' : 'nads';
      const nodeName = /(?:^|,)spec\.nodeName=([^,]*)/.exec(query.get('fieldSelector') ?? '')?.[1];
      if (query.get('watch') === '1' || query.get('watch') === 'true') {
        response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        response.flushHeaders();
        const watcher = { kind, nodeName, response } as const;
        this.watchers.add(watcher);
        response.on('close', () => this.watchers.delete(watcher));
        return;
      }
      const all = [...(kind === 'pods' ? this.pods : this.nads).values()];
      const items = nodeName === undefined ? all : all.filter((item) => (item['spec'] as Json | undefined)?.['nodeName'] === nodeName);
      return this.send(response, 200, { kind: kind === 'pods' ? 'PodList' : 'NetworkAttachmentDefinitionList', metadata: { resourceVersion: String(this.revision) }, items });
    }
    let match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/status)?$/.exec(path);
    if (match) return this.handlePod(response, method, match[1]!, match[2]!, body, contentType);
    match = /^\/apis\/k8s\.cni\.cncf\.io\/v1\/namespaces\/([^/]+)\/network-attachment-definitions\/([^/]+)$/.exec(path);
    if (match && method === 'GET') {
      if (!this.nadCrdInstalled) {
        response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void response.end('404 page not found\n');
      }
      const nad = this.nads.get(`${match[1]}/${match[2]}`);
      if (!nad) return this.send(response, 404, status(404, 'NotFound', `network-attachment-definitions.k8s.cni.cncf.io "${match[2]}" not found`, { name: match[2], group: 'k8s.cni.cncf.io', kind: 'network-attachment-definitions' }));
      return this.send(response, 200, nad);
    }
    match = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path) ?? /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events$/.exec(path);
    if (match && method === 'POST') {
      const event = { ...(body as Json), apiVersion: path.startsWith('/apis/') ? 'events.k8s.io/v1' : 'v1' };
      this.events.push(event);
      return this.send(response, 201, event);
    }
    return this.send(response, 404, status(404, 'NotFound', `the server could not find the requested resource (${method} ${path})`));
  }

  private handlePod(response: ServerResponse, method: string, namespace: string, name: string, body: unknown, contentType: string | undefined): void {
    const key = `${namespace}/${name}`;
    const budget = this.podNotFoundBudget.get(key) ?? 0;
    const pod = this.pods.get(key);
    const notFound = () => this.send(response, 404, status(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' }));
    if (method === 'GET') {
      if (budget > 0) {
        this.podNotFoundBudget.set(key, budget - 1);
        return notFound();
      }
      return pod ? this.send(response, 200, pod) : notFound();
    }
    if (method === 'PATCH') {
      if (!pod) return notFound();
      if (contentType !== 'application/merge-patch+json' && contentType !== 'application/strategic-merge-patch+json') {
        return this.send(response, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`));
      }
      const patchUid = ((body as Json)?.['metadata'] as Json | undefined)?.['uid'];
      const currentUid = (pod['metadata'] as Json)['uid'];
      if (patchUid !== undefined && patchUid !== currentUid) {
        return this.send(response, 409, status(409, 'Conflict', `Operation cannot be fulfilled on pods "${name}": Precondition failed: UID in precondition: ${String(patchUid)}, UID in object meta: ${String(currentUid)}`));
      }
      const patched = mergePatch(pod, body) as Json;
      (patched['metadata'] as Json)['resourceVersion'] = String(Number((pod['metadata'] as Json)['resourceVersion']) + 1);
      this.pods.set(key, patched);
      this.notify('pods', 'MODIFIED', this.bump(patched));
      return this.send(response, 200, patched);
    }
    return this.send(response, 405, status(405, 'MethodNotAllowed', `${method} is not supported`));
  }
}
