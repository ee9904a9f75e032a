// Prepares everything the lab VM boots from, idempotently, under test/lab/work/:
//   - the newest complete Debian 6.1 kernel set apt offers (kernel-choice.ts): image, headers and the
//     netdevsim sources (apt-get download, no install), cached per resolved version,
//   - netdevsim.ko built out of tree (Debian builds the kernel without CONFIG_NETDEVSIM),
//   - a busybox initramfs carrying the virtio/9p/overlay modules and the guest init scripts,
//   - the newest QEMU bookworm-backports offers, at least 10 (igb with SR-IOV needs >= 8; the suites
//     were written against 10), extracted with an isolated apt state so the host's apt sources and its
//     installed QEMU stay untouched,
//   - the vfio-probe tool.
// Every step leaves a stamp holding the inputs it was built from; a step reruns only when they change.
// All progress goes to stderr: stdout belongs to the TAP stream.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelDirFor, labSourceDir, labWorkDir, qemuDir, toolsBinDir } from './lab-paths.js';
import {
  chooseKernel, compareDebianVersions, describeNoChoice, imageAbis, kernelPackageNames, kernelPackages, kernelRelease, kernelSeries,
  parseMadison, type LabKernel,
} from './kernel-choice.js';
import { commandExists } from '../helpers/host-tools.js';

export interface LabArtifacts {
  /** The kernel resolved for this run; the guest's smoke test checks it booted. */
  kernel: LabKernel;
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

interface Outcome {
  ok: boolean;
  /** Combined stdout and stderr, for the error line. */
  output: string;
}

/** Runs a command with its output passed to stderr (progress) and kept (errors). Never a shell. */
function runKept(command: string, args: string[], options: { cwd?: string; timeoutSeconds?: number } = {}): Outcome {
  const result = spawnSync(command, args, { cwd: options.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: (options.timeoutSeconds ?? 600) * 1000 });
  if (result.error && (result.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw new Error(`lab prepare: cannot run ${command}: ${result.error.message}`);
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (output !== '') process.stderr.write(output);
  if (result.error) return { ok: false, output: `${output}\n${command} timed out after ${options.timeoutSeconds ?? 600} s` };
  return { ok: result.status === 0, output };
}

function run(command: string, args: string[], options: { cwd?: string } = {}): void {
  const result = spawnSync(command, args, { cwd: options.cwd, stdio: ['ignore', 2, 2] });
  if (result.error) throw new Error(`lab prepare: cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`lab prepare: \`${command} ${args.join(' ')}\` exited with ${result.status ?? result.signal}`);
}

function capture(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 2], timeout: 60_000 });
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

/** The first `E:` line apt printed, else its last line: what goes into a one-line error. */
function aptError(output: string): string {
  const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.find((line) => line.startsWith('E:')) ?? lines.at(-1) ?? 'no output';
}

/**
 * apt-get with a bounded wait for the apt lock (another apt on the machine); any other failure is
 * returned at once, never retried blindly.
 */
function aptGet(args: string[], options: { cwd?: string; timeoutSeconds?: number } = {}): Outcome {
  for (let attempt = 1; ; attempt++) {
    const outcome = runKept('apt-get', args, options);
    if (outcome.ok || !/Could not get lock|Unable to lock/.test(outcome.output) || attempt === 6) return outcome;
    log(`apt-get is waiting for the apt lock another process holds (attempt ${attempt}/6): ${aptError(outcome.output)}`);
    sleepSeconds(5);
  }
}

/** Hours since the package lists in `listsDir` were fetched (Infinity when there are none). */
function listsAgeHours(listsDir: string): number {
  if (!existsSync(listsDir)) return Infinity;
  const times = readdirSync(listsDir).filter((name) => name.endsWith('Release')).map((name) => statSync(join(listsDir, name)).mtimeMs);
  return times.length === 0 ? Infinity : (Date.now() - Math.max(...times)) / 3_600_000;
}

/** Package lists older than this are refreshed before a version is chosen from them. */
const maxListsAgeHours = 24;

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
    ['apt-get', 'apt'], ['apt-cache', 'apt'], ['dpkg-deb', 'dpkg'], ['cpio', 'cpio'], ['gzip', 'gzip'], ['xz', 'xz-utils'],
    ['depmod', 'kmod'], ['modprobe', 'kmod'], ['make', 'make'], ['gcc', 'gcc'], ['strip', 'binutils'], ['ldd', 'libc-bin'],
  ];
  const missing = needed.filter(([tool]) => !commandExists(tool)).map(([tool, pkg]) => `${tool} (apt: ${pkg})`);
  const busybox = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' });
  if (busybox.status !== 0 || !busybox.stdout.split('\n').includes('switch_root')) missing.push('/bin/busybox with switch_root (apt: busybox-static)');
  if (missing.length > 0) {
    throw new Error(`lab prepare: missing host tools: ${missing.join(', ')}. Install them with \`bash test/setup.sh\`.`);
  }
}

