// Prepares everything the lab VM boots from, idempotently, under test/lab/work/:
//   - the pinned Debian kernel, its headers and the netdevsim sources (apt-get download, no install),
//   - netdevsim.ko built out of tree (Debian builds the kernel without CONFIG_NETDEVSIM),
//   - a busybox initramfs carrying the virtio/9p/overlay modules and the guest init scripts,
//   - QEMU >= 8 from bookworm-backports (the first with the SR-IOV igb NIC), extracted with an
//     isolated apt state so the host's apt sources and its installed QEMU stay untouched,
//   - the vfio-probe tool.
// Every step leaves a stamp holding the inputs it was built from; a step reruns only when they change.
// All progress goes to stderr: stdout belongs to the TAP stream.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelDir, kernelRelease, labSourceDir, labWorkDir, pinnedKernel, qemuDir, toolsBinDir } from './lab-paths.js';
import { commandExists } from '../helpers/host-tools.js';

export interface LabArtifacts {
  kernelImage: string;
  initramfs: string;
  /** Directory that becomes the guest's /usr/lib/modules. */
  guestModulesDir: string;
  qemuBinary: string;
  /** Passed to QEMU as QEMU_MODULE_DIR so the extracted QEMU loads its own modules, not the host's. */
  qemuModuleDir: string;
  qemuDataDirs: string[];
  vfioProbe: string;
  qemuVersion: string;
}

export function log(message: string): void {
  process.stderr.write(`[lab] ${message}\n`);
}

function run(command: string, args: string[], options: { cwd?: string; allowFailure?: boolean } = {}): boolean {
  const result = spawnSync(command, args, { cwd: options.cwd, stdio: ['ignore', 2, 2] });
  if (result.error) throw new Error(`lab prepare: cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(`lab prepare: \`${command} ${args.join(' ')}\` exited with ${result.status ?? result.signal}`);
  }
  return result.status === 0;
}

function capture(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
  if (result.status !== 0) throw new Error(`lab prepare: \`${command} ${args.join(' ')}\` exited with ${result.status ?? result.signal}`);
  return result.stdout;
}

/** bash with pipefail; values travel as positional parameters, never spliced into the script. */
function runPipeline(script: string, ...values: string[]): void {
  run('bash', ['-o', 'pipefail', '-euc', script, 'lab-prepare', ...values]);
}

