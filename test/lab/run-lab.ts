// The lab tier: prepares the lab (see prepare.ts), boots ONE Debian 6.1 guest under QEMU and runs
// the whole lab tap suite (dist/test/lab/suites/*.test.js) inside it. The guest's TAP stream
// arrives on its second serial port and is copied to stdout verbatim; the exit code is 0 exactly
// when the guest suite passed. A timeout or a VM that dies without a verdict becomes a `not ok`
// line. Progress and timings go to stderr (timings also as a TAP comment).
//
// Environment:
//   NICPLEX_LAB_ACCEL=tcg|kvm      default tcg: this host's /dev/kvm cannot run stock kernels
//   NICPLEX_LAB_TIMEOUT_SECONDS    whole run including prepare, default 1500
//   NICPLEX_LAB_SUITES="a b"       run only these suite files (basename without .test.js)
//   NICPLEX_LAB_MEMORY_MIB         guest memory, default 2048
//   NICPLEX_LAB_GUEST_SCRIPT=FILE  run this bash script in the guest instead of the suites (lab debugging)
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labWorkDir, repoRoot, runsDir } from './lab-paths.js';
import { kernelRelease, type LabKernel } from './kernel-choice.js';
import { log, prepareLab, type LabArtifacts } from './prepare.js';
import { tapBin as tapBinIn, tapCommonArgs, tapEnv } from '../helpers/tap-runner.js';

const startedAt = Date.now();
const budgetSeconds = Number(process.env['NICPLEX_LAB_TIMEOUT_SECONDS'] ?? 1500);
/** Time QEMU needs after the guest command stops: power-off, plus the boot before it starts. */
const bootAndShutdownSeconds = 90;
const suitesDir = join(repoRoot, 'dist', 'test', 'lab', 'suites');
const tapBin = tapBinIn(repoRoot);

