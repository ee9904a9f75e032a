// nicplex agent + C shim vs the plugins called directly, side by side in one run:
//  1. ADD+DEL of a pod with a bridge cluster network and one macvlan NAD: the shim (→ agent, standalone)
//     vs bridge and macvlan exec'd directly (goal ≤ 1.10×); plus the shim's own CPU per call (goal ≤ 2 ms).
//     Also nicplex thin mode in Kubernetes mode (one Node process per call, the fake API server) on the same
//     workload (goal ≤ 2.0×).
//  3. Kubernetes mode against the fake API server with 1000 pods and 200 NADs: API reads per ADD of a cached
//     pod (goal 0), agent RSS after the ADD/DEL cycles (goal ≤ 90 MiB, growth < 5 MiB from cycle 200 to the
//     end), and agent start → kubelet registration (device plugin on a fake sysfs).
//  2. containerd sandbox create+remove: the shim as the CNI (bridge only) vs bridge as the CNI (goal ≤ 1.15×).
// Runs in private netns; writes bench-results/agent.json with a `summary` array.
// Usage (root): node dist/test/bench/agent.bench.js [--rounds N] [--cycles N] [--sandbox-rounds N] [--skip-cni] [--skip-kubernetes] [--skip-containerd]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accepts, shimPath } from '../helpers/agent-harness.js';
import { cniLauncherPath } from '../helpers/cni-lab.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { podSandboxConfig } from '../helpers/cri-client.js';
import { bridgeNetworkConfig, writeJsonFile } from '../e2e/harness/cni-dirs.js';
import { prepareContainerd, type ContainerdFixture } from '../e2e/harness/containerd-fixture.js';
import { startNodeAgent } from '../e2e/harness/nicplex-agent.js';
import { clusterDelegate, nicplexConf, nicplexLayout, subnetsFor } from '../e2e/harness/nicplex-networks.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { median, numberArgument } from './bench-stats.js';
import { runTimed } from './bench-process.js';
import { runInPrivateHost } from './bench-netns.js';

