// The sriov-cni plugin in-process (k8snetworkplumbingwg/sriov-cni v2.10.0 behaviour, with the fixes of
// its later releases and open issues). Kernel mode: the VF's PF-side attributes set through the PF, the
// VF netdev moved into the pod and renamed in one message, MAC, link up, IPAM and ConfigureIface. DPDK
// mode (VF bound to vfio-pci / uio_pci_generic / igb_uio): PF-side attributes only, the IPAM result is
// returned, not applied. The VF's original state is written atomically before the first change; every
// step is undone if a later one fails; DEL restores every field ADD changed and returns the VF to the
// host, also when the netns is gone (the kernel then released the VF to the host under the pod ifname),
// when CNI_NETNS is empty, and when it runs twice.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSriovConf, type SriovConf } from '../../config/delegates/sriov.js';
import {
  HostBatch, isStepFailure, isUserspaceDriver, locateVf, pciDeviceExists, pciDriver, pciNetdevs, type LinkInfo, type VfConfig, type VfInfo,
} from '../../native/index.js';
import { CniCode } from '../errors.js';
import type { CniResult } from '../version.js';
import {
  AttachmentState, applyIpConfig, checkContainerInterface, checkedIfname, cniArgs, confError, formatFor, hostError, ipamAdd, ipamRollback,
  hostTarget, ipamRun, ipamType, netnsState, parseConf, pointIpsAt, requireNetns, defineDelegate, type BuiltinDelegate, type DelegateRequest,
} from './common.js';

/** Everything DEL needs, written before the first change. */
export interface SriovState {
  deviceID: string;
  pfName: string;
  vfIndex: number;
  dpdk: boolean;
  /** The VF as the PF reported it before ADD. */
  origVf: VfInfo;
  /** The VF netdev before ADD (kernel mode). */
  origNetdev: { name: string; mac: string | null; mtu: number } | null;
  /** The PF-side fields ADD set (only these are restored). */
  applied: VfConfig;
  /** Whether ADD set the netdev MAC. */
  netdevMacSet: boolean;
}

interface Located {
  conf: SriovConf;
  pfName: string;
  vfIndex: number;
  /** VF netdev in the host namespace; null in DPDK mode. */
  netdev: string | null;
  dpdk: boolean;
}

const ZERO_MAC = '00:00:00:00:00:00';

function loadConf(request: DelegateRequest): Located {
  const args = cniArgs(request, ['MAC']);
  const conf = parseConf(request, (raw) => parseSriovConf(raw, args.get('MAC')));
  const { sysfsRoot } = request.services;
  if (!pciDeviceExists(sysfsRoot, conf.deviceID)) {
    throw confError(request, 'deviceID', `failed to get VF information: "${conf.deviceID}" is not a PCI device on this node`, 'the device plugin must hand out a VF PCI address');
  }
  const location = locateVf(sysfsRoot, conf.deviceID);
  if (!location) throw confError(request, 'deviceID', `failed to get VF information: "${conf.deviceID}" is not a VF (no physfn, or its PF does not list it)`, 'use the PCI address of an SR-IOV VF');
  if (!location.pfName) throw confError(request, 'deviceID', `failed to get VF information: PF network device not found for ${location.pfAddress}`, 'the PF must be bound to its network driver');
  const netdev = pciNetdevs(sysfsRoot, conf.deviceID)[0] ?? null;
  let dpdk = false;
  if (netdev === null) {
    const driver = pciDriver(sysfsRoot, conf.deviceID);
    if (driver === null) throw confError(request, 'deviceID', `failed to detect if VF ${conf.deviceID} has dpdk driver: no driver bound`, 'bind the VF to its network driver or to vfio-pci');
    if (!isUserspaceDriver(driver)) throw confError(request, 'deviceID', `the VF ${conf.deviceID} does not have a interface name or a dpdk driver (driver ${driver})`, 'the VF may already be in another pod');
    dpdk = true;
  }
  return { conf, pfName: location.pfName, vfIndex: location.vfIndex, netdev, dpdk };
}

