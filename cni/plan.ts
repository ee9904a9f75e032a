// The plan: a pure function from (request, pod context, resolved networks, pod devices) to the
// ordered list of delegate invocations. No I/O here, so every selection rule is unit-testable.
import type { NetworkSelection } from './annotation.js';
import { CniCode, CniError } from './errors.js';
import { type ConfList, type JsonObject, injectDeviceId, listDeclares, mergeCniArgs } from './delegate-conf.js';
import { type CniRequest, type PodRef, formatCniArgs } from './request.js';

export interface ResolvedNetwork {
  /** "<namespace>/<nad>" for NADs, else the config's own name. Used in errors, status and cache. */
  networkName: string;
  config: ConfList;
  /** NAD annotation k8s.v1.cni.cncf.io/resourceName, when the network is backed by a device. */
  resourceName?: string | undefined;
  /** Where it came from, for error messages ("NAD kube-system/flannel", "file /etc/cni/net.d/10-x.conf"). */
  source: string;
}

export interface PlannedAttachment {
  networkName: string;
  /** The cluster network: first, gets the runtime's ifname and runtimeConfig, marked default in status. */
  isDefault: boolean;
  ifname: string;
  conf: ConfList;
  /** Capability args offered to the list; each plugin receives only the ones it declares. */
  runtimeConfig: JsonObject;
  cniArgs: string;
  deviceId?: string | undefined;
  resourceName?: string | undefined;
  deviceInfoFile?: string | undefined;
  defaultRoute?: string[] | undefined;
}

export interface Plan {
  kind: 'nicplexPlanV1';
  containerId: string;
  netns: string;
  /** `<st_dev>:<st_ino>` of the netns at ADD: identifies that namespace for as long as it lives. */
  netnsId?: string | undefined;
  ifname: string;
  pod?: PodRef | undefined;
  requestCniVersion: string;
  attachments: PlannedAttachment[];
}

export interface SecondaryNetwork { selection: NetworkSelection; network: ResolvedNetwork }

export interface PlanInput {
  request: Pick<CniRequest, 'containerId' | 'netns' | 'ifname' | 'args' | 'pod'>;
  requestCniVersion: string;
  /** runtimeConfig the runtime sent: applies to the cluster network only (multi-net spec 7.5). */
  runtimeConfig: JsonObject;
  /** The cluster network followed by the default networks, in order. */
  clusterNetworks: ResolvedNetwork[];
  secondary: SecondaryNetwork[];
  /** The pod's allocated devices per resource name (any order; sorted here). */
  podDevices: ReadonlyMap<string, readonly string[]>;
  cniDeviceInfoDir: string;
}

interface DeviceDemand { index: number; networkName: string; resourceName?: string | undefined; explicitDeviceId?: string | undefined }

/**
 * Which network gets which device when several networks of a pod share one resource:
 *  1. the pod's device IDs of that resource are sorted lexicographically (PCI addresses then sort in bus order,
 *     independent of the order the kubelet or the container list reports them);
 *  2. a selection element that names an explicit `deviceID` which is one of those devices is pinned to it first;
 *  3. the remaining networks, in attachment order (cluster network, default networks, then the annotation's
 *     order), take the lowest remaining ID one after another.
 * The result is cached with the plan, so DEL always releases what ADD used. Too few devices is an error
 * naming the network and the resource, never a silent ADD without a device (which sriov-cni then answers with "VF pci addr is required").
 */
