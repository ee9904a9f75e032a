// The pod's allocated devices per resource name: kubelet pod-resources `Get` (one pod, cheap) when the
// kubelet has it, `List` otherwise, with bounded back-off on RESOURCE_EXHAUSTED (the kubelet rate-limits
// at 100 QPS); the checkpoint file when the socket is absent.
import { existsSync, readFileSync } from 'node:fs';
import type { GetPodResourcesResponse, ListPodResourcesResponse, PodResources } from '../config/grpc/kubelet-api.js';
import type { AllocatedDevice, ClaimAllocation } from './dra-devices.js';
import { CniCode, CniError } from './errors.js';
import type { Logger } from './log.js';

export type PodDevices = Map<string, string[]>;

const GRPC_UNIMPLEMENTED = 12;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNKNOWN = 2;
const BACKOFF_MS = [50, 100, 200, 400, 800];
const CALL_TIMEOUT_MS = 10_000;

/** The DRA claims the kubelet reports for the pod (kubelet 1.34+), union over containers, by "ns/name". */
function collectDynamicResources(resources: PodResources | undefined): ClaimAllocation[] {
  const claims = new Map<string, Map<string, AllocatedDevice>>();
  for (const container of resources?.containers ?? []) {
    for (const claim of container.dynamicResources ?? []) {
      const key = `${claim.claimNamespace}/${claim.claimName}`;
      const devices = claims.get(key) ?? new Map<string, AllocatedDevice>();
      for (const device of claim.claimResources ?? []) {
        if (device.driverName && device.poolName && device.deviceName) devices.set(JSON.stringify([device.driverName, device.poolName, device.deviceName]), { driver: device.driverName, pool: device.poolName, device: device.deviceName });
      }
      claims.set(key, devices);
    }
  }
  return [...claims].map(([claim, devices]) => ({ claim, devices: [...devices.values()] }));
}

function collect(resources: PodResources | undefined): PodDevices {
  const devices: PodDevices = new Map();
  for (const container of resources?.containers ?? []) {
    for (const entry of container.devices ?? []) {
      const list = devices.get(entry.resourceName) ?? [];
      list.push(...(entry.deviceIds ?? []));
      devices.set(entry.resourceName, list);
    }
  }
  for (const [resource, ids] of devices) devices.set(resource, [...new Set(ids)].sort());
  return devices;
}

interface GrpcError { code?: number; details?: string; message?: string }

type Unary<Req, Res> = (request: Req, options: { deadline: number }, callback: (error: GrpcError | null, response?: Res) => void) => void;

