// Public shapes of the native facade (see native/index.ts for the API summary).

/** A namespace named by the path of its file (/run/netns/x, /proc/<pid>/ns/net); undefined = the agent's own. */
export type NetnsRef = string | undefined;

export interface Where {
  netns?: string;
}

export type VfLinkState = 'auto' | 'enable' | 'disable';
export type VlanProtocol = '802.1Q' | '802.1ad';

export interface VfInfo {
  vf: number;
  mac: string;
  vlan: number;
  qos: number;
  vlanProto: VlanProtocol;
  /** null when the driver does not report it. */
  spoofchk: boolean | null;
  trust: boolean | null;
  linkState: VfLinkState;
  minTxRate: number;
  maxTxRate: number;
}

export interface LinkInfo {
  index: number;
  name: string;
  /** ifi_flags (IFF_UP=0x1, IFF_RUNNING=0x40, IFF_LOWER_UP=0x10000, ...). */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Operationally up: operstate UP, or UNKNOWN with carrier (loopback, dummy). */
  operUp: boolean;
  /** RFC 2863 operstate name: 'up', 'down', 'lowerlayerdown', 'dormant', 'unknown', ... */
  operState: string;
  mtu: number;
  mac: string | null;
  /** IFLA_INFO_KIND ('veth', 'macvlan', 'bridge', ...); null for hardware netdevs (PF/VF). */
  kind: string | null;
  /** IFLA_IPVLAN_MODE of an ipvlan link; absent or null for other kinds. */
  ipvlanMode?: IpvlanMode | null;
  alias: string | null;
  /** IFLA_LINK: parent (macvlan/ipvlan/vlan) or veth peer ifindex; may refer to another namespace. */
  parentIndex: number | null;
  masterIndex: number | null;
  numVfs: number;
  vfs: VfInfo[];
  /** IFLA_PARENT_DEV_NAME, e.g. the PCI address of a NIC; null for virtual links. */
  parentDevName: string | null;
}

export interface LinkEvent {
  type: 'new' | 'del';
  link: LinkInfo;
}

export interface AddressInfo {
  link: string;
  index: number;
  /** "10.1.0.5/24", "fd00::1/64" */
  cidr: string;
  family: 4 | 6;
  scope: number;
}

export interface RouteSpec {
  /** CIDR; absent = default route of the family of `gw` (IPv4 if neither says). */
  dst?: string;
  gw?: string;
  dev?: string;
  table?: number;
  priority?: number;
  /** 0 universe, 253 link, 254 host (CNI route scope values). */
  scope?: number;
  mtu?: number;
  advmss?: number;
}

export interface RouteInfo {
  family: 4 | 6;
  /** CIDR; '0.0.0.0/0' or '::/0' for a default route. */
  dst: string;
  gw: string | null;
  dev: string | null;
  oif: number | null;
  table: number;
  priority: number | null;
  scope: number;
  protocol: number;
  type: number;
  mtu: number | null;
  advmss: number | null;
}

export type MacvlanMode = 'bridge' | 'private' | 'vepa' | 'passthru';
export type IpvlanMode = 'l2' | 'l3' | 'l3s';
export type IpvlanFlag = 'bridge' | 'private' | 'vepa';

export interface VfConfig {
  mac?: string;
  vlan?: number;
  qos?: number;
  vlanProto?: VlanProtocol;
  spoofchk?: boolean;
  trust?: boolean;
  linkState?: VfLinkState;
  minTxRate?: number;
  maxTxRate?: number;
}

export interface DriverInfo {
  driver: string;
  version: string;
  firmwareVersion: string;
  busInfo: string;
}
