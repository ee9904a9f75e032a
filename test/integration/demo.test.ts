// The README's first command, deploy/demo.sh, without its set-up part (the suite has set up already):
// its real outcomes, read from its output and from the host, and its cleanup when it is stopped midway.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const demo = join(repoRoot, 'deploy', 'demo.sh');
const env = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', NICPLEX_DEMO_SKIP_SETUP: '1' };

const netnsNames = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((line) => line.split(' ')[0]!).filter(Boolean);
const hostLinks = () => spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').map((line) => line.split(':')[1]?.trim().split('@')[0]).filter(Boolean).sort();
const demoDirs = () => readdirSync('/tmp').filter((name) => name.startsWith('nicplex-demo.'));
/** Processes whose command line names `dir` (the agent runs with its socket dir under it). */
const processesUsing = (dir: string) => readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
  try { return spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).stdout.includes(dir); } catch { return false; }
});

interface DemoRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; pid: number }

function runDemo(options: { stopAfter?: RegExp } = {}): Promise<DemoRun> {
  return new Promise((resolve) => {
    const child = spawn('bash', [demo], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (options.stopAfter && !stopped && options.stopAfter.test(stdout)) { stopped = true; child.kill('SIGTERM'); }
    });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('close', (code, signal) => { clearTimeout(killer); resolve({ code, signal, stdout, stderr, pid: child.pid! }); });
  });
}

t.test('the demo: two pods get their networks, ping over macvlan and host-device, and nothing is left', async (t) => {
  const linksBefore = hostLinks();
  const dirsBefore = demoDirs();
  const run = await runDemo();
  t.equal(run.code, 0, 'exit 0', { stdout: run.stdout.slice(-3000), stderr: run.stderr.slice(-3000) });
  const tag = `nicplex-demo-${run.pid}`;
  t.match(run.stdout, new RegExp(`ok: node namespace ${tag}-node`), 'the node namespace is named after the run');
  for (const pod of ['pod-a', 'pod-b']) {
    const section = run.stdout.split(`   ${pod}: CNI result`)[1]?.split('\n').slice(0, 6).join('\n') ?? '';
    t.match(section, /eth0\S*\s+UP\s+10\.250\.0\.\d+\/24/, `${pod}: eth0 on the cluster network`);
    t.match(section, /net1\S*\s+UP\s+10\.250\.1\.\d+\/24/, `${pod}: net1 on the macvlan NAD`);
    t.match(section, /net2\S*\s+UP\s+10\.250\.2\.\d+\/24/, `${pod}: net2 by host-device`);
  }
  const macvlanPing = run.stdout.split('(macvlan):')[1]?.split('pod-a -> pod-b')[0] ?? '';
  t.match(macvlanPing, /3 packets transmitted, 3 (packets )?received/, 'all three pings over macvlan answered');
  const hostdevPing = run.stdout.split('(hostdev-a -> hostdev-b):')[1] ?? '';
  t.match(hostdevPing, /3 packets transmitted, 3 (packets )?received/, 'all three pings over the host-device link answered');
  t.match(run.stdout, /"name": "default\/macvlan",\s+"interface": "net1"/, 'network-status names the macvlan attachment');
  t.match(run.stdout, /demo\.nicplex\.io\/macvlan_port\s+standalone\s+2\s+-\s+2\s/, 'nicplex status: both pool ports allocated');
  t.match(run.stdout, /IPAM leases: 0, nicplex cache files: 0, pool ports held: 0/, 'DEL left nothing');
  t.match(run.stdout, /demo passed in \d+\.\d+ s/, 'the summary line');
  t.same(netnsNames().filter((name) => name.startsWith(tag)), [], 'no namespace of the run is left');
  t.same(hostLinks(), linksBefore, 'the host namespace has the same links as before');
  t.same(demoDirs(), dirsBefore, 'the state directory is removed');
  const seconds = Number(/demo passed in (\d+\.\d+) s/.exec(run.stdout)?.[1]);
  t.comment(`demo body: ${seconds} s`);
});

t.test('stopped midway (SIGTERM after the pods are attached): the trap removes the agent, namespaces and state', async (t) => {
  const linksBefore = hostLinks();
  const dirsBefore = demoDirs();
  const run = await runDemo({ stopAfter: /== 4\. / });
  t.not(run.code, 0, 'a stopped demo does not report success');
  t.notMatch(run.stdout, /demo passed/, 'no summary');
  const state = /NADs in (\/tmp\/nicplex-demo\.[A-Za-z0-9]+)\/nads/.exec(run.stdout)?.[1];
  t.ok(state, 'the run printed its state directory');
  t.notOk(state && existsSync(state), 'the state directory is removed');
  t.same(state ? processesUsing(state) : ['?'], [], 'the agent is gone');
  t.same(netnsNames().filter((name) => name.startsWith(`nicplex-demo-${run.pid}`)), [], 'its namespaces are removed');
  t.same(hostLinks(), linksBefore, 'the host namespace has the same links as before');
  t.same(demoDirs(), dirsBefore, 'no state directory is left');
});
