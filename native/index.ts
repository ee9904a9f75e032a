// The single import point of the native host layer.
//
// API summary (keep current; the lab suites code against it). All calls return Promises and run on a
// dedicated native thread — never on the event loop or a libuv pool thread — which enters `where.netns`
// (a netns file path: /run/netns/x, /proc/<pid>/ns/net; absent = the agent's own namespace) first and
// exits afterwards; at most 32 such threads run at once, further calls queue. Errors are NativeError
// { errno: 'EEXIST' | 'ENODEV' | 'EINVAL' | ..., code, operation, link?, netns?, detail? (kernel ext-ack
// text) }; bad inputs are rejected with EINVAL before any kernel call. A link is a name or an ifindex.
//
//   listLinks(where?) -> LinkInfo[]                       getLink(nameOrIndex, where?) -> LinkInfo (ENODEV if absent)
//     LinkInfo { index, name, flags, up, operUp, operState, mtu, mac, kind, alias, parentIndex, masterIndex,
//                numVfs, vfs: VfInfo[], parentDevName, ipvlanMode: 'l2'|'l3'|'l3s'|null }   (VFs decoded via IFLA_EXT_MASK=RTEXT_FILTER_VF)
//     VfInfo { vf, mac, vlan, qos, vlanProto: '802.1Q'|'802.1ad', spoofchk: boolean|null, trust: boolean|null,
//              linkState: 'auto'|'enable'|'disable', minTxRate, maxTxRate }   (null = driver does not report it)
//   setLinkUp(link, up, where?)  renameLink(link, newName, where?)  setLinkMac(link, mac, where?)
//   setLinkMtu(link, mtu, where?)  setLinkAlias(link, alias, where?)  setLinkMaster(link, master|null, where?)
//   deleteLink(link, where?)
//     renameLink on an UP link fails with EBUSY before Linux 6.2 (the lab's 6.1): set it down first.
//   moveLinkToNetns(link, targetNetns: path | { fd }, { newName?, netns? })   one RTM_SETLINK with IFLA_NET_NS_FD (+ IFLA_IFNAME,
//     applied in the target, so it cannot clash with a name in the source); the link arrives down.
//   createVeth({ name, peerName, netns?, peerNetns? })          peerNetns defaults to netns; both placed by IFLA_NET_NS_FD
//   createMacvlan({ name, parent, mode: bridge|private|vepa|passthru, targetNetns?, parentNetns?, mtu?, mac? })
//   createIpvlan({ name, parent, mode: l2|l3|l3s, flag?: bridge|private|vepa, targetNetns?, parentNetns?, mtu? })
//   createVlan({ name, parent, vlanId, protocol?: '802.1Q'|'802.1ad', targetNetns?, parentNetns?, mtu? })
//     (parent is resolved in parentNetns; the link is created directly in targetNetns)
//   createBridge({ name, netns? })   createDummy({ name, netns?, mtu? })
//   setVf(pf, vf, { mac?, vlan?, qos?, vlanProto?, spoofchk?, trust?, linkState?: auto|enable|disable, minTxRate?, maxTxRate? }, where?)
//     one RTM_SETLINK on the PF; only given fields change (a lone min/maxTxRate keeps the other's current value).
//   addAddress(link, cidr, where?)  deleteAddress(link, cidr, where?)
//   listAddresses(link?, where?) -> { link, index, cidr, family: 4|6, scope }[]
//   addRoute({ dst?, gw?, dev?, table?, priority?, scope?, mtu?, advmss? }, where?)  deleteRoute(same, where?)
//   listRoutes({ table? (default 254), family? }, where?) -> RouteInfo { family, dst (CIDR, '0.0.0.0/0' default),
//     gw, dev, oif, table, priority, scope, protocol, type, mtu, advmss }[]
//   monitorLinks(onEvent({ type: 'new'|'del', link: LinkInfo }), where?, onError?) -> { close() }
//     subscribed before it returns; keeps the process alive until closed; re-lists all links after an overrun.
//   ethtoolDriverInfo(ifname, where?) -> { driver, version, firmwareVersion, busInfo }
//   readSysctl('net/ipv4/conf/eth0/arp_notify', where?) -> string   writeSysctl(key, value, where?)
//   isNetnsPath(path) -> Promise<boolean>
//   currentThreadNetnsInodes() -> Promise<{ main, pool: number[], threads: { tid, name, inode }[] }>
//   HostBatch / nativeHostNetwork() (host-network.ts): multi-step work across namespaces for the in-process
//     delegates. Builders (getLink, setUp, rename, setMac, setMtu, setAlias, move, createIpvlan, deleteLink,
//     setVf, addAddress, addRoute, writeSysctl, announce (gratuitous ARP / unsolicited NA from the step's netns); each validated, each with its undo) make a batch whose steps
//     name their namespace; HostNetwork.run(batch) runs it on ONE dedicated native thread that enters each
//     step's namespace in turn and, on a failure, runs the undo steps of the completed steps in reverse
//     (HostBatchError lists the undo failures). bestEffort() marks a step whose failure is recorded
//     ({ error: { code, message } } as its result) and skipped. AGENT_NETNS_PATH names the agent's namespace
//     as a move target. test/helpers/fake-host-network.ts is an in-memory HostNetwork with the same semantics.
//   sysfs-netdev.ts: pciNetdevs, auxNetdevs, kernelPathNetdevs, pciDriver, locateVf (PF + VF index), ...
//   runProcess(binary, env, stdin, timeoutMs) -> { code, signal, stdout, stderr, timedOut }   a plugin exec'd
//     by posix_spawn (no fork of this process) in its own session; the group is killed at the timeout.
//   runSteps(rawOps, netns, context) -> results[]   several raw steps (addon.ts RawOp) on ONE thread in ONE
//     namespace, stopping at the first failure (e.g. create + configure without re-entering the namespace).
export { NativeError, errnoName } from './errors.js';
export type * from './netlink-types.js';
export {
  listLinks, getLink, setLinkUp, renameLink, setLinkMac, setLinkMtu, setLinkAlias, setLinkMaster, deleteLink,
  moveLinkToNetns, createVeth, createMacvlan, createIpvlan, createVlan, createBridge, createDummy, setVf,
  addAddress, deleteAddress, listAddresses, addRoute, deleteRoute, listRoutes, monitorLinks, runSteps,
  type LinkMonitor, type BatchContext,
} from './netlink.js';
export type { RawOp } from './addon.js';
export { isNetnsPath, currentThreadNetnsInodes, type ProcessNetnsInodes, type ThreadNetns } from './netns.js';
export { runProcess, runProcessWithChildProcess, type ProcessOutcome } from './process-spawn.js';
export { ethtoolDriverInfo } from './ethtool.js';
export { readSysctl, writeSysctl } from './sysctl.js';
export {
  AGENT_NETNS_PATH, HostBatch, HostBatchError, isStepFailure, nativeHostNetwork, type HostNetwork, type HostStep, type StepFailure,
} from './host-network.js';
export {
  auxDeviceExists, auxNetdevs, isPciAddress, isUserspaceDriver, kernelPathNetdevs, locateVf, pciDeviceExists, pciDriver, pciNetdevs,
  USERSPACE_DRIVERS, type VfLocation,
} from './sysfs-netdev.js';
// sysfs, procfs and pci.ids readers (synchronous; every one takes its root directory).
export { listDir, readLink, readLinkBase, readSmallText, readInteger, parseInteger } from './sysfs-read.js';
export {
  deviceNodeExists, listAuxDevices, listPciAddresses, pciDevicesDir, readIbPkeys, readPciFunctions, readPhysfn,
  type RawAuxDevice, type RawNetdev, type RawPciFunction, type RawVdpa,
} from './sysfs-pci.js';
export { defaultPciIdsPaths, noPciNames, openPciIds, pciNamesFromText, type PciNameLookup } from './pci-ids.js';
export { parseIpv4DefaultRoutes, parseIpv6DefaultRoutes, readDefaultRouteNetdevs, type DefaultRouteNetdevs } from './routes.js';
export { checkIfname } from './netlink.js';
