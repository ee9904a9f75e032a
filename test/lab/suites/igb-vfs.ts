// The lab's igb PF with four VFs for the delegate suites: VFs 0, 1 and 3 on igbvf (kernel netdevs), VF 2
// on vfio-pci (DPDK mode). Each suite file calls it once; it recreates the VFs, so it starts clean.
import { readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setLinkUp } from '../../../native/index.js';
import { bindPciDriver, ipJson, modprobe, netdevsOf, pciFunctionsById, readSysfs, waitFor, writeSysfs, type IpLink, type PciFunction } from './lab-guest.js';

export async function igbVfSetup(): Promise<{ pf: string; vfs: PciFunction[] }> {
  const pfFunction = pciFunctionsById('0x8086', '0x10c9')[0];
  if (!pfFunction) throw new Error('no igb PF (8086:10c9) in the lab VM');
  const pf = await waitFor('the igb PF netdev', () => netdevsOf(pfFunction.dir)[0]);
  modprobe('igbvf', 'vfio-pci');
  await setLinkUp(pf, true);
  if (readSysfs(join(pfFunction.dir, 'sriov_numvfs')) !== '0') writeSysfs(join(pfFunction.dir, 'sriov_numvfs'), '0');
  writeSysfs(join(pfFunction.dir, 'sriov_drivers_autoprobe'), '0');
  writeSysfs(join(pfFunction.dir, 'sriov_numvfs'), '4');
  const vfs: PciFunction[] = [];
  for (let index = 0; index < 4; index++) {
    const address = basename(readlinkSync(join(pfFunction.dir, `virtfn${index}`)));
    vfs.push({ address, dir: `/sys/bus/pci/devices/${address}` });
  }
  for (const vf of [vfs[0], vfs[1], vfs[3]]) bindPciDriver(vf!, 'igbvf');
  bindPciDriver(vfs[2]!, 'vfio-pci');
  for (const vf of [vfs[0], vfs[1], vfs[3]]) await waitFor(`a netdev for ${vf!.address}`, () => netdevsOf(vf!.dir)[0], 20_000);
  return { pf, vfs };
}

/** The PF's VF list as `ip -d link show` reports it (MAC, VLANs, spoofchk, trust, link state, rates), counters left out. */
export function vfList(pf: string): unknown {
  return (ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', pf])[0]?.vfinfo_list ?? []).map((vf) => ({ ...vf, stats: undefined }));
}

/** Each VF's host netdev: its name (undefined while it is in a pod or on vfio-pci), MAC and MTU. */
export function vfNetdevs(vfs: PciFunction[]): Array<{ name: string | undefined; mac: string | undefined; mtu: number | undefined }> {
  return vfs.map((vf) => {
    const name = netdevsOf(vf.dir)[0];
    const link = name ? ipJson<IpLink[]>(['link', 'show', 'dev', name])[0] : undefined;
    return { name, mac: link?.address, mtu: link?.mtu };
  });
}
