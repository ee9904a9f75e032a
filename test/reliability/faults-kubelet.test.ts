// Kubelet faults against the device plugin (PluginManager over real gRPC on unix sockets, the kubelet
// stand-in): the kubelet restarts (kubelet.sock re-created, every plugin socket deleted) five times while
// Allocate calls are in flight. Each call completes or fails with an error — none hangs, nothing crashes —
// the plugin re-registers after every restart, and afterwards every Allocate succeeds with the device.
import t from 'tap';
import { startHarness } from '../helpers/dp-harness.js';
import { fakeSnapshot, fakeVfs } from '../helpers/dp-snapshot.js';

const RESOURCE = 'intel.com/sriov_k';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('kubelet restarts during Allocate', async (t) => {
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'sriov_k', devices: fakeVfs('0000:3b:00.0', 'ens1f0', '3b', 4, { numaNode: 0 }) }]) });
  t.teardown(() => h.close());
  const first = await h.kubelet.waitForHealthy(RESOURCE, 4);
  const ids = first!.devices.map((device) => device.ID);
  const tally = { completed: 0, failed: 0, noEndpoint: 0 };
  const errors = new Set<string>();
  let slowest = 0;
  let stop = false;
  const worker = async (index: number) => {
    for (let round = 0; !stop && round < 2000; round++) {
      const started = Date.now();
      try {
        const answer = await h.kubelet.allocateIds(RESOURCE, [ids[(index + round) % ids.length]!]);
        if (!Object.keys(answer.envs ?? {}).some((name) => name.startsWith('PCIDEVICE_'))) throw new Error(`an Allocate answer without its device: ${JSON.stringify(answer)}`);
        tally.completed++;
      } catch (error) {
        const message = (error as Error).message;
        if (message.startsWith('an Allocate answer')) throw error;
        if (/no device plugin registered/.test(message)) tally.noEndpoint++;
        else {
          tally.failed++;
          errors.add(message.split('\n')[0]!.slice(0, 120));
        }
        await sleep(10);
      }
      slowest = Math.max(slowest, Date.now() - started);
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  let generation = first!.generation;
  const restarts: number[] = [];
  for (let restart = 0; restart < 5; restart++) {
    await sleep(150);
    const started = Date.now();
    await h.kubelet.restart();
    const view = await h.kubelet.waitFor(RESOURCE, (v) => !!v && v.connected && v.generation > generation && v.devices.length === 4, 5000, `re-registration after restart ${restart + 1}`);
    generation = view!.generation;
    restarts.push(Date.now() - started);
  }
  await sleep(150);
  stop = true;
  await Promise.all(workers);
  t.comment(`5 restarts, re-registered after ${restarts.join(', ')} ms; Allocate calls: ${tally.completed} completed, ${tally.failed} failed with an error, ${tally.noEndpoint} found no endpoint yet; slowest call ${slowest} ms`);
  t.comment(`errors seen: ${[...errors].join(' | ') || 'none'}`);
  t.ok(tally.completed > 0, 'Allocate calls completed between restarts');
  t.ok(slowest < 6000, `no call hung (slowest ${slowest} ms, the call deadline is 5 s)`);
  t.equal(h.manager.poolServers().size, 1, 'the plugin still serves its pool');
  let after = 0;
  for (const id of ids) {
    const answer = await h.kubelet.allocateIds(RESOURCE, [id]);
    if (Object.values(answer.envs ?? {}).some((value) => value.includes(id))) after++;
  }
  t.equal(after, ids.length, 'after the restarts every Allocate succeeds with its device');
});
