// The ipvlan plugin in-process (containernetworking/plugins v1.9.1 behaviour): an ipvlan on `master`
// (or the chained prevResult's single interface, or the default-route interface) created directly in
// the pod namespace under a temporary name, renamed there to CNI_IFNAME, IPs from IPAM (or the chained
// prevResult), arp_notify/ndisc_notify, ConfigureIface. Unlike the reference, a failure after the link
// exists deletes it and releases the IPAM lease.
import { parseIpvlanConf, type IpvlanConf } from '../../config/delegates/ipvlan.js';
import { HostBatch, type LinkInfo } from '../../native/index.js';
import { CniCode } from '../errors.js';
import type { CniResult } from '../version.js';
import {
  applyIpConfig, chainedPrevResult, checkContainerInterface, checkedIfname, confError, formatFor, hostError, ipamAdd, ipamRollback, ipamRun,
  ipamType, netnsState, parseConf, pointIpsAt, requireNetns, requirePrevResult,
  defineDelegate, withConfDns, type BuiltinDelegate, type DelegateRequest,
} from './common.js';
import { randomHex } from '../../config/random-hex.js';

/** The master: configured, else the chained result's single named interface, else the default-route link. */
async function masterName(request: DelegateRequest, conf: IpvlanConf, prev: CniResult | undefined, netns: string): Promise<string> {
  if (conf.master) return conf.master;
  if (prev) {
    const named = (prev.interfaces ?? []).filter((iface) => iface.name !== '');
    if (named.length !== 1) throw confError(request, 'master', 'chained master failure. PrevResult lacks a single named interface', 'set "master" or chain after a plugin that reports one interface');
    return named[0]!.name;
  }
  const where = conf.linkInContainer ? netns : request.services.hostNetns;
  const routes = [...(await request.services.host.listRoutes({ family: 4 }, where)), ...(await request.services.host.listRoutes({ family: 6 }, where))];
  const route = routes.find((candidate) => (candidate.dst === '0.0.0.0/0' || candidate.dst === '::/0') && candidate.dev);
  if (!route?.dev) throw confError(request, 'master', 'no default route interface found', 'set "master" to the parent interface');
  return route.dev;
}


async function add(request: DelegateRequest): Promise<unknown> {
  const conf = parseConf(request, parseIpvlanConf);
  const netns = await requireNetns(request);
  const ifname = checkedIfname(request);
  const prev = chainedPrevResult(request);
  const { host } = request.services;
  const master = await masterName(request, conf, prev, netns);
  const parentNetns = conf.linkInContainer ? netns : request.services.hostNetns;
  const parent = await host.getLink(master, parentNetns);
  if (!parent) throw confError(request, 'master', `failed to lookup master "${master}": link not found`, 'name an existing interface of the node', CniCode.internal);
  const temp = `veth${randomHex(4)}`;
  let link: LinkInfo;
  try {
    const results = await host.run(new HostBatch()
      .createIpvlan({ name: temp, parent: master, mode: conf.mode, ...(conf.mtu > 0 ? { mtu: conf.mtu } : {}), ...(parentNetns ? { parentNetns } : {}), targetNetns: netns })
      .rename(temp, ifname, netns, temp)
      .getLink(ifname, netns));
    link = results[2] as LinkInfo;
  } catch (error) {
    throw hostError(request, `failed to create ipvlan on "${master}"`, error);
  }
  const ipam = ipamType(request);
  let leased = false;
  try {
    let ips: CniResult;
    if (!ipam && prev && (prev.ips ?? []).length > 0) {
      ips = prev;
    } else {
      if (!ipam) throw confError(request, 'ipam.type', 'no plugin name provided', 'set "ipam" or chain after a plugin whose result has IPs');
      ips = await ipamAdd(request, ipam);
      leased = true;
      if ((ips.ips ?? []).length === 0) throw confError(request, 'ipam', 'IPAM plugin returned missing IP config', `check the "${ipam}" configuration`, CniCode.internal);
    }
    const result: CniResult = { ...ips, cniVersion: '1.1.0', interfaces: [{ name: ifname, mac: link.mac ?? '', sandbox: netns }] };
    pointIpsAt(result);
    const batch = new HostBatch()
      .writeSysctl(`net/ipv4/conf/${ifname}/arp_notify`, '1', netns).bestEffort()
      .writeSysctl(`net/ipv6/conf/${ifname}/ndisc_notify`, '1', netns).bestEffort();
    await applyIpConfig(request, result, ifname, netns, 'failed to configure the interface', batch);
    return formatFor(request, withConfDns(request, result));
  } catch (error) {
    if (leased && ipam) await ipamRollback(request, ipam);
    await host.run(new HostBatch().deleteLink(ifname, netns)).catch(() => undefined);
    throw error;
  }
}

async function del(request: DelegateRequest): Promise<void> {
  const ipam = ipamType(request);
  if (ipam) await ipamRun(request, ipam, 'DEL');
  if ((await netnsState(request)) !== 'present') return;
  const ifname = checkedIfname(request);
  const link = await request.services.host.getLink(ifname, request.invocation.netns);
  if (!link) return;
  await request.services.host.run(new HostBatch().deleteLink(ifname, request.invocation.netns)).catch((error: unknown) => {
    if ((error as { errno?: string }).errno !== 'ENODEV') throw hostError(request, `failed to delete ${ifname}`, error);
  });
}

async function check(request: DelegateRequest): Promise<void> {
  const conf = parseConf(request, parseIpvlanConf);
  const netns = await requireNetns(request);
  const ipam = ipamType(request);
  if (ipam) await ipamRun(request, ipam, 'CHECK');
  const prev = requirePrevResult(request);
  await checkContainerInterface(request, prev, netns, (link) => {
    if (link.kind !== 'ipvlan') throw confError(request, '', `Container interface ${request.invocation.ifname} is not of type ipvlan (${link.kind ?? 'hardware'})`, '', CniCode.internal);
    if (link.ipvlanMode !== conf.mode) {
      throw confError(request, 'mode', `Container IPVlan mode ${link.ipvlanMode ?? 'unknown'} does not match expected value: ${conf.mode}`, 'delete and re-add the pod network, or fix "mode"', CniCode.internal);
    }
  });
}

export const ipvlanDelegate: BuiltinDelegate = defineDelegate('ipvlan', { add, del, check, statusViaIpam: true });
