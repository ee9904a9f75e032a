// The in-process `static` IPAM against /usr/lib/cni/static: the same stdin and CNI_ARGS give the same
// result (parsed JSON), or both fail with the same code — on hand-picked cases (every source of
// addresses, every result version, Go's address printing) and on generated ones (fast-check).
import t from 'tap';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { runStaticIpam } from '../../cni/delegates/static-ipam.js';
import { CniError } from '../../cni/errors.js';

const BINARY = '/usr/lib/cni/static';
const skip = !existsSync(BINARY) && `${BINARY} is not installed (Debian's containernetworking-plugins)`;

type Outcome = { ok: true; result: unknown } | { ok: false; code: number; msg: string };

function reference(command: string, stdin: Record<string, unknown>, cniArgs: string): Outcome {
  const run = spawnSync(BINARY, [], {
    input: JSON.stringify(stdin), encoding: 'utf8',
    env: { CNI_COMMAND: command, CNI_CONTAINERID: 'c', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', CNI_ARGS: cniArgs },
  });
  const parsed = run.stdout.trim() === '' ? undefined : JSON.parse(run.stdout) as Record<string, unknown>;
  if (run.status === 0) return { ok: true, result: parsed };
  return { ok: false, code: Number(parsed?.['code']), msg: String(parsed?.['msg'] ?? '') };
}

function ours(command: string, stdin: Record<string, unknown>, cniArgs: string): Outcome {
  try {
    const result = runStaticIpam({ type: 'static', command, containerId: 'c', netns: '/x', ifname: 'eth0', cniArgs, stdin });
    return { ok: true, result };
  } catch (error) {
    if (!(error instanceof CniError)) throw error;
    return { ok: false, code: error.code, msg: error.message };
  }
}

const net = (version: string, ipam: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) => ({ cniVersion: version, name: 'n', type: 'host-device', ...(ipam ? { ipam: { type: 'static', ...ipam } } : {}), ...extra });

const cases: Array<{ name: string; stdin: Record<string, unknown>; cniArgs?: string; command?: string; sameMessage?: boolean }> = [
  { name: 'v4 + v6 with gateway, routes, dns (1.0.0)', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/24', gateway: '10.1.2.1' }, { address: '2001:DB8::0:1/64' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '10.9.9.9/8', gw: '10.1.2.1' }], dns: { nameservers: ['1.1.1.1'], search: ['a'], domain: 'd', options: ['x'] } }) },
  { name: 'one address, 0.3.1 (version field)', stdin: net('0.3.1', { addresses: [{ address: '10.1.2.3/24', gateway: '10.1.2.1' }] }) },
  { name: 'one per family, 0.4.0', stdin: net('0.4.0', { addresses: [{ address: '10.1.1.1/24' }, { address: 'fe80::1/64' }], routes: [{ dst: 'fe80::/64' }] }) },
  { name: '0.2.0 (ip4 block)', stdin: net('0.2.0', { addresses: [{ address: '10.1.2.3/24', gateway: '10.1.2.1' }], routes: [{ dst: '0.0.0.0/0' }] }) },
  { name: '0.2.0 with no address fails', stdin: net('0.2.0', {}), sameMessage: true },
  { name: '0.2.0 with two v4 addresses fails', stdin: net('0.2.0', { addresses: [{ address: '10.1.2.3/24' }, { address: '10.1.2.4/24' }] }), sameMessage: true },
  { name: 'runtimeConfig.ips replace args.cni.ips and the conf', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/24' }] }, { runtimeConfig: { ips: ['10.5.5.5/16'] }, args: { cni: { ips: ['10.6.6.6/16'] } } }) },
  { name: 'args.cni.ips replace the conf', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/24' }] }, { args: { cni: { ips: ['10.6.6.6/16', 'fd00::6/64'] } } }) },
  { name: 'CNI_ARGS IP= appended, GATEWAY= for those only', stdin: net('1.0.0', { addresses: [{ address: '10.7.7.3/24' }] }), cniArgs: 'IP=10.7.7.7/24, 10.8.8.8/24;GATEWAY=10.7.7.1' },
  { name: 'CNI_ARGS unknown key without IgnoreUnknown fails', stdin: net('1.0.0', {}), cniArgs: 'K8S_POD_NAME=x', sameMessage: true },
  { name: 'CNI_ARGS unknown keys with IgnoreUnknown=true', stdin: net('1.0.0', { addresses: [{ address: '10.1.1.1/24' }] }), cniArgs: 'IgnoreUnknown=true;K8S_POD_NAME=x;K8S_POD_NAMESPACE=y' },
  { name: 'CNI_ARGS invalid pair fails', stdin: net('1.0.0', {}), cniArgs: 'IgnoreUnknown=1;A=b=c', sameMessage: true },
  { name: 'CNI_ARGS IP not a CIDR fails', stdin: net('1.0.0', {}), cniArgs: 'IP=10.1.1.1', sameMessage: true },
  { name: 'CNI_ARGS bad gateway fails', stdin: net('1.0.0', {}), cniArgs: 'IP=10.1.1.1/24;GATEWAY=nope', sameMessage: true },
  { name: 'no ipam key fails', stdin: net('1.0.0', undefined), sameMessage: true },
  { name: 'address not in CIDR notation fails', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3' }] }), sameMessage: true },
  { name: 'runtimeConfig ip not in CIDR notation fails', stdin: net('1.0.0', {}, { runtimeConfig: { ips: ['10.1.1.1'] } }), sameMessage: true },
  { name: 'IPv4-mapped IPv6 printed as IPv4, prefix from the low 32 bits', stdin: net('1.0.0', { addresses: [{ address: '::ffff:10.1.2.3/120' }, { address: '2001:0db8:0000:0000:0001:0000:0000:0001/128' }] }) },
  { name: 'leading zeros in the prefix', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/024' }] }) },
  { name: 'leading zeros in an IPv4 octet fail', stdin: net('1.0.0', { addresses: [{ address: '10.01.2.3/24' }] }) },
  { name: 'a prefix too long fails', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/33' }] }) },
  { name: 'DEL validates nothing', command: 'DEL', stdin: net('1.0.0', { addresses: [{ address: 'garbage' }] }) },
  { name: 'CHECK without prevResult fails', command: 'CHECK', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/24' }] }), sameMessage: true },
  { name: 'CHECK with a matching prevResult', command: 'CHECK', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/24', gateway: '10.1.2.1' }] }, { prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.1.2.3/24', gateway: '10.1.2.1' }] } }) },
  { name: 'CHECK with the gateway changed fails', command: 'CHECK', stdin: net('1.0.0', { addresses: [{ address: '10.1.2.3/24', gateway: '10.1.2.1' }] }, { prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.1.2.3/24', gateway: '10.1.2.9' }] } }), sameMessage: true },
];

t.test('hand-picked cases: the same outcome as the binary', { skip }, async (t) => {
  for (const entry of cases) {
    const command = entry.command ?? 'ADD';
    const theirs = reference(command, entry.stdin, entry.cniArgs ?? '');
    const mine = ours(command, entry.stdin, entry.cniArgs ?? '');
    if (theirs.ok) t.same(mine, theirs, entry.name);
    else {
      t.same(mine.ok ? mine : { ok: false, code: mine.code }, { ok: false, code: theirs.code }, `${entry.name}: fails with code ${theirs.code} (${theirs.msg})`);
      if (entry.sameMessage && !mine.ok) t.equal(mine.msg, theirs.msg, `${entry.name}: the same message`);
    }
  }
});

t.test('generated confs: the same outcome as the binary', { skip }, async (t) => {
  const octet = fc.integer({ min: 0, max: 255 });
  const v4 = fc.tuple(octet, octet, octet, octet).map((parts) => parts.join('.'));
  const group = fc.integer({ min: 0, max: 0xffff }).map((value) => value.toString(16));
  const v6 = fc.oneof(
    fc.array(group, { minLength: 8, maxLength: 8 }).map((groups) => groups.join(':')),
    fc.tuple(fc.array(group, { maxLength: 3 }), fc.array(group, { maxLength: 3 })).map(([head, tail]) => `${head.join(':')}::${tail.join(':')}`),
    v4.map((address) => `::ffff:${address}`),
  );
  const cidr = fc.oneof(
    fc.tuple(v4, fc.integer({ min: 0, max: 34 })).map(([ip, prefix]) => `${ip}/${prefix}`),
    fc.tuple(v6, fc.integer({ min: 0, max: 130 })).map(([ip, prefix]) => `${ip}/${prefix}`),
    fc.constantFrom('10.0.0.1', 'x/24', '10.0.0.1/', '1.2.3.4/ 8'),
  );
  const version = fc.constantFrom('0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0');
  const address = fc.record({ address: cidr, gateway: fc.option(fc.oneof(v4, v6), { nil: undefined }) }, { requiredKeys: ['address'] });
  const route = fc.record({ dst: cidr, gw: fc.option(fc.oneof(v4, v6), { nil: undefined }) }, { requiredKeys: ['dst'] });
  const cniArgs = fc.oneof(
    fc.constant(''),
    fc.tuple(fc.array(cidr, { minLength: 1, maxLength: 3 }), fc.option(fc.array(fc.oneof(v4, v6), { minLength: 1, maxLength: 2 }), { nil: undefined }))
      .map(([ips, gateways]) => `IgnoreUnknown=1;K8S_POD_NAME=p;IP=${ips.join(',')}${gateways ? `;GATEWAY=${gateways.join(',')}` : ''}`),
  );
  const input = fc.record({
    version,
    addresses: fc.array(address, { maxLength: 3 }),
    routes: fc.option(fc.array(route, { maxLength: 3 }), { nil: undefined }),
    runtimeIps: fc.option(fc.array(cidr, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    cniArgs,
  });
  let compared = 0;
  fc.assert(fc.property(input, (generated) => {
    const stdin = net(generated.version, { addresses: generated.addresses, ...(generated.routes ? { routes: generated.routes } : {}) }, generated.runtimeIps ? { runtimeConfig: { ips: generated.runtimeIps } } : {});
    const theirs = reference('ADD', stdin, generated.cniArgs);
    const mine = ours('ADD', stdin, generated.cniArgs);
    compared++;
    if (theirs.ok !== mine.ok) throw new Error(`binary ${JSON.stringify(theirs)} vs in-process ${JSON.stringify(mine)} for ${JSON.stringify({ stdin, cniArgs: generated.cniArgs })}`);
    if (theirs.ok && mine.ok && !isDeepStrictEqual(mine.result, theirs.result)) throw new Error(`binary ${JSON.stringify(theirs.result)} vs in-process ${JSON.stringify(mine.result)} for ${JSON.stringify({ stdin, cniArgs: generated.cniArgs })}`);
    else if (!theirs.ok && !mine.ok && theirs.code !== mine.code) throw new Error(`codes ${theirs.code} vs ${mine.code} for ${JSON.stringify(stdin)}`);
  }), { numRuns: 150 });
  t.equal(compared >= 150, true, `${compared} generated confs compared`);
});
