// SIOCETHTOOL ioctls, issued on a native thread inside the link's namespace.
import { checkIfname, checkNetnsPath, runSteps } from './netlink.js';
import type { DriverInfo, Where } from './netlink-types.js';

/** ETHTOOL_GDRVINFO: driver name, driver version, firmware version and bus address (PCI BDF for NICs). */
export async function ethtoolDriverInfo(ifname: string, where?: Where): Promise<DriverInfo> {
  const operation = 'ethtool driver info';
  const name = checkIfname(operation, 'ifname', ifname);
  const netns = where?.netns === undefined ? undefined : checkNetnsPath(operation, 'netns', where.netns);
  const [info] = await runSteps([{ op: 'ethtoolDriverInfo', ifname: name }], netns, { operation, link: name });
  return info as DriverInfo;
}
