// ClusterApi over the Kubernetes API, through the small REST client (kube-client.ts): thin mode loads it
// per call in a few tens of milliseconds, where @kubernetes/client-node costs ≈ 0.75 s.
import { CniCode, CniError } from './errors.js';
import type { ClusterApi, NadInfo, NetworkStatusEntry, PodInfo } from './cluster.js';
import { NETWORK_STATUS_ANNOTATION, RESOURCE_NAME_ANNOTATION } from './annotation.js';
import { podClaimNames } from './dra-devices.js';
import { openKubeClient, type KubeClient } from './kube-client.js';
import type { Logger } from './log.js';
import { randomHex } from '../config/random-hex.js';

const RETRYABLE_STATUS = new Set([500, 503]);
const RETRYABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);
const POD_POLL_MS = 250;

function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function errnoOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(error: unknown): string {
  const status = httpStatus(error);
  const body = (error as { body?: unknown }).body;
  let message: string | undefined;
  if (typeof body === 'string') {
    try { message = (JSON.parse(body) as { message?: string }).message; } catch { message = body.slice(0, 200); }
  } else if (body && typeof body === 'object') message = (body as { message?: string }).message;
  if (status !== undefined) return `HTTP ${status}${message ? `: ${message}` : ''}`;
  const errno = errnoOf(error);
  return `${(error as Error).message ?? String(error)}${errno && !String((error as Error).message).includes(errno) ? ` (${errno})` : ''}`;
}

