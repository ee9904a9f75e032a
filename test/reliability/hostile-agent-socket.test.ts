// Hostile input against a live `nicplex agent` (standalone mode, inside a private host netns): 10,000
// raw requests on its unix socket — hostile {env, config} bodies, garbage bytes, wrong methods and paths,
// truncated and oversized bodies, huge headers, clients that hang up or stall mid-request — and the C shim
// fed hostile stdin and environment. The agent never crashes or hangs: it answers every well-formed
// request with CNI JSON, drops stalled clients within its receive timeout, answers /healthz afterwards and
// still serves a real ADD/DEL; the namespaces' links and addresses and the state dirs are unchanged.
import t from 'tap';
import fc from 'fast-check';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { AgentProcess, runShim, shimPath } from '../helpers/agent-harness.js';
import { CniLab, REFERENCE_PLUGIN_DIR, cniEnv, runPlugin } from '../helpers/cni-lab.js';
import { checkProperty, garbledText, hostileJson, hostileString, mutatedObject } from '../helpers/hostile.js';

const lab = new CniLab('hs');
const children: ChildProcess[] = [];
t.teardown(() => {
  for (const child of children) if (child.pid && child.exitCode === null) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }
  lab.cleanup();
});
const socketDir = join(lab.dir, 'sock');
const socketPath = join(socketDir, 'nicplex.sock');
const ipamDir = join(lab.dir, 'ipam');
const cacheDir = join(lab.dir, 'cache');
const allocationDir = join(lab.dir, 'alloc');
const nadDir = join(lab.dir, 'nads');
const stateDir = join(lab.dir, 'state');
mkdirSync(nadDir, { recursive: true });
lab.hostVeth('hsmv0', 'hsmv0p');
writeFileSync(join(nadDir, 'mv.json'), JSON.stringify({
  apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'mv', namespace: 'default' },
  spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'mv', type: 'macvlan', master: 'hsmv0', mode: 'bridge', ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.91.0/24' } }) },
}));
const conf = {
  cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: cacheDir, binDir: REFERENCE_PLUGIN_DIR, socketDir, agentWaitSeconds: 1, delegateStateDir: stateDir,
  cniDeviceInfoDir: join(lab.dir, 'devinfo-cni'), deviceInfoDir: join(lab.dir, 'devinfo-dp'),
  standalone: { nadDir, allocationDir, devicePools: { 'example.com/dev': ['dev0', 'dev1'] } },
  // macvlan for the cluster network too: its DEL removes everything its ADD made (a bridge would stay).
  delegates: [{ cniVersion: '1.0.0', name: 'hsnet', plugins: [{ type: 'macvlan', master: 'hsmv0', mode: 'bridge', ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.90.0/24' } }] }],
};
const ctr = lab.containerNetns('c1');

/** Links and addresses of our namespaces, and every file of the state dirs: what "no change on the host" means here. */
function snapshot(): string {
  const links = [lab.hostNs, ctr.name].map((ns) => lab.links(ns).map((link) => `${ns}:${link.ifname}:${(link.addr_info ?? []).map((addr) => addr.local).sort().join(',')}`).sort().join(' '));
  // host-local keeps per-network bookkeeping (lock, last_reserved_ip) for any network name a config gave; its leases are what matter.
  const isLease = (dir: string, name: string) => dir !== ipamDir || /\d+\.\d+\.\d+\.\d+$/.test(name);
  const files = [cacheDir, allocationDir, ipamDir, stateDir].map((dir) => `${dir}:${existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).filter((name) => isLease(dir, name)).sort().join(',') : ''}`);
  return [...links, ...files].join('\n');
}

interface RawAnswer { status: number; headers: string; body: string; closedWithoutAnswer: boolean; ms: number }

/** Writes raw bytes (in pieces, optionally stalling or hanging up) and reads until the agent closes; bounded. */
function rawRequest(pieces: Buffer[], options: { endAfterWrite?: boolean; timeoutMs?: number } = {}): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer and no close within ${options.timeoutMs ?? 15_000} ms (hang)`)); }, options.timeoutMs ?? 15_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, headers: split >= 0 ? text.slice(0, split) : text, body: split >= 0 ? Buffer.from(text.slice(split + 4), 'latin1').toString('utf8') : '', closedWithoutAnswer: status === 0, ms: Date.now() - started });
    });
    socket.on('connect', () => {
      for (const piece of pieces) socket.write(piece);
      if (options.endAfterWrite !== false) socket.end();
    });
  });
}

const post = (path: string, body: Buffer | string, extraHeaders = '', method = 'POST', declaredLength?: number) => {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: nicplex\r\nContent-Type: application/json\r\nContent-Length: ${declaredLength ?? bytes.length}\r\n${extraHeaders}Connection: close\r\n\r\n`, 'latin1'), bytes]);
};

