// Plugins are started by posix_spawn (native/process-spawn.ts); the outcome must be what
// child_process.spawn gives: stdin delivered, exactly the given environment, exit codes, signals,
// default signal dispositions, a process group killed at the timeout, start errors with their errno.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runProcess, runProcessWithChildProcess } from '../../native/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nicplex-spawn-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const runners = [['posix_spawn', runProcess], ['child_process', runProcessWithChildProcess]] as const;

for (const [label, run] of runners) {
  t.test(`${label}: stdin in, stdout and stderr out, exactly the given environment`, async (t) => {
    const echo = script(`echo-${label}`, 'cat; echo "to stderr $CNI_COMMAND" >&2; env | sort >&2; exit 3');
    const outcome = await run(echo, { CNI_COMMAND: 'ADD', PATH: '/usr/bin:/bin' }, '{"cniVersion":"1.0.0"}', 5000);
    t.equal(outcome.stdout, '{"cniVersion":"1.0.0"}');
    t.match(outcome.stderr, /^to stderr ADD\n/);
    const envLines = outcome.stderr.split('\n').slice(1).filter((line) => line !== '' && !/^(PWD|OLDPWD)=/.test(line));
    // Under tap, its process-info hook adds variables to child_process children (not to posix_spawn's).
    if (label === 'posix_spawn') t.same(envLines, ['CNI_COMMAND=ADD', 'PATH=/usr/bin:/bin']);
    else t.ok(envLines.includes('CNI_COMMAND=ADD') && envLines.includes('PATH=/usr/bin:/bin'));
    t.equal(outcome.code, 3);
    t.equal(outcome.signal, null);
    t.equal(outcome.timedOut, false);
  });

  t.test(`${label}: starts with no signal ignored or blocked, in a session of its own`, async (t) => {
    const probe = script(`signals-${label}`, 'grep -E "^Sig(Ign|Blk)" /proc/self/status; ps -o sid= -p $$ 2>/dev/null || cut -d" " -f6 /proc/$$/stat');
    const outcome = await run(probe, { PATH: '/usr/bin:/bin' }, '', 5000);
    t.match(outcome.stdout, /SigBlk:\s+0+\n/);
    t.match(outcome.stdout, /SigIgn:\s+0+\n/, 'SIGPIPE (ignored by Node) is back at its default');
    const sid = Number(outcome.stdout.trim().split('\n').pop());
    t.not(sid, process.pid);
    t.ok(sid > 0);
  });

  t.test(`${label}: the timeout kills the whole group, also what holds the pipes`, async (t) => {
    const slow = script(`slow-${label}`, 'sleep 30 & echo started; wait');
    const started = Date.now();
    const outcome = await run(slow, { PATH: '/usr/bin:/bin' }, '', 300);
    t.equal(outcome.timedOut, true);
    t.equal(outcome.signal, 'SIGKILL');
    t.equal(outcome.stdout, 'started\n');
    t.ok(Date.now() - started < 10_000, 'answered long before the background sleep would end');
  });

  t.test(`${label}: a program that cannot start rejects with its errno name`, async (t) => {
    await t.rejects(run(join(dir, 'missing'), {}, '', 1000), { code: 'ENOENT' });
    const notExecutable = join(dir, `plain-${label}`);
    writeFileSync(notExecutable, 'data');
    await t.rejects(run(notExecutable, {}, '', 1000), { code: 'EACCES' });
  });

  t.test(`${label}: a plugin that exits without reading a large stdin is not an error`, async (t) => {
    const quick = script(`quick-${label}`, 'echo done');
    const outcome = await run(quick, {}, 'x'.repeat(1 << 20), 5000);
    t.equal(outcome.code, 0);
    t.equal(outcome.stdout, 'done\n');
  });
}

t.test('many plugins at once: every outcome is its own', async (t) => {
  const id = script('id', 'cat; echo " $CNI_CONTAINERID"');
  const outcomes = await Promise.all(Array.from({ length: 40 }, (_, index) => runProcess(id, { CNI_CONTAINERID: `c${index}` }, `in${index}`, 10_000)));
  t.same(outcomes.map((outcome) => outcome.stdout), Array.from({ length: 40 }, (_, index) => `in${index} c${index}\n`));
});
