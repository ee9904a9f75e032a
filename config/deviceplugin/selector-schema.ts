// The selector keys of sriov-network-device-plugin, which device types read them, and how each
// value is checked. Keys are matched case-insensitively because the reference plugin decodes
// with Go's encoding/json, which does (and `isRdma`/`needVhostNet` have no JSON tag at all).
import { normalizePciAddress } from './pci-address.js';
import { parseVfRangeSelector, type VfRangeSelector } from './vf-ranges.js';
import type { ProblemSink } from './problems.js';

export type DeviceType = 'netDevice' | 'accelerator' | 'auxNetDevice';
export const deviceTypes: readonly DeviceType[] = ['netDevice', 'accelerator', 'auxNetDevice'];

export interface SelectorConfig {
  vendors: string[];
  devices: string[];
  drivers: string[];
  pciAddresses: string[];
  acpiIndexes: string[];
  pfNames: VfRangeSelector[];
  rootDevices: VfRangeSelector[];
  linkTypes: string[];
  ddpProfiles: string[];
  pKeys: string[];
  isRdma: boolean;
  needVhostNet: boolean;
  vdpaType: string | null;
  auxTypes: string[];
}

type ValueKind = 'hexIds' | 'strings' | 'pciAddresses' | 'vfRanges' | 'boolean' | 'string';

interface KeySpec {
  kind: ValueKind;
  appliesTo: readonly DeviceType[];
}

const all = deviceTypes;
const pci: readonly DeviceType[] = ['netDevice', 'accelerator'];
const net: readonly DeviceType[] = ['netDevice', 'auxNetDevice'];
const netOnly: readonly DeviceType[] = ['netDevice'];

export const selectorKeys: Record<keyof SelectorConfig, KeySpec> = {
  vendors: { kind: 'hexIds', appliesTo: all },
  devices: { kind: 'hexIds', appliesTo: all },
  drivers: { kind: 'strings', appliesTo: all },
  pciAddresses: { kind: 'pciAddresses', appliesTo: pci },
  acpiIndexes: { kind: 'strings', appliesTo: net },
  pfNames: { kind: 'vfRanges', appliesTo: net },
  rootDevices: { kind: 'vfRanges', appliesTo: net },
  linkTypes: { kind: 'strings', appliesTo: net },
  ddpProfiles: { kind: 'strings', appliesTo: netOnly },
  pKeys: { kind: 'strings', appliesTo: netOnly },
  isRdma: { kind: 'boolean', appliesTo: net },
  needVhostNet: { kind: 'boolean', appliesTo: netOnly },
  vdpaType: { kind: 'string', appliesTo: netOnly },
  auxTypes: { kind: 'strings', appliesTo: ['auxNetDevice'] },
};

const selectorKeyNames = Object.keys(selectorKeys) as Array<keyof SelectorConfig>;
const selectorKeyByLowerCase = new Map(selectorKeyNames.map((name) => [name.toLowerCase(), name]));
const knownVdpaTypes = ['vhost', 'virtio'];