function secondsSince(start: number): string {
  return ((Date.now() - start) / 1000).toFixed(1);
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function selectedSuites(): string[] {
  if (!existsSync(suitesDir)) throw new Error(`no compiled lab suites in ${suitesDir}: run \`npx tsc -p tsconfig.json\` first`);
  const all = readdirSync(suitesDir).filter((name) => name.endsWith('.test.js')).sort();
  const wanted = (process.env['NICPLEX_LAB_SUITES'] ?? '').split(/\s+/).filter(Boolean);
  if (wanted.length === 0) return all;
  const unknown = wanted.filter((name) => !all.includes(`${name}.test.js`));
  if (unknown.length > 0) throw new Error(`NICPLEX_LAB_SUITES names unknown suites: ${unknown.join(', ')} (have: ${all.join(', ')})`);
  return wanted.map((name) => `${name}.test.js`);
}

/**
 * Under TCG every file lookup over 9p costs a round trip through emulated virtio, and node's module
 * loading makes thousands (measured on a busy host: `nicplex --help` 25 s from 9p, 11 s from tmpfs).
 * So the parts of the repo the guest runs (compiled JS, the addon, node_modules without the compilers
 * and type declarations) travel as one tar on a read-only virtio disk, unpacked (~10 s) into a tmpfs
 * mounted at the repo's own path: the suites see the usual paths and module loading stays off 9p.
 * Anything else under the repo is hidden in the guest; add it to the archive if a suite needs it.
 */
function packRepo(runDir: string): string {
  const archive = join(runDir, 'repo.tar');
  const excluded = ['node_modules/typescript', 'node_modules/@typescript', 'node_modules/@types', 'node_modules/.cache', '*.map', '*.d.ts', '*.d.mts', '*.d.cts', '*.md'];
  const result = spawnSync('tar', [
    '-cf', archive, '-C', repoRoot, ...excluded.map((pattern) => `--exclude=${pattern}`),
    'package.json', 'dist', 'build/Release', 'node_modules',
  ], { stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`packing the repo for the guest failed (tar exited with ${result.status ?? result.signal})`);
  return archive;
}

/** The command the guest's stage2 runs: the tap runner over the compiled suites, from the repo. */
function writeGuestCommand(runDir: string, suites: string[], guestTimeoutSeconds: number, kernel: LabKernel): void {
  const suitePaths = suites.map((name) => shellQuote(join('dist', 'test', 'lab', 'suites', name))).join(' ');
  const script = [
    '#!/bin/bash',
    `repo=${shellQuote(repoRoot)}`,
    'disk=$(ls /sys/block | grep -m1 "^vd") || { echo "no virtio disk with the repo archive" >&2; exit 125; }',
    // The repo may live where the guest has a fresh tmpfs (a clone under /tmp), so make the mount point first.
    'mkdir -p "$repo" && mount -t tmpfs -o size=1500m tmpfs "$repo" && tar -xf "/dev/$disk" -C "$repo" || { echo "unpacking the repo archive failed" >&2; exit 125; }',
    'echo "[lab-guest] $(cut -d" " -f1 /proc/uptime)s repo unpacked into tmpfs" >&2',
    'cd "$repo" || exit 125',
    `export NICPLEX_LAB_RUN_DIR=/lab NICPLEX_LAB_TOOLS_DIR=/lab/tools TAP_RCFILE=${shellQuote(tapEnv.TAP_RCFILE)}`,
    // The kernel prepare resolved for this run: the smoke suite checks that it is what booted.
    `export NICPLEX_LAB_KERNEL_RELEASE=${shellQuote(kernelRelease(kernel))} NICPLEX_LAB_KERNEL_DEBIAN_VERSION=${shellQuote(kernel.debianVersion)}`,
    `exec ${shellQuote(process.execPath)} ${shellQuote(tapBin)} ${tapCommonArgs.map(shellQuote).join(' ')} --jobs=1 --timeout=${guestTimeoutSeconds} ${suitePaths}`,
    '',
  ].join('\n');
  writeFileSync(join(runDir, 'guest-command.sh'), script, { mode: 0o755 });
}

function qemuArguments(artifacts: LabArtifacts, runDir: string, guestTimeoutSeconds: number): string[] {
  const accel = process.env['NICPLEX_LAB_ACCEL'] ?? 'tcg';
  if (accel !== 'tcg' && accel !== 'kvm') throw new Error(`NICPLEX_LAB_ACCEL=${accel}: expected tcg or kvm`);
  const machine = accel === 'kvm' ? ['-machine', 'q35,accel=kvm,kernel-irqchip=split', '-cpu', 'host,-arch-capabilities'] : ['-machine', 'q35,accel=tcg', '-cpu', 'max'];
  const memory = process.env['NICPLEX_LAB_MEMORY_MIB'] ?? '2048';
  const share = (id: string, path: string, tag: string, extra: string): string[] => [
    '-fsdev', `local,id=${id},path=${path},security_model=none${extra}`, '-device', `virtio-9p-pci,fsdev=${id},mount_tag=${tag}`,
  ];
  return [
    '-name', 'nicplex-lab', '-nodefaults', '-no-user-config', '-no-reboot',
    ...machine, '-smp', '2', '-m', memory,
    ...artifacts.qemuDataDirs.flatMap((dir) => ['-L', dir]),
    '-kernel', artifacts.kernelImage, '-initrd', artifacts.initramfs,
    '-append', `console=ttyS0,115200 panic=-1 intel_iommu=on iommu=pt quiet loglevel=4 labtimeout=${guestTimeoutSeconds}`,
    '-display', 'none', '-vga', 'none', '-monitor', 'none',
    // ttyS0: kernel console into a file; ttyS1: the TAP stream, to our stdout.
    '-chardev', `file,id=console,path=${join(runDir, 'console.log')}`, '-serial', 'chardev:console',
    '-serial', 'stdio',
    '-device', 'intel-iommu,intremap=on,caching-mode=on',
    '-drive', `file=${join(runDir, 'repo.tar')},format=raw,if=virtio,readonly=on`,
    ...share('hostroot', '/', 'hostroot', ',readonly=on,multidevs=remap'),
    ...share('guestmodules', artifacts.guestModulesDir, 'guestmodules', ',readonly=on'),
    ...share('labrun', runDir, 'labrun', ''),
    // Each NIC behind its own root port: its own bus and IOMMU group, like real slots.
    // Only internal QEMU hubs, never a host backend: hub 0 joins the two virtio-net NICs
    // (VLAN traffic), hub 1 holds the igb PF alone (its VFs talk through the NIC's own switch).
    '-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1',
    '-device', 'pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2',
    '-device', 'pcie-root-port,id=rp3,bus=pcie.0,chassis=3,slot=3',
    '-netdev', 'hubport,id=hub0a,hubid=0', '-device', 'virtio-net-pci,netdev=hub0a,bus=rp1,mac=52:54:00:6e:70:01',
    '-netdev', 'hubport,id=hub0b,hubid=0', '-device', 'virtio-net-pci,netdev=hub0b,bus=rp2,mac=52:54:00:6e:70:02',
    '-netdev', 'hubport,id=hub1a,hubid=1', '-device', 'igb,netdev=hub1a,bus=rp3,mac=52:54:00:6e:70:03,romfile=',
  ];
}

interface VmOutcome {
  exitCode: number | null;
  timedOut: boolean;
  topLevelResults: number;
  guestCode: number | null;
}

function runVm(artifacts: LabArtifacts, runDir: string, guestTimeoutSeconds: number, hostDeadlineSeconds: number): Promise<VmOutcome> {
  return new Promise((resolve, reject) => {
    const qemu = spawn(artifacts.qemuBinary, qemuArguments(artifacts, runDir, guestTimeoutSeconds), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, QEMU_MODULE_DIR: artifacts.qemuModuleDir },
    });
    let topLevelResults = 0;
    let pending = '';
    let timedOut = false;
    qemu.stdout.on('data', (chunk: Buffer) => {
      // A serial line may still carry a carriage return; the TAP consumer wants plain lines.
      const text = chunk.toString('utf8').replaceAll('\r', '');
      process.stdout.write(text);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      topLevelResults += lines.filter((line) => /^(not )?ok \d+/.test(line)).length;
    });
    qemu.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    // If the tier runner gives up on us, the VM must not outlive this process.
    const stopVm = (signal: NodeJS.Signals) => {
      log(`received ${signal}; killing QEMU (pid ${qemu.pid})`);
      qemu.kill('SIGKILL');
    };
    process.once('SIGTERM', stopVm);
    process.once('SIGINT', stopVm);
    const killer = setTimeout(() => {
      timedOut = true;
      log(`lab run exceeded its ${budgetSeconds} s budget; killing QEMU (pid ${qemu.pid})`);
      qemu.kill('SIGKILL');
    }, hostDeadlineSeconds * 1000);
    qemu.on('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    qemu.on('close', (code) => {
      clearTimeout(killer);
      process.removeListener('SIGTERM', stopVm);
      process.removeListener('SIGINT', stopVm);
      if (pending !== '') process.stdout.write('\n');
      const rcFile = join(runDir, 'rc');
      const guestCode = existsSync(rcFile) ? Number(readFileSync(rcFile, 'utf8').trim()) : null;
      resolve({ exitCode: code, timedOut, topLevelResults, guestCode });
    });
  });
}

