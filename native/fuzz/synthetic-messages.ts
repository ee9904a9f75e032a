// Hand-built rtnetlink messages for what this host cannot produce (a PF with VFs), used by the parser
// unit tests and the fuzz seed corpus. Layouts follow the kernel's rtnetlink headers (linux/rtnetlink.h, linux/if_link.h).

function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return b;
}

function message(type: number, fixed: Buffer, attrs: Buffer[], flags = 0): Buffer {
  const body = Buffer.concat([fixed, ...attrs]);
  const header = Buffer.alloc(16);
  header.writeUInt32LE(16 + body.length, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(flags, 6);
  return Buffer.concat([header, body]);
}

export interface SyntheticVf {
  vf: number;
  mac: string;
  vlan: number;
  qos: number;
  vlanProtocol: number;
  spoofchk: number;
  trust: number;
  linkState: number;
  minTxRate: number;
  maxTxRate: number;
}

/** RTM_NEWLINK for a PF named `name` with IFLA_NUM_VF and an IFLA_VFINFO_LIST describing `vfs`. */
export function pfLinkMessage(name: string, index: number, vfs: SyntheticVf[]): Buffer {
  const ifinfo = Buffer.alloc(16);
  ifinfo.writeUInt16LE(1, 2); // ARPHRD_ETHER
  ifinfo.writeInt32LE(index, 4);
  ifinfo.writeUInt32LE(0x11043, 8); // UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
  const vfInfos = vfs.map((vf) => {
    const mac = Buffer.alloc(36);
    mac.writeUInt32LE(vf.vf, 0);
    Buffer.from(vf.mac.split(':').map((h) => parseInt(h, 16))).copy(mac, 4);
    const vlanInfo = Buffer.alloc(16);
    vlanInfo.writeUInt32LE(vf.vf, 0);
    vlanInfo.writeUInt32LE(vf.vlan, 4);
    vlanInfo.writeUInt32LE(vf.qos, 8);
    vlanInfo.writeUInt16BE(vf.vlanProtocol, 12);
    return attr(1 /* IFLA_VF_INFO */, Buffer.concat([
      attr(1 /* IFLA_VF_MAC */, mac),
      attr(2 /* IFLA_VF_VLAN */, u32s(vf.vf, vf.vlan, vf.qos)),
      attr(12 /* IFLA_VF_VLAN_LIST */, attr(1 /* IFLA_VF_VLAN_INFO */, vlanInfo)),
      attr(3 /* IFLA_VF_TX_RATE */, u32s(vf.vf, vf.maxTxRate)),
      attr(6 /* IFLA_VF_RATE */, u32s(vf.vf, vf.minTxRate, vf.maxTxRate)),
      attr(4 /* IFLA_VF_SPOOFCHK */, u32s(vf.vf, vf.spoofchk)),
      attr(5 /* IFLA_VF_LINK_STATE */, u32s(vf.vf, vf.linkState)),
      attr(9 /* IFLA_VF_TRUST */, u32s(vf.vf, vf.trust)),
    ]));
  });
  const name0 = Buffer.from(`${name}\0`);
  return message(16 /* RTM_NEWLINK */, ifinfo, [
    attr(3 /* IFLA_IFNAME */, name0),
    attr(4 /* IFLA_MTU */, u32s(1500)),
    attr(16 /* IFLA_OPERSTATE */, Buffer.from([6])),
    attr(1 /* IFLA_ADDRESS */, Buffer.from([2, 0, 0, 0, 0, 1])),
    attr(21 /* IFLA_NUM_VF */, u32s(vfs.length)),
    attr(22 /* IFLA_VFINFO_LIST */, Buffer.concat(vfInfos)),
    attr(56 /* IFLA_PARENT_DEV_NAME */, Buffer.from('0000:3b:00.0\0')),
  ]);
}

/** NLMSG_ERROR with NLM_F_CAPPED|NLM_F_ACK_TLVS carrying an ext-ack message. */
export function extAckErrorMessage(errno: number, text: string): Buffer {
  const payload = Buffer.alloc(20);
  payload.writeInt32LE(-errno, 0);
  payload.writeUInt32LE(16, 4); // echoed header only (capped)
  return message(2 /* NLMSG_ERROR */, payload, [attr(1 /* NLMSGERR_ATTR_MSG */, Buffer.from(`${text}\0`))], 0x100 | 0x200);
}
