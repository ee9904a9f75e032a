// The host-device plugin in-process (containernetworking/plugins v1.9.1 behaviour): moves a host netdev
// into the pod under CNI_IFNAME (one RTM_SETLINK carrying IFLA_NET_NS_FD and IFLA_IFNAME, so no temp
// name or temp namespace is needed), remembers its host name, MAC, MTU and up state in an atomic state
// file (and, like the reference, in the link alias), runs IPAM by exec and configures its result.
// Unlike the reference: every step is undone if a later one fails, IPAM DEL always runs on DEL, and DEL
// succeeds when the netns is gone, CNI_NETNS is empty, the state is gone, or it runs twice.
import { parseHostDeviceConf, type HostDeviceConf } from '../../config/delegates/host-device.js';
import {
  HostBatch, auxDeviceExists, auxNetdevs, isUserspaceDriver, kernelPathNetdevs, pciDeviceExists, pciDriver, pciNetdevs,
  type LinkInfo,
} from '../../native/index.js';
import { CniCode } from '../errors.js';
import type { CniResult } from '../version.js';
import {
  AttachmentState, applyIpConfig, checkContainerInterface, checkedIfname, confError, formatFor, hostError, ipamAdd, ipamRollback, ipamRun,
  hostTarget, ipamType, netnsState, parseConf, pointIpsAt, requireNetns, requirePrevResult,
  defineDelegate, withConfDns, type BuiltinDelegate, type DelegateRequest,
} from './common.js';

/** Where the device came from, so DEL can put it back as it was. */
export interface HostDeviceState {
  hostName: string;
  mac: string | null;
  mtu: number;
  up: boolean;
  alias: string | null;
  dpdk: boolean;
}

interface Resolved {
  conf: HostDeviceConf;
  /** PCI address when the device was chosen by pciBusID or a PCI runtime deviceID. */
  pciAddress?: string;
  auxDevice?: string;
  dpdk: boolean;
}

/** loadConf: runtimeConfig.deviceID overrides the selectors; a PCI device bound to a user-space driver is DPDK mode. */
export function resolveHostDevice(request: DelegateRequest): Resolved {
  const conf = parseConf(request, parseHostDeviceConf);
  const { sysfsRoot } = request.services;
  const resolved: Resolved = { conf, dpdk: false };
  if (conf.runtimeDeviceID) {
    const id = conf.runtimeDeviceID;
    if (pciDeviceExists(sysfsRoot, id)) resolved.pciAddress = id;
    else if (auxDeviceExists(sysfsRoot, id)) resolved.auxDevice = id;
    else throw confError(request, 'runtimeConfig.deviceID', `runtime config DeviceID ${id} not found or unsupported`, 'the device plugin must hand out a PCI address or an auxiliary device name present on this node');
  } else if (conf.pciBusID) {
    if (!pciDeviceExists(request.services.sysfsRoot, conf.pciBusID)) {
      throw confError(request, 'pciBusID', `PCI device ${conf.pciBusID} does not exist`, 'use a PCI address (dddd:bb:dd.f) listed under /sys/bus/pci/devices');
    }
    resolved.pciAddress = conf.pciBusID;
  }
  if (resolved.pciAddress) {
    const driver = pciDriver(sysfsRoot, resolved.pciAddress);
    if (driver === null) throw confError(request, conf.runtimeDeviceID ? 'runtimeConfig.deviceID' : 'pciBusID', `error with host device: no driver bound to ${resolved.pciAddress}`, 'bind a network driver (kernel mode) or vfio-pci (DPDK mode)');
    resolved.dpdk = isUserspaceDriver(driver);
  }
  return resolved;
}