function isTransient(error: unknown): boolean {
  const status = httpStatus(error);
  if (status !== undefined) return RETRYABLE_STATUS.has(status);
  const errno = errnoOf(error);
  return errno !== undefined && RETRYABLE_ERRNO.has(errno);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const enc = encodeURIComponent;

/** The pod as the meta-CNI needs it, from the API object. */
export function podInfoFrom(pod: { metadata?: { uid?: string; annotations?: Record<string, string> }; spec?: { nodeName?: string } }, namespace: string, name: string): PodInfo {
  const info: PodInfo = { namespace, name, uid: pod.metadata?.uid ?? '', annotations: pod.metadata?.annotations ?? {} };
  if (pod.spec?.nodeName) info.nodeName = pod.spec.nodeName;
  const claims = podClaimNames(pod);
  if (claims.length > 0) info.resourceClaims = claims;
  return info;
}

/** The NAD as the meta-CNI needs it, from the API object. */
export function nadInfoFrom(object: { metadata?: { annotations?: Record<string, string> }; spec?: { config?: string } }, namespace: string, name: string): NadInfo {
  return { namespace, name, config: object.spec?.config, resourceName: object.metadata?.annotations?.[RESOURCE_NAME_ANNOTATION] };
}

export interface KubernetesApiOptions {
  podLookupTimeoutMs: number;
  log: Logger;
  /** An open client (the agent shares one); else one is opened from the kubeconfig. */
  client?: KubeClient;
  /** Answers from the agent's informer caches before the API server is asked; undefined = not cached. */
  cache?: {
    /** null: not on this node (per a synced cache); `wait`: an ADD may wait briefly for the watch to deliver it. */
    pod(namespace: string, name: string, wait: boolean): Promise<PodInfo | null | undefined>;
    nad(namespace: string, name: string): NadInfo | null | undefined;
  };
}

export async function createKubernetesApi(kubeconfigPath: string, options: KubernetesApiOptions): Promise<ClusterApi> {
  let client: KubeClient;
  try {
    client = options.client ?? await openKubeClient(kubeconfigPath);
  } catch (error) {
    throw new CniError(CniCode.invalidConfig, `kubeconfig ${kubeconfigPath}: cannot load it: ${(error as Error).message}`);
  }

  async function readPodOnce(namespace: string, name: string): Promise<PodInfo | null> {
    try {
      return podInfoFrom(await client.request('GET', `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`) as Parameters<typeof podInfoFrom>[0], namespace, name);
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw error;
    }
  }

  return {
    kind: 'kubernetes',
    dra: {
      async readResourceClaim(namespace, name) {
        try {
          return await client.request('GET', `/apis/resource.k8s.io/v1/namespaces/${enc(namespace)}/resourceclaims/${enc(name)}`);
        } catch (error) {
          throw new Error(describe(error));
        }
      },
      async listResourceSlices(fieldSelector) {
        try {
          const list = await client.request('GET', `/apis/resource.k8s.io/v1/resourceslices${fieldSelector ? `?fieldSelector=${enc(fieldSelector)}` : ''}`) as { items?: unknown[] };
          return list.items ?? [];
        } catch (error) {
          throw new Error(describe(error));
        }
      },
    },
    async getPod(namespace, name, { retryNotFound }) {
      // A pod the cache does not hold yet (just created) is read once from the API server, with the usual bounded retry.
      const cached = await options.cache?.pod(namespace, name, retryNotFound);
      if (cached || (cached === null && !retryNotFound)) return cached;
      // Multus polls every 250 ms for up to 2.5 s: an informer-less kubelet may call CNI before the pod is readable.
      const deadline = Date.now() + options.podLookupTimeoutMs;
      for (let attempt = 1; ; attempt++) {
        try {
          const pod = await readPodOnce(namespace, name);
          if (pod || !retryNotFound || Date.now() + POD_POLL_MS > deadline) return pod;
          options.log.verbose(`pod ${namespace}/${name} not found yet (attempt ${attempt}), retrying`);
        } catch (error) {
          if (!isTransient(error) || Date.now() + POD_POLL_MS > deadline) {
            throw new CniError(CniCode.tryAgainLater, `cannot read pod ${namespace}/${name} from the API server: ${describe(error)}`);
          }
          options.log.verbose(`reading pod ${namespace}/${name} failed (${describe(error)}), retrying`);
        }
        await sleep(POD_POLL_MS);
      }
    },
    async getNad(namespace, name): Promise<NadInfo | null> {
      const cached = options.cache?.nad(namespace, name);
      if (cached !== undefined) return cached;
      let object: { metadata?: { annotations?: Record<string, string> }; spec?: { config?: string } };
      try {
        object = await client.request('GET', `/apis/k8s.cni.cncf.io/v1/namespaces/${enc(namespace)}/network-attachment-definitions/${enc(name)}`) as typeof object;
      } catch (error) {
        if (httpStatus(error) === 404) {
          const rawBody = (error as { body?: unknown }).body;
          const body = typeof rawBody === 'string' ? rawBody : JSON.stringify(rawBody ?? '');
          // The API server answers a missing object with a Status; a missing CRD with a bare "404 page not found".
          if (!body.includes('"Status"')) {
            throw new CniError(CniCode.invalidConfig, `NetworkAttachmentDefinition ${namespace}/${name}: the API server does not serve k8s.cni.cncf.io/v1 network-attachment-definitions (is the CRD installed?)`);
          }
          return null;
        }
        throw new CniError(CniCode.tryAgainLater, `cannot read NetworkAttachmentDefinition ${namespace}/${name}: ${describe(error)}`);
      }
      return nadInfoFrom(object, namespace, name);
    },
    async setNetworkStatus(pod: PodInfo, status: NetworkStatusEntry[]) {
      const metadata: Record<string, unknown> = { annotations: { [NETWORK_STATUS_ANNOTATION]: JSON.stringify(status, null, 4) } };
      // The UID in a merge patch is a precondition: a recreated pod with the same name is never touched.
      if (pod.uid) metadata['uid'] = pod.uid;
      try {
        await client.request('PATCH', `/api/v1/namespaces/${enc(pod.namespace)}/pods/${enc(pod.name)}/status`, { metadata }, 'application/merge-patch+json');
      } catch (error) {
        if (httpStatus(error) === 404) {
          options.log.warn(`pod ${pod.namespace}/${pod.name} disappeared before its network-status could be written`);
          return;
        }
        throw new CniError(CniCode.internal, `cannot write ${NETWORK_STATUS_ANNOTATION} on pod ${pod.namespace}/${pod.name}: ${describe(error)}`);
      }
    },
    async recordEvent(pod, reason, message, type = 'Normal') {
      const now = new Date();
      try {
        await client.request('POST', `/api/v1/namespaces/${enc(pod.namespace)}/events`, {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${pod.name}.${now.getTime().toString(16)}${randomHex(3)}`, namespace: pod.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
          reason,
          message,
          type,
          source: { component: 'nicplex' },
          reportingComponent: 'nicplex',
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        });
      } catch (error) {
        options.log.warn(`cannot record event ${reason} for pod ${pod.namespace}/${pod.name}: ${describe(error)}`);
      }
    },
  };
}
