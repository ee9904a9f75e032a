// ADD+DEL of host-device: the built-in delegate called from a long-running process (as the agent calls
// it) vs exec'ing Debian's /usr/lib/cni/host-device with the same config, side by side, without IPAM and
// with static IPAM (in-process, and exec'd as the binary does); plus the whole thin-mode call (`nicplex
// cni`, one Node process per call, built-in host-device) against the binary, so the Node start is visible.
// Runs itself inside a private "host" netns (veth ends stand in for host devices) so the root netns stays
// untouched. Writes bench-results/delegates.json with a `summary` of {case, nicplex_ms, reference_ms, ratio, goal}.
// Also the agent's path: the C shim → `nicplex agent` (in this private host netns, built-in host-device)
// against the binary, which is what a runtime sees (goal < 1.0×).
// Usage: node dist/test/bench/delegates.bench.js [--rounds N]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DelegateRegistry } from '../../cni/delegates/registry.js';
import { ExecPluginExecutor } from '../../cni/exec.js';
import { moveLinkToNetns, nativeHostNetwork } from '../../native/index.js';
import { accepts, shimPath } from '../helpers/agent-harness.js';
import { cniLauncherPath } from '../helpers/cni-lab.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { latencyStats, median, numberArgument } from './bench-stats.js';
import { runTimed } from './bench-process.js';

const PLUGINS = '/usr/lib/cni';
const rounds = numberArgument('--rounds', 30);
const tag = `npxbd${process.pid % 100000}`;
const devices = { builtin: 'bdev0', reference: 'bdev1', thin: 'bdev2', shim: 'bdev3' } as const;


async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

interface Row { case: string; nicplex_ms: number; reference_ms: number; ratio: number; goal: number | null; nicplex: unknown; reference: unknown }