export function assignDevices(demands: DeviceDemand[], podDevices: ReadonlyMap<string, readonly string[]>, podLabel: string): Map<number, string> {
  const assigned = new Map<number, string>();
  const remaining = new Map<string, string[]>();
  for (const [resource, ids] of podDevices) remaining.set(resource, [...new Set(ids)].sort());
  const withResource = demands.filter((demand) => demand.resourceName);
  for (const demand of withResource) {
    if (!demand.explicitDeviceId) continue;
    const pool = remaining.get(demand.resourceName!) ?? [];
    const at = pool.indexOf(demand.explicitDeviceId);
    if (at < 0) {
      throw new CniError(CniCode.invalidConfig, `network "${demand.networkName}": the annotation asks for deviceID "${demand.explicitDeviceId}", but pod ${podLabel} has no such device of resource "${demand.resourceName}" (it has: ${(podDevices.get(demand.resourceName!) ?? []).join(', ') || 'none'})`);
    }
    pool.splice(at, 1);
    assigned.set(demand.index, demand.explicitDeviceId);
  }
  for (const demand of withResource) {
    if (assigned.has(demand.index)) continue;
    const resource = demand.resourceName!;
    const pool = remaining.get(resource) ?? [];
    const next = pool.shift();
    if (next === undefined) {
      const total = podDevices.get(resource)?.length ?? 0;
      const users = withResource.filter((other) => other.resourceName === resource).map((other) => `"${other.networkName}"`);
      throw new CniError(
        CniCode.invalidConfig,
        total === 0
          ? `network "${demand.networkName}" needs a device of resource "${resource}" (its NAD annotation k8s.v1.cni.cncf.io/resourceName), but pod ${podLabel} has none allocated: request "${resource}" in a container's resources (limits/requests), and check that the device plugin advertises it`
          : `pod ${podLabel} has ${total} device(s) of resource "${resource}" but ${users.length} networks use it (${users.join(', ')}): request one "${resource}" per network`,
      );
    }
    assigned.set(demand.index, next);
  }
  for (const demand of demands) {
    if (!demand.resourceName && demand.explicitDeviceId) assigned.set(demand.index, demand.explicitDeviceId);
  }
  return assigned;
}

/** CNI_ARGS for delegates: the runtime's pairs with IgnoreUnknown forced on (Multus does the same). */
export function delegateCniArgs(request: Pick<CniRequest, 'args'>): string {
  const pairs = request.args.filter(([key]) => key !== 'IgnoreUnknown');
  return formatCniArgs([['IgnoreUnknown', 'true'], ...pairs]);
}

/**
 * Multus also passes an annotation's `mac` and `ips` as the legacy CNI_ARGS `MAC=` and `IP=<ip>,<ip>`
 * (plugins from before capability args read only those); the runtime's own MAC/IP pairs give way.
 */
export function withLegacyRequestArgs(cniArgs: string, selection: Pick<NetworkSelection, 'mac' | 'ips'> | undefined): string {
  if (!selection?.mac && !selection?.ips?.length) return cniArgs;
  const pairs = cniArgs.split(';').filter((pair) => pair !== '' && !/^(MAC|IP)=/.test(pair));
  if (selection.mac) pairs.push(`MAC=${selection.mac}`);
  if (selection.ips?.length) pairs.push(`IP=${selection.ips.join(',')}`);
  return pairs.join(';');
}

/** Annotation keys by capability name, for messages. */
const ANNOTATION_KEY: Record<string, string> = { infinibandGUID: 'infiniband-guid', portMappings: 'portMappings', bandwidth: 'bandwidth' };

/**
 * The annotation requests of a secondary attachment that reach no plugin: offered as a capability no plugin
 * of the list declares, and with no legacy CNI_ARGS form (`ips` and `mac` always have one). Multus drops
 * these silently; nicplex names them in a warning.
 */
export function undeliveredRequests(attachment: Pick<PlannedAttachment, 'isDefault' | 'conf' | 'runtimeConfig'>): string[] {
  if (attachment.isDefault) return [];
  return Object.keys(ANNOTATION_KEY).filter((capability) => attachment.runtimeConfig[capability] !== undefined && !listDeclares(attachment.conf, capability)).map((capability) => ANNOTATION_KEY[capability]!);
}