/** The host netdev name, by the reference's precedence: device > hwaddr > kernelpath > pciBusID > aux. */
async function findHostLink(request: DelegateRequest, resolved: Resolved): Promise<LinkInfo> {
  const { host, sysfsRoot } = request.services;
  const { conf } = resolved;
  let name: string | undefined;
  let key = 'device';
  if (conf.device && !conf.runtimeDeviceID) {
    name = conf.device;
  } else if (conf.hwaddr && !conf.runtimeDeviceID) {
    key = 'hwaddr';
    const link = (await host.listLinks(request.services.hostNetns)).find((candidate) => candidate.mac?.toLowerCase() === conf.hwaddr);
    if (!link) throw confError(request, key, `failed to find host device: no link with MAC ${conf.hwaddr}`, 'check the MAC with `ip link`', CniCode.internal);
    return link;
  } else if (conf.kernelpath && !conf.runtimeDeviceID) {
    key = 'kernelpath';
    const names = kernelPathNetdevs(sysfsRoot, conf.kernelpath);
    if (!names || names.length === 0) throw confError(request, key, `failed to find network device in path ${conf.kernelpath}`, 'point it at a device directory that has a net/ entry', CniCode.internal);
    name = names[0];
  } else if (resolved.pciAddress) {
    key = conf.runtimeDeviceID ? 'runtimeConfig.deviceID' : 'pciBusID';
    name = pciNetdevs(sysfsRoot, resolved.pciAddress)[0];
    if (!name) throw confError(request, key, `no net directory under pci device ${resolved.pciAddress}`, 'bind the device to its network driver', CniCode.internal);
  } else if (resolved.auxDevice) {
    key = 'runtimeConfig.deviceID';
    name = auxNetdevs(sysfsRoot, resolved.auxDevice)[0];
    if (!name) throw confError(request, key, `failed to find network device in path of auxiliary device ${resolved.auxDevice}`, '', CniCode.internal);
  }
  const link = name === undefined ? null : await host.getLink(name, request.services.hostNetns);
  if (!link) throw confError(request, key, `failed to find host device: link "${name ?? ''}" not found`, 'check the name with `ip link` on the node', CniCode.internal);
  return link;
}

function skeleton(request: DelegateRequest, netns: string): CniResult {
  return { cniVersion: '1.1.0', interfaces: [{ name: request.invocation.ifname, sandbox: netns }] };
}


/**
 * Steps that bring `ifname` (in the pod namespace `podNetns`, or already in the host when undefined)
 * back to the host under its original name, MAC, MTU and up state.
 */
function moveOutSteps(request: DelegateRequest, ifname: string, podNetns: string | undefined, state: Pick<HostDeviceState, 'hostName' | 'mac' | 'mtu' | 'up' | 'alias'>, current: LinkInfo): HostBatch {
  const hostNs = request.services.hostNetns;
  const batch = new HostBatch();
  if (current.up) batch.setUp(ifname, false, podNetns ?? hostNs);
  if (podNetns !== undefined) batch.move(ifname, podNetns, hostTarget(request), { newName: state.hostName });
  else if (ifname !== state.hostName) batch.rename(ifname, state.hostName, hostNs);
  batch.setAlias(state.hostName, state.alias ?? '', hostNs);
  if (state.mac && current.mac && current.mac.toLowerCase() !== state.mac.toLowerCase()) batch.setMac(state.hostName, state.mac, hostNs);
  if (state.mtu && current.mtu !== state.mtu) batch.setMtu(state.hostName, state.mtu, hostNs);
  if (state.up) batch.setUp(state.hostName, true, hostNs);
  return batch;
}

async function add(request: DelegateRequest): Promise<unknown> {
  const resolved = resolveHostDevice(request);
  const netns = await requireNetns(request);
  const ifname = checkedIfname(request);
  const store = new AttachmentState<HostDeviceState>(request);
  const ipam = ipamType(request);
  const result = skeleton(request, netns);
  const { host } = request.services;
  let moved: HostDeviceState | undefined;
  if (!resolved.dpdk) {
    const link = await findHostLink(request, resolved);
    moved = { hostName: link.name, mac: link.mac, mtu: link.mtu, up: link.up, alias: link.alias, dpdk: false };
    // Remembered before the first change, so a crash half way still lets DEL put the device back.
    await store.write(moved);
    try {
      // The alias before the move: whenever the device carries the pod ifname it also carries its host
      // name, so a DEL after a crash between two steps still recognises it.
      const [, , , , inPod] = await host.run(new HostBatch()
        .setUp(link.name, link.up, request.services.hostNetns, link.up)
        .setAlias(link.name, link.name, request.services.hostNetns, link.alias ?? '')
        .move(link.name, request.services.hostNetns, netns, { newName: ifname, undo: true })
        .setUp(ifname, true, netns, false)
        .getLink(ifname, netns));
      result.interfaces = [{ name: ifname, mac: (inPod as LinkInfo).mac ?? '', sandbox: netns }];
    } catch (error) {
      await store.remove();
      throw hostError(request, `failed to move link ${link.name} into ${netns} as ${ifname}`, error);
    }
  } else {
    await store.write({ hostName: '', mac: null, mtu: 0, up: false, alias: null, dpdk: true });
  }
  if (!ipam) return formatFor(request, withConfDns(request, result));
  let ipamResult: CniResult;
  try {
    ipamResult = await ipamAdd(request, ipam);
  } catch (error) {
    await undoMove(request, moved, netns);
    throw error;
  }
  try {
    if (!ipamResult.ips || ipamResult.ips.length === 0) throw confError(request, 'ipam', 'IPAM plugin returned missing IP config', `check the "${ipam}" configuration`, CniCode.internal);
    const full: CniResult = { ...ipamResult, interfaces: result.interfaces ?? [] };
    pointIpsAt(full);
    if (!resolved.dpdk) {
      await applyIpConfig(request, full, ifname, netns, 'failed to configure the interface');
    }
    return formatFor(request, withConfDns(request, full));
  } catch (error) {
    await ipamRollback(request, ipam);
    await undoMove(request, moved, netns);
    throw error;
  }
}