export function emptySelector(): SelectorConfig {
  return {
    vendors: [], devices: [], drivers: [], pciAddresses: [], acpiIndexes: [], pfNames: [], rootDevices: [],
    linkTypes: [], ddpProfiles: [], pKeys: [], isRdma: false, needVhostNet: false, vdpaType: null, auxTypes: [],
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function stringList(value: unknown, path: string, sink: ProblemSink): string[] | null {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') {
    sink.error(path, `expected a list of strings, got a single string; write [${JSON.stringify(value)}]`);
    return null;
  }
  if (!Array.isArray(value)) {
    sink.error(path, `expected a list of strings, got ${describe(value)}`);
    return null;
  }
  const result: string[] = [];
  value.forEach((item, index) => {
    if (typeof item === 'string') result.push(item);
    else sink.error(`${path}[${index}]`, `expected a string, got ${describe(item)}`);
  });
  return result.length === value.length ? result : null;
}

function checkHexIds(values: string[], path: string, sink: ProblemSink): void {
  values.forEach((value, index) => {
    if (/^[0-9a-f]{4}$/.test(value)) return;
    const hint = /^(0x)?[0-9a-fA-F]{1,4}$/.test(value) ? `; write ${JSON.stringify(value.replace(/^0x/i, '').toLowerCase().padStart(4, '0'))}` : '';
    sink.warning(`${path}[${index}]`, `"${value}" never matches: sysfs IDs are 4 lower-case hex digits without 0x${hint}`);
  });
}

function pciAddressList(values: string[], path: string, sink: ProblemSink): string[] {
  return values.map((value, index) => {
    const normalized = normalizePciAddress(value);
    if (normalized === null) {
      sink.warning(`${path}[${index}]`, `"${value}" never matches: expected a PCI address like "0000:3b:02.1"`);
      return value;
    }
    return normalized;
  });
}

function vfRangeList(values: string[], path: string, key: string, sink: ProblemSink): VfRangeSelector[] | null {
  const result: VfRangeSelector[] = [];
  let ok = true;
  values.forEach((value, index) => {
    const parsed = parseVfRangeSelector(value);
    if (!parsed.ok) {
      sink.error(`${path}[${index}]`, parsed.message);
      ok = false;
      return;
    }
    // rootDevices are PF addresses; a short address means domain 0000, as everywhere else.
    const address = key === 'rootDevices' ? normalizePciAddress(parsed.value.name) : null;
    result.push(address === null ? parsed.value : { ...parsed.value, name: address });
  });
  return ok ? result : null;
}

/** Checks one selector object; returns null when it has errors (already reported). */
export function parseSelector(value: unknown, path: string, deviceType: DeviceType, sink: ProblemSink): SelectorConfig | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    sink.error(path, `expected a selector object like {"vendors": ["8086"]}, got ${describe(value)}`);
    return null;
  }
  const selector = emptySelector();
  const errorsBefore = sink.errorCount();
  for (const [rawKey, rawValue] of Object.entries(value as Record<string, unknown>)) {
    const key = selectorKeyByLowerCase.get(rawKey.toLowerCase());
    const keyPath = `${path}.${rawKey}`;
    if (key === undefined) {
      sink.unknownKey(keyPath, rawKey, selectorKeyNames);
      continue;
    }
    const spec = selectorKeys[key];
    if (!spec.appliesTo.includes(deviceType)) {
      sink.warning(keyPath, `ignored: "${key}" applies to deviceType ${spec.appliesTo.join(' or ')}, this pool is ${deviceType}`);
      continue;
    }
    switch (spec.kind) {
      case 'boolean':
        if (typeof rawValue === 'boolean') (selector[key] as boolean) = rawValue;
        else if (rawValue !== null) sink.error(keyPath, `expected true or false, got ${describe(rawValue)}`);
        break;
      case 'string':
        if (typeof rawValue === 'string') {
          selector.vdpaType = rawValue === '' ? null : rawValue;
          if (rawValue !== '' && !knownVdpaTypes.includes(rawValue)) sink.warning(keyPath, `"${rawValue}" never matches: expected one of ${knownVdpaTypes.join(', ')}`);
        } else if (rawValue !== null) sink.error(keyPath, `expected a string (${knownVdpaTypes.join(' or ')}), got ${describe(rawValue)}`);
        break;
      default: {
        const list = stringList(rawValue, keyPath, sink);
        if (list === null) break;
        if (spec.kind === 'hexIds') {
          checkHexIds(list, keyPath, sink);
          (selector[key] as string[]) = list;
        } else if (spec.kind === 'pciAddresses') {
          selector.pciAddresses = pciAddressList(list, keyPath, sink);
        } else if (spec.kind === 'vfRanges') {
          const ranges = vfRangeList(list, keyPath, key, sink);
          if (ranges !== null) (selector[key] as VfRangeSelector[]) = ranges;
        } else {
          (selector[key] as string[]) = list;
        }
      }
    }
  }
  if (selector.linkTypes.length > 1) {
    sink.warning(`${path}.linkTypes`, 'a device has one link type; the reference plugin expects a single value here');
  }
  if (selector.isRdma && selector.vdpaType !== null) {
    sink.error(path, 'isRdma and vdpaType cannot be used in the same selector object; split them into two selector objects');
  }
  if (deviceType === 'auxNetDevice') {
    if (selector.auxTypes.length === 0) sink.error(`${path}.auxTypes`, 'an auxNetDevice selector needs auxTypes; the only supported value is "sf" (write "auxTypes": ["sf"])');
    selector.auxTypes.forEach((auxType, index) => {
      if (auxType !== 'sf') sink.error(`${path}.auxTypes[${index}]`, `"${auxType}" is not supported; the only supported auxiliary type is "sf"`);
    });
  }
  return sink.errorCount() === errorsBefore ? selector : null;
}
