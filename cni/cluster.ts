// What the meta-CNI needs from "the cluster": the pod, NADs, and somewhere to report status. Kubernetes
// mode implements it with @kubernetes/client-node (k8s-api.ts); standalone mode with files (standalone.ts).
import type { DraApi } from './dra-devices.js';

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  annotations: Record<string, string>;
  /** `spec.nodeName`, to narrow the DRA ResourceSlice list to this node. */
  nodeName?: string | undefined;
  /** Names of the pod's DRA ResourceClaims (empty or absent: the pod uses no DRA). */
  resourceClaims?: string[] | undefined;
}

export interface NadInfo {
  namespace: string;
  name: string;
  /** `spec.config`; empty or absent means "look for an on-disk config with this name". */
  config?: string | undefined;
  resourceName?: string | undefined;
}

export interface NetworkStatusEntry {
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  mtu?: number;
  default?: boolean;
  dns?: Record<string, unknown>;
  gateway?: string[];
  'device-info'?: unknown;
}

export interface ClusterApi {
  readonly kind: 'kubernetes' | 'standalone';
  /** null when the pod does not exist (after the bounded NotFound retry when `retryNotFound`). */
  getPod(namespace: string, name: string, options: { retryNotFound: boolean }): Promise<PodInfo | null>;
  /** null when the NAD does not exist; throws on other errors (RBAC, missing CRD, API down). */
  getNad(namespace: string, name: string): Promise<NadInfo | null>;
  setNetworkStatus(pod: PodInfo, status: NetworkStatusEntry[]): Promise<void>;
  recordEvent(pod: PodInfo, reason: string, message: string, type?: 'Normal' | 'Warning'): Promise<void>;
  /** resource.k8s.io access for the DRA device lookup (Kubernetes mode only). */
  readonly dra?: DraApi | undefined;
}
