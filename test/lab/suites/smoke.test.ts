// Proves the lab itself: the pinned Debian kernel booted, the suite runs as root with the repo,
// node and node_modules visible, and the native addon loads and talks rtnetlink to this kernel.
import t from 'tap';
import { release } from 'node:os';
import { createDummy, getLink, listLinks } from '../../../native/index.js';
import { kernelRelease } from '../lab-paths.js';
import { addNetns, deleteNetns, ipLink, notInLabReason } from './lab-guest.js';

t.test('the guest runs the pinned Debian kernel as root', { skip: notInLabReason }, async (t) => {
  t.equal(release(), kernelRelease);
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