/** Which of the PF-side changes a batch holds: the admin MAC is set on its own, retried and verified. */
type PfPart = 'beforeMac' | 'afterMac' | 'allButMac';

/**
 * The PF-side changes in sriov-cni's order (VLAN, admin MAC, rates, spoofchk, trust, link state), each
 * with the original value as its undo; the admin MAC is left to setVfMacVerified.
 */
function pfSteps(batch: HostBatch, state: SriovState, conf: SriovConf, forward: boolean, hostNs: string | undefined, part: PfPart): void {
  const { pfName, vfIndex, origVf } = state;
  const fields: Array<[VfConfig, VfConfig]> = [];
  if (conf.vlan !== undefined && part !== 'afterMac') fields.push([{ vlan: conf.vlan, qos: conf.vlanQoS ?? 0, vlanProto: conf.vlanProto ?? '802.1Q' }, { vlan: origVf.vlan, qos: origVf.qos, vlanProto: origVf.vlanProto }]);
  if (part !== 'beforeMac') pushAfterMac(fields, conf, origVf);
  for (const [set, original] of fields) {
    if (forward) batch.setVf(pfName, vfIndex, set, hostNs, original);
    else if (Object.keys(original).length > 0) batch.setVf(pfName, vfIndex, original, hostNs).bestEffort();
  }
}

function pushAfterMac(fields: Array<[VfConfig, VfConfig]>, conf: SriovConf, origVf: VfInfo): void {
  if (conf.minTxRate !== undefined || conf.maxTxRate !== undefined) fields.push([{ minTxRate: conf.minTxRate ?? 0, maxTxRate: conf.maxTxRate ?? 0 }, { minTxRate: origVf.minTxRate, maxTxRate: origVf.maxTxRate }]);
  if (conf.spoofchk !== undefined) fields.push([{ spoofchk: conf.spoofchk }, origVf.spoofchk === null ? {} : { spoofchk: origVf.spoofchk }]);
  if (conf.trust !== undefined) fields.push([{ trust: conf.trust }, origVf.trust === null ? {} : { trust: origVf.trust }]);
  if (conf.linkState !== undefined) fields.push([{ linkState: conf.linkState }, { linkState: origVf.linkState }]);
}

/** sriov-cni sets the admin MAC up to 20 times, 100 ms apart, until the PF reports it for the VF. */
export const VF_MAC_ATTEMPTS = 20;
export const VF_MAC_INTERVAL_MS = 100;

/**
 * Sets the VF's admin MAC through the PF and reads it back (the VF entry whose `vf` field is the index,
 * not the entry at that position), retrying on an error or a different read-back as sriov-cni does.
 */