function checkCniBody(answer: RawAnswer, what: string): void {
  if (answer.status !== 200) throw new Error(`${what}: HTTP ${answer.status} ${answer.headers.split('\r\n')[0]}`);
  const exit = /\r\nX-Cni-Exit-Code: (\d+)/i.exec(answer.headers)?.[1];
  if (exit === undefined) throw new Error(`${what}: no X-Cni-Exit-Code`);
  if (exit !== '0') {
    const error = JSON.parse(answer.body) as Record<string, unknown>;
    if (!Number.isInteger(error['code']) || typeof error['msg'] !== 'string' || error['msg'] === '') throw new Error(`${what}: exit ${exit} without a CNI error: ${answer.body}`);
  } else if (answer.body !== '') {
    JSON.parse(answer.body);
  }
}

/** DEL for every container a hostile-but-valid request did ADD (what a runtime does); returns how many. */
async function deleteWhatWasAdded(): Promise<number> {
  // A garbled conf that still parses may name another cniDir below the lab's directory: look everywhere in it.
  let deleted = 0;
  for (const name of readdirSync(lab.dir, { recursive: true }) as string[]) {
    const path = join(lab.dir, name);
    if (basename(path).startsWith('.') || !statSync(path).isFile()) continue;
    let plan: { kind?: string; netns: string; ifname: string; containerId: string } | undefined;
    try {
      plan = (JSON.parse(readFileSync(path, 'utf8')) as { plan?: typeof plan }).plan;
    } catch {
      continue;
    }
    if (plan?.kind !== 'nicplexPlanV1') continue;
    const del = await runShim(cniEnv('DEL', plan.containerId, plan.netns, plan.ifname, 'IgnoreUnknown=1'), { ...conf, cniDir: dirname(path) });
    if (del.exitCode !== 0) throw new Error(`DEL of ${plan.containerId} (added by a hostile request, cache ${path}) failed: ${del.stdout}`);
    deleted++;
  }
  return deleted;
}

/** A CNI_NETNS that is our container netns or names nothing: a hostile request must never reach a real namespace. */
const safeNetns = (path: string) => path === ctr.path || !existsSync(path);

let agent: AgentProcess;
let before = '';

