// Delegate execution per the CNI spec: search path, env + stdin, error JSON from stdout with stderr kept,
// timeouts, never a shell (plugin type is a plain file name).
import t from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExecPluginExecutor, findPlugin } from '../../cni/exec.js';
import { tempDir } from '../helpers/cni-tempdir.js';

const dir = tempDir('npx-cniexec-');
const second = tempDir('npx-cniexec2-');
function plugin(where: string, name: string, body: string): void {
  writeFileSync(join(where, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(where, name), 0o755);
}
plugin(dir, 'echoer', 'read -r input; echo "{\\"cniVersion\\":\\"1.0.0\\",\\"dns\\":{\\"domain\\":\\"$CNI_COMMAND-$CNI_IFNAME-$CNI_CONTAINERID\\"},\\"routes\\":[],\\"ips\\":[],\\"interfaces\\":[],\\"x\\":$input}"');
plugin(second, 'failer', 'echo \'{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"key foo"}\'; echo "more detail on stderr" >&2; exit 1');
plugin(dir, 'stderr-only', 'echo "plain failure text" >&2; exit 3');
plugin(dir, 'sleeper', 'sleep 5');
plugin(dir, 'garbage', 'echo "not json"');
plugin(second, 'echoer', 'echo should-not-run; exit 1');

const invocation = (type: string) => ({ type, command: 'ADD', containerId: 'c1', netns: '/run/netns/x', ifname: 'net1', cniArgs: 'A=1', stdin: { cniVersion: '1.0.0', name: 'n', type } });

t.test('finds plugins on binDir first, then CNI_PATH; rejects path-like types', async (t) => {
  t.equal(findPlugin('echoer', [dir, second]), join(dir, 'echoer'));
  t.equal(findPlugin('failer', [dir, second]), join(second, 'failer'));
  t.throws(() => findPlugin('nope', [dir]), { code: 7, message: /failed to find plugin "nope" in path/ });
  t.throws(() => findPlugin('../bin/sh', [dir]), /not a plain binary name/);
});

t.test('passes env and stdin, parses stdout', async (t) => {
  const out = await new ExecPluginExecutor([dir], 2000).run(invocation('echoer')) as Record<string, unknown>;
  t.same((out['dns'] as Record<string, unknown>)['domain'], 'ADD-net1-c1');
  t.same(out['x'], { cniVersion: '1.0.0', name: 'n', type: 'echoer' });
});

t.test('failures: CNI error JSON keeps code and stderr; stderr-only and garbage output are explained; timeouts kill', async (t) => {
  const executor = new ExecPluginExecutor([dir, second], 500);
  await t.rejects(executor.run(invocation('failer')), { code: 7, message: 'bad config', details: 'key foo; more detail on stderr' });
  await t.rejects(executor.run(invocation('stderr-only')), { code: 999, message: /plain failure text/ });
  await t.rejects(executor.run(invocation('garbage')), { code: 6, message: /invalid JSON/ });
  const started = Date.now();
  await t.rejects(executor.run(invocation('sleeper')), { code: 11, message: /did not finish within 500 ms/ });
  t.ok(Date.now() - started < 3000, 'killed at the timeout');
});
