// Namespaces and a runner for meta-CNI integration tests. Everything happens in namespaces we create:
// a private "host" netns (where the CNI process and its delegates run, so the real root netns and its
// sysctls stay untouched) and container netns. Teardown removes them even when a test fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot } from './paths.js';

/** Thin mode's CNI binary: node on the CNI entry's one-file bundle (native/shim/nicplex-cni.c). */
export const cniLauncherPath = join(repoRoot, 'build', 'Release', 'nicplex-cni');

export const REFERENCE_PLUGIN_DIR = '/usr/lib/cni';
let counter = 0;

export function sh(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

export interface CniCall { exitCode: number; stdout: string; stderr: string; json: Record<string, unknown> | undefined }

export interface LinkInfo { ifname: string; address: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }

export class CniLab {
  readonly id: string;
  readonly hostNs: string;
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  constructor(tag: string) {
    this.id = `${tag}${process.pid % 100000}${counter++}`;
    this.hostNs = `npx${this.id}h`;
    this.dir = mkdtempSync(join(tmpdir(), `npx-${tag}-`));
    this.addNetns(this.hostNs);
    sh('ip', ['-n', this.hostNs, 'link', 'set', 'lo', 'up']);
  }

  addNetns(name: string): string {
    sh('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    return name;
  }

  /** A new container netns; returns its /var/run/netns path. */
  containerNetns(suffix: string): { name: string; path: string } {
    const name = `npx${this.id}${suffix}`;
    this.addNetns(name);
    return { name, path: `/var/run/netns/${name}` };
  }

  /** A veth pair in the host netns (one end as a macvlan master or host-device). */
  hostVeth(name: string, peer: string): void {
    sh('ip', ['-n', this.hostNs, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
    sh('ip', ['-n', this.hostNs, 'link', 'set', name, 'up']);
    sh('ip', ['-n', this.hostNs, 'link', 'set', peer, 'up']);
  }

  links(netns: string): LinkInfo[] {
    return JSON.parse(sh('ip', ['-n', netns, '-j', 'addr', 'show'])) as LinkInfo[];
  }

  link(netns: string, ifname: string): LinkInfo | undefined {
    return this.links(netns).find((link) => link.ifname === ifname);
  }

  routes(netns: string, family: '-4' | '-6' = '-4'): Array<{ dst: string; gateway?: string; dev: string }> {
    return JSON.parse(sh('ip', [family, '-n', netns, '-j', 'route', 'show'])) as Array<{ dst: string; gateway?: string; dev: string }>;
  }

  /** Starts a TCP → unix-socket forwarder inside the host netns (the fake API server lives in the root netns). */
  async forwardTcpToUnix(port: number, socketPath: string): Promise<void> {
    const script = `const net=require('net');net.createServer(c=>{const u=net.connect(${JSON.stringify(socketPath)});c.pipe(u);u.pipe(c);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy());}).listen(${port},'127.0.0.1',()=>console.log('ready'));`;
    const child = spawn('ip', ['netns', 'exec', this.hostNs, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`forwarder exited with ${code}`)));
    });
  }

  /** A test plugin that records each call's stdin and env, then prints a result (or fails on request). */
  writeSpyPlugin(name: string): string {
    const binDir = join(this.dir, 'bin');
    sh('mkdir', ['-p', binDir, join(this.dir, 'spy')]);
    const path = join(binDir, name);
    writeFileSync(path, `#!/bin/sh
spy=${join(this.dir, 'spy')}
n=$(ls "$spy" | wc -l)
cat > "$spy/$(printf %03d "$n")-${name}-$CNI_COMMAND-$CNI_IFNAME.json"
env | grep '^CNI_' | sort > "$spy/$(printf %03d "$n")-${name}-$CNI_COMMAND-$CNI_IFNAME.env"
if [ -e "$spy/fail-${name}-$CNI_COMMAND" ]; then
  echo '{"cniVersion":"1.0.0","code":11,"msg":"spy was told to fail"}'; echo "spy stderr text" >&2; exit 1
fi
case "$CNI_COMMAND" in
  ADD) echo '{"cniVersion":"1.0.0","interfaces":[{"name":"'"$CNI_IFNAME"'","sandbox":"'"$CNI_NETNS"'","mac":"02:00:00:00:00:0'"$n"'"}],"ips":[{"address":"192.0.2.1'"$n"'/24","interface":0}]}' ;;
  VERSION) echo '{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}' ;;
esac
exit 0
`);
    chmodSync(path, 0o755);
    return binDir;
  }

  spyCalls(): Array<{ file: string; stdin: Record<string, unknown>; env: Record<string, string> }> {
    const spyDir = join(this.dir, 'spy');
    const files = sh('ls', [spyDir]).split('\n').filter((file) => file.endsWith('.json')).sort();
    return files.map((file) => {
      const stdin = JSON.parse(sh('cat', [join(spyDir, file)])) as Record<string, unknown>;
      const env: Record<string, string> = {};
      for (const line of sh('cat', [join(spyDir, file.replace(/\.json$/, '.env'))]).split('\n')) {
        const at = line.indexOf('=');
        if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
      }
      return { file, stdin, env };
    });
  }

  /**
   * Runs thin mode inside the host netns as a runtime does, through build/Release/nicplex-cni (the fast
   * entry), or `entry: 'plain'` for `node dist/deploy/nicplex.js cni`; asynchronously (a fake API server
   * in this process must keep serving).
   */
  runCni(env: Record<string, string>, config: unknown, entry: 'fast' | 'plain' = 'fast'): Promise<CniCall> {
    const command = entry === 'fast' ? [cniLauncherPath] : [process.execPath, cliPath, 'cni'];
    return runPlugin('ip', ['netns', 'exec', this.hostNs, ...command], { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_PATH: REFERENCE_PLUGIN_DIR, ...env }, config);
  }

  cleanup(): void {
    for (const child of this.children) if (child.pid && child.exitCode === null) {
      // The forwarder runs as a child of `ip netns exec` (same PID after exec); kill that PID only.
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const name of [...this.namespaces].reverse()) spawnSync('ip', ['netns', 'del', name]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Execs a CNI plugin (or anything that speaks the protocol) with `env` and `config` on stdin; collects its answer. */
export function runPlugin(command: string, args: string[], env: Record<string, string>, config: unknown, options: { argv0?: string } = {}): Promise<CniCall> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, argv0: options.argv0, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try { json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined; } catch { json = undefined; }
      resolve({ exitCode: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(typeof config === 'string' ? config : JSON.stringify(config));
  });
}

export function cniEnv(command: string, containerId: string, netns: string, ifname = 'eth0', args?: string): Record<string, string> {
  const env: Record<string, string> = { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: ifname };
  if (args !== undefined) env['CNI_ARGS'] = args;
  return env;
}

export function podArgs(namespace: string, name: string, uid?: string, containerId = 'x'): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${containerId}${uid ? `;K8S_POD_UID=${uid}` : ''}`;
}