const PLUGINS = '/usr/lib/cni';
const tag = `npxag${process.pid % 100000}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// NICPLEX_BENCH_AGENT_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p") goes to the agents' node.
const nodeArgs = (process.env['NICPLEX_BENCH_AGENT_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');

interface SummaryRow { case: string; nicplex_ms: number; reference_ms: number; ratio: number; goal: string }

const run = (binary: string, env: Record<string, string>, stdin: string, args: string[] = []) => runTimed(binary, args, env, stdin);

function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

async function innerCniCase(dir: string, ctrA: string, ctrB: string, ctrC: string, rounds: number): Promise<SummaryRow[]> {
  const bridge = (name: string, bridgeName: string, subnet: string) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), subnet } }] });
  const macvlan = (name: string, address: string) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'macvlan', master: 'bmv0', mode: 'bridge', ipam: { type: 'static', addresses: [{ address }] } }] });
  mkdirSync(join(dir, 'nads'), { recursive: true });
  writeFileSync(join(dir, 'nads', 'mv.json'), JSON.stringify({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'mv', namespace: 'default' }, spec: { config: JSON.stringify(macvlan('mv', '10.231.65.2/24')) } }));
  const socketDir = join(dir, 'sock');
  const conf = JSON.stringify({
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(dir, 'cache'), binDir: PLUGINS, socketDir,
    standalone: { nadDir: join(dir, 'nads'), allocationDir: join(dir, 'alloc'), devicePools: {} },
    delegates: [bridge('bench-br', `${tag}a`, '10.231.64.0/24')],
  });
  // The agent runs here, in the bench's private host netns, like a hostNetwork DaemonSet pod.
  const agent: ChildProcess = spawn(process.execPath, [...nodeArgs, cliPath, 'agent', '--socket-dir', socketDir, '--metrics-address', '', '--log-level', 'error'], { stdio: 'ignore' });
  // Even if this process dies on an error, the agent it started must not outlive it.
  const killAgent = () => { if (agent.exitCode === null) agent.kill('SIGKILL'); };
  process.once('exit', killAgent);
  try {
    const deadline = Date.now() + 15_000;
    while (!(await accepts(join(socketDir, 'nicplex.sock')))) {
      if (Date.now() > deadline) throw new Error('the agent did not start');
      await sleep(25);
    }
    const shimEnv = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'benchA', CNI_NETNS: `/var/run/netns/${ctrA}`, CNI_IFNAME: 'eth0', CNI_PATH: PLUGINS, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench;NICPLEX_NETWORKS=mv' });
    const brConf = bridge('ref-br', `${tag}b`, '10.231.66.0/24');
    const mvConf = macvlan('ref-mv', '10.231.67.2/24');
    const plugin = (list: { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> }) => JSON.stringify({ ...list.plugins[0], cniVersion: list.cniVersion, name: list.name });
    const refEnv = (command: string, ifname: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'benchB', CNI_NETNS: `/var/run/netns/${ctrB}`, CNI_IFNAME: ifname, CNI_PATH: PLUGINS });
    // Thin mode, Kubernetes mode: the fake API server listens on 127.0.0.1 of this private netns.
    const api = new FakeApiServer();
    await api.start();
    const kubeconfig = join(dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig);
    api.addNad({ namespace: 'default', name: 'mv', config: JSON.stringify(macvlan('mv', '10.231.68.2/24')) });
    api.addPod({ namespace: 'default', name: 'thin', annotations: { 'k8s.v1.cni.cncf.io/networks': 'mv' } });
    const thinConf = JSON.stringify({
      cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(dir, 'cache-thin'), binDir: PLUGINS, kubeconfig,
      podResourcesSocket: join(dir, 'no-kubelet.sock'), delegates: [bridge('thin-br', `${tag}c`, '10.231.69.0/24')],
    });
    const thinEnv = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'benchC', CNI_NETNS: `/var/run/netns/${ctrC}`, CNI_IFNAME: 'eth0', CNI_PATH: PLUGINS, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=thin' });
    // Thin mode as a runtime execs it: build/Release/nicplex-cni (node on the CNI entry's one-file bundle with its code cache,
    // or the plain dist/deploy/nicplex.js when there is none); and the plain entry for comparison.
    // NICPLEX_BENCH_THIN_NODE_ARGS profiles the thin-mode processes: node then runs with these arguments
    // and the launcher's own (node rejects --cpu-prof in NODE_OPTIONS). NICPLEX_BENCH_THIN_COMPARE="label=node args;…"
    // adds more variants, each run as `node <args> dist/deploy/nicplex.js cni` in the same rounds.
    const thinNodeArgs = (process.env['NICPLEX_BENCH_THIN_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
    const words = (text: string) => text.split(' ').filter((arg) => arg !== '');
    const thinVariants: Array<{ label: string; binary: string; args: string[]; env: Record<string, string>; totals: number[]; cpu?: number[] }> = [
      thinNodeArgs.length
        ? { label: 'fast entry (node dist/cni-fast/main.cjs)', binary: process.execPath, args: [...thinNodeArgs, join(repoRoot, 'dist', 'cni-fast', 'main.cjs')], env: {}, totals: [] }
        : { label: 'fast entry (build/Release/nicplex-cni)', binary: cniLauncherPath, args: [], env: {}, totals: [] },
      { label: 'plain entry (node dist/deploy/nicplex.js cni)', binary: process.execPath, args: [...thinNodeArgs, cliPath, 'cni'], env: {}, totals: [] },
      ...(process.env['NICPLEX_BENCH_THIN_COMPARE'] ?? '').split(';').filter((spec) => spec.includes('=')).map((spec) => ({
        label: spec.slice(0, spec.indexOf('=')), binary: process.execPath, args: [...words(spec.slice(spec.indexOf('=') + 1)), cliPath, 'cni'], env: {}, totals: [] as number[],
      })),
    ];
    const runThin = (variant: (typeof thinVariants)[number], command: string) => {
      const started = process.hrtime.bigint();
      return new Promise<{ code: number; stdout: string; ms: number }>((resolve) => {
        const child = spawn(variant.binary, variant.args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...variant.env, ...thinEnv(command) }, stdio: ['pipe', 'pipe', 'ignore'] });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
        child.stdin.end(thinConf);
      });
    };
    const shim: number[] = [];
    const reference: number[] = [];
    const referenceCpu: number[] = [];
    for (let round = -3; round < rounds; round++) {
      const add = await run(shimPath, shimEnv('ADD'), conf);
      const del = await run(shimPath, shimEnv('DEL'), conf);
      if (add.code !== 0 || del.code !== 0) throw new Error(`shim → agent failed: ${add.stdout} ${del.stdout}`);
      const thinRuns: number[] = [];
      for (const variant of thinVariants) {
        const cpuBefore = childCpuMs();
        const thinAdd = await runThin(variant, 'ADD');
        const thinDel = await runThin(variant, 'DEL');
        if (thinAdd.code !== 0 || thinDel.code !== 0) throw new Error(`thin mode (Kubernetes, ${variant.label}) failed: ${thinAdd.stdout} ${thinDel.stdout}`);
        thinRuns.push(thinAdd.ms + thinDel.ms);
        // CPU (user+system) of the two calls and the plugins they ran: steadier than wall time on a busy machine.
        if (round >= 0) (variant.cpu ??= []).push(childCpuMs() - cpuBefore);
      }
      const referenceCpuBefore = childCpuMs();
      const calls = [
        await run(join(PLUGINS, 'bridge'), refEnv('ADD', 'eth0'), plugin(brConf)),
        await run(join(PLUGINS, 'macvlan'), refEnv('ADD', 'net1'), plugin(mvConf)),
        await run(join(PLUGINS, 'macvlan'), refEnv('DEL', 'net1'), plugin(mvConf)),
        await run(join(PLUGINS, 'bridge'), refEnv('DEL', 'eth0'), plugin(brConf)),
      ];
      if (calls.some((call) => call.code !== 0)) throw new Error(`reference plugin failed: ${calls.map((call) => call.stdout).join(' ')}`);
      if (round < 0) continue;
      referenceCpu.push(childCpuMs() - referenceCpuBefore);
      shim.push(add.ms + del.ms);
      thinRuns.forEach((ms, index) => thinVariants[index]!.totals.push(ms));
      reference.push(calls.reduce((sum, call) => sum + call.ms, 0));
    }
    // The shim's own CPU: DELs of containers the agent never saw (the agent does almost nothing), minus
    // the same number of /bin/true runs (creating and exec'ing any process costs that much here).
    const calls = 200;
    const cpuOf = async (binary: string, env: (index: number) => Record<string, string>) => {
      const before = childCpuMs();
      for (let index = 0; index < calls; index++) {
        const result = await run(binary, env(index), conf);
        if (result.code !== 0) throw new Error(`${binary} failed: ${result.stdout}`);
      }
      return (childCpuMs() - before) / calls;
    };
    const execBaselineMs = await cpuOf('/bin/true', () => ({}));
    // Context for the thin-mode ratio: what one Node start costs on this machine right now.
    const nodeStarts: number[] = [];
    for (let index = 0; index < 10; index++) nodeStarts.push((await run(process.execPath, {}, '', ['-e', '0'])).ms);
    const shimTotalMs = await cpuOf(shimPath, (index) => ({ ...shimEnv('DEL'), CNI_CONTAINERID: `cpu${index}`, CNI_ARGS: '' }));
    const shimCpuMs = Math.max(0, shimTotalMs - execBaselineMs);
    await api.stop();
    const thin = thinVariants[0]!.totals;
    console.log(`ADD+DEL bridge + macvlan NAD, ${rounds} rounds: shim→agent median ${median(shim).toFixed(1)} ms, thin Kubernetes mode ${median(thin).toFixed(1)} ms, plugins direct ${median(reference).toFixed(1)} ms; ratios ${(median(shim) / median(reference)).toFixed(2)}x, ${(median(thin) / median(reference)).toFixed(2)}x`);
    console.log(`plugins direct: ADD+DEL median ${median(reference).toFixed(1)} ms wall, ${median(referenceCpu).toFixed(0)} ms CPU`);
    for (const variant of thinVariants) console.log(`thin mode, ${variant.label}: ADD+DEL median ${median(variant.totals).toFixed(1)} ms wall, ${median(variant.cpu ?? []).toFixed(0)} ms CPU with its plugins`);
    console.log(`shim CPU per call: ${shimCpuMs.toFixed(2)} ms of its own (${shimTotalMs.toFixed(2)} ms in all, of which ${execBaselineMs.toFixed(2)} ms is what exec'ing /bin/true costs here; ${calls} calls)`);
    return [
      { case: 'ADD+DEL bridge + macvlan NAD: shim→agent (standalone) vs bridge+macvlan exec\'d directly', nicplex_ms: median(shim), reference_ms: median(reference), ratio: median(shim) / median(reference), goal: '<= 1.10' },
      { case: 'ADD+DEL bridge + macvlan NAD: nicplex thin mode, Kubernetes mode (fake API server) vs bridge+macvlan exec\'d directly', nicplex_ms: median(thin), reference_ms: median(reference), ratio: median(thin) / median(reference), goal: '<= 2.00' },
      ...thinVariants.slice(1).map((variant) => ({ case: `context: thin mode, Kubernetes mode, ${variant.label}`, nicplex_ms: median(variant.totals), reference_ms: median(reference), ratio: median(variant.totals) / median(reference), goal: 'report' })),
      { case: 'context: one Node start (node -e 0) on this machine during the run', nicplex_ms: median(nodeStarts), reference_ms: 70, ratio: median(nodeStarts) / 70, goal: 'report (≈ 70 ms idle)' },
      { case: `shim CPU per call (user+system) beyond exec'ing /bin/true (${execBaselineMs.toFixed(2)} ms here)`, nicplex_ms: shimCpuMs, reference_ms: 2, ratio: shimCpuMs / 2, goal: '<= 1.00 (2 ms)' },
    ];
  } finally {
    agent.kill('SIGTERM');
  }
}