/** `onDraClaims` receives the pod's DRA claims as the kubelet reports them, so their ResourceClaims need no API read. */
export async function podDevicesFromPodResources(socketPath: string, namespace: string, name: string, log: Logger, onDraClaims?: (claims: ClaimAllocation[]) => void): Promise<PodDevices> {
  if (!namespace || !name) throw new CniError(CniCode.invalidEnvironment, 'pod-resources lookup needs the pod name and namespace (K8S_POD_NAME, K8S_POD_NAMESPACE in CNI_ARGS)');
  const grpc = await import('@grpc/grpc-js');
  const { PodResourcesListerService } = await import('../config/grpc/kubelet-api.js');
  const Client = grpc.makeGenericClientConstructor(PodResourcesListerService, 'PodResourcesLister');
  const client = new Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  const methods = client as unknown as { Get: Unary<object, GetPodResourcesResponse>; List: Unary<object, ListPodResourcesResponse> };
  const call = async <Res>(method: 'Get' | 'List', request: object): Promise<Res> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<Res>((resolve, reject) => {
          (methods[method] as unknown as Unary<object, Res>).call(client, request, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) => {
            if (error) reject(error);
            else resolve(response as Res);
          });
        });
      } catch (error) {
        const code = (error as GrpcError).code;
        const delay = BACKOFF_MS[attempt];
        if (code !== GRPC_RESOURCE_EXHAUSTED || delay === undefined) throw error;
        log.verbose(`pod-resources ${method}: rate-limited by the kubelet, retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay + Math.floor(Math.random() * delay)));
      }
    }
  };
  try {
    try {
      const response = await call<GetPodResourcesResponse>('Get', { podName: name, podNamespace: namespace });
      onDraClaims?.(collectDynamicResources(response.podResources));
      return collect(response.podResources);
    } catch (error) {
      const grpcError = error as GrpcError;
      const text = `${grpcError.details ?? ''} ${grpcError.message ?? ''}`;
      // Kubelets before 1.34 (feature gate off) answer "PodResources API Get method disabled"; older ones UNIMPLEMENTED.
      const getUnavailable = grpcError.code === GRPC_UNIMPLEMENTED || (grpcError.code === GRPC_UNKNOWN && /disabled/i.test(text));
      const podUnknown = /not found|does not exist/i.test(text);
      if (podUnknown) return new Map();
      if (!getUnavailable) throw error;
      log.debug('pod-resources Get unavailable, falling back to List');
    }
    const response = await call<ListPodResourcesResponse>('List', {});
    const pod = response.podResources.find((candidate) => candidate.name === name && candidate.namespace === namespace);
    onDraClaims?.(collectDynamicResources(pod));
    return collect(pod);
  } catch (error) {
    if (error instanceof CniError) throw error;
    const grpcError = error as GrpcError;
    throw new CniError(CniCode.tryAgainLater, `kubelet pod-resources API at ${socketPath}: ${grpcError.details || grpcError.message || String(error)}`);
  } finally {
    client.close();
  }
}

/** Reads the kubelet device-manager checkpoint (both the >= 1.20 NUMA-map and the older array form). */
export function podDevicesFromCheckpoint(path: string, podUid: string): PodDevices {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CniError(CniCode.ioFailure, `kubelet checkpoint ${path}: ${(error as Error).message}`);
  }
  const entries = (parsed as { Data?: { PodDeviceEntries?: unknown } })?.Data?.PodDeviceEntries;
  if (entries !== undefined && entries !== null && !Array.isArray(entries)) throw new CniError(CniCode.decodeFailure, `kubelet checkpoint ${path}: Data.PodDeviceEntries is not an array`);
  const devices: PodDevices = new Map();
  for (const entry of (entries ?? []) as Array<Record<string, unknown>>) {
    if (entry['PodUID'] !== podUid || typeof entry['ResourceName'] !== 'string') continue;
    const raw = entry['DeviceIDs'];
    const ids = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? Object.values(raw as Record<string, unknown>).flat() : [];
    const list = devices.get(entry['ResourceName']) ?? [];
    list.push(...ids.filter((id): id is string => typeof id === 'string'));
    devices.set(entry['ResourceName'], list);
  }
  for (const [resource, ids] of devices) devices.set(resource, [...new Set(ids)].sort());
  return devices;
}

export async function podDevicesFromKubelet(options: {
  socketPath: string;
  checkpointFile: string;
  namespace: string;
  name: string;
  uid: string;
  log: Logger;
  onDraClaims?: (claims: ClaimAllocation[]) => void;
}): Promise<PodDevices> {
  if (existsSync(options.socketPath)) return podDevicesFromPodResources(options.socketPath, options.namespace, options.name, options.log, options.onDraClaims);
  if (existsSync(options.checkpointFile)) {
    if (!options.uid) throw new CniError(CniCode.invalidEnvironment, `pod-resources socket ${options.socketPath} is absent and the checkpoint fallback needs the pod UID (K8S_POD_UID in CNI_ARGS)`);
    return podDevicesFromCheckpoint(options.checkpointFile, options.uid);
  }
  throw new CniError(CniCode.tryAgainLater, `cannot learn the pod's devices: neither the kubelet pod-resources socket ${options.socketPath} nor the checkpoint ${options.checkpointFile} exists`);
}