interface KernelOffers {
  abis: string[];
  offers: Map<string, string[]>;
}

/** What the host's apt offers now: the 6.1 image ABIs, and every version of each package of their sets. */
function queryKernelOffers(): KernelOffers {
  const abis = imageAbis(capture('apt-cache', ['pkgnames', `linux-image-${kernelSeries}.0-`]).split('\n'))
    .sort((a, b) => compareDebianVersions(a, b));
  if (abis.length === 0) return { abis, offers: new Map() };
  const names = [...new Set(abis.flatMap(kernelPackageNames))];
  return { abis, offers: parseMadison(capture('apt-cache', ['madison', ...names])) };
}

function forcedKernel(): Partial<LabKernel> {
  const forced: Partial<LabKernel> = {};
  const version = process.env['NICPLEX_LAB_KERNEL_VERSION'];
  const abi = process.env['NICPLEX_LAB_KERNEL_ABI'];
  if (version) forced.debianVersion = version;
  if (abi) forced.abi = abi;
  return forced;
}

/** Kernel trees under the work dir whose preparation finished (their netdevsim stamp exists). */
function completeKernelCaches(): LabKernel[] {
  if (!existsSync(labWorkDir)) return [];
  const found: LabKernel[] = [];
  for (const name of readdirSync(labWorkDir)) {
    const match = /^kernel-(\d+\.\d+\.\d+-\d+)-amd64-(.+)$/.exec(name);
    if (!match) continue;
    const kernel = { abi: match[1]!, debianVersion: match[2]! };
    if (existsSync(join(kernelDirFor(kernel), '.stamp-netdevsim'))) found.push(kernel);
  }
  return found.sort((a, b) => compareDebianVersions(b.debianVersion, a.debianVersion));
}

function refreshHostLists(reason: string): void {
  log(`refreshing the host's apt package lists (${reason})`);
  const outcome = aptGet(['update', '-qq'], { timeoutSeconds: 300 });
  if (!outcome.ok) log(`apt-get update failed: ${aptError(outcome.output)}; choosing from the lists as they are`);
}

/**
 * The kernel this run boots: the newest complete set apt offers (or the forced one), from lists at
 * most a day old. With no complete set on offer, the newest complete cache is used (offline runs);
 * with neither, one line says what is missing and what apt offers instead.
 */
export function resolveKernel(): { kernel: LabKernel; refreshed: boolean } {
  const forced = forcedKernel();
  let refreshed = false;
  const age = listsAgeHours('/var/lib/apt/lists');
  if (age > maxListsAgeHours) {
    refreshHostLists(age === Infinity ? 'there are none' : `they are ${age.toFixed(0)} h old`);
    refreshed = true;
  }
  let query = queryKernelOffers();
  let choice = chooseKernel(query.abis, query.offers, forced);
  if (!choice.kernel && !refreshed) {
    refreshHostLists('they offer no complete kernel set');
    refreshed = true;
    query = queryKernelOffers();
    choice = chooseKernel(query.abis, query.offers, forced);
  }
  for (const { kernel, missing } of choice.incomplete) log(`passing over kernel ${kernel.abi} ${kernel.debianVersion}: apt does not offer ${missing.join(', ')} at that version`);
  if (choice.kernel) return { kernel: choice.kernel, refreshed };
  const cached = completeKernelCaches().filter((kernel) => (forced.debianVersion ?? kernel.debianVersion) === kernel.debianVersion && (forced.abi ?? kernel.abi) === kernel.abi);
  if (cached[0]) {
    log(`apt offers no complete kernel set; booting the cached ${kernelRelease(cached[0])} ${cached[0].debianVersion}`);
    return { kernel: cached[0], refreshed };
  }
  throw new Error(`lab prepare: ${describeNoChoice(choice, query.abis, query.offers, forced)}`);
}

