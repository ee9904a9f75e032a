// CDI mode (`--use-cdi`): instead of device nodes in every Allocate answer, each pool's device nodes
// are described once in a CDI spec file that the container runtime reads (containerd, CRI-O, podman),
// and Allocate only names the devices (`cdi_devices` and the `cdi.k8s.io/` annotation).
// As the reference plugin: files are named `sriov-dp-*` in the dynamic CDI dir (/var/run/cdi), every
// `sriov-dp-*` file there is removed at start and stop, and env vars and device-info files stay.
// Unlike it: the kind is `<prefix>/<resourceName>` (the reference uses the pool type, so two pools in
// one container produced the same annotation key and the kubelet keeps only the first), one file per
// pool is replaced atomically (no window without a spec), and devices without device nodes are left
// out (current CDI libraries reject a whole spec when one of its devices has no edits).
import { readdir, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { CDIDevice, ContainerAllocateResponse } from '../../config/grpc/kubelet-api.js';
import { writeFileAtomic } from '../../config/atomic-file.js';
import type { DiscoveredDevice, Pool } from '../model.js';
import { containerAllocateResponse, deviceResources, type AllocateContext } from './allocate-response.js';

export const CDI_SPEC_PREFIX = 'sriov-dp-';
/** The oldest CDI version with `hostPath` on device nodes (needed for no-IOMMU's /dev/vfio/noiommu-N → /dev/vfio/N). */
export const CDI_VERSION = '0.5.0';
export const CDI_ANNOTATION_PREFIX = 'cdi.k8s.io/';

// The CDI library's rules (pkg/parser): vendor and class start with a letter and end with a letter
// or digit; a class may not contain dots before CDI 0.6.0; device names may also contain ':'.
const CDI_VENDOR = /^[A-Za-z]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const CDI_CLASS = /^[A-Za-z]([A-Za-z0-9_-]*[A-Za-z0-9])?$/;
const CDI_DEVICE_NAME = /^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;
const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface CdiDeviceNode {
  path: string;
  hostPath: string;
  permissions: string;
}

export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  devices: Array<{ name: string; containerEdits: { deviceNodes: CdiDeviceNode[] } }>;
}

export interface CdiNames {
  /** `<vendor>/<class>`: the pool's resource prefix and name. */
  kind: string;
  /** `cdi.k8s.io/<vendor>_<class>`, the key the CDI producer library builds for a plugin. */
  annotationKey: string;
  /** `sriov-dp-<vendor>_<class>.json`; the vendor (a DNS name) has no `_`, so no two pools share it. */
  fileName: string;
}

/** The CDI names of a pool; throws (naming the field and the rule) when the pool's names cannot be CDI names. */
export function cdiNames(pool: Pool): CdiNames {
  const vendor = pool.resourcePrefix;
  const cdiClass = pool.name;
  if (!CDI_VENDOR.test(vendor)) {
    throw new Error(`resourcePrefix "${vendor}" is not a valid CDI vendor (it must start with a letter and end with a letter or digit)`);
  }
  if (!CDI_CLASS.test(cdiClass)) {
    throw new Error(`resourceName "${cdiClass}" is not a valid CDI class (it must start with a letter and end with a letter or digit)`);
  }
  const fileName = `${CDI_SPEC_PREFIX}${vendor}_${cdiClass}.json`;
  // Validated above already; checked again because this string becomes a path.
  if (!SAFE_FILE_NAME.test(fileName) || fileName.includes('..') || basename(fileName) !== fileName) {
    throw new Error(`pool ${pool.resourceName}: refusing CDI spec file name ${JSON.stringify(fileName)}`);
  }
  return { kind: `${vendor}/${cdiClass}`, annotationKey: `${CDI_ANNOTATION_PREFIX}${vendor}_${cdiClass}`, fileName };
}

/** The fully qualified CDI device name (`vendor/class=name`). */
export function qualifiedCdiName(names: CdiNames, deviceId: string): string {
  return `${names.kind}=${deviceId}`;
}

/**
 * The pool's spec: one CDI device per pool device that has device nodes (the same nodes and
 * container paths Allocate would hand out without CDI). Null when no device has any node.
 */
export function buildCdiSpec(names: CdiNames, devices: DiscoveredDevice[], context: AllocateContext): CdiSpec | null {
  const cdiDevices: CdiSpec['devices'] = [];
  for (const device of [...devices].sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : 1))) {
    if (!CDI_DEVICE_NAME.test(device.pciAddress)) continue; // cannot be named in CDI; discovery never yields such IDs
    const nodes = new Map<string, CdiDeviceNode>();
    for (const spec of deviceResources(device, context).specs) {
      if (!nodes.has(spec.containerPath)) nodes.set(spec.containerPath, { path: spec.containerPath, hostPath: spec.hostPath, permissions: spec.permissions });
    }
    if (nodes.size > 0) cdiDevices.push({ name: device.pciAddress, containerEdits: { deviceNodes: [...nodes.values()] } });
  }
  return cdiDevices.length > 0 ? { cdiVersion: CDI_VERSION, kind: names.kind, devices: cdiDevices } : null;
}

/**
 * A container's answer in CDI mode: env vars as without CDI, no mounts, and the devices that are in
 * the written spec named both in `cdi_devices` (kubelet 1.28+) and in the annotation (older
 * kubelets); runtimes de-duplicate the two. A device missing from the spec (its nodes appeared after
 * the last write) gets its device specs the classic way rather than nothing.
 */
export function cdiContainerResponse(devices: DiscoveredDevice[], context: AllocateContext, names: CdiNames, inSpec: ReadonlySet<string>): ContainerAllocateResponse {
  const response = containerAllocateResponse(devices, context);
  const outside = devices.filter((device) => !inSpec.has(device.pciAddress));
  const qualified = devices.filter((device) => inSpec.has(device.pciAddress)).map((device) => qualifiedCdiName(names, device.pciAddress));
  const cdiDevices: CDIDevice[] = qualified.map((name) => ({ name }));
  return {
    ...response,
    devices: outside.length > 0 ? containerAllocateResponse(outside, context).devices : [],
    mounts: [],
    annotations: qualified.length > 0 ? { ...response.annotations, [names.annotationKey]: qualified.join(',') } : response.annotations,
    cdiDevices,
  };
}

/** Writes (atomically replaces) the pool's spec file; returns its path. */
export async function writeCdiSpec(cdiDir: string, names: CdiNames, spec: CdiSpec): Promise<string> {
  const path = join(cdiDir, names.fileName);
  await writeFileAtomic(path, `${JSON.stringify(spec, null, 2)}\n`, { createDir: true });
  return path;
}

async function unlinkIfPresent(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

export async function removeCdiSpec(cdiDir: string, names: CdiNames): Promise<void> {
  await unlinkIfPresent(join(cdiDir, names.fileName));
}

/**
 * Removes every `sriov-dp-*` spec in the directory (ours or the reference plugin's from an earlier
 * run: a stale spec naming the same devices makes the runtime reject them as conflicting) and the
 * temp files of an interrupted atomic write. Returns the names removed.
 */
export async function removeStaleCdiSpecs(cdiDir: string): Promise<string[]> {
  const entries = await readdir(cdiDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const stale = entries.filter((name) => name.startsWith(CDI_SPEC_PREFIX) || (name.startsWith(`.${CDI_SPEC_PREFIX}`) && name.endsWith('.tmp')));
  await Promise.all(stale.map((name) => unlinkIfPresent(join(cdiDir, name))));
  return stale;
}
