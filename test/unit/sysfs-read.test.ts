// The addon's batched directory reader must read exactly what the plain fs calls read (they are
// its fallback when the addon is missing), on odd trees too.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readDirSnapshotWithFs, readDirSnapshots, type DirSnapshotRequest } from '../../native/sysfs-read.js';
import { buildFakeHost } from '../helpers/fake-sysfs.js';
import { intelE810, mellanoxConnectX5, unparsableEntries, virtioNet } from '../helpers/nic-models.js';

const request: DirSnapshotRequest = {
  files: ['uevent', 'numa_node', 'sriov_numvfs', 'missing', 'net', 'a/b'],
  links: ['iommu_group', 'driver', 'uevent', 'missing'],
  linkPrefix: 'virtfn',
  subdir: { name: 'net', files: ['type', 'operstate', 'absent'] },
};

t.test('the native reader and the fs calls agree on every device of a fake host', async (t) => {
  const host = buildFakeHost({ pci: [...intelE810({ numVfs: 8, vfioVfs: [0, 1] }), ...mellanoxConnectX5({ numVfs: 2 }), virtioNet(), ...unparsableEntries()] });
  t.teardown(host.cleanup);
  const devicesDir = join(host.sysfsRoot, 'bus', 'pci', 'devices');
  const dirs = [join(devicesDir, 'not-a-device'), join(host.sysfsRoot, 'no-such-dir'), ...readdirSync(devicesDir).map((name) => join(devicesDir, name))];
  const native = readDirSnapshots(dirs, request);
  t.equal(native.length, dirs.length);
  dirs.forEach((dir, index) => t.same(native[index], readDirSnapshotWithFs(dir, request), dir));
  const pf = native[dirs.indexOf(join(devicesDir, '0000:86:00.0'))];
  t.ok(pf !== null && pf !== undefined && pf.prefixed.length === 4 && pf.prefixed[0] === 'virtfn0', 'a PF lists its virtfn links');
  const keepEntries = { names: ['physfn', 'net', 'no-such-entry'], prefixes: ['virtfn', 'sriov_'] };
  const filtered = readDirSnapshots(dirs, { ...request, keepEntries });
  dirs.forEach((dir, index) => t.same(filtered[index], readDirSnapshotWithFs(dir, { ...request, keepEntries }), `${dir}, filtered`));
  const filteredPf = filtered[dirs.indexOf(join(devicesDir, '0000:86:00.0'))];
  t.ok(filteredPf?.entries.includes('sriov_numvfs') && !filteredPf.entries.includes('uevent'), 'only the kept entries are listed');
  t.equal(filteredPf?.entryCount, pf?.entries.length, 'but all are counted');
  t.equal(native[1], null, 'an absent directory is null');
  t.equal(native[0], null, 'so is one that is not there');
});

t.test('a batch large enough for several reader threads comes back whole and in order', async (t) => {
  const host = buildFakeHost({ pci: intelE810({ numVfs: 300 }) });
  t.teardown(host.cleanup);
  const devicesDir = join(host.sysfsRoot, 'bus', 'pci', 'devices');
  const dirs = readdirSync(devicesDir).map((name) => join(devicesDir, name));
  dirs.splice(150, 0, join(host.sysfsRoot, 'no-such-dir'));
  t.ok(dirs.length > 300);
  const native = readDirSnapshots(dirs, request);
  t.same(native, dirs.map((dir) => readDirSnapshotWithFs(dir, request)));
});

t.test('texts are trimmed like String.prototype.trim, links and subdirectories are read as they are', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nicplex-sysfs-read-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'uevent'), Buffer.from([0x20, 0x09, 0x41, 0x0a, 0xa0, 0x42, 0xa0, 0x0d, 0x0a]));
  writeFileSync(join(dir, 'numa_node'), '');
  writeFileSync(join(dir, 'sriov_numvfs'), 'x'.repeat(5000));
  mkdirSync(join(dir, 'net', 'eth0'), { recursive: true });
  mkdirSync(join(dir, 'net', 'eth1'), { recursive: true });
  writeFileSync(join(dir, 'net', 'eth1', 'type'), '32\n');
  symlinkSync('../somewhere/else', join(dir, 'iommu_group'));
  symlinkSync('dangling', join(dir, 'virtfn3'));
  writeFileSync(join(dir, 'virtfnfile'), 'not a link');
  const native = readDirSnapshots([dir], request)[0];
  t.same(native, readDirSnapshotWithFs(dir, request));
  t.same(native?.texts.slice(0, 3), ['A\n\u00a0B', '', 'x'.repeat(4096)], 'trimmed, empty, and cut at one page');
  t.same(native?.links.slice(0, 2), ['../somewhere/else', null]);
  t.same(native?.prefixed, ['virtfn3', 'dangling'], 'a dangling link is still a link; a file is skipped');
  t.same(native?.subdir, { entries: ['eth0', 'eth1'], texts: [null, null, null, '32', null, null] });
});
