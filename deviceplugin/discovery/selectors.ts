// Selector matching, in the reference plugin's order: vendors → devices → drivers →
// pciAddresses → acpiIndexes → pfNames → rootDevices → linkTypes → ddpProfiles → pKeys →
// isRdma → vdpaType (→ auxTypes for auxiliary devices). Every selector is an exact-match set
// filter except pfNames/rootDevices, which also take VF ranges and regular expressions.
import type { SelectorConfig, VfRangeSelector } from '../../config/deviceplugin-config.js';
import { vfIndexInRanges } from '../../config/deviceplugin/vf-ranges.js';
import type { HostDevice } from '../model.js';

export type SelectorKey = keyof SelectorConfig;

const compiledNames = new WeakMap<VfRangeSelector, RegExp | null>();

function nameRegex(entry: VfRangeSelector): RegExp | null {
  let compiled = compiledNames.get(entry);
  if (compiled === undefined) {
    try {
      // Anchored: the reference plugin's unanchored match lets "ens1" also pick ens1f0 and ens10.
      compiled = new RegExp(`^(?:${entry.name})$`);
    } catch {
      compiled = null;
    }
    compiledNames.set(entry, compiled);
  }
  return compiled;
}

function nameMatches(entry: VfRangeSelector, value: string): boolean {
  return entry.name.toLowerCase() === value.toLowerCase() || (nameRegex(entry)?.test(value) ?? false);
}

/**
 * `pfNames`/`rootDevices`: an entry whose name matches selects every function of that PF when
 * it has no `#`, otherwise only the VFs in its ranges. A device without a PF name/address is
 * never selected.
 */
export function matchesVfRangeSelectors(entries: VfRangeSelector[], pfKey: string | null, vfIndex: number): boolean {
  if (pfKey === null || pfKey === '') return false;
  return entries.some((entry) => nameMatches(entry, pfKey) && (entry.vfRanges === null || (vfIndex >= 0 && vfIndexInRanges(vfIndex, entry.vfRanges))));
}

function pkeyValue(text: string): number {
  return Number.parseInt(text.replace(/^0x/i, ''), 16);
}

/** The root device of a function is its PF's address, or its own when it is not a VF. */
export function rootDeviceOf(device: HostDevice): string {
  return device.pfAddress ?? device.pciAddress;
}

/** Null when every selector in the object accepts the device, else the first one that rejects it. */
export function firstRejectingSelector(device: HostDevice, selector: SelectorConfig): SelectorKey | null {
  if (selector.vendors.length > 0 && !selector.vendors.includes(device.vendorId)) return 'vendors';
  if (selector.devices.length > 0 && !selector.devices.includes(device.deviceId)) return 'devices';
  if (selector.drivers.length > 0 && (device.driver === null || !selector.drivers.includes(device.driver))) return 'drivers';
  if (selector.pciAddresses.length > 0 && !selector.pciAddresses.includes(device.pciAddress)) return 'pciAddresses';
  if (selector.acpiIndexes.length > 0 && (device.acpiIndex === null || !selector.acpiIndexes.includes(device.acpiIndex))) return 'acpiIndexes';
  if (selector.pfNames.length > 0 && !matchesVfRangeSelectors(selector.pfNames, device.pfNetdev, device.vfIndex)) return 'pfNames';
  if (selector.rootDevices.length > 0 && !matchesVfRangeSelectors(selector.rootDevices, rootDeviceOf(device), device.vfIndex)) return 'rootDevices';
  if (selector.linkTypes.length > 0 && (device.linkType === null || !selector.linkTypes.includes(device.linkType))) return 'linkTypes';
  if (selector.ddpProfiles.length > 0 && (device.ddpProfile === null || !selector.ddpProfiles.includes(device.ddpProfile))) return 'ddpProfiles';
  if (selector.pKeys.length > 0) {
    const wanted = new Set(selector.pKeys.map(pkeyValue));
    if (!device.pKeys.some((key) => wanted.has(pkeyValue(key)))) return 'pKeys';
  }
  if (selector.isRdma && device.rdmaDevices.length === 0) return 'isRdma';
  if (selector.vdpaType !== null && device.vdpaType !== selector.vdpaType) return 'vdpaType';
  if (selector.auxTypes.length > 0 && (device.auxType === null || !selector.auxTypes.includes(device.auxType))) return 'auxTypes';
  return null;
}

/** Index of the first selector object (in list order) that takes the device, or null. */
export function matchingSelectorIndex(device: HostDevice, selectors: SelectorConfig[]): number | null {
  const index = selectors.findIndex((selector) => firstRejectingSelector(device, selector) === null);
  return index === -1 ? null : index;
}