async function inner(dir: string, pods: Record<keyof typeof devices, string>): Promise<void> {
  const exec = new ExecPluginExecutor([PLUGINS], 30_000);
  const registry = new DelegateRegistry({ host: nativeHostNetwork(), stateDir: join(dir, 'state') });
  const registryExecIpam = new DelegateRegistry({ host: nativeHostNetwork(), stateDir: join(dir, 'state'), enabled: ['host-device'] });
  const ipam = { type: 'static', addresses: [{ address: '10.232.0.5/24', gateway: '10.232.0.1' }], routes: [{ dst: '0.0.0.0/0' }] };
  const conf = (device: string, withIpam: boolean) => ({ cniVersion: '1.0.0', name: 'bench-hd', type: 'host-device', device, ...(withIpam ? { ipam } : {}) });
  const env = (command: string, netns: string, ifname = 'net1') => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'bench', CNI_NETNS: `/var/run/netns/${netns}`, CNI_IFNAME: ifname, CNI_PATH: PLUGINS });
  const builtinCall = (command: string, withIpam: boolean, reg = registry) => reg.run({
    type: 'host-device', command, containerId: 'bench', netns: `/var/run/netns/${pods.builtin}`, ifname: 'net1', cniArgs: '', stdin: conf(devices.builtin, withIpam),
  }, exec);
  const referenceCall = async (command: string, withIpam: boolean) => {
    const result = await runTimed(join(PLUGINS, 'host-device'), [], env(command, pods.reference), JSON.stringify(conf(devices.reference, withIpam)));
    if (result.code !== 0) throw new Error(`reference host-device ${command} failed: ${result.stdout}`);
  };
  const thinConf = JSON.stringify({
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(dir, 'cache'), binDir: PLUGINS, delegateStateDir: join(dir, 'thin-state'),
    delegates: [conf(devices.thin, true)],
  });
  const thinCall = async (command: string) => {
    // As a runtime execs thin mode: the launcher (the one-file bundle), else the plain entry.
    const result = existsSync(cniLauncherPath)
      ? await runTimed(cniLauncherPath, [], env(command, pods.thin, 'eth0'), thinConf)
      : await runTimed(process.execPath, [cliPath, 'cni'], env(command, pods.thin, 'eth0'), thinConf);
    if (result.code !== 0) throw new Error(`nicplex cni ${command} failed: ${result.stdout}`);
  };
  // The agent runs here, in the bench's private host netns, like a hostNetwork DaemonSet pod.
  const socketDir = join(dir, 'sock');
  const agent = spawn(process.execPath, [cliPath, 'agent', '--socket-dir', socketDir, '--metrics-address', '', '--log-level', 'error'], { stdio: 'ignore' });
  const killAgent = () => { if (agent.exitCode === null) agent.kill('SIGKILL'); };
  process.once('exit', killAgent);
  for (let attempt = 0; !(await accepts(join(socketDir, 'nicplex.sock'))); attempt++) {
    if (attempt > 600) throw new Error('the agent did not start within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const shimConf = JSON.stringify({
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(dir, 'shim-cache'), binDir: PLUGINS, socketDir, delegateStateDir: join(dir, 'shim-state'),
    delegates: [conf(devices.shim, true)],
  });
  const shimCall = async (command: string) => {
    const result = await runTimed(shimPath, [], env(command, pods.shim, 'eth0'), shimConf);
    if (result.code !== 0) throw new Error(`shim → agent ${command} failed: ${result.stdout}`);
  };
  const rows: Row[] = [];
  const pair = async (caseName: string, goal: number | null, ours: () => Promise<number>, theirs: () => Promise<number>) => {
    const samples = { ours: [] as number[], theirs: [] as number[] };
    for (let round = -3; round < rounds; round++) {
      const a = await ours();
      const b = await theirs();
      if (round < 0) continue; // warm-up
      samples.ours.push(a);
      samples.theirs.push(b);
    }
    const nicplexMs = median(samples.ours);
    const referenceMs = median(samples.theirs);
    rows.push({ case: caseName, nicplex_ms: nicplexMs, reference_ms: referenceMs, ratio: nicplexMs / referenceMs, goal, nicplex: latencyStats(samples.ours), reference: latencyStats(samples.theirs) });
  };
  const addDel = (call: (command: string) => Promise<unknown>) => async () => (await timed(() => call('ADD'))) + (await timed(() => call('DEL')));
  await pair('host-device ADD+DEL, no IPAM: built-in in a long-running process vs /usr/lib/cni/host-device', 0.25,
    addDel((command) => builtinCall(command, false)), addDel((command) => referenceCall(command, false)));
  await pair('host-device ADD+DEL, static IPAM (in-process, the default): built-in in a long-running process vs /usr/lib/cni/host-device', 0.25,
    addDel((command) => builtinCall(command, true)), addDel((command) => referenceCall(command, true)));
  await pair('host-device ADD+DEL, static IPAM (exec\'d by both: builtinDelegates without static): built-in in a long-running process vs /usr/lib/cni/host-device', null,
    addDel((command) => builtinCall(command, true, registryExecIpam)), addDel((command) => referenceCall(command, true)));
  await pair('host-device ADD+DEL, static IPAM: thin-mode `nicplex cni` (Node per call, built-in host-device) vs /usr/lib/cni/host-device', null,
    addDel(thinCall), addDel((command) => referenceCall(command, true)));
  await pair('host-device ADD+DEL, static IPAM: the C shim → `nicplex agent` (built-in host-device) vs /usr/lib/cni/host-device', 1.0,
    addDel(shimCall), addDel((command) => referenceCall(command, true)));
  killAgent();
  // What any host-device ADD+DEL costs at least: the kernel moving the link into the pod's netns and
  // back (dev_change_net_namespace waits for an RCU grace period each time), here in-process.
  const podPath = `/var/run/netns/${pods.builtin}`;
  const selfPath = `/proc/${process.pid}/ns/net`;
  await pair('floor: the same link moved into the pod netns and back, in-process (no other step) vs /usr/lib/cni/host-device ADD+DEL', null,
    () => timed(async () => {
      await moveLinkToNetns(devices.builtin, podPath);
      await moveLinkToNetns(devices.builtin, selfPath, { netns: podPath });
    }), addDel((command) => referenceCall(command, false)));
  const fmt = (value: number) => value.toFixed(2).padStart(8);
  console.log(`delegates bench, ${rounds} rounds, medians in ms      nicplex  reference   ratio   goal`);
  for (const row of rows) console.log(`${row.case.slice(0, 48).padEnd(48)} ${fmt(row.nicplex_ms)} ${fmt(row.reference_ms)} ${fmt(row.ratio)}   ${row.goal ?? '-'}`);
  const result = {
    bench: 'delegates', rounds, date: new Date().toISOString(), node: process.version,
    summary: rows.map(({ case: name, nicplex_ms, reference_ms, ratio, goal }) => ({ case: name, nicplex_ms, reference_ms, ratio, goal })),
    details: rows,
    notes: 'ipvlan ADD+DEL is not benchmarked here: the host kernel has no ipvlan module (the lab VM has one, under TCG emulation).',
  };
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench-results', 'delegates.json'), `${JSON.stringify(result, null, 2)}\n`);
}

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
}

async function outer(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'npx-delegate-bench-'));
  const host = `${tag}h`;
  const pods = { builtin: `${tag}a`, reference: `${tag}b`, thin: `${tag}c`, shim: `${tag}d` };
  try {
    for (const name of [host, ...Object.values(pods)]) ip('netns', 'add', name);
    ip('-n', host, 'link', 'set', 'lo', 'up');
    for (const device of Object.values(devices)) {
      ip('-n', host, 'link', 'add', device, 'type', 'veth', 'peer', 'name', `${device}p`);
      ip('-n', host, 'link', 'set', device, 'up');
    }
    const self = fileURLToPath(import.meta.url);
    const child = spawnSync('ip', ['netns', 'exec', host, process.execPath, ...process.execArgv, self, '--rounds', String(rounds)], { stdio: 'inherit', env: { ...process.env, NPX_DELEGATE_BENCH_INNER: JSON.stringify({ dir, pods }) } });
    if (child.status !== 0) process.exitCode = 1;
  } finally {
    for (const name of [...Object.values(pods), host]) spawnSync('ip', ['netns', 'del', name]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const innerArgs = process.env['NPX_DELEGATE_BENCH_INNER'];
if (innerArgs) {
  const { dir, pods } = JSON.parse(innerArgs) as { dir: string; pods: Record<keyof typeof devices, string> };
  await inner(dir, pods);
} else {
  await outer();
}