export function deviceInfoFileName(networkName: string, containerId: string, ifname: string): string {
  return `${networkName}-${containerId}_${ifname}`.replace(/\//g, '-').replace(/[^A-Za-z0-9_.:-]/g, '-');
}

interface PlanEntry { network: ResolvedNetwork; selection?: NetworkSelection | undefined; isDefault: boolean }

/** One entry's delegate invocation: its conf with the device injected, its capability args and CNI_ARGS. */
function plannedAttachment(entry: PlanEntry, ifname: string, deviceId: string | undefined, input: Pick<PlanInput, 'request' | 'runtimeConfig' | 'cniDeviceInfoDir'>): PlannedAttachment {
  const { network, selection, isDefault } = entry;
  const conf: ConfList = structuredClone(network.config);
  const runtimeConfig: JsonObject = isDefault ? structuredClone(input.runtimeConfig) : {};
  let deviceInfoFile: string | undefined;
  if (deviceId !== undefined) {
    injectDeviceId(conf, deviceId);
    runtimeConfig['deviceID'] = deviceId;
    if (network.resourceName) {
      deviceInfoFile = `${input.cniDeviceInfoDir}/${deviceInfoFileName(network.networkName, input.request.containerId, ifname)}`;
      runtimeConfig['CNIDeviceInfoFile'] = deviceInfoFile;
    }
  }
  if (selection) {
    if (selection.cniArgs) mergeCniArgs(conf, selection.cniArgs);
    // Offered as capability args; each plugin receives the ones it declares (libcni's filter). Multus never
    // fails on an undeclared one: `ips` and `mac` still reach every plugin as CNI_ARGS IP=/MAC= (below),
    // the others (infiniband-guid, portMappings, bandwidth) are dropped, which cmdAdd logs.
    const requested: Array<[string, unknown]> = [
      ['ips', selection.ips],
      ['mac', selection.mac],
      ['infinibandGUID', selection.infinibandGuid],
      ['portMappings', selection.portMappings],
      ['bandwidth', selection.bandwidth],
    ];
    for (const [capability, value] of requested) if (value !== undefined) runtimeConfig[capability] = value;
  }
  const attachment: PlannedAttachment = { networkName: network.networkName, isDefault, ifname, conf, runtimeConfig, cniArgs: withLegacyRequestArgs(delegateCniArgs(input.request), selection) };
  if (deviceId !== undefined) attachment.deviceId = deviceId;
  if (network.resourceName) attachment.resourceName = network.resourceName;
  if (deviceInfoFile) attachment.deviceInfoFile = deviceInfoFile;
  if (selection?.defaultRoute) attachment.defaultRoute = selection.defaultRoute;
  return attachment;
}

export function buildPlan(input: PlanInput): Plan {
  const { request } = input;
  if (input.clusterNetworks.length === 0) throw new CniError(CniCode.invalidConfig, 'no cluster network: set "clusterNetwork" or "delegates"');
  const podLabel = request.pod ? `${request.pod.namespace}/${request.pod.name}` : `container ${request.containerId}`;
  const entries: PlanEntry[] = [
    ...input.clusterNetworks.map((network, index) => ({ network, isDefault: index === 0 })),
    ...input.secondary.map(({ network, selection }) => ({ network, selection, isDefault: false })),
  ];
  const devices = assignDevices(
    entries.map((entry, index) => ({ index, networkName: entry.network.networkName, resourceName: entry.network.resourceName, explicitDeviceId: entry.selection?.deviceId })),
    input.podDevices,
    podLabel,
  );
  const usedIfnames = new Map<string, string>();
  const attachments = entries.map((entry, index): PlannedAttachment => {
    const ifname = entry.isDefault ? request.ifname : entry.selection?.interface ?? `net${index}`;
    const previousOwner = usedIfnames.get(ifname);
    if (previousOwner !== undefined) {
      throw new CniError(CniCode.invalidConfig, `network "${entry.network.networkName}" wants interface "${ifname}", which network "${previousOwner}" already uses in pod ${podLabel}: set a different "interface" (or @ifname) in the annotation`);
    }
    usedIfnames.set(ifname, entry.network.networkName);
    return plannedAttachment(entry, ifname, devices.get(index), input);
  });
  return {
    kind: 'nicplexPlanV1',
    containerId: request.containerId,
    netns: request.netns,
    ifname: request.ifname,
    pod: request.pod,
    requestCniVersion: input.requestCniVersion,
    attachments,
  };
}

/**
 * One secondary network added to a running pod (Multus's `/delegate`, hot-plug): the request's ifname, the
 * selection's requests (ips, mac, cni-args, an explicit deviceID), planned exactly like an annotation's network.
 */
export function planHotplugAttachment(input: { request: PlanInput['request']; network: ResolvedNetwork; selection: NetworkSelection; cniDeviceInfoDir: string }): PlannedAttachment {
  return plannedAttachment({ network: input.network, selection: input.selection, isDefault: false }, input.request.ifname, input.selection.deviceId, { ...input, runtimeConfig: {} });
}
