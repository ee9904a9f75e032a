// sysfs lookups the in-process delegates need: the netdev of a PCI or auxiliary device, the driver a
// function is bound to, and a VF's PF and VF index. Every function takes the sysfs root (a fake tree in
// tests) and refuses identifiers that are not plain device names, so no path is built from bad input.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { invalidInput } from './errors.js';
import { listDir, readInteger, readLinkBase } from './sysfs-read.js';

const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export function isPciAddress(value: string): boolean {
  return PCI_ADDRESS.test(value);
}

function checkDeviceName(operation: string, field: string, value: string, pattern: RegExp, expected: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalidInput(operation, `${field} ${JSON.stringify(value)} is not ${expected}`);
  return value;
}

function pciDir(sysfsRoot: string, address: string): string {
  return join(sysfsRoot, 'bus', 'pci', 'devices', checkDeviceName('read PCI device', 'PCI address', address, PCI_ADDRESS, 'a PCI address (dddd:bb:dd.f)'));
}

export function pciDeviceExists(sysfsRoot: string, address: string): boolean {
  return isPciAddress(address) && existsSync(pciDir(sysfsRoot, address));
}

export function auxDeviceExists(sysfsRoot: string, name: string): boolean {
  return DEVICE_NAME.test(name) && existsSync(join(sysfsRoot, 'bus', 'auxiliary', 'devices', name));
}

/** Netdev names of a PCI function (`net/`, else `virtio*\/net/` for virtio-net); [] when it has none. */
export function pciNetdevs(sysfsRoot: string, address: string): string[] {
  const dir = pciDir(sysfsRoot, address);
  const direct = listDir(join(dir, 'net'));
  if (direct && direct.length > 0) return direct.sort();
  for (const entry of (listDir(dir) ?? []).sort()) {
    if (!/^virtio\d+$/.test(entry)) continue;
    const names = listDir(join(dir, entry, 'net'));
    if (names && names.length > 0) return names.sort();
  }
  return [];
}

/** Netdev names of an auxiliary device (e.g. an mlx5 subfunction). */
export function auxNetdevs(sysfsRoot: string, name: string): string[] {
  checkDeviceName('read auxiliary device', 'auxiliary device', name, DEVICE_NAME, 'an auxiliary device name');
  return (listDir(join(sysfsRoot, 'bus', 'auxiliary', 'devices', name, 'net')) ?? []).sort();
}

/**
 * Netdev names under a kernel device path such as /sys/devices/pci0000:00/0000:00:03.0 (read below the
 * sysfs root, so a fake tree stands in); null when the path has no `net` directory.
 */
export function kernelPathNetdevs(sysfsRoot: string, kernelPath: string): string[] | null {
  if (!kernelPath.startsWith('/sys/devices/') || kernelPath.split('/').some((part) => part === '..' || part === '.')) {
    throw invalidInput('read kernel device path', `kernelpath ${JSON.stringify(kernelPath)} must be absolute and begin with /sys/devices/`);
  }
  const names = listDir(join(sysfsRoot, kernelPath.slice('/sys'.length), 'net'));
  return names === null ? null : names.sort();
}

/** Basename of the bound driver, null when unbound. */
export function pciDriver(sysfsRoot: string, address: string): string | null {
  return readLinkBase(join(pciDir(sysfsRoot, address), 'driver'));
}

export interface VfLocation {
  /** PF's PCI address. */
  pfAddress: string;
  /** PF netdev name (first entry of the PF's net/), null when the PF has none. */
  pfName: string | null;
  /** VF index N such that the PF's virtfnN links to this VF. */
  vfIndex: number;
}

/** A VF's PF and index from sysfs; null when `address` is not a VF or the PF does not list it. */
export function locateVf(sysfsRoot: string, address: string): VfLocation | null {
  const pfAddress = readLinkBase(join(pciDir(sysfsRoot, address), 'physfn'));
  if (pfAddress === null || !isPciAddress(pfAddress)) return null;
  const pfDir = pciDir(sysfsRoot, pfAddress);
  const pfName = (listDir(join(pfDir, 'net')) ?? []).sort()[0] ?? null;
  const numVfs = readInteger(join(pfDir, 'sriov_numvfs')) ?? 0;
  const limit = Math.max(numVfs, (listDir(pfDir) ?? []).filter((entry) => /^virtfn\d+$/.test(entry)).length);
  for (let index = 0; index < limit; index++) {
    if (readLinkBase(join(pfDir, `virtfn${index}`)) === address) return { pfAddress, pfName, vfIndex: index };
  }
  return null;
}

/** Drivers that bind a function to user space (DPDK): the function then has no netdev. */
export const USERSPACE_DRIVERS = ['vfio-pci', 'uio_pci_generic', 'igb_uio'] as const;

export function isUserspaceDriver(driver: string | null): boolean {
  return driver !== null && (USERSPACE_DRIVERS as readonly string[]).includes(driver);
}