/** The guest writes benchmark JSON into the shared run directory; publish it where benchmarks live. */
function publishBenchResults(runDir: string): void {
  const source = join(runDir, 'bench-results');
  if (!existsSync(source)) return;
  const target = join(repoRoot, 'bench-results');
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(source).filter((file) => file.endsWith('.json'))) {
    copyFileSync(join(source, name), join(target, name));
    log(`benchmark result: bench-results/${name}`);
  }
}

/** Run directories hold console logs for debugging; keep the most recent few. */
function pruneOldRuns(keep = 5): void {
  const runs = readdirSync(runsDir).sort();
  for (const name of runs.slice(0, Math.max(0, runs.length - keep))) rmSync(join(runsDir, name), { recursive: true, force: true });
}

function printTail(label: string, file: string, lines: number): void {
  if (!existsSync(file)) return;
  const tail = readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  if (tail.trim() !== '') process.stderr.write(`--- ${label} (last ${lines} lines of ${file}) ---\n${tail}\n`);
}

async function main(): Promise<number> {
  let artifacts: LabArtifacts;
  let suites: string[];
  const prepareStart = Date.now();
  try {
    suites = selectedSuites();
    artifacts = prepareLab();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(message);
    console.log(`not ok 1 - lab prepare failed: ${message.split('\n')[0]}`);
    return 1;
  }
  const prepareSeconds = secondsSince(prepareStart);
  log(`prepared in ${prepareSeconds} s (work dir ${labWorkDir}; kernel ${kernelRelease(artifacts.kernel)} ${artifacts.kernel.debianVersion}; ${artifacts.qemuVersion})`);
  console.log(`# lab kernel ${kernelRelease(artifacts.kernel)} (Debian ${artifacts.kernel.debianVersion}), ${artifacts.qemuVersion}`);

  const runDir = join(runsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(join(runDir, 'tools'), { recursive: true });
  copyFileSync(artifacts.vfioProbe, join(runDir, 'tools', 'vfio-probe'));
  const remainingSeconds = Math.floor(budgetSeconds - (Date.now() - startedAt) / 1000);
  const guestTimeoutSeconds = remainingSeconds - bootAndShutdownSeconds;
  if (guestTimeoutSeconds < 60) {
    console.log(`not ok 1 - lab budget of ${budgetSeconds} s leaves under 60 s for the suites after prepare (${prepareSeconds} s) and ${bootAndShutdownSeconds} s for boot and shutdown; raise NICPLEX_LAB_TIMEOUT_SECONDS`);
    return 1;
  }
  const debugScript = process.env['NICPLEX_LAB_GUEST_SCRIPT'];
  if (debugScript) copyFileSync(debugScript, join(runDir, 'guest-command.sh'));
  else writeGuestCommand(runDir, suites, guestTimeoutSeconds, artifacts.kernel);
  const packStart = Date.now();
  const archive = packRepo(runDir);
  log(`packed the repo for the guest in ${secondsSince(packStart)} s (${(statSync(archive).size / 2 ** 20).toFixed(0)} MiB)`);
  log(`booting the lab VM (${process.env['NICPLEX_LAB_ACCEL'] ?? 'tcg'}, ${suites.length} suites, guest timeout ${guestTimeoutSeconds} s); run dir ${runDir}`);
  const vmStart = Date.now();
  const outcome = await runVm(artifacts, runDir, guestTimeoutSeconds, remainingSeconds);
  const vmSeconds = secondsSince(vmStart);
  rmSync(archive, { force: true });
  pruneOldRuns();
  publishBenchResults(runDir);
  const timing = `lab timing: prepare ${prepareSeconds} s, VM ${vmSeconds} s, total ${secondsSince(startedAt)} s`;
  log(timing);
  console.log(`# ${timing}`);

  const nextNumber = outcome.topLevelResults + 1;
  if (outcome.timedOut) {
    console.log(`not ok ${nextNumber} - lab VM killed after the ${budgetSeconds} s budget (console: ${join(runDir, 'console.log')})`);
    printTail('guest console', join(runDir, 'console.log'), 30);
    return 1;
  }
  if (outcome.guestCode === null) {
    console.log(`not ok ${nextNumber} - lab VM exited (QEMU code ${outcome.exitCode}) without the guest reporting a result (console: ${join(runDir, 'console.log')})`);
    printTail('guest console', join(runDir, 'console.log'), 40);
    printTail('guest stderr', join(runDir, 'guest-stderr.log'), 40);
    return 1;
  }
  if (outcome.guestCode === 124 || outcome.guestCode === 137) {
    console.log(`not ok ${nextNumber} - lab suite timed out inside the guest after ${guestTimeoutSeconds} s`);
  }
  if (outcome.guestCode !== 0) printTail('guest stderr', join(runDir, 'guest-stderr.log'), 40);
  return outcome.guestCode === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    console.log(`not ok 1 - lab harness crashed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
