// Device Information Specification v1.1.0 (k8snetworkplumbingwg/device-info-spec): the JSON file a
// device plugin writes per allocated device and a meta-CNI copies for the attachment. The device
// plugin writes these files; the meta-CNI reads them through `parseDeviceInfo`.
import { mkdirSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomicSync } from './atomic-file.js';

export const DEVICE_INFO_VERSION = '1.1.0';
export const DEFAULT_DP_DEVINFO_DIR = '/var/run/k8s.cni.cncf.io/devinfo/dp';

export interface PciDeviceInfo {
  'pci-address': string;
  'vhost-net'?: string;
  'rdma-device'?: string;
  'pf-pci-address'?: string;
  'representor-device'?: string;
}
export interface VdpaDeviceInfo {
  'parent-device': string;
  driver: string;
  path: string;
  'pci-address'?: string;
  'pf-pci-address'?: string;
  'representor-device'?: string;
}
export interface VhostUserDeviceInfo { mode?: string; path?: string }
export interface MemifDeviceInfo { role?: string; path?: string; mode?: string }

export type DeviceInfoType = 'pci' | 'vdpa' | 'vhost-user' | 'memif';
export interface DeviceInfo {
  type: DeviceInfoType;
  version: string;
  pci?: PciDeviceInfo;
  vdpa?: VdpaDeviceInfo;
  'vhost-user'?: VhostUserDeviceInfo;
  memif?: MemifDeviceInfo;
}

export class DeviceInfoError extends Error {
  constructor(source: string, readonly jsonPath: string, detail: string) {
    super(`${source}: ${jsonPath}: ${detail}`);
    this.name = 'DeviceInfoError';
  }
}

export interface PciDeviceInfoInput {
  pciAddress: string;
  pfPciAddress?: string | null;
  rdmaDevices?: string[];
  vhostNet?: string | null;
  representorDevice?: string | null;
}

/** The `type: pci` record the device plugin writes (RDMA device names joined with `,` as the SR-IOV plugin does). */
export function buildPciDeviceInfo(input: PciDeviceInfoInput): DeviceInfo {
  const pci: PciDeviceInfo = { 'pci-address': input.pciAddress };
  if (input.vhostNet) pci['vhost-net'] = input.vhostNet;
  if (input.rdmaDevices && input.rdmaDevices.length > 0) pci['rdma-device'] = input.rdmaDevices.join(',');
  if (input.pfPciAddress) pci['pf-pci-address'] = input.pfPciAddress;
  if (input.representorDevice) pci['representor-device'] = input.representorDevice;
  return { type: 'pci', version: DEVICE_INFO_VERSION, pci };
}

export interface VdpaDeviceInfoInput {
  parentDevice: string;
  driver: string;
  path: string;
  pciAddress?: string | null;
  pfPciAddress?: string | null;
}

/** The `type: vdpa` record for a vDPA device on a PCI function. */
export function buildVdpaDeviceInfo(input: VdpaDeviceInfoInput): DeviceInfo {
  const vdpa: VdpaDeviceInfo = { 'parent-device': input.parentDevice, driver: input.driver, path: input.path };
  if (input.pciAddress) vdpa['pci-address'] = input.pciAddress;
  if (input.pfPciAddress) vdpa['pf-pci-address'] = input.pfPciAddress;
  return { type: 'vdpa', version: DEVICE_INFO_VERSION, vdpa };
}

const TYPES: readonly DeviceInfoType[] = ['pci', 'vdpa', 'vhost-user', 'memif'];

function optionalStrings(source: string, path: string, value: unknown, keys: string[], required: string[]): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DeviceInfoError(source, path, 'expected an object');
  const record = value as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const key of keys) {
    const field = record[key];
    if (field === undefined) {
      if (required.includes(key)) throw new DeviceInfoError(source, `${path}.${key}`, 'is required');
      continue;
    }
    if (typeof field !== 'string') throw new DeviceInfoError(source, `${path}.${key}`, `expected a string, got ${JSON.stringify(field)}`);
    out[key] = field;
  }
  return out;
}

