// A small CRI RuntimeService client (our stand-in for crictl, which Debian does not ship): the
// pod-sandbox calls the kubelet makes, over containerd's unix socket, each with a deadline so a
// wedged runtime fails the test instead of hanging it.
import * as grpc from '@grpc/grpc-js';
import {
  NamespaceMode,
  RuntimeServiceDefinition,
  type ListPodSandboxResponse,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxStatusResponse,
  type VersionResponse,
} from './cri-api.js';

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: object) => void) => void;

const RuntimeServiceClient = grpc.makeGenericClientConstructor(RuntimeServiceDefinition, 'RuntimeService');

export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
}

/** The fields containerd 1.6 puts in the JSON of PodSandboxStatus(verbose).info["info"] that the tests read. */
export interface ContainerdSandboxInfo {
  pid: number;
  netNamespaceClosed?: boolean;
  runtimeSpec?: { linux?: { namespaces?: Array<{ type: string; path?: string }> } };
  cniResult?: unknown;
}

export class CriRuntimeClient {
  private readonly client: grpc.Client;

  constructor(socketPath: string, private readonly callTimeoutMs = 60_000) {
    this.client = new RuntimeServiceClient(`unix://${socketPath}`, grpc.credentials.createInsecure());
  }

  close(): void {
    this.client.close();
  }

  private call<T>(method: string, request: object, timeoutMs = this.callTimeoutMs): Promise<T> {
    const fn = (this.client as unknown as Record<string, UnaryMethod>)[method];
    if (!fn) throw new Error(`CRI client: no method ${method}`);
    return new Promise<T>((resolve, reject) => {
      fn.call(this.client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(new Error(`CRI ${method} failed: ${error.details || error.message} (grpc code ${error.code})`));
        else resolve(response as T);
      });
    });
  }

  version(timeoutMs?: number): Promise<VersionResponse> {
    return this.call('Version', { version: 'v1' }, timeoutMs);
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    const response = await this.call<{ podSandboxId: string }>('RunPodSandbox', { config, runtimeHandler: '' });
    return response.podSandboxId;
  }

  podSandboxStatus(podSandboxId: string, verbose = true): Promise<PodSandboxStatusResponse> {
    return this.call('PodSandboxStatus', { podSandboxId, verbose });
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call('StopPodSandbox', { podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call('RemovePodSandbox', { podSandboxId });
  }

  async listPodSandbox(): Promise<PodSandbox[]> {
    const response = await this.call<ListPodSandboxResponse>('ListPodSandbox', {});
    return response.items;
  }
}

/** A sandbox config shaped like the one the kubelet sends: own network, pid and ipc namespaces. */
export function podSandboxConfig(pod: PodIdentity, options: { annotations?: Record<string, string>; logDirectory: string }): PodSandboxConfig {
  return {
    metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: 0 },
    hostname: pod.name,
    logDirectory: options.logDirectory,
    portMappings: [],
    labels: {
      'io.kubernetes.pod.name': pod.name,
      'io.kubernetes.pod.namespace': pod.namespace,
      'io.kubernetes.pod.uid': pod.uid,
    },
    annotations: options.annotations ?? {},
    linux: {
      cgroupParent: '',
      sysctls: {},
      securityContext: {
        readonlyRootfs: false,
        privileged: false,
        namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD, targetId: '' },
      },
    },
  };
}

/** Parses containerd's verbose sandbox info; throws with the raw text when the shape is unexpected. */
export function containerdSandboxInfo(status: PodSandboxStatusResponse): ContainerdSandboxInfo {
  const raw = status.info['info'];
  if (raw === undefined) throw new Error(`PodSandboxStatus(verbose) has no "info" entry; keys: ${Object.keys(status.info).join(', ') || '(none)'}`);
  const parsed = JSON.parse(raw) as ContainerdSandboxInfo;
  if (typeof parsed.pid !== 'number') throw new Error(`PodSandboxStatus info has no numeric pid: ${raw.slice(0, 300)}`);
  return parsed;
}

/** The sandbox's network namespace bind mount, from the OCI runtime spec containerd reports. */
export function sandboxNetnsPath(info: ContainerdSandboxInfo): string | undefined {
  return info.runtimeSpec?.linux?.namespaces?.find((namespace) => namespace.type === 'network')?.path;
}