t.before(async () => {
  agent = await AgentProcess.start(lab, ['--socket-dir', socketDir], socketPath);
  // One real ADD and DEL first: the bridge the cluster network creates stays, as it would on a node.
  const add = await runShim(cniEnv('ADD', 'hswarm', ctr.path, 'eth0', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=warm;NICPLEX_NETWORKS=mv'), conf);
  if (add.exitCode !== 0) throw new Error(`warm-up ADD failed: ${add.stdout}${agent.stderr()}`);
  const del = await runShim(cniEnv('DEL', 'hswarm', ctr.path, 'eth0', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=warm;NICPLEX_NETWORKS=mv'), conf);
  if (del.exitCode !== 0) throw new Error(`warm-up DEL failed: ${del.stdout}`);
  before = snapshot();
});
t.teardown(() => agent?.stop('SIGKILL'));

t.test('10,000 hostile requests on the agent socket', async (t) => {
  const envArb = fc.dictionary(fc.oneof(fc.constantFrom('CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH', 'PATH', 'LD_PRELOAD'), hostileString(20)), fc.oneof(hostileString(60), hostileJson()), { maxKeys: 6 });
  const commandEnv = fc.record({
    CNI_COMMAND: fc.oneof(fc.constantFrom('ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'), hostileString(8)),
    CNI_CONTAINERID: fc.oneof(fc.stringMatching(/^hsx[a-f0-9]{6}$/), hostileString()),
    CNI_NETNS: fc.oneof(fc.constant(ctr.path), hostileString(40)).filter(safeNetns),
    CNI_IFNAME: fc.oneof(fc.constant('eth0'), hostileString(20)),
    CNI_ARGS: fc.oneof(fc.constant('IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;NICPLEX_NETWORKS=mv'), hostileString(80)),
  });
  // Hostile configs; any that a runtime could have made valid still point every directory at the lab.
  const stdin = fc.oneof(
    mutatedObject(conf, ['cniVersion', 'delegates', 'standalone', 'runtimeConfig', 'args', 'clusterNetwork', 'type', 'name']).map((object) => JSON.stringify({ ...object, cniDir: cacheDir, delegateStateDir: stateDir, standalone: conf.standalone })),
    garbledText(JSON.stringify(conf)),
  );
  const body = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(commandEnv, stdin).map(([env, text]) => JSON.stringify({ env, config: Buffer.from(text).toString('base64') })) },
    { weight: 1, arbitrary: fc.tuple(envArb, fc.oneof(hostileString(), fc.base64String())).map(([env, config]) => JSON.stringify({ env, config })) },
    { weight: 1, arbitrary: garbledText(JSON.stringify({ env: { CNI_COMMAND: 'ADD' }, config: 'e30=' })) },
  );
  type Kind = 'cni' | 'multus' | 'garbage' | 'method' | 'path' | 'truncated' | 'bigheader' | 'lying-length';
  // Well-formed requests keep their write side open as the shim does; the rest hang up after sending.
  const halfCloses = (kind: Kind) => !['cni', 'multus', 'method', 'path', 'bigheader'].includes(kind);
  const request = fc.oneof(
    { weight: 10, arbitrary: body.map((text) => ({ kind: 'cni' as Kind, bytes: [post('/v1/cni', text)] })) },
    { weight: 2, arbitrary: body.map((text) => ({ kind: 'multus' as Kind, bytes: [post('/cni', text)] })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: 'garbage' as Kind, bytes: [Buffer.from(bytes)] })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'BREW'), body).map(([method, text]) => ({ kind: 'method' as Kind, bytes: [post('/v1/cni', text, '', method)] })) },
    { weight: 1, arbitrary: fc.tuple(fc.oneof(fc.constantFrom('/', '/v1', '/v1/cni/', '/v1/cni/../healthz', '//v1/cni', '/V1/CNI', '/v1/cni%00', '*'), hostileString(40).map((path) => `/${[...Buffer.from(path)].map((byte) => (byte > 0x20 && byte < 0x7f && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`)).join('')}`)), body).map(([path, text]) => ({ kind: 'path' as Kind, bytes: [post(path, text)] })) },
    { weight: 1, arbitrary: fc.tuple(body, fc.double({ min: 0, max: 1, noNaN: true })).map(([text, at]) => ({ kind: 'truncated' as Kind, bytes: [post('/v1/cni', text).subarray(0, Math.floor(post('/v1/cni', text).length * at))] })) },
    { weight: 1, arbitrary: body.map((text) => ({ kind: 'lying-length' as Kind, bytes: [post('/v1/cni', text, '', 'POST', Buffer.byteLength(text) + 1 + (text.length % 1000))] })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }).map((kib) => ({ kind: 'bigheader' as Kind, bytes: [post('/v1/cni', '{}', `X-Junk: ${'j'.repeat(kib * 1024)}\r\n`)] })) },
  );
  const tally: Record<string, number> = {};
  let slowest = 0;
  // Batches of 16 concurrent connections: fast-check drives the batch, each element one connection.
  await checkProperty(t, 'agent socket (batches of 16)', fc.asyncProperty(fc.array(request, { minLength: 16, maxLength: 16 }), async (batch) => {
    await Promise.all(batch.map(async ({ kind, bytes }) => {
      const answer = await rawRequest(bytes, { endAfterWrite: halfCloses(kind) });
      slowest = Math.max(slowest, answer.ms);
      const outcome = `${kind}:${answer.status}`;
      tally[outcome] = (tally[outcome] ?? 0) + 1;
      if (kind === 'cni') checkCniBody(answer, 'POST /v1/cni');
      if (kind === 'multus' && answer.status !== 200 && answer.status !== 400) throw new Error(`POST /cni: HTTP ${answer.status}`);
      if (kind === 'multus' && answer.status === 400 && !Number.isInteger((JSON.parse(answer.body) as { code?: unknown }).code)) throw new Error(`POST /cni 400 without a CNI error: ${answer.body}`);
      if (kind === 'method' && ![405, 400, 0].includes(answer.status)) throw new Error(`wrong method: HTTP ${answer.status}`);
      if (kind === 'path' && ![404, 400, 200].includes(answer.status)) throw new Error(`wrong path: HTTP ${answer.status}`);
      // 0: Node answers 431 and closes while the client is still sending its header; Linux then resets a
      // unix socket whose peer closed with unread data, so the 431 may never be read. Closed, not hung.
      if (kind === 'bigheader' && ![431, 200, 400, 0].includes(answer.status)) throw new Error(`huge header: HTTP ${answer.status}`);
    }));
  }), 10_000 / 16);
  const added = await deleteWhatWasAdded();
  t.comment(`agent socket: ${Object.values(tally).reduce((sum, count) => sum + count, 0)} requests; outcomes ${JSON.stringify(tally)}; slowest answer ${slowest} ms; ${added} hostile-but-valid ADDs deleted afterwards`);
  t.equal(agent.child.exitCode, null, 'the agent is still running');
});

t.test('oversized body: a CNI error, not a reset', async (t) => {
  const big = Buffer.alloc(25 << 20, 0x61);
  const answer = await rawRequest([post('/v1/cni', big)], { timeoutMs: 30_000 });
  t.equal(answer.status, 200, `HTTP ${answer.status} after ${answer.ms} ms`);
  t.match(answer.headers, /X-Cni-Exit-Code: 1/i);
  t.match(JSON.parse(answer.body), { code: 6, msg: /exceeds/ }, answer.body);
});

t.test('clients that stall mid-request are dropped within the receive timeout', async (t) => {
  const started = Date.now();
  const stalled = await Promise.all(Array.from({ length: 20 }, (_, index) => rawRequest(
    [index % 2 === 0 ? Buffer.from('POST /v1/cni HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"env":') : Buffer.from('POST /v1/cni HTTP/1.1\r\nHost: x\r\n')],
    { endAfterWrite: false, timeoutMs: 20_000 },
  )));
  const seconds = (Date.now() - started) / 1000;
  t.comment(`20 stalled clients dropped after ${seconds.toFixed(1)} s (statuses ${[...new Set(stalled.map((answer) => answer.status))].join(',')})`);
  t.ok(stalled.every((answer) => answer.ms < 15_000), 'every stalled connection was closed by the agent within 15 s');
});

/** A private mount namespace in which /run/nicplex is our socket dir: a shim config without socketDir reaches this agent. */
async function shimMountNamespace(): Promise<number> {
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run && mkdir -p /run/nicplex && mount --bind "$1" /run/nicplex && echo ready && exec sleep 600', 'sh', socketDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(holder);
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`unshare exited with ${code}`)));
  });
  return holder.pid!;
}

t.test('the C shim fed hostile stdin and environment', async (t) => {
  const holderPid = await shimMountNamespace();
  const runs = 400;
  const envArb = fc.record({
    CNI_COMMAND: fc.oneof(fc.constantFrom('ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'), hostileString(10)),
    CNI_CONTAINERID: fc.oneof(fc.stringMatching(/^hss[a-f0-9]{6}$/), hostileString()),
    CNI_NETNS: fc.oneof(fc.constant(ctr.path), hostileString(60)).filter(safeNetns),
    CNI_IFNAME: fc.oneof(fc.constant('eth0'), hostileString(20)),
    CNI_ARGS: hostileString(100),
  }, { requiredKeys: [] }).map((env) => Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value.replace(/\0/g, '')])));
  // The shim reads its keys in order and stops at the first it cannot parse: agentWaitSeconds first keeps a
  // config whose socketDir got garbled from waiting the default 10 s for a socket that never appears.
  // cniDir and delegateStateDir come first too: a garbled conf that loses its own keys (JSON.parse keeps the
  // last of duplicate keys) would otherwise write its cache to the default /var/lib/cni/multus, outside this test.
  const quick = `{"agentWaitSeconds":0.05,"agentTimeoutSeconds":20,"cniDir":${JSON.stringify(cacheDir)},"delegateStateDir":${JSON.stringify(stateDir)},`;
  // A garbled text that still parses reaches the agent as a real conf: one whose paths were garbled (an IPAM
  // dataDir, a relative cniDir) made host-local and the agent create directories anywhere on the host. Such a
  // text may drop keys or change no-path values only; any other key or changed string/object value is dropped.
  const staysInside = (text: string): boolean => {
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { return true; }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return true;
    const original: Record<string, unknown> = { ...conf, agentWaitSeconds: 0.05, agentTimeoutSeconds: 20 };
    return Object.entries(parsed).every(([key, value]) => key in original && (typeof value === 'number' || typeof value === 'boolean' || isDeepStrictEqual(value, original[key])));
  };
  const stdin = fc.oneof(
    garbledText(JSON.stringify(conf).slice(1)).map((rest) => quick + rest).filter(staysInside),
    mutatedObject({ cniVersion: '1.0.0', socketDir }, ['cniVersion', 'socketDir', 'daemonSocketDir']).map((object) => quick + JSON.stringify(object).slice(1)),
    fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  );
  const tally: Record<string, number> = {};
  let slowest = 0;
  await checkProperty(t, 'C shim (batches of 8)', fc.asyncProperty(fc.array(fc.tuple(envArb, stdin), { minLength: 8, maxLength: 8 }), async (batch) => {
    await Promise.all(batch.map(async ([env, text]) => {
      const started = Date.now();
      const call = await runPlugin('nsenter', ['-t', String(holderPid), '-m', '--', shimPath], { PATH: '/usr/bin:/bin', ...env }, text);
      const ms = Date.now() - started;
      slowest = Math.max(slowest, ms);
      tally[`exit ${call.exitCode}`] = (tally[`exit ${call.exitCode}`] ?? 0) + 1;
      if (call.exitCode < 0 || call.exitCode > 255) throw new Error(`the shim died (exit ${call.exitCode}): ${call.stderr}`);
      const answer = JSON.parse(call.stdout.trim() === '' ? 'null' : call.stdout) as Record<string, unknown> | null;
      if (call.exitCode !== 0 && (!answer || !Number.isInteger(answer['code']) || typeof answer['msg'] !== 'string')) throw new Error(`exit ${call.exitCode} without a CNI error: ${JSON.stringify(call.stdout)}`);
      if (env['CNI_COMMAND'] === 'VERSION' && !Array.isArray(answer?.['supportedVersions'])) throw new Error(`VERSION answer ${JSON.stringify(call.stdout)}`);
      if (ms > 8_000) throw new Error(`the shim took ${ms} ms`);
    }));
  }), runs / 8);
  const added = await deleteWhatWasAdded();
  t.comment(`C shim: ${runs} runs; ${JSON.stringify(tally)}; slowest ${slowest} ms; ${added} hostile-but-valid ADDs deleted afterwards`);
});

t.test('afterwards: the agent is alive, healthy and still serves ADD/DEL; nothing changed on the host', async (t) => {
  t.equal(agent.child.exitCode, null, 'still running');
  const health = await rawRequest([Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]);
  t.equal(health.status, 200, '/healthz answers 200');
  t.equal(snapshot(), before, 'links, addresses, caches, allocations, IPAM and delegate state are as before');
  const env = (command: string) => cniEnv(command, 'hsafter', ctr.path, 'eth0', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=after;NICPLEX_NETWORKS=mv');
  const add = await runShim(env('ADD'), conf);
  t.equal(add.exitCode, 0, `a real ADD still works: ${add.stdout}`);
  const del = await runShim(env('DEL'), conf);
  t.equal(del.exitCode, 0, `and its DEL: ${del.stdout}`);
  t.equal(snapshot(), before, 'and leaves nothing behind');
  t.comment(`agent peak RSS ${agent.peakRssMiB().toFixed(0)} MiB`);
});
