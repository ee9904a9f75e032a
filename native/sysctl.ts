// Network sysctls (/proc/sys/net/...) as seen from inside a namespace: /proc/sys/net shows the netns
// of the thread that opens the file, so the read/write happens on a native thread that entered it.
import { invalidInput } from './errors.js';
import { checkNetnsPath, runSteps } from './netlink.js';
import type { Where } from './netlink-types.js';

/** `net/ipv4/conf/eth0/arp_notify`: slash-separated (dots belong to names like eth0.100), under net/. */
function checkSysctlKey(operation: string, key: unknown): string {
  if (typeof key !== 'string' || !/^net\/[A-Za-z0-9_.@-]+(\/[A-Za-z0-9_.@-]+)*$/.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
    throw invalidInput(operation, `key ${JSON.stringify(key)} must be a slash-separated network sysctl path under net/ (e.g. "net/ipv4/conf/eth0/arp_notify")`);
  }
  return key;
}

export async function readSysctl(key: string, where?: Where): Promise<string> {
  const operation = 'read sysctl';
  const checked = checkSysctlKey(operation, key);
  const netns = where?.netns === undefined ? undefined : checkNetnsPath(operation, 'netns', where.netns);
  const [value] = await runSteps([{ op: 'readSysctl', key: checked }], netns, { operation: `${operation} ${checked}` });
  return (value as string).replace(/\n$/, '');
}

export async function writeSysctl(key: string, value: string, where?: Where): Promise<void> {
  const operation = 'write sysctl';
  const checked = checkSysctlKey(operation, key);
  if (typeof value !== 'string' || value.length > 4096 || value.includes('\0')) throw invalidInput(operation, `value for ${checked} must be a string of at most 4096 characters`);
  const netns = where?.netns === undefined ? undefined : checkNetnsPath(operation, 'netns', where.netns);
  await runSteps([{ op: 'writeSysctl', key: checked, value }], netns, { operation: `${operation} ${checked}` });
}