async function undoMove(request: DelegateRequest, moved: HostDeviceState | undefined, netns: string): Promise<void> {
  const store = new AttachmentState<HostDeviceState>(request);
  if (moved) {
    const ifname = request.invocation.ifname;
    const current = await request.services.host.getLink(ifname, netns);
    if (current) {
      try {
        await request.services.host.run(moveOutSteps(request, ifname, netns, moved, current));
      } catch (error) {
        request.services.log.error(`host-device rollback: cannot return ${ifname} to the host as ${moved.hostName}: ${(error as Error).message}`);
        return; // keep the state so DEL can try again
      }
    }
  }
  await store.remove();
}

/**
 * Where the pod's interface is now: in the pod namespace, or (the namespace died) back in the agent's
 * namespace under the pod ifname, the kernel's doing for physical netdevs.
 */
async function locateForDel(request: DelegateRequest, state: HostDeviceState | undefined): Promise<{ link: LinkInfo; netns: string | undefined } | undefined> {
  const { host } = request.services;
  const ifname = request.invocation.ifname;
  if ((await netnsState(request)) === 'present') {
    const link = await host.getLink(ifname, request.invocation.netns);
    if (link) return { link, netns: request.invocation.netns };
  }
  const released = await host.getLink(ifname, request.services.hostNetns);
  if (!released || !state) return undefined;
  // A hardware netdev with the saved MAC or the alias ADD set; any other kind only by that alias (which
  // only nicplex writes under a pod ifname), e.g. a device a crashed reconcile or an operator moved back.
  const byAlias = released.alias === state.hostName && released.name !== state.hostName;
  if (byAlias || (released.kind === null && (released.alias === state.hostName || (state.mac !== null && released.mac === state.mac)))) {
    return { link: released, netns: undefined };
  }
  return undefined;
}

/** ADD stopped after it set the alias and before the move: the device is home under its name, only its alias differs. */
async function restoreAliasAtHome(request: DelegateRequest, state: HostDeviceState): Promise<void> {
  const hostNs = request.services.hostNetns;
  const home = await request.services.host.getLink(state.hostName, hostNs);
  if (!home || (home.alias ?? '') === (state.alias ?? '')) return;
  await request.services.host.run(new HostBatch().setAlias(state.hostName, state.alias ?? '', hostNs)).catch((error: unknown) => {
    throw hostError(request, `failed to restore the alias of ${state.hostName}`, error, 'DEL can be retried; the state is kept');
  });
}

async function del(request: DelegateRequest): Promise<void> {
  const store = new AttachmentState<HostDeviceState>(request);
  const state = await store.read();
  const ipam = ipamType(request);
  // IPAM DEL first and always (the reference skips it for an empty CNI_NETNS and so leaks the address).
  if (ipam) await ipamRun(request, ipam, 'DEL');
  if (state?.dpdk) {
    await store.remove();
    return;
  }
  const found = await locateForDel(request, state);
  if (!found && state) await restoreAliasAtHome(request, state);
  if (found) {
    const hostName = state?.hostName || found.link.alias || undefined;
    if (!hostName) {
      request.services.log.warn(`host-device DEL: no record of the host name of ${request.invocation.ifname} and no alias on it; leaving it where it is`);
    } else if (found.netns !== undefined || found.link.name !== hostName || found.link.alias) {
      const restore = state ?? { hostName, mac: null, mtu: 0, up: false, alias: null };
      try {
        await request.services.host.run(moveOutSteps(request, found.link.name, found.netns, restore, found.link));
      } catch (error) {
        throw hostError(request, `failed to return ${found.link.name} to the host as ${hostName}`, error, 'DEL can be retried; the state is kept');
      }
    }
  }
  await store.remove();
}

async function check(request: DelegateRequest): Promise<void> {
  const resolved = resolveHostDevice(request);
  const netns = await requireNetns(request);
  const ipam = ipamType(request);
  if (ipam) await ipamRun(request, ipam, 'CHECK');
  const prev = requirePrevResult(request);
  if (resolved.dpdk) return;
  await checkContainerInterface(request, prev, netns);
}

export const hostDeviceDelegate: BuiltinDelegate = defineDelegate('host-device', { add, del, check, statusViaIpam: true });