/** Parses and checks a device-info file. Unknown keys are ignored (newer spec versions may add some). */
export function parseDeviceInfo(text: string, source: string): DeviceInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new DeviceInfoError(source, '$', `not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DeviceInfoError(source, '$', 'expected a JSON object');
  const record = raw as Record<string, unknown>;
  if (typeof record.type !== 'string' || !TYPES.includes(record.type as DeviceInfoType)) {
    throw new DeviceInfoError(source, '$.type', `expected one of ${TYPES.join(', ')}, got ${JSON.stringify(record.type)}`);
  }
  if (typeof record.version !== 'string' || record.version === '') throw new DeviceInfoError(source, '$.version', 'is required (e.g. "1.1.0")');
  const info: DeviceInfo = { type: record.type as DeviceInfoType, version: record.version };
  if (record.pci !== undefined || info.type === 'pci') {
    info.pci = optionalStrings(source, '$.pci', record.pci, ['pci-address', 'vhost-net', 'rdma-device', 'pf-pci-address', 'representor-device'], ['pci-address']) as unknown as PciDeviceInfo;
  }
  if (record.vdpa !== undefined || info.type === 'vdpa') {
    info.vdpa = optionalStrings(source, '$.vdpa', record.vdpa, ['parent-device', 'driver', 'path', 'pci-address', 'pf-pci-address', 'representor-device'], ['parent-device', 'driver', 'path']) as unknown as VdpaDeviceInfo;
  }
  if (record['vhost-user'] !== undefined) info['vhost-user'] = optionalStrings(source, '$.vhost-user', record['vhost-user'], ['mode', 'path'], []);
  if (record.memif !== undefined) info.memif = optionalStrings(source, '$.memif', record.memif, ['role', 'path', 'mode'], []);
  return info;
}

const SAFE_RESOURCE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const SAFE_DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/** File name of the DP file: `<resourceName>-<deviceID>-device.json`, every `/` replaced by `-`. */
export function dpDeviceInfoFileName(resourceName: string, deviceId: string): string {
  if (!SAFE_RESOURCE.test(resourceName) || resourceName.includes('..')) {
    throw new DeviceInfoError('device-info file name', 'resourceName', `${JSON.stringify(resourceName)} is not a "<prefix>/<name>" resource name`);
  }
  if (!SAFE_DEVICE_ID.test(deviceId) || deviceId.includes('..')) {
    throw new DeviceInfoError('device-info file name', 'deviceID', `${JSON.stringify(deviceId)} is not a device ID (e.g. a PCI address 0000:03:02.0)`);
  }
  return `${resourceName.replaceAll('/', '-')}-${deviceId.replaceAll('/', '-')}-device.json`;
}

export function dpDeviceInfoPath(dir: string, resourceName: string, deviceId: string): string {
  return join(dir, dpDeviceInfoFileName(resourceName, deviceId));
}

/**
 * Writes atomically (readers never see half a file), creating the directory; read-only mode as the
 * NAD client does. Synchronous on purpose: the file is tiny and lives on tmpfs (/var/run), where six
 * thread-pool round trips of the async API cost more than the work, and Allocate waits for it anyway.
 */
export function writeDeviceInfoFile(path: string, info: DeviceInfo): void {
  const dir = dirname(path);
  if (!knownDirs.has(dir)) {
    mkdirSync(dir, { recursive: true });
    knownDirs.add(dir);
  }
  try {
    writeFileAtomicSync(path, `${JSON.stringify(info)}\n`, { mode: 0o444 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    knownDirs.delete(dir); // the directory was removed under us: create it again once
    mkdirSync(dir, { recursive: true });
    writeFileAtomicSync(path, `${JSON.stringify(info)}\n`, { mode: 0o444 });
  }
}

const knownDirs = new Set<string>();

export async function readDeviceInfoFile(path: string): Promise<DeviceInfo> {
  return parseDeviceInfo(await readFile(path, 'utf8'), path);
}

/** Removes a device-info file; a file that is already gone is fine. */
export async function removeDeviceInfoFile(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
