// Helpers for the lab suites, which run as root inside the lab VM (see test/lab/run-lab.ts).
// Independent cross-checks go through iproute2 (`ip -j`) so a suite never verifies the addon with
// the addon alone. Every process spawn costs ~50 ms under TCG: keep calls few.
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { basename, join } from 'node:path';
import { median, percentile } from '../../bench/bench-stats.js';
import { getLink, type VfInfo } from '../../../native/index.js';
export { rejectsWithErrno } from '../../helpers/native-asserts.js';

/** Set by the guest command only; the suites change the kernel's state and must never run on a host. */
export const labRunDir = process.env['NICPLEX_LAB_RUN_DIR'];
export const labToolsDir = process.env['NICPLEX_LAB_TOOLS_DIR'] ?? '/lab/tools';
export const notInLabReason = labRunDir === undefined ? 'lab suites run only inside the lab VM (npm run test:lab)' : false;

export function run(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', input: options.input, timeout: options.timeoutMs ?? 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as { stderr?: string; status?: number };
    throw new Error(`\`${command} ${args.join(' ')}\` failed (exit ${failure.status ?? '?'}): ${(failure.stderr ?? String(error)).trim()}`);
  }
}

/** `ip -j [-n ns] ARGS` parsed; iproute2 is the independent witness of what the kernel holds. */
export function ipJson<T = IpLink[]>(args: string[], netnsName?: string): T {
  const prefix = netnsName === undefined ? [] : ['-n', netnsName];
  return JSON.parse(run('ip', ['-j', ...prefix, ...args])) as T;
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  address?: string;
  mtu?: number;
  flags?: string[];
  operstate?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  vfinfo_list?: IpVfInfo[];
  [key: string]: unknown;
}

export interface IpVfInfo {
  vf: number;
  address?: string;
  'link_type'?: string;
  vlan_list?: Array<{ vlan?: number; qos?: number; protocol?: string }>;
  rate?: { max_tx?: number; min_tx?: number };
  spoofchk?: boolean;
  link_state?: string;
  trust?: boolean;
  [key: string]: unknown;
}

export function ipLink(name: string, netnsName?: string, details = false): IpLink {
  const links = ipJson<IpLink[]>([...(details ? ['-d'] : []), 'link', 'show', 'dev', name], netnsName);
  const link = links[0];
  if (!link) throw new Error(`ip link show dev ${name} returned nothing`);
  return link;
}

/** VF `vf` of `pf` as iproute2 reports it, to check the addon against an independent reader. */
export function ipVf(pf: string, vf: number): IpVfInfo {
  const found = ipLink(pf, undefined, true).vfinfo_list?.find((entry) => entry.vf === vf);
  if (!found) throw new Error(`iproute2 shows no vf ${vf} on ${pf}`);
  return found;
}

/** VF `vf` of `pf` as our addon decodes it. */
export async function addonVf(pf: string, vf: number): Promise<VfInfo> {
  const found = (await getLink(pf)).vfs.find((entry) => entry.vf === vf);
  if (!found) throw new Error(`the addon decoded no vf ${vf} on ${pf}`);
  return found;
}

export function ipv4Addresses(name: string, netnsName?: string): string[] {
  const entries = ipJson<Array<{ addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>>(['-4', 'addr', 'show', 'dev', name], netnsName);
  return (entries[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

export function modprobe(...modules: string[]): void {
  run('modprobe', ['-a', ...modules]);
}

/** Creates a named namespace (visible to `ip -n`) and returns its file path for the addon. */
export function addNetns(name: string): string {
  run('ip', ['netns', 'add', name]);
  return `/run/netns/${name}`;
}

export function deleteNetns(name: string): void {
  if (existsSync(`/run/netns/${name}`)) run('ip', ['netns', 'del', name]);
}

/** Two pings from inside `netnsName`; true when a reply came back. Bounded by -W. */
export function pings(netnsName: string, address: string): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', netnsName, 'busybox', 'ping', '-c', '2', '-W', '3', address], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function readSysfs(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

export function writeSysfs(path: string, value: string): void {
  writeFileSync(path, value);
}

export interface PciFunction {
  address: string;
  dir: string;
}

export function pciFunctionsById(vendor: string, device: string): PciFunction[] {
  const root = '/sys/bus/pci/devices';
  return readdirSync(root)
    .map((address) => ({ address, dir: join(root, address) }))
    .filter(({ dir }) => readSysfs(join(dir, 'vendor')) === vendor && readSysfs(join(dir, 'device')) === device);
}

export function boundDriver(pciDir: string): string | null {
  const link = join(pciDir, 'driver');
  return existsSync(link) ? basename(readlinkSync(link)) : null;
}

/** Names of the files (not directories) anywhere under `dir`; none when it does not exist. */
export function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => !entry.isDirectory()).map((entry) => entry.name) : [];
}

export function netdevsOf(deviceDir: string): string[] {
  const dir = join(deviceDir, 'net');
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function iommuGroup(pciDir: string): string {
  return basename(readlinkSync(join(pciDir, 'iommu_group')));
}

/** Binds a PCI function to `driver` the deterministic way: driver_override, unbind, drivers_probe. */
export function bindPciDriver(fn: PciFunction, driver: string): void {
  writeSysfs(join(fn.dir, 'driver_override'), `${driver}\n`);
  if (boundDriver(fn.dir) !== null) writeSysfs(join(fn.dir, 'driver', 'unbind'), fn.address);
  writeSysfs('/sys/bus/pci/drivers_probe', fn.address);
}

export interface RoundTripSummary {
  rounds: number;
  setVf: { medianMs: number; p95Ms: number };
  setVfThenGetLink: { medianMs: number; p95Ms: number };
}

/** Times `rounds` VF-attribute sets through the addon, each followed by a read-back that must see it. */
export async function measureVfRoundTrips(t: Test, rounds: number, set: (round: number) => Promise<void>, readBack: (round: number) => Promise<boolean>): Promise<RoundTripSummary> {
  const setMs: number[] = [];
  const setAndReadMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    await set(round);
    const afterSet = process.hrtime.bigint();
    const seen = await readBack(round);
    const afterRead = process.hrtime.bigint();
    if (!seen) t.fail(`round ${round}: the read-back did not show the value just set`);
    setMs.push(Number(afterSet - started) / 1e6);
    setAndReadMs.push(Number(afterRead - started) / 1e6);
  }
  const summary = (values: number[]) => ({ medianMs: +median(values).toFixed(3), p95Ms: +percentile([...values].sort((a, b) => a - b), 0.95).toFixed(3) });
  return { rounds, setVf: summary(setMs), setVfThenGetLink: summary(setAndReadMs) };
}

/**
 * Adds one backend's figures to bench-results/lab-vf.json in the run directory (the host publishes
 * it after the VM stops). Suites run one after another, so read-merge-write is safe.
 */
export function recordLabVfBench(backend: string, summary: RoundTripSummary): void {
  if (!labRunDir) return;
  const dir = join(labRunDir, 'bench-results');
  const file = join(dir, 'lab-vf.json');
  mkdirSync(dir, { recursive: true });
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { backends?: Record<string, unknown> }) : {};
  const result = {
    benchmark: 'lab-vf',
    description: 'VF attribute set through the PF with the addon (setVf), and set followed by getLink read-back',
    kernel: release(),
    emulation: 'QEMU TCG on a shared host: recorded, not comparable to hardware',
    recordedAt: new Date().toISOString(),
    backends: { ...(existing.backends ?? {}), [backend]: summary },
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}
