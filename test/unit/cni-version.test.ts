// Result parsing and conversion between every CNI spec version.
import t from 'tap';
import { formatResult, parseResult, SUPPORTED_VERSIONS } from '../../cni/version.js';

const modern = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1400, sandbox: '/run/netns/x', pciID: '0000:00:01.0' }],
  ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 }, { address: '2001:db8::5/64', interface: 0 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400 }, { dst: '::/0', gw: '2001:db8::1' }],
  dns: { nameservers: ['10.1.0.1'] },
};

t.test('1.1.0 converts down to 0.4.0 (ips get "version", 1.1-only fields dropped) and 0.2.0 (ip4/ip6)', async (t) => {
  const parsed = parseResult(modern, '1.1.0');
  t.same(formatResult(parsed, '0.4.0'), {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/x' }],
    ips: [{ version: '4', interface: 0, address: '10.1.0.5/24', gateway: '10.1.0.1' }, { version: '6', interface: 0, address: '2001:db8::5/64' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '::/0', gw: '2001:db8::1' }],
    dns: { nameservers: ['10.1.0.1'] },
  });
  t.same(formatResult(parsed, '0.2.0'), {
    cniVersion: '0.2.0',
    ip4: { ip: '10.1.0.5/24', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }] },
    ip6: { ip: '2001:db8::5/64', routes: [{ dst: '::/0', gw: '2001:db8::1' }] },
    dns: { nameservers: ['10.1.0.1'] },
  });
  t.same(formatResult(parsed, '1.1.0'), modern, '1.1.0 round-trips losslessly');
});

t.test('0.2.0 and 0.3.1 results convert up; every version round-trips through the 1.x shape', async (t) => {
  const legacy = parseResult({ cniVersion: '0.2.0', ip4: { ip: '10.2.0.2/16', gateway: '10.2.0.1', routes: [{ dst: '10.3.0.0/16' }] }, dns: {} }, '0.2.0');
  t.same(formatResult(legacy, '1.0.0'), { cniVersion: '1.0.0', ips: [{ address: '10.2.0.2/16', gateway: '10.2.0.1' }], routes: [{ dst: '10.3.0.0/16' }], dns: {} });
  const v031 = parseResult({ cniVersion: '0.3.1', interfaces: [{ name: 'net1' }], ips: [{ version: '4', address: '10.9.0.1/24', interface: 0 }] }, '0.3.1');
  t.same(v031.ips, [{ address: '10.9.0.1/24', interface: 0 }]);
  for (const version of SUPPORTED_VERSIONS) {
    const out = formatResult(parseResult(modern, '1.1.0'), version);
    t.equal(out['cniVersion'], version);
    t.ok(parseResult(out, version).ips?.some((ip) => ip.address === '10.1.0.5/24'), `${version} keeps the IPv4 address`);
  }
});

t.test('an unknown version is rejected with "not supported version"; 0.2.0 without any IP cannot be produced', async (t) => {
  t.throws(() => parseResult({ cniVersion: '0.9.0' }, '1.0.0'), { code: 1, message: /not supported version "0\.9\.0"/ });
  t.throws(() => formatResult(parseResult(modern, '1.1.0'), '0.9.0'), /not supported version/);
  t.throws(() => formatResult({ cniVersion: '1.0.0', interfaces: [{ name: 'x' }] }, '0.2.0'), /no valid IP addresses/);
  t.throws(() => parseResult('nope', '1.0.0'), { code: 6 });
});