async function setVfMacVerified(request: DelegateRequest, pfName: string, vfIndex: number, mac: string): Promise<void> {
  const { host } = request.services;
  const hostNs = request.services.hostNetns;
  let last = '';
  for (let attempt = 1; attempt <= VF_MAC_ATTEMPTS; attempt++) {
    try {
      await host.run(new HostBatch().setVf(pfName, vfIndex, { mac }, hostNs));
      const seen = (await host.getLink(pfName, hostNs))?.vfs.find((vf) => vf.vf === vfIndex)?.mac?.toLowerCase();
      if (seen === mac.toLowerCase()) {
        if (attempt > 1) request.services.log.verbose(`sriov: admin MAC ${mac} of VF ${vfIndex} on ${pfName} took ${attempt} attempts`);
        return;
      }
      last = `the PF reports ${seen ?? 'no such VF'}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (attempt < VF_MAC_ATTEMPTS) await sleep(VF_MAC_INTERVAL_MS);
  }
  throw Object.assign(new Error(`failed to set MAC address to ${mac} for VF ${vfIndex} of ${pfName} after ${VF_MAC_ATTEMPTS} attempts: ${last}`), { code: 'EVFMAC' });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function appliedFields(conf: SriovConf): VfConfig {
  const applied: VfConfig = {};
  if (conf.vlan !== undefined) Object.assign(applied, { vlan: conf.vlan, qos: conf.vlanQoS ?? 0, vlanProto: conf.vlanProto ?? '802.1Q' });
  if (conf.mac !== undefined) applied.mac = conf.mac;
  if (conf.minTxRate !== undefined || conf.maxTxRate !== undefined) Object.assign(applied, { minTxRate: conf.minTxRate ?? 0, maxTxRate: conf.maxTxRate ?? 0 });
  if (conf.spoofchk !== undefined) applied.spoofchk = conf.spoofchk;
  if (conf.trust !== undefined) applied.trust = conf.trust;
  if (conf.linkState !== undefined) applied.linkState = conf.linkState;
  return applied;
}

/** The conf-shaped view of what ADD applied (DEL restores exactly these keys). */
function confFromApplied(state: SriovState): SriovConf {
  const a = state.applied;
  return {
    deviceID: state.deviceID,
    ...(a.vlan !== undefined ? { vlan: a.vlan, vlanQoS: a.qos ?? 0, vlanProto: a.vlanProto ?? '802.1Q' } : {}),
    ...(a.mac !== undefined ? { mac: a.mac } : {}),
    ...(a.minTxRate !== undefined ? { minTxRate: a.minTxRate, maxTxRate: a.maxTxRate ?? 0 } : {}),
    ...(a.spoofchk !== undefined ? { spoofchk: a.spoofchk } : {}),
    ...(a.trust !== undefined ? { trust: a.trust } : {}),
    ...(a.linkState !== undefined ? { linkState: a.linkState } : {}),
  };
}

/** Steps that bring the VF netdev (now `current` in `podNetns`; undefined = already in the host) back as it was. */
function releaseSteps(request: DelegateRequest, batch: HostBatch, state: SriovState, current: LinkInfo, podNetns: string | undefined): void {
  const orig = state.origNetdev;
  if (!orig) return;
  const hostNs = request.services.hostNetns;
  if (current.up) batch.setUp(current.name, false, podNetns ?? hostNs).bestEffort();
  if (podNetns !== undefined) batch.move(current.name, podNetns, hostTarget(request), { newName: orig.name });
  else if (current.name !== orig.name) batch.rename(current.name, orig.name, hostNs);
  if (orig.mac && current.mac?.toLowerCase() !== orig.mac.toLowerCase()) batch.setMac(orig.name, orig.mac, hostNs).bestEffort();
  if (orig.mtu && current.mtu !== orig.mtu) batch.setMtu(orig.name, orig.mtu, hostNs).bestEffort();
}

async function add(request: DelegateRequest): Promise<unknown> {
  const located = loadConf(request);
  return request.services.lock(`vf:${located.conf.deviceID}`, () => addLocked(request, located));
}

async function addLocked(request: DelegateRequest, located: Located): Promise<unknown> {
  const { conf, pfName, vfIndex, netdev, dpdk } = located;
  const netns = await requireNetns(request);
  const ifname = checkedIfname(request);
  const { host } = request.services;
  const hostNs = request.services.hostNetns;
  const pf = await host.getLink(pfName, hostNs);
  if (!pf) throw confError(request, 'deviceID', `PF ${pfName} of ${conf.deviceID} not found`, '', CniCode.internal);
  const origVf = pf.vfs.find((vf) => vf.vf === vfIndex);
  if (!origVf) throw confError(request, 'deviceID', `failed to find vf ${vfIndex} on PF ${pfName}`, 'check sriov_numvfs', CniCode.internal);
  const vfLink = netdev === null ? null : await host.getLink(netdev, hostNs);
  if (netdev !== null && !vfLink) throw confError(request, 'deviceID', `VF netdev ${netdev} of ${conf.deviceID} not found`, '', CniCode.internal);
  const state: SriovState = {
    deviceID: conf.deviceID, pfName, vfIndex, dpdk, origVf,
    origNetdev: vfLink ? { name: vfLink.name, mac: vfLink.mac, mtu: vfLink.mtu } : null,
    applied: appliedFields(conf), netdevMacSet: !dpdk && conf.mac !== undefined,
  };
  const store = new AttachmentState<SriovState>(request);
  await store.write(state);
  const first = new HostBatch();
  // The netdev MAC first, while no admin MAC is set: drivers such as igb refuse an untrusted VF's own
  // MAC change once the PF has set one, even to the same value.
  if (vfLink && conf.mac && vfLink.mac?.toLowerCase() !== conf.mac) first.setMac(vfLink.name, conf.mac, hostNs, vfLink.mac ?? undefined).bestEffort();
  pfSteps(first, state, conf, true, hostNs, 'beforeMac');
  const doing = vfLink ? `failed to set up pod interface "${ifname}" from the device "${conf.deviceID}"` : `failed to configure VF "${conf.deviceID}"`;
  try {
    await host.run(first);
  } catch (error) {
    await store.remove();
    throw hostError(request, doing, error);
  }
  // From here on a failure is undone from the saved state, wherever the VF netdev is by then.
  const rollback = async (error: unknown): Promise<never> => {
    await restore(request, state, netns).catch((restoreError: unknown) => request.services.log.error(`sriov rollback of ${conf.deviceID}: ${(restoreError as Error).message}`));
    throw hostError(request, doing, error);
  };
  if (conf.mac !== undefined) await setVfMacVerified(request, pfName, vfIndex, conf.mac).catch(rollback);
  const batch = new HostBatch();
  pfSteps(batch, state, conf, true, hostNs, 'afterMac');
  if (vfLink) {
    batch.move(vfLink.name, hostNs, netns, { newName: ifname, undo: true })
      .writeSysctl(`net/ipv4/conf/${ifname}/arp_notify`, '1', netns).bestEffort()
      .writeSysctl(`net/ipv6/conf/${ifname}/ndisc_notify`, '1', netns).bestEffort()
      .getLink(ifname, netns);
  }
  const inPod = (await host.run(batch).catch(rollback)).at(-1) as LinkInfo | undefined;
  if (vfLink) {
    // In the pod: the MAC if the driver did not take it before, optimistic DAD, link up.
    const finish = new HostBatch();
    if (conf.mac && inPod?.mac?.toLowerCase() !== conf.mac) finish.setMac(ifname, conf.mac, netns);
    finish.writeSysctl(`net/ipv6/conf/${ifname}/optimistic_dad`, '1', netns).bestEffort().setUp(ifname, true, netns, false);
    await host.run(finish).catch(rollback);
  }
  const mac = conf.mac ?? (vfLink ? vfLink.mac ?? undefined : origVf.mac !== ZERO_MAC ? origVf.mac : undefined);
  const result: CniResult = { cniVersion: '1.1.0', interfaces: [{ name: ifname, ...(mac ? { mac } : {}), mtu: vfLink ? vfLink.mtu : pf.mtu, sandbox: netns }] };
  const ipam = ipamType(request);
  if (!ipam) return formatFor(request, result);
  let leased = false;
  try {
    const ipamResult = await ipamAdd(request, ipam);
    leased = true;
    if ((ipamResult.ips ?? []).length === 0) throw confError(request, 'ipam', 'IPAM plugin returned missing IP config', `check the "${ipam}" configuration`, CniCode.internal);
    const full: CniResult = { ...ipamResult, cniVersion: '1.1.0', interfaces: result.interfaces ?? [] };
    pointIpsAt(full);
    if (!dpdk) {
      await applyIpConfig(request, full, ifname, netns, `failed to set up IPAM plugin type "${ipam}" from the device "${conf.deviceID}"`);
      await announce(request, full, ifname, netns);
    }
    return formatFor(request, full);
  } catch (error) {
    if (leased) await ipamRollback(request, ipam);
    await restore(request, state, netns).catch((restoreError: unknown) => request.services.log.error(`sriov rollback of ${conf.deviceID}: ${(restoreError as Error).message}`));
    throw error;
  }
}

/**
 * sriov-cni's announcement once the pod interface has its addresses: a gratuitous ARP per IPv4 and an
 * unsolicited neighbour advertisement per IPv6 address, sent from inside the pod's namespace on the
 * native thread (after waiting up to 200 ms for carrier). Like the reference, a failure is only logged.
 */
async function announce(request: DelegateRequest, result: CniResult, ifname: string, netns: string): Promise<void> {
  const addresses = (result.ips ?? []).map((ip) => ip.address.split('/')[0]!).filter(Boolean);
  if (addresses.length === 0) return;
  const [outcome] = await request.services.host.run(new HostBatch().announce(ifname, addresses, netns).bestEffort())
    .catch((error: unknown) => [{ error: { code: -1, message: (error as Error).message } }]);
  if (isStepFailure(outcome)) request.services.log.warn(`sriov: announcing ${addresses.join(', ')} on ${ifname} failed: ${outcome.error.message}`);
}

/** PF-side reset and VF netdev return; the state file goes once everything is back. */
async function restore(request: DelegateRequest, state: SriovState, netns: string | undefined): Promise<void> {
  const { host } = request.services;
  const ifname = request.invocation.ifname;
  const applied = confFromApplied(state);
  const pfSide = new HostBatch();
  // PF side first: once the admin MAC is back, an untrusted VF may take its own MAC back too.
  pfSteps(pfSide, state, applied, false, request.services.hostNetns, 'allButMac');
  // A MAC that will not come back is reported after the netdev is returned, and the state is kept for a retry.
  await host.run(pfSide);
  const macError = applied.mac === undefined ? undefined : await setVfMacVerified(request, state.pfName, state.vfIndex, state.origVf.mac).then(() => undefined, (error: unknown) => error);
  const batch = new HostBatch();
  if (!state.dpdk && state.origNetdev) {
    let current: LinkInfo | null = netns ? await host.getLink(ifname, netns) : null;
    let from: string | undefined = current ? netns : undefined;
    if (!current) {
      // The pod's netns died: the kernel released the VF to the host under the pod's ifname.
      const released = await host.getLink(ifname, request.services.hostNetns);
      if (released && released.kind === null && released.parentDevName === state.deviceID) current = released;
      else current = await host.getLink(state.origNetdev.name, request.services.hostNetns);
      from = undefined;
    }
    if (current) {
      releaseSteps(request, batch, state, current, from);
    } else {
      request.services.log.warn(`sriov: VF netdev of ${state.deviceID} is neither in the pod nor in the host; restoring the PF-side settings only`);
    }
  }
  try {
    await host.run(batch);
  } catch (error) {
    throw hostError(request, `failed to return VF ${state.deviceID} to the host`, error, 'DEL can be retried; the saved state is kept');
  }
  if (macError) throw hostError(request, `failed to reset the admin MAC of VF ${state.deviceID} through ${state.pfName}`, macError, 'DEL can be retried; the saved state is kept');
  await new AttachmentState<SriovState>(request).remove();
  if (request.services.sriovCniCacheDir) await rm(join(request.services.sriovCniCacheDir, `${request.invocation.containerId}-${request.invocation.ifname}`), { force: true });
}

/** Without a state file: return a VF netdev the pod still holds (by its PCI parent), best effort. */
async function releaseWithoutState(request: DelegateRequest): Promise<void> {
  const deviceID = typeof request.conf['deviceID'] === 'string' ? request.conf['deviceID'] : '';
  if (!deviceID || (await netnsState(request)) !== 'present') return;
  const location = locateVf(request.services.sysfsRoot, deviceID);
  const { host } = request.services;
  const link = await host.getLink(request.invocation.ifname, request.invocation.netns);
  if (!link || link.parentDevName !== deviceID) return;
  const name = `${(location?.pfName ?? 'vf').slice(0, 8)}v${location?.vfIndex ?? 0}`.slice(0, 15);
  await host.run(new HostBatch().setUp(link.name, false, request.invocation.netns).move(link.name, request.invocation.netns, hostTarget(request), { newName: name }))
    .catch((error: unknown) => request.services.log.warn(`sriov DEL without state: cannot return ${deviceID}: ${(error as Error).message}`));
}

/** sriov-cni's own cache (`<dir>/<containerID>-<ifname>`), so DEL can take over a VF the Go binary attached. */
async function stateFromSriovCni(request: DelegateRequest): Promise<SriovState | undefined> {
  const dir = request.services.sriovCniCacheDir;
  if (!dir) return undefined;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(join(dir, `${request.invocation.containerId}-${request.invocation.ifname}`), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const orig = (raw['OrigVfState'] ?? {}) as Record<string, unknown>;
  const num = (value: unknown) => (typeof value === 'number' ? value : 0);
  const str = (value: unknown) => (typeof value === 'string' ? value : '');
  if (!str(raw['deviceID']) || !str(raw['Master']) || typeof raw['VFID'] !== 'number') return undefined;
  const applied: VfConfig = {};
  if (typeof raw['vlan'] === 'number') Object.assign(applied, { vlan: raw['vlan'], qos: num(raw['vlanQoS']), vlanProto: str(raw['vlanProto']).toLowerCase() === '802.1ad' ? '802.1ad' : '802.1Q' });
  if (str(raw['MAC'])) applied.mac = str(raw['MAC']).toLowerCase();
  if (typeof raw['min_tx_rate'] === 'number' || typeof raw['max_tx_rate'] === 'number') Object.assign(applied, { minTxRate: num(raw['min_tx_rate']), maxTxRate: num(raw['max_tx_rate']) });
  if (str(raw['spoofchk'])) applied.spoofchk = raw['spoofchk'] === 'on';
  if (str(raw['trust'])) applied.trust = raw['trust'] === 'on';
  if (str(raw['link_state'])) applied.linkState = raw['link_state'] as VfConfig['linkState'] & string;
  return {
    deviceID: str(raw['deviceID']), pfName: str(raw['Master']), vfIndex: raw['VFID'], dpdk: false,
    origVf: {
      vf: raw['VFID'], mac: str(orig['AdminMAC']) || ZERO_MAC, vlan: num(orig['Vlan']), qos: num(orig['VlanQoS']),
      vlanProto: num(orig['VlanProto']) === 0x88a8 ? '802.1ad' : '802.1Q', spoofchk: orig['SpoofChk'] === true, trust: orig['Trust'] === true,
      linkState: (['auto', 'enable', 'disable'] as const)[num(orig['LinkState'])] ?? 'auto', minTxRate: num(orig['MinTxRate']), maxTxRate: num(orig['MaxTxRate']),
    },
    origNetdev: str(orig['HostIFName']) ? { name: str(orig['HostIFName']), mac: str(orig['EffectiveMAC']) || null, mtu: num(orig['MTU']) } : null,
    applied, netdevMacSet: applied.mac !== undefined,
  };
}

async function del(request: DelegateRequest): Promise<void> {
  const store = new AttachmentState<SriovState>(request);
  const state = (await store.read()) ?? (await stateFromSriovCni(request));
  const ipam = ipamType(request);
  if (ipam) await ipamRun(request, ipam, 'DEL');
  if (!state) {
    await releaseWithoutState(request);
    return;
  }
  await request.services.lock(`vf:${state.deviceID}`, async () => {
    const present = (await netnsState(request)) === 'present';
    await restore(request, state, present ? request.invocation.netns : undefined);
  });
}

async function check(request: DelegateRequest): Promise<void> {
  const state = await new AttachmentState<SriovState>(request).read();
  const ipam = ipamType(request);
  if (ipam) await ipamRun(request, ipam, 'CHECK');
  if (state?.dpdk) return;
  const netns = await requireNetns(request);
  const prev = request.conf['prevResult'];
  if (prev === undefined) throw confError(request, 'prevResult', 'Required prevResult missing', 'CHECK needs the ADD result');
  const { parseResult } = await import('../version.js');
  await checkContainerInterface(request, parseResult(prev, typeof request.conf['cniVersion'] === 'string' ? request.conf['cniVersion'] : '1.1.0'), netns);
}

// STATUS forwards to IPAM like the other two (sriov-cni registers no STATUS and answers success); GC succeeds.
export const sriovDelegate: BuiltinDelegate = defineDelegate('sriov', { add, del, check, statusViaIpam: true });