function sleepSeconds(seconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

/** apt commands fail while another process holds the apt lock; retry a bounded number of times. */
function aptWithRetry(args: string[], cwd?: string): boolean {
  for (let attempt = 1; attempt <= 12; attempt++) {
    if (run('apt-get', args, { cwd, allowFailure: true })) return true;
    log(`apt-get ${args.filter((a) => !a.startsWith('-o') && !a.includes('::')).join(' ')} failed (attempt ${attempt}/12); retrying in 10 s`);
    sleepSeconds(10);
  }
  return false;
}

function digest(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

function stampMatches(stampFile: string, key: string): boolean {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === key;
}

function checkHostTools(): void {
  const needed: Array<[string, string]> = [
    ['apt-get', 'apt'], ['dpkg-deb', 'dpkg'], ['cpio', 'cpio'], ['gzip', 'gzip'], ['xz', 'xz-utils'],
    ['depmod', 'kmod'], ['modprobe', 'kmod'], ['make', 'make'], ['gcc', 'gcc'], ['strip', 'binutils'], ['ldd', 'libc-bin'],
  ];
  const missing = needed.filter(([tool]) => !commandExists(tool)).map(([tool, pkg]) => `${tool} (apt: ${pkg})`);
  const busybox = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' });
  if (busybox.status !== 0 || !busybox.stdout.split('\n').includes('switch_root')) missing.push('/bin/busybox with switch_root (apt: busybox-static)');
  if (missing.length > 0) {
    throw new Error(`lab prepare: missing host tools: ${missing.join(', ')}. Install them with \`bash test/setup.sh\`.`);
  }
}

function kernelPackages(): string[] {
  const { abi, debianVersion, series, flavour } = pinnedKernel;
  return [
    `linux-image-${abi}-${flavour}`, `linux-headers-${abi}-${flavour}`, `linux-headers-${abi}-common`,
    `linux-kbuild-${series}`, `linux-source-${series}`,
  ].map((name) => `${name}=${debianVersion}`);
}

function prepareKernel(): void {
  const stamp = join(kernelDir, '.stamp-kernel');
  const key = digest(...kernelPackages());
  if (stampMatches(stamp, key)) return;
  log(`fetching kernel ${kernelRelease} (${pinnedKernel.debianVersion}), headers and netdevsim sources (~250 MB, once)`);
  rmSync(kernelDir, { recursive: true, force: true });
  const debs = join(kernelDir, 'debs');
  mkdirSync(debs, { recursive: true });
  if (!run('apt-get', ['download', ...kernelPackages()], { cwd: debs, allowFailure: true })) {
    log('apt-get download failed; refreshing the package lists once');
    aptWithRetry(['update', '-qq']);
    if (!aptWithRetry(['download', ...kernelPackages()], debs)) {
      throw new Error(`lab prepare: cannot download ${kernelPackages().join(' ')}. The pinned ABI may have left the mirror: ` +
        'set NICPLEX_LAB_KERNEL_ABI and NICPLEX_LAB_KERNEL_VERSION (or edit test/lab/lab-paths.ts) to what `apt-cache policy linux-image-amd64` offers.');
    }
  }
  const files = readdirSync(debs);
  const debOf = (prefix: string): string => {
    const found = files.find((name) => name.startsWith(prefix) && name.endsWith('.deb'));
    if (!found) throw new Error(`lab prepare: ${prefix}*.deb missing after apt-get download in ${debs}`);
    return join(debs, found);
  };
  const imageRoot = join(kernelDir, 'image');
  const buildRoot = join(kernelDir, 'build');
  run('dpkg-deb', ['-x', debOf(`linux-image-${kernelRelease}_`), imageRoot]);
  for (const prefix of [`linux-headers-${kernelRelease}_`, `linux-headers-${pinnedKernel.abi}-common_`, `linux-kbuild-${pinnedKernel.series}_`]) {
    run('dpkg-deb', ['-x', debOf(prefix), buildRoot]);
  }
  // The headers' Makefile includes the -common tree by absolute path; point it at our copy.
  const headersMakefile = join(buildRoot, 'usr', 'src', `linux-headers-${kernelRelease}`, 'Makefile');
  writeFileSync(headersMakefile, readFileSync(headersMakefile, 'utf8').replaceAll('include /usr/src/', `include ${buildRoot}/usr/src/`));
  const series = pinnedKernel.series;
  runPipeline(
    'dpkg-deb --fsys-tarfile "$1" | tar -xO "./usr/src/linux-source-$2.tar.xz" | tar -xJ -C "$3" --strip-components=4 "linux-source-$2/drivers/net/netdevsim"',
    debOf(`linux-source-${series}_`), series, mkdirAndReturn(join(kernelDir, 'netdevsim-src')),
  );
  // The source package is by far the largest; only netdevsim's directory is needed from it.
  rmSync(debOf(`linux-source-${series}_`));
  writeFileSync(stamp, key);
}

function mkdirAndReturn(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

function modulesDir(): string {
  return join(kernelDir, 'image', 'lib', 'modules', kernelRelease);
}

function buildNetdevsim(): void {
  const stamp = join(kernelDir, '.stamp-netdevsim');
  if (stampMatches(stamp, kernelRelease)) return;
  log('building netdevsim.ko out of tree (the Debian kernel ships without CONFIG_NETDEVSIM)');
  const buildDir = join(kernelDir, 'netdevsim-build');
  rmSync(buildDir, { recursive: true, force: true });
  runPipeline('cp -r "$1" "$2"', join(kernelDir, 'netdevsim-src'), buildDir);
  const headers = join(kernelDir, 'build', 'usr', 'src', `linux-headers-${kernelRelease}`);
  run('make', ['-s', '-C', headers, `M=${buildDir}`, 'CONFIG_NETDEVSIM=m', 'modules']);
  const updates = mkdirAndReturn(join(modulesDir(), 'updates'));
  run('strip', ['--strip-debug', '-o', join(updates, 'netdevsim.ko'), join(buildDir, 'netdevsim.ko')]);
  run('depmod', ['-b', join(kernelDir, 'image'), kernelRelease]);
  writeFileSync(stamp, kernelRelease);
}

function buildInitramfs(): string {
  const initramfs = join(kernelDir, 'initramfs.cpio.gz');
  const guestDir = join(labSourceDir, 'guest');
  const initScript = readFileSync(join(guestDir, 'init.sh'), 'utf8');
  const stage2Script = readFileSync(join(guestDir, 'stage2.sh'), 'utf8');
  const stamp = join(kernelDir, '.stamp-initramfs');
  const key = digest(initScript, stage2Script, kernelRelease);
  if (existsSync(initramfs) && stampMatches(stamp, key)) return initramfs;
  log('building the initramfs');
  const tree = join(kernelDir, 'initramfs');
  rmSync(tree, { recursive: true, force: true });
  for (const dir of ['bin', 'sbin', 'proc', 'sys', 'dev', 'modules', 'etc', 'tmp']) mkdirSync(join(tree, dir), { recursive: true });
  copyFileSync('/bin/busybox', join(tree, 'bin', 'busybox'));
  writeFileSync(join(tree, 'init'), initScript, { mode: 0o755 });
  writeFileSync(join(tree, 'stage2.sh'), stage2Script, { mode: 0o755 });
  // Only what mounting the root needs; everything else loads from the 9p-shared module tree.
  const plan = capture('modprobe', ['-d', join(kernelDir, 'image'), '-S', kernelRelease, '--show-depends', '-a', 'virtio_pci', '9pnet_virtio', '9p', 'overlay']);
  const order: string[] = [];
  for (const line of plan.split('\n')) {
    const [verb, path] = line.trim().split(/\s+/);
    if (verb !== 'insmod' || !path) continue;
    const name = path.split('/').pop() ?? '';
    if (order.includes(name)) continue;
    copyFileSync(path, join(tree, 'modules', name));
    order.push(name);
  }
  writeFileSync(join(tree, 'modules.order'), `${order.join('\n')}\n`);
  runPipeline('cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 > "$2"', tree, initramfs);
  writeFileSync(stamp, key);
  return initramfs;
}

function prepareQemu(): { binary: string; version: string } {
  const root = join(qemuDir, 'root');
  const binary = join(root, 'usr', 'bin', 'qemu-system-x86_64');
  const stamp = join(qemuDir, '.stamp-qemu');
  if (!stampMatches(stamp, 'bookworm-backports')) {
    log('fetching QEMU from bookworm-backports (igb needs QEMU >= 8) with an isolated apt state');
    rmSync(qemuDir, { recursive: true, force: true });
    const aptDir = join(qemuDir, 'apt');
    for (const dir of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(aptDir, dir), { recursive: true });
    writeFileSync(join(aptDir, 'sources.list'), 'deb http://deb.debian.org/debian bookworm-backports main\n');
    const isolated = [
      '-o', `Dir::Etc::SourceList=${join(aptDir, 'sources.list')}`, '-o', 'Dir::Etc::SourceParts=/nonexistent',
      '-o', `Dir::State::Lists=${join(aptDir, 'lists')}`, '-o', `Dir::Cache=${join(aptDir, 'cache')}`,
    ];
    if (!aptWithRetry([...isolated, 'update', '-qq'])) throw new Error('lab prepare: apt-get update for bookworm-backports failed');
    const debs = mkdirAndReturn(join(qemuDir, 'debs'));
    const packages = ['qemu-system-x86', 'qemu-system-common', 'qemu-system-data'].map((name) => `${name}/bookworm-backports`);
    if (!aptWithRetry([...isolated, 'download', ...packages], debs)) throw new Error(`lab prepare: cannot download ${packages.join(' ')}`);
    for (const deb of readdirSync(debs).filter((name) => name.endsWith('.deb'))) run('dpkg-deb', ['-x', join(debs, deb), root]);
    const missingLibraries = capture('ldd', [binary]).split('\n').filter((line) => line.includes('not found'));
    if (missingLibraries.length > 0) {
      throw new Error(`lab prepare: the backports QEMU misses host libraries (install qemu-system-x86 from bookworm with apt, test/setup.sh does): ${missingLibraries.join('; ')}`);
    }
    writeFileSync(stamp, 'bookworm-backports');
  }
  const version = capture(binary, ['--version']).split('\n')[0] ?? 'unknown';
  return { binary, version };
}

function buildVfioProbe(): string {
  const source = join(labSourceDir, 'tools', 'vfio-probe.c');
  const binary = join(toolsBinDir, 'vfio-probe');
  const stamp = join(toolsBinDir, '.stamp-vfio-probe');
  const key = digest(readFileSync(source, 'utf8'));
  if (existsSync(binary) && stampMatches(stamp, key)) return binary;
  log('compiling vfio-probe');
  mkdirSync(toolsBinDir, { recursive: true });
  run('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, source]);
  writeFileSync(stamp, key);
  return binary;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Two lab runs preparing at once would extract over each other's half-written trees. The lock file
 * holds the owner's pid; a lock whose owner is gone is taken over. Waiting is bounded.
 */
function withPrepareLock<T>(work: () => T): T {
  mkdirSync(labWorkDir, { recursive: true });
  const lockFile = join(labWorkDir, '.prepare.lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const owner = Number(existsSync(lockFile) ? readFileSync(lockFile, 'utf8') : 'NaN');
      if (!Number.isInteger(owner) || !processAlive(owner)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lab prepare: ${lockFile} is still held by pid ${owner} after 15 minutes`);
      log(`waiting for the lab prepare of pid ${owner}`);
      sleepSeconds(5);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

export function prepareLab(): LabArtifacts {
  return withPrepareLock(prepareUnlocked);
}

function prepareUnlocked(): LabArtifacts {
  checkHostTools();
  prepareKernel();
  buildNetdevsim();
  const initramfs = buildInitramfs();
  const qemu = prepareQemu();
  const vfioProbe = buildVfioProbe();
  const qemuRoot = join(qemuDir, 'root');
  return {
    kernelImage: join(kernelDir, 'image', 'boot', `vmlinuz-${kernelRelease}`),
    initramfs,
    guestModulesDir: join(kernelDir, 'image', 'lib', 'modules'),
    qemuBinary: qemu.binary,
    qemuModuleDir: join(qemuRoot, 'usr', 'lib', 'x86_64-linux-gnu', 'qemu'),
    // SeaBIOS and option ROMs: the extracted data package first, the host's as a fallback.
    qemuDataDirs: [join(qemuRoot, 'usr', 'share', 'qemu'), '/usr/share/qemu', '/usr/share/seabios'],
    vfioProbe,
    qemuVersion: qemu.version,
  };
}
