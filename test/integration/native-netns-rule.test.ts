// The netns rule: thousands of operations inside other namespaces
// must leave the main thread and every libuv pool thread in the agent's namespace, and sockets the agent
// opens afterwards must live in the host namespace.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import * as native from '../../native/index.js';
import { createNetns, uniqueName } from './native-fixtures.js';

const operations = 2000;
const concurrency = 16;

t.test('after 2000 in-namespace operations every agent thread is still in the original namespace', async (tt) => {
  const hostInode = statSync('/proc/self/ns/net').ino;
  const before = await native.currentThreadNetnsInodes();
  tt.equal(before.main, hostInode, 'main thread starts in the host namespace');

  const namespaces = [createNetns('rla'), createNetns('rlb')];
  tt.teardown(() => namespaces.forEach((ns) => ns.remove()));
  const links = namespaces.map(() => uniqueName('rl'));
  for (const [i, ns] of namespaces.entries()) {
    await native.createBridge({ name: links[i]!, netns: ns.path });
  }

  // Keep the libuv pool busy at the same time, so pool threads run while native threads switch namespaces.
  let poolReads = 0;
  const poolLoad = (async () => {
    while (poolReads < operations / 4) {
      await readFile('/proc/self/status');
      poolReads++;
    }
  })();

  let done = 0;
  const worker = async (slot: number): Promise<void> => {
    for (let i = slot; i < operations; i += concurrency) {
      const k = i % namespaces.length;
      const where = { netns: namespaces[k]!.path };
      switch (i % 4) {
        case 0: await native.setLinkUp(links[k]!, i % 8 === 0, where); break;
        case 1: await native.getLink(links[k]!, where); break;
        case 2: await native.readSysctl('net/ipv4/ip_forward', where); break;
        default: await native.listAddresses(undefined, where); break;
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, slot) => worker(slot)));
  await poolLoad;
  tt.equal(done, operations, `${operations} operations completed`);

  const after = await native.currentThreadNetnsInodes();
  tt.equal(after.main, hostInode, 'main thread is in the host namespace');
  tt.equal(after.pool.length, Number(process.env['UV_THREADPOOL_SIZE'] ?? 4), 'every libuv pool thread answered');
  tt.ok(after.pool.every((inode) => inode === hostInode), `every libuv pool thread is in the host namespace (${after.pool.join(', ')})`);
  const strays = after.threads.filter((th) => th.inode !== hostInode);
  tt.same(strays, [], 'no thread of the process is in another namespace (dedicated threads have exited)');
  // Dedicated threads exit right after handing their result over; give the last ones a moment.
  let threadCount = after.threads.length;
  for (let i = 0; i < 20 && threadCount > before.threads.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    threadCount = (await native.currentThreadNetnsInodes()).threads.length;
  }
  tt.ok(threadCount <= before.threads.length, `no native thread left behind (${before.threads.length} threads before, ${threadCount} after)`);
  const nsInodes = namespaces.map((ns) => statSync(ns.path).ino);
  tt.notOk(nsInodes.includes(hostInode), 'the test namespaces really are different namespaces');

  // A socket opened now must be in the host namespace: iproute2's `ss` in the host sees our listener,
  // the same command inside a test namespace does not, and a host connection reaches it.
  const server = createServer((socket) => socket.end('nicplex\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tt.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const hostListeners = execFileSync('ss', ['-Htlnp', `sport = :${port}`], { encoding: 'utf8' });
  tt.match(hostListeners, new RegExp(`pid=${process.pid}\\b`), 'ss in the host namespace shows our listener');
  for (const ns of namespaces) {
    tt.equal(ns.exec('ss', '-Htln', `sport = :${port}`).trim(), '', `no such listener inside ${ns.name}`);
  }
  const reply = await new Promise<string>((resolve, reject) => {
    const client = connect(port, '127.0.0.1');
    let text = '';
    client.on('data', (chunk) => (text += chunk.toString()));
    client.on('end', () => resolve(text));
    client.on('error', reject);
  });
  tt.equal(reply, 'nicplex\n', 'a host-side connection reaches it');
});

t.test('a namespace file of another type is refused, and isNetnsPath tells namespace files apart', async (tt) => {
  const hostInode = statSync('/proc/thread-self/ns/net').ino;
  const failure = await native.listLinks({ netns: '/proc/self/ns/mnt' }).then(() => undefined, (err: unknown) => err as native.NativeError);
  tt.equal(failure?.errno, 'EINVAL', 'a mount namespace file is not a network namespace (setns refuses it)');
  tt.equal(statSync('/proc/thread-self/ns/net').ino, hostInode, 'main thread unchanged');
  tt.equal(await native.isNetnsPath('/proc/self/ns/net'), true, 'isNetnsPath: /proc/self/ns/net');
  tt.equal(await native.isNetnsPath('/etc/hostname'), false, 'isNetnsPath: a regular file');
  tt.equal(await native.isNetnsPath('/nonexistent'), false, 'isNetnsPath: missing');
});
