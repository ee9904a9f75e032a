// Proves the lab itself: the kernel the host resolved for this run booted, the suite runs as root with the repo,
// node and node_modules visible, and the native addon loads and talks rtnetlink to this kernel.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { createDummy, getLink, listLinks } from '../../../native/index.js';
import { addNetns, deleteNetns, ipLink, notInLabReason } from './lab-guest.js';

t.test('the guest runs the Debian kernel the host resolved for this run, as root', { skip: notInLabReason }, async (t) => {
  const expectedRelease = process.env['NICPLEX_LAB_KERNEL_RELEASE'];
  const expectedVersion = process.env['NICPLEX_LAB_KERNEL_DEBIAN_VERSION'];
  t.ok(expectedRelease && expectedVersion, 'the host passed the resolved kernel (NICPLEX_LAB_KERNEL_RELEASE, NICPLEX_LAB_KERNEL_DEBIAN_VERSION)');
  t.equal(release(), expectedRelease);
  // Debian's /proc/version ends with "Debian <version> (<date>)".
  t.match(readFileSync('/proc/version', 'utf8'), ` Debian ${expectedVersion ?? '(unset)'} `);
  t.equal(process.getuid?.(), 0);
});

t.test('the addon creates a link in a namespace and reads it back like iproute2 does', { skip: notInLabReason }, async (t) => {
  const nsName = 'npx-lab-smoke';
  const netns = addNetns(nsName);
  t.teardown(() => deleteNetns(nsName));
  await createDummy({ name: 'smoke0', netns, mtu: 1400 });
  const link = await getLink('smoke0', { netns });
  const seen = ipLink('smoke0', nsName, true);
  t.equal(link.index, seen.ifindex);
  t.equal(link.mtu, 1400);
  t.equal(seen.mtu, 1400);
  t.equal(link.kind, 'dummy');
  t.equal(seen.linkinfo?.info_kind, 'dummy');
  t.equal(link.mac, seen.address);
  const names = (await listLinks({ netns })).map((l) => l.name).sort();
  t.same(names, ['lo', 'smoke0']);
});
