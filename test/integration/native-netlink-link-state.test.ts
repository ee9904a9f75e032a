// The device plugin's netlink link-state source on real links in a test namespace: initial state from
// the link list, a link losing carrier or going down is reported through watch() and read(), renames
// and deletions make the old name unknown.
import t from 'tap';
import { NetlinkLinkStateSource } from '../../deviceplugin/netlink-link-state.js';
import { NativeError } from '../../native/index.js';
import { createNetns, uniqueName } from './native-fixtures.js';

t.test('a link going down is reported at once', async (tt) => {
  const ns = createNetns('lst');
  tt.teardown(() => ns.remove());
  const a = uniqueName('sa');
  const b = uniqueName('sb');
  ns.ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ns.ip('link', 'set', a, 'up');
  ns.ip('link', 'set', b, 'up');

  const source = new NetlinkLinkStateSource({ sysfsRoot: '/sys', netns: ns.path, onFallback: (err) => tt.fail(`fell back to sysfs: ${err.message}`) });
  tt.teardown(() => source.close());
  await source.ready();
  const deadline = Date.now() + 3000;
  while (source.read(a) !== true && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  tt.equal(source.read(a), true, 'both ends up: operstate up');
  tt.equal(source.read('npxnosuchdev0'), null, 'unknown netdev: null');

  const changes: string[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = source.watch((netdev) => {
    changes.push(netdev);
    wake?.();
  });
  const waitUntil = async (pred: () => boolean): Promise<boolean> => {
    const until = Date.now() + 3000;
    while (!pred() && Date.now() < until) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return pred();
  };

  const started = Date.now();
  ns.ip('link', 'set', b, 'down');
  tt.ok(await waitUntil(() => changes.includes(a) && source.read(a) === false), 'peer down: watch reports the netdev and read() says down');
  tt.comment(`reported after ${Date.now() - started} ms (event-driven; waitUntil bounds it)`);

  ns.ip('link', 'set', b, 'up');
  tt.ok(await waitUntil(() => source.read(a) === true), 'peer up again: read() says up');

  const renamed = uniqueName('sr');
  ns.ip('link', 'set', a, 'down');
  ns.ip('link', 'set', a, 'name', renamed);
  tt.ok(await waitUntil(() => source.read(a) === null && source.read(renamed) === false), 'rename: old name unknown, new name known (down)');

  changes.length = 0;
  ns.ip('link', 'del', renamed);
  tt.ok(await waitUntil(() => changes.includes(renamed) && source.read(renamed) === null), 'deleted: reported and unknown');
  unsubscribe();
});

t.test('a monitor that cannot start throws a NativeError from the constructor (the device plugin then uses sysfs)', async (tt) => {
  const constructed = (() => {
    try {
      return new NetlinkLinkStateSource({ sysfsRoot: '/sys', netns: '/run/netns/npx-missing-namespace' });
    } catch (err) {
      return err as Error;
    }
  })();
  tt.ok(constructed instanceof NativeError, 'constructing on a missing namespace throws');
  tt.equal((constructed as NativeError).errno, 'ENOENT', 'with the errno of the failed open');
});