function downloadKernel(kernel: LabKernel, debs: string): Outcome {
  log(`fetching kernel ${kernelRelease(kernel)} (${kernel.debianVersion}), headers and netdevsim sources (~250 MB, once per version)`);
  return aptGet(['download', '-q', ...kernelPackages(kernel)], { cwd: debs, timeoutSeconds: 900 });
}

/** Downloads and unpacks the kernel set into its own directory, unless a finished one is there. */
function prepareKernel(initial: { kernel: LabKernel; refreshed: boolean }): LabKernel {
  let { kernel } = initial;
  const stampOf = (k: LabKernel) => join(kernelDirFor(k), '.stamp-kernel');
  if (stampMatches(stampOf(kernel), digest(...kernelPackages(kernel)))) return kernel;
  rmSync(kernelDirFor(kernel), { recursive: true, force: true });
  let debs = mkdirAndReturn(join(kernelDirFor(kernel), 'debs'));
  let outcome = downloadKernel(kernel, debs);
  if (!outcome.ok && !initial.refreshed) {
    // The lists said this set exists, the archive disagrees: the lists are stale. Refresh once, choose again.
    rmSync(kernelDirFor(kernel), { recursive: true, force: true });
    refreshHostLists(`the download failed: ${aptError(outcome.output)}`);
    kernel = resolveKernel().kernel;
    if (stampMatches(stampOf(kernel), digest(...kernelPackages(kernel)))) return kernel;
    debs = mkdirAndReturn(join(kernelDirFor(kernel), 'debs'));
    outcome = downloadKernel(kernel, debs);
  }
  if (!outcome.ok) {
    rmSync(kernelDirFor(kernel), { recursive: true, force: true });
    const query = queryKernelOffers();
    const offered = [`linux-kbuild-${kernelSeries}`, `linux-image-${kernel.abi}-amd64`].map((name) => `${name} ${(query.offers.get(name) ?? []).join('/') || 'none'}`);
    throw new Error(`lab prepare: cannot download kernel ${kernel.abi} ${kernel.debianVersion}: ${aptError(outcome.output)}; apt offers ${offered.join(', ')}`);
  }
  unpackKernel(kernel, debs);
  writeFileSync(stampOf(kernel), digest(...kernelPackages(kernel)));
  return kernel;
}

function unpackKernel(kernel: LabKernel, debs: string): void {
  const release = kernelRelease(kernel);
  const kernelDir = kernelDirFor(kernel);
  const files = readdirSync(debs);
  const debOf = (prefix: string): string => {
    const found = files.find((name) => name.startsWith(prefix) && name.endsWith('.deb'));
    if (!found) throw new Error(`lab prepare: ${prefix}*.deb missing after apt-get download in ${debs}`);
    return join(debs, found);
  };
  const imageRoot = join(kernelDir, 'image');
  const buildRoot = join(kernelDir, 'build');
  run('dpkg-deb', ['-x', debOf(`linux-image-${release}_`), imageRoot]);
  for (const prefix of [`linux-headers-${release}_`, `linux-headers-${kernel.abi}-common_`, `linux-kbuild-${kernelSeries}_`]) {
    run('dpkg-deb', ['-x', debOf(prefix), buildRoot]);
  }
  // The headers' Makefile includes the -common tree by absolute path; point it at our copy.
  const headersMakefile = join(buildRoot, 'usr', 'src', `linux-headers-${release}`, 'Makefile');
  writeFileSync(headersMakefile, readFileSync(headersMakefile, 'utf8').replaceAll('include /usr/src/', `include ${buildRoot}/usr/src/`));
  runPipeline(
    'dpkg-deb --fsys-tarfile "$1" | tar -xO "./usr/src/linux-source-$2.tar.xz" | tar -xJ -C "$3" --strip-components=4 "linux-source-$2/drivers/net/netdevsim"',
    debOf(`linux-source-${kernelSeries}_`), kernelSeries, mkdirAndReturn(join(kernelDir, 'netdevsim-src')),
  );
  // The source package is by far the largest; only netdevsim's directory is needed from it.
  rmSync(debOf(`linux-source-${kernelSeries}_`));
}

