// The kubelet stand-in's own pod-resources behaviour, which the meta-CNI tests rely on: List/Get of
// recorded allocations, the kubelet's default rate limit, allocatable devices, and a restart that
// keeps allocations (checkpoint) while re-creating the socket.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodResourcesListerService, type AllocatableResourcesResponse, type ListPodResourcesResponse } from '../../config/grpc/kubelet-api.js';
import { callUnary, unixTarget } from '../../deviceplugin/server/grpc-unix.js';
import { fakeSnapshot, fakeVfs } from '../helpers/dp-snapshot.js';
import { startHarness } from '../helpers/dp-harness.js';
import { KubeletStandin } from '../helpers/kubelet-standin.js';

const PodResourcesClient = grpc.makeGenericClientConstructor(PodResourcesListerService, 'PodResourcesLister');

t.test('recorded allocations in List/Get and the checkpoint; survive a restart', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'npx-standin-'));
  const kubelet = await KubeletStandin.start({ dir: join(root, 'device-plugins') });
  t.teardown(async () => {
    await kubelet.stop();
    rmSync(root, { recursive: true, force: true });
  });
  t.equal(kubelet.podResources!.socketPath, join(root, 'pod-resources', 'kubelet.sock'), 'default: <dir>/../pod-resources/kubelet.sock');
  await kubelet.recordAllocation('uid-9', 'web', 'prod', 'app', 'intel.com/sriov_a', ['0000:3b:02.1', '0000:3b:02.0'], 0);
  const client = new PodResourcesClient(unixTarget(kubelet.podResources!.socketPath), grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const list = await callUnary<ListPodResourcesResponse>(client, 'List', {}, 3000);
  t.same(list.podResources.map((p) => [p.name, p.namespace, p.containers[0]?.name, p.containers[0]?.devices[0]?.deviceIds]), [['web', 'prod', 'app', ['0000:3b:02.1', '0000:3b:02.0']]]);
  await t.rejects(callUnary(client, 'Get', { podName: 'nope', podNamespace: 'prod' }, 3000), /pod nope not found in namespace prod/);
  const checkpoint = JSON.parse(readFileSync(kubelet.checkpointPath, 'utf8'));
  t.same(checkpoint.Data.PodDeviceEntries[0].DeviceIDs, { 0: ['0000:3b:02.1', '0000:3b:02.0'] });
  await kubelet.restart();
  t.ok(existsSync(kubelet.checkpointPath));
  const client2 = new PodResourcesClient(unixTarget(kubelet.podResources!.socketPath), grpc.credentials.createInsecure());
  t.teardown(() => client2.close());
  const again = await callUnary<ListPodResourcesResponse>(client2, 'List', {}, 3000);
  t.equal(again.podResources.length, 1, 'allocations survive the restart');
  await kubelet.removePod('uid-9');
  t.same((await callUnary<ListPodResourcesResponse>(client2, 'List', {}, 3000)).podResources, [], 'a removed pod leaves List');
});

t.test("the kubelet's default rate limit (100 QPS, burst 10) rejects bursts with RESOURCE_EXHAUSTED", async (t) => {
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'a', devices: fakeVfs('0000:3b:00.0', 'ens1f0', '3b', 3) }]) });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/a', 3);
  const client = new PodResourcesClient(unixTarget(h.kubelet.podResources!.socketPath), grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const allocatable = await callUnary<AllocatableResourcesResponse>(client, 'GetAllocatableResources', {}, 3000);
  t.same(allocatable.devices, [{ resourceName: 'intel.com/a', deviceIds: ['0000:3b:02.0', '0000:3b:02.1', '0000:3b:02.2'], topology: undefined }]);
  const outcomes = await Promise.allSettled(Array.from({ length: 60 }, () => callUnary(client, 'List', {}, 3000)));
  const rejected = outcomes.filter((o) => o.status === 'rejected');
  t.ok(rejected.length >= 1, `${rejected.length} of 60 rejected`);
  t.ok(outcomes.length - rejected.length >= 9, 'about a burst worth accepted');
  t.ok(rejected.every((o) => (o as PromiseRejectedResult).reason.code === grpc.status.RESOURCE_EXHAUSTED));
  h.kubelet.podResources!.setRateLimit(null);
  const all = await Promise.allSettled(Array.from({ length: 30 }, () => callUnary(client, 'List', {}, 3000)));
  t.equal(all.filter((o) => o.status === 'rejected').length, 0, 'limiter off');
});
