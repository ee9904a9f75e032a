// Device IDs of the pod's DRA claims (as Multus does it): each allocated device
// (driver, pool, device) of the pod's ResourceClaims is looked up in the resource.k8s.io/v1 ResourceSlices;
// a device that publishes `k8s.cni.cncf.io/resourceName` and `k8s.cni.cncf.io/deviceID` adds
// resourceName → deviceID to the same map the device-plugin path fills. Devices without those attributes
// (a GPU in the same pod) are skipped: they are not meant for CNI. API errors fail the lookup.
import { isJsonObject } from '../config/cni-json.js';
import { CniCode, CniError } from './errors.js';
import type { Logger } from './log.js';
import type { PodDevices } from './pod-devices.js';

export const DRA_DEVICE_ID_ATTRIBUTE = 'k8s.cni.cncf.io/deviceID';
export const DRA_RESOURCE_NAME_ATTRIBUTE = 'k8s.cni.cncf.io/resourceName';

export interface AllocatedDevice { driver: string; pool: string; device: string }
export interface CniDeviceAttributes { deviceId?: string | undefined; resourceName?: string | undefined }
export interface ClaimAllocation { claim: string; devices: AllocatedDevice[] }

/** The two calls the lookup needs; k8s-api.ts implements them with client-node's ResourceV1Api. */
export interface DraApi {
  /** The ResourceClaim object (Kubernetes JSON); throws on any API error, NotFound included. */
  readResourceClaim(namespace: string, name: string): Promise<unknown>;
  /** ResourceSlice objects (Kubernetes JSON) matching the field selector. */
  listResourceSlices(fieldSelector: string | undefined): Promise<unknown[]>;
}

const asObject = (value: unknown): Record<string, unknown> => (isJsonObject(value) ? value : {});
const asString = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * The ResourceClaim names a pod uses: claims generated from templates (`status.resourceClaimStatuses`,
 * which is all Multus reads) and claims named directly in `spec.resourceClaims` (never in the status).
 */
export function podClaimNames(pod: unknown): string[] {
  const names = new Set<string>();
  const spec = asObject(asObject(pod)['spec']);
  const status = asObject(asObject(pod)['status']);
  for (const list of [spec['resourceClaims'], status['resourceClaimStatuses']]) {
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      const name = asString(asObject(entry)['resourceClaimName']);
      if (name) names.add(name);
    }
  }
  return [...names].sort();
}

/** `status.allocation.devices.results` of a claim; a claim the scheduler has not allocated is an error. */
export function claimAllocatedDevices(claim: unknown, claimLabel: string): AllocatedDevice[] {
  const results = asObject(asObject(asObject(asObject(claim)['status'])['allocation'])['devices'])['results'];
  if (!Array.isArray(results)) throw new CniError(CniCode.tryAgainLater, `ResourceClaim ${claimLabel} has no device allocation (status.allocation.devices.results is empty): the claim is not allocated yet`);
  const devices: AllocatedDevice[] = [];
  for (const [index, raw] of results.entries()) {
    const result = asObject(raw);
    const driver = asString(result['driver']);
    const pool = asString(result['pool']);
    const device = asString(result['device']);
    if (!driver || !pool || !device) throw new CniError(CniCode.decodeFailure, `ResourceClaim ${claimLabel}: status.allocation.devices.results[${index}] lacks driver, pool or device`);
    devices.push({ driver, pool, device });
  }
  return devices;
}

const deviceKey = (driver: string, pool: string, device: string): string => JSON.stringify([driver, pool, device]);

/** driver/pool/device → the CNI attributes it publishes (a pool may span several slices). */
export function indexResourceSlices(slices: readonly unknown[]): Map<string, CniDeviceAttributes> {
  const index = new Map<string, CniDeviceAttributes>();
  for (const slice of slices) {
    const spec = asObject(asObject(slice)['spec']);
    const driver = asString(spec['driver']);
    const pool = asString(asObject(spec['pool'])['name']);
    if (!driver || !pool || !Array.isArray(spec['devices'])) continue;
    for (const rawDevice of spec['devices']) {
      const device = asObject(rawDevice);
      const name = asString(device['name']);
      if (!name) continue;
      const attributes = asObject(device['attributes']);
      index.set(deviceKey(driver, pool, name), {
        deviceId: asString(asObject(attributes[DRA_DEVICE_ID_ATTRIBUTE])['string']),
        resourceName: asString(asObject(attributes[DRA_RESOURCE_NAME_ATTRIBUTE])['string']),
      });
    }
  }
  return index;
}

