// The private "host" the CNI benchmarks run in: a netns with lo up and a veth `bmv0` (the macvlan master),
// plus container netns; the benchmark re-runs itself inside the host netns, so the root netns stays untouched.
import { spawnSync } from 'node:child_process';

/** Creates `host` and `containers`, runs `self` inside `host` with `payload` as JSON in `envName`, deletes them all. */
export function runInPrivateHost(options: { host: string; containers: string[]; self: string; args?: string[]; envName: string; payload: unknown }): boolean {
  const ip = (...args: string[]) => {
    const result = spawnSync('ip', args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
  };
  try {
    ip('netns', 'add', options.host);
    for (const name of options.containers) ip('netns', 'add', name);
    ip('-n', options.host, 'link', 'set', 'lo', 'up');
    ip('-n', options.host, 'link', 'add', 'bmv0', 'type', 'veth', 'peer', 'name', 'bmv0p');
    ip('-n', options.host, 'link', 'set', 'bmv0', 'up');
    const child = spawnSync('ip', ['netns', 'exec', options.host, process.execPath, options.self, ...(options.args ?? [])], {
      stdio: 'inherit', env: { ...process.env, [options.envName]: JSON.stringify(options.payload) },
    });
    return child.status === 0;
  } finally {
    for (const name of [...options.containers, options.host]) spawnSync('ip', ['netns', 'del', name]);
  }
}
