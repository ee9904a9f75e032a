// Which netdevs carry a default route. Read from `<procRoot>/net/route` and `net/ipv6_route`,
// which show the main routing table of the network namespace of the *reading process*: run in
// a fresh netns, they are empty, whatever the host has.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;

export interface DefaultRouteNetdevs {
  ipv4: Set<string>;
  ipv6: Set<string>;
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/** Interfaces with an IPv4 route whose destination and mask are 0.0.0.0/0 (a "nil Dst" route). */
export function parseIpv4DefaultRoutes(text: string): Set<string> {
  const result = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const [iface, destination, , flagsHex, , , , mask] = fields;
    const flags = Number.parseInt(flagsHex ?? '', 16);
    if (iface && destination === '00000000' && mask === '00000000' && (flags & RTF_UP) !== 0 && (flags & RTF_REJECT) === 0) {
      result.add(iface);
    }
  }
  return result;
}

/** Interfaces with a usable `::/0` route (unreachable/reject routes, e.g. on `lo`, do not count). */
export function parseIpv6DefaultRoutes(text: string): Set<string> {
  const result = new Set<string>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [destination, prefixLength] = fields;
    const flags = Number.parseInt(fields[8] ?? '', 16);
    const iface = fields[9];
    if (iface && iface !== 'lo' && /^0{32}$/.test(destination ?? '') && prefixLength === '00' && (flags & RTF_UP) !== 0 && (flags & RTF_REJECT) === 0) {
      result.add(iface);
    }
  }
  return result;
}

export function readDefaultRouteNetdevs(procRoot: string): DefaultRouteNetdevs {
  return {
    ipv4: parseIpv4DefaultRoutes(readOptional(join(procRoot, 'net', 'route'))),
    ipv6: parseIpv6DefaultRoutes(readOptional(join(procRoot, 'net', 'ipv6_route'))),
  };
}