/** resourceName → sorted device IDs of the devices published for CNI; all others are skipped (logged at debug). */
export function resourceMapFromClaims(claims: readonly ClaimAllocation[], slices: ReadonlyMap<string, CniDeviceAttributes>, log?: Logger): PodDevices {
  const map: PodDevices = new Map();
  for (const { claim, devices } of claims) {
    for (const { driver, pool, device } of devices) {
      const attributes = slices.get(deviceKey(driver, pool, device));
      if (!attributes?.deviceId || !attributes.resourceName) {
        log?.debug(`DRA claim ${claim}: device ${driver}/${pool}/${device} ${attributes ? `publishes no ${DRA_RESOURCE_NAME_ATTRIBUTE} and ${DRA_DEVICE_ID_ATTRIBUTE}` : 'is in no ResourceSlice'}; not a CNI device, skipped`);
        continue;
      }
      const list = map.get(attributes.resourceName) ?? [];
      list.push(attributes.deviceId);
      map.set(attributes.resourceName, list);
    }
  }
  for (const [resource, ids] of map) map.set(resource, [...new Set(ids)].sort());
  return map;
}

/** Union of device maps per resource, each list de-duplicated and sorted (as the device-plugin path). */
export function mergePodDevices(...maps: ReadonlyArray<ReadonlyMap<string, readonly string[]>>): PodDevices {
  const merged: PodDevices = new Map();
  for (const map of maps) {
    for (const [resource, ids] of map) merged.set(resource, [...(merged.get(resource) ?? []), ...ids]);
  }
  for (const [resource, ids] of merged) merged.set(resource, [...new Set(ids)].sort());
  return merged;
}

export interface DraPod { namespace: string; name: string; nodeName?: string | undefined; resourceClaims?: readonly string[] | undefined }

/**
 * The DRA part of the pod's device map; no API call at all for a pod without claims. `fromKubelet`: claims the
 * kubelet's pod-resources already reported with their devices (dynamic_resources), which need no ResourceClaim read.
 */
export async function podDevicesFromDra(api: DraApi, pod: DraPod, log: Logger, fromKubelet: readonly ClaimAllocation[] = []): Promise<PodDevices> {
  const claimNames = pod.resourceClaims ?? [];
  if (claimNames.length === 0) return new Map();
  const podLabel = `${pod.namespace}/${pod.name}`;
  const known = new Map(fromKubelet.filter((claim) => claim.devices.length > 0).map((claim) => [claim.claim, claim.devices]));
  const claims: ClaimAllocation[] = [];
  for (const name of claimNames) {
    const claimLabel = `${pod.namespace}/${name}`;
    const reported = known.get(claimLabel);
    if (reported) {
      claims.push({ claim: claimLabel, devices: reported });
      continue;
    }
    let claim: unknown;
    try {
      claim = await api.readResourceClaim(pod.namespace, name);
    } catch (error) {
      throw new CniError(CniCode.tryAgainLater, `pod ${podLabel}: DRA device lookup failed: cannot read ResourceClaim ${claimLabel} (resource.k8s.io/v1): ${(error as Error).message}`);
    }
    claims.push({ claim: claimLabel, devices: claimAllocatedDevices(claim, claimLabel) });
  }
  // One List per driver, narrowed to this node (as Multus); slices are fetched only for drivers in use.
  const drivers = [...new Set(claims.flatMap((claim) => claim.devices.map((device) => device.driver)))].sort();
  const slices: unknown[] = [];
  for (const driver of drivers) {
    const selector = pod.nodeName ? `spec.nodeName=${pod.nodeName},spec.driver=${driver}` : `spec.driver=${driver}`;
    try {
      slices.push(...(await api.listResourceSlices(selector)));
    } catch (error) {
      const users = claims.filter((claim) => claim.devices.some((device) => device.driver === driver)).map((claim) => claim.claim);
      throw new CniError(CniCode.tryAgainLater, `pod ${podLabel}: DRA device lookup failed for ResourceClaim ${users.join(', ')}: cannot list ResourceSlices of driver ${driver} (resource.k8s.io/v1): ${(error as Error).message}`);
    }
  }
  const map = resourceMapFromClaims(claims, indexResourceSlices(slices), log);
  log.verbose(`pod ${podLabel}: DRA claims [${claimNames.join(', ')}] give ${map.size === 0 ? 'no CNI devices' : [...map].map(([resource, ids]) => `${resource}=${ids.join(',')}`).join(' ')}`);
  return map;
}