async function cniCase(rounds: number): Promise<SummaryRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'npx-agentbench-'));
  const [ctrA, ctrB, ctrC] = [`${tag}a`, `${tag}b`, `${tag}c`];
  try {
    const out = join(dir, 'rows.json');
    const ok = runInPrivateHost({ host: `${tag}h`, containers: [ctrA, ctrB, ctrC], self: fileURLToPath(import.meta.url), envName: 'NPX_AGENT_BENCH_INNER', payload: { dir, ctrA, ctrB, ctrC, rounds, out } });
    if (!ok || !existsSync(out)) throw new Error('the CNI case failed');
    return JSON.parse(readFileSync(out, 'utf8')) as SummaryRow[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function containerdCase(rounds: number): Promise<SummaryRow[]> {
  const teardowns: Array<() => unknown> = [];
  const collector = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  try {
    const bridgeSubnets = subnetsFor(110);
    const direct = await prepareContainerd(collector, 'abr', bridgeSubnets.masterPeerCidr);
    writeJsonFile(join(direct.cniConfDir, '10-bridge.conf'), bridgeNetworkConfig({ name: 'npx-bench-cluster', bridge: `npxab${process.pid}`.slice(0, 15), subnet: bridgeSubnets.cluster, ipamDataDir: direct.ipamDataDir }));
    const shimSubnets = subnetsFor(112);
    const viaShim = await prepareContainerd(collector, 'ash', shimSubnets.masterPeerCidr);
    const layout = nicplexLayout(viaShim.workDir, viaShim.node, shimSubnets, viaShim.ipamDataDir, 'h');
    const agent = await startNodeAgent(collector, viaShim.node, viaShim.workDir, viaShim.cniBinDir, ['--log-level', 'error']);
    writeJsonFile(join(viaShim.cniConfDir, '00-multus.conf'), nicplexConf(layout, viaShim.cniBinDir, [clusterDelegate(layout, shimSubnets, viaShim.ipamDataDir)], { standalone: true }, { logLevel: 'error', socketDir: agent.socketDir }));
    const setups: Array<{ fixture: ContainerdFixture; totals: number[] }> = [{ fixture: direct, totals: [] }, { fixture: viaShim, totals: [] }];
    for (const setup of setups) await setup.fixture.start();
    for (let round = -2; round < rounds; round++) {
      for (const setup of setups) {
        const containerd = setup.fixture.containerd!;
        const pod = { name: `bench-${round + 2}`, namespace: 'bench', uid: `uid-agent-bench-${process.pid}-${round + 2}` };
        const logDirectory = join(setup.fixture.workDir, 'pod-logs', pod.name);
        mkdirSync(logDirectory, { recursive: true });
        const started = process.hrtime.bigint();
        const id = await containerd.cri.runPodSandbox(podSandboxConfig(pod, { logDirectory }));
        await containerd.cri.stopPodSandbox(id);
        await containerd.cri.removePodSandbox(id);
        if (round >= 0) setup.totals.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }
    const [bridgeMs, shimMs] = setups.map((setup) => median(setup.totals)) as [number, number];
    console.log(`containerd sandbox create+remove, ${rounds} interleaved rounds: shim→agent ${shimMs.toFixed(1)} ms, bridge direct ${bridgeMs.toFixed(1)} ms, ratio ${(shimMs / bridgeMs).toFixed(2)}x`);
    return [{ case: 'containerd RunPodSandbox+Stop+Remove: shim→agent (bridge) vs bridge as the CNI', nicplex_ms: shimMs, reference_ms: bridgeMs, ratio: shimMs / bridgeMs, goal: '<= 1.15' }];
  } finally {
    for (const teardown of teardowns.reverse()) {
      try { await teardown(); } catch (error) { console.error(`teardown: ${(error as Error).message}`); }
    }
  }
}

/** VmRSS of a process, MiB. */
function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024;
}

async function kubernetesCase(cycles: number): Promise<SummaryRow[]> {
  const { buildFakeHost } = await import('../helpers/fake-sysfs.js');
  const { KubeletStandin } = await import('../helpers/kubelet-standin.js');
  const { intelE810 } = await import('../helpers/nic-models.js');
  const { CniLab } = await import('../helpers/cni-lab.js');
  const { AgentProcess, runShim } = await import('../helpers/agent-harness.js');
  const lab = new CniLab('abk');
  const api = new FakeApiServer();
  const host = buildFakeHost({ pci: intelE810({ numVfs: 4 }) });
  try {
    await api.start();
    const kubeconfig = join(lab.dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig);
    for (let index = 0; index < 200; index++) api.addNad({ namespace: 'bench', name: `nad${index}`, config: JSON.stringify({ cniVersion: '1.0.0', name: `nad${index}`, type: 'spy' }) });
    for (let index = 0; index < 1000; index++) api.addPod({ namespace: 'bench', name: `pod${index}`, nodeName: 'bench-node', annotations: { 'k8s.v1.cni.cncf.io/networks': `nad${index % 200}` } });
    const spyBin = lab.writeSpyPlugin('spy');
    const dpDir = join(host.root, 'kubelet', 'device-plugins');
    mkdirSync(dpDir, { recursive: true });
    const configPath = join(host.root, 'config.json');
    writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'e810', selectors: { devices: ['1889'] } }] }));
    const kubelet = await KubeletStandin.start({ dir: dpDir });
    const socketDir = join(lab.dir, 'sock');
    const started = Date.now();
    // The agent runs in this netns: its only delegate is the spy plugin, which touches no links.
    const agent = await AgentProcess.startInRootNetns([
      '--config', configPath, '--sysfs-root', host.sysfsRoot, '--proc-root', host.procRoot, '--dev-root', host.devRoot, '--device-plugin-dir', dpDir,
      '--devinfo-dir', join(host.root, 'devinfo'), '--pci-ids', 'none', '--socket-dir', socketDir, '--kubeconfig', kubeconfig, '--node-name', 'bench-node',
      '--metrics-address', '', '--log-level', 'error',
    ], join(socketDir, 'nicplex.sock'), { nodeArgs });
    try {
      await kubelet.waitForHealthy('intel.com/e810', 4, 20_000);
      const registrationMs = Math.min(...kubelet.registrations.map((registration) => registration.at)) - started;
      const conf = {
        cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(lab.dir, 'cache'), binDir: spyBin, socketDir,
        podResourcesSocket: join(lab.dir, 'no-kubelet.sock'), delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'spy' }],
      };
      const ctr = lab.containerNetns('c');
      await sleep(1000); // informers list the 1000 pods and 200 NADs
      const readsBefore = api.objectGets().length;
      let rssAt200 = Number.NaN;
      for (let cycle = 0; cycle < cycles; cycle++) {
        const pod = `pod${cycle % 1000}`;
        const env = { CNI_CONTAINERID: `k${cycle}`, CNI_NETNS: ctr.path, CNI_IFNAME: 'eth0', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod}` };
        const add = await runShim({ ...env, CNI_COMMAND: 'ADD' }, conf);
        const del = await runShim({ ...env, CNI_COMMAND: 'DEL' }, conf);
        if (add.exitCode !== 0 || del.exitCode !== 0) throw new Error(`cycle ${cycle}: ${add.stdout} ${del.stdout}`);
        if (cycle === 199) rssAt200 = rssMiB(agent.pid);
      }
      const readsPerAdd = (api.objectGets().length - readsBefore) / cycles;
      const rssEnd = rssMiB(agent.pid);
      console.log(`Kubernetes mode, 1000 pods / 200 NADs, ${cycles} ADD/DEL cycles: ${readsPerAdd} API reads per ADD, RSS ${rssAt200.toFixed(1)} MiB at cycle 200, ${rssEnd.toFixed(1)} MiB at the end; start → kubelet registration ${registrationMs} ms`);
      return [
        { case: 'Kubernetes mode (fake API, 1000 pods, 200 NADs): API reads per ADD of a cached pod', nicplex_ms: readsPerAdd, reference_ms: 0, ratio: readsPerAdd, goal: '0 reads' },
        { case: `agent RSS (MiB) after ${cycles} ADD/DEL cycles (device plugin + informers + CNI server) vs sriovdp + multus-daemon (44 + 44 MiB)`, nicplex_ms: rssEnd, reference_ms: 90, ratio: rssEnd / 90, goal: '<= 1.00 (90 MiB)' },
        { case: `agent RSS growth (MiB) from cycle 200 to ${cycles}`, nicplex_ms: rssEnd - rssAt200, reference_ms: 5, ratio: (rssEnd - rssAt200) / 5, goal: '< 1.00 (5 MiB)' },
        { case: 'agent start → kubelet registration (ms) vs sriovdp here (130 ms)', nicplex_ms: registrationMs, reference_ms: 130, ratio: registrationMs / 130, goal: 'report' },
      ];
    } finally {
      await agent.stop('SIGTERM');
      await kubelet.stop();
    }
  } finally {
    await api.stop();
    host.cleanup();
    lab.cleanup();
  }
}

const inner = process.env['NPX_AGENT_BENCH_INNER'];
if (inner) {
  const { dir, ctrA, ctrB, ctrC, rounds, out } = JSON.parse(inner) as { dir: string; ctrA: string; ctrB: string; ctrC: string; rounds: number; out: string };
  writeFileSync(out, JSON.stringify(await innerCniCase(dir, ctrA, ctrB, ctrC, rounds)));
} else {
  try {
    const summary = process.argv.includes('--skip-cni') ? [] : await cniCase(numberArgument('--rounds', 30));
    if (!process.argv.includes('--skip-kubernetes')) summary.push(...(await kubernetesCase(numberArgument('--cycles', 1000))));
    if (!process.argv.includes('--skip-containerd')) summary.push(...(await containerdCase(numberArgument('--sandbox-rounds', 20))));
    const result = { bench: 'agent', date: new Date().toISOString(), node: process.version, summary };
    mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
    writeFileSync(join(repoRoot, 'bench-results', 'agent.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.table(summary.map((row) => ({ ...row, nicplex_ms: row.nicplex_ms.toFixed(2), reference_ms: row.reference_ms.toFixed(2), ratio: row.ratio.toFixed(2) })));
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}