/** Caches of kernels no longer chosen are ~250 MB each; remove them once the chosen one is complete. */
function pruneOtherKernels(kept: LabKernel): void {
  for (const name of readdirSync(labWorkDir)) {
    if (!name.startsWith('kernel-') || join(labWorkDir, name) === kernelDirFor(kept)) continue;
    log(`removing the cache of a kernel no longer chosen: ${name}`);
    rmSync(join(labWorkDir, name), { recursive: true, force: true });
  }
}

function mkdirAndReturn(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

function buildNetdevsim(kernel: LabKernel): void {
  const release = kernelRelease(kernel);
  const kernelDir = kernelDirFor(kernel);
  const stamp = join(kernelDir, '.stamp-netdevsim');
  if (stampMatches(stamp, release)) return;
  log('building netdevsim.ko out of tree (the Debian kernel ships without CONFIG_NETDEVSIM)');
  const buildDir = join(kernelDir, 'netdevsim-build');
  rmSync(buildDir, { recursive: true, force: true });
  runPipeline('cp -r "$1" "$2"', join(kernelDir, 'netdevsim-src'), buildDir);
  const headers = join(kernelDir, 'build', 'usr', 'src', `linux-headers-${release}`);
  run('make', ['-s', '-C', headers, `M=${buildDir}`, 'CONFIG_NETDEVSIM=m', 'modules']);
  const updates = mkdirAndReturn(join(kernelDir, 'image', 'lib', 'modules', release, 'updates'));
  run('strip', ['--strip-debug', '-o', join(updates, 'netdevsim.ko'), join(buildDir, 'netdevsim.ko')]);
  run('depmod', ['-b', join(kernelDir, 'image'), release]);
  writeFileSync(stamp, release);
}

function buildInitramfs(kernel: LabKernel): string {
  const release = kernelRelease(kernel);
  const kernelDir = kernelDirFor(kernel);
  const initramfs = join(kernelDir, 'initramfs.cpio.gz');
  const guestDir = join(labSourceDir, 'guest');
  const initScript = readFileSync(join(guestDir, 'init.sh'), 'utf8');
  const stage2Script = readFileSync(join(guestDir, 'stage2.sh'), 'utf8');
  const stamp = join(kernelDir, '.stamp-initramfs');
  const key = digest(initScript, stage2Script, release);
  if (existsSync(initramfs) && stampMatches(stamp, key)) return initramfs;
  log('building the initramfs');
  const tree = join(kernelDir, 'initramfs');
  rmSync(tree, { recursive: true, force: true });
  for (const dir of ['bin', 'sbin', 'proc', 'sys', 'dev', 'modules', 'etc', 'tmp']) mkdirSync(join(tree, dir), { recursive: true });
  copyFileSync('/bin/busybox', join(tree, 'bin', 'busybox'));
  writeFileSync(join(tree, 'init'), initScript, { mode: 0o755 });
  writeFileSync(join(tree, 'stage2.sh'), stage2Script, { mode: 0o755 });
  // Only what mounting the root needs; everything else loads from the 9p-shared module tree.
  const plan = capture('modprobe', ['-d', join(kernelDir, 'image'), '-S', release, '--show-depends', '-a', 'virtio_pci', '9pnet_virtio', '9p', 'overlay']);
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

/** The oldest QEMU the lab accepts: igb with SR-IOV came in 8; the suites were written against 10. */
const minimumQemuMajor = 10;
const qemuPackages = ['qemu-system-x86', 'qemu-system-common', 'qemu-system-data'];

/** "1:10.0.2+ds-1~bpo12+1" → 10 */
export function qemuMajor(debianVersion: string): number {
  return Number(/^(?:\d+:)?(\d+)\./.exec(debianVersion)?.[1] ?? NaN);
}

/**
 * QEMU from bookworm-backports with an isolated apt state: the newest version offered there, at
 * least 10, cached per version. Lists older than a day are refreshed; offline, a cached QEMU that
 * meets the minimum is used.
 */
function prepareQemu(): { binary: string; version: string } {
  const root = join(qemuDir, 'root');
  const binary = join(root, 'usr', 'bin', 'qemu-system-x86_64');
  const stamp = join(qemuDir, '.stamp-qemu');
  const aptDir = join(qemuDir, 'apt');
  for (const dir of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(aptDir, dir), { recursive: true });
  writeFileSync(join(aptDir, 'sources.list'), 'deb http://deb.debian.org/debian bookworm-backports main\n');
  const isolated = [
    '-o', `Dir::Etc::SourceList=${join(aptDir, 'sources.list')}`, '-o', 'Dir::Etc::SourceParts=/nonexistent',
    '-o', `Dir::State::Lists=${join(aptDir, 'lists')}`, '-o', `Dir::Cache=${join(aptDir, 'cache')}`,
  ];
  const cachedVersion = existsSync(stamp) ? readFileSync(stamp, 'utf8') : '';
  if (listsAgeHours(join(aptDir, 'lists')) > maxListsAgeHours) {
    log('refreshing the bookworm-backports package list (isolated apt state)');
    const update = aptGet([...isolated, 'update', '-qq'], { timeoutSeconds: 300 });
    if (!update.ok) {
      if (qemuMajor(cachedVersion) >= minimumQemuMajor && existsSync(binary)) {
        log(`apt-get update for bookworm-backports failed (${aptError(update.output)}); using the cached QEMU ${cachedVersion}`);
        return { binary, version: capture(binary, ['--version']).split('\n')[0] ?? cachedVersion };
      }
      throw new Error(`lab prepare: apt-get update for bookworm-backports failed: ${aptError(update.output)}`);
    }
  }
  const offered = (parseMadison(capture('apt-cache', [...isolated, 'madison', qemuPackages[0]!])).get(qemuPackages[0]!) ?? [])
    .sort((a, b) => compareDebianVersions(b, a));
  const version = offered[0];
  if (version === undefined || !(qemuMajor(version) >= minimumQemuMajor)) {
    throw new Error(`lab prepare: bookworm-backports offers qemu-system-x86 ${offered.join('/') || 'in no version'}; the lab needs ${minimumQemuMajor} or later`);
  }
  if (cachedVersion !== version || !existsSync(binary)) {
    log(`fetching QEMU ${version} from bookworm-backports${cachedVersion ? ` (cached: ${cachedVersion})` : ''}`);
    for (const dir of ['root', 'debs']) rmSync(join(qemuDir, dir), { recursive: true, force: true });
    rmSync(stamp, { force: true });
    const debs = mkdirAndReturn(join(qemuDir, 'debs'));
    const download = aptGet([...isolated, 'download', '-q', ...qemuPackages.map((name) => `${name}=${version}`)], { cwd: debs, timeoutSeconds: 600 });
    if (!download.ok) throw new Error(`lab prepare: cannot download QEMU ${version} from bookworm-backports: ${aptError(download.output)}`);
    for (const deb of readdirSync(debs).filter((name) => name.endsWith('.deb'))) run('dpkg-deb', ['-x', join(debs, deb), root]);
    rmSync(debs, { recursive: true, force: true });
    const missingLibraries = capture('ldd', [binary]).split('\n').filter((line) => line.includes('not found'));
    if (missingLibraries.length > 0) {
      throw new Error(`lab prepare: the backports QEMU misses host libraries (install qemu-system-x86 from bookworm with apt, test/setup.sh does): ${missingLibraries.join('; ')}`);
    }
    writeFileSync(stamp, version);
  }
  const reported = capture(binary, ['--version']).split('\n')[0] ?? 'unknown';
  const reportedMajor = Number(/version (\d+)\./.exec(reported)?.[1] ?? NaN);
  if (!(reportedMajor >= minimumQemuMajor)) throw new Error(`lab prepare: the extracted QEMU says "${reported}"; the lab needs ${minimumQemuMajor} or later`);
  return { binary, version: reported };
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
  const kernel = prepareKernel(resolveKernel());
  buildNetdevsim(kernel);
  const initramfs = buildInitramfs(kernel);
  pruneOtherKernels(kernel);
  const qemu = prepareQemu();
  const vfioProbe = buildVfioProbe();
  const qemuRoot = join(qemuDir, 'root');
  const kernelDir = kernelDirFor(kernel);
  return {
    kernel,
    kernelImage: join(kernelDir, 'image', 'boot', `vmlinuz-${kernelRelease(kernel)}`),
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
