// Namespaces for the native-layer tests and the bench: created with `ip netns add` under unique names
// and always deleted (deleting a namespace also deletes every virtual link inside it).
import { execFileSync } from 'node:child_process';

let counter = 0;

export function uniqueName(role: string): string {
  // ifnames are limited to 15 bytes: 'npx' + role(≤3) + pid(base36) + counter.
  counter += 1;
  return `npx${role.slice(0, 3)}${process.pid.toString(36)}${counter.toString(36)}`.slice(0, 15);
}

export interface TestNetns {
  name: string;
  path: string;
  /** Runs `ip -n <ns> ...args` and returns stdout. */
  ip(...args: string[]): string;
  /** Runs `ip -n <ns> -j ...args` and parses the JSON. */
  ipJson<T = unknown>(...args: string[]): T;
  exec(command: string, ...args: string[]): string;
  remove(): void;
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createNetns(role: string): TestNetns {
  const name = uniqueName(role);
  ip('netns', 'add', name);
  const ns: TestNetns = {
    name,
    path: `/run/netns/${name}`,
    ip: (...args) => ip('-n', name, ...args),
    ipJson: <T>(...args: string[]) => JSON.parse(ip('-n', name, '-j', ...args) || '[]') as T,
    exec: (command, ...args) => execFileSync('ip', ['netns', 'exec', name, command, ...args], { encoding: 'utf8', timeout: 10_000 }),
    remove: () => {
      try {
        ip('netns', 'del', name);
      } catch {
        // already gone
      }
    },
  };
  return ns;
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  ifalias?: string;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}
