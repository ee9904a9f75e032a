// Device-info spec 1.1 files: build, path rules, atomic write, parse errors naming the JSON path.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildPciDeviceInfo,
  dpDeviceInfoFileName,
  dpDeviceInfoPath,
  parseDeviceInfo,
  readDeviceInfoFile,
  removeDeviceInfoFile,
  writeDeviceInfoFile,
} from '../../config/devinfo.js';

t.test('pci record as the device plugin writes it', async (t) => {
  t.same(buildPciDeviceInfo({ pciAddress: '0000:03:02.0' }), { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:03:02.0' } });
  t.same(buildPciDeviceInfo({ pciAddress: '0000:03:02.0', rdmaDevices: ['mlx5_0', 'mlx5_1'], pfPciAddress: '0000:03:00.0', vhostNet: '/dev/vhost-net' }).pci, {
    'pci-address': '0000:03:02.0', 'vhost-net': '/dev/vhost-net', 'rdma-device': 'mlx5_0,mlx5_1', 'pf-pci-address': '0000:03:00.0',
  });
});

t.test('file name: <resource>-<device>-device.json with / as -; unsafe inputs refused', async (t) => {
  t.equal(dpDeviceInfoFileName('intel.com/sriov_a', '0000:03:02.0'), 'intel.com-sriov_a-0000:03:02.0-device.json');
  t.equal(dpDeviceInfoPath('/run/dp', 'intel.com/sriov_a', '0000:03:02.0'), '/run/dp/intel.com-sriov_a-0000:03:02.0-device.json');
  t.throws(() => dpDeviceInfoFileName('intel.com/../x', '0000:03:02.0'), /resourceName/);
  t.throws(() => dpDeviceInfoFileName('intel.com/a', '../../etc/passwd'), /deviceID.*not a device ID/);
  t.throws(() => dpDeviceInfoFileName('noslash', '0000:03:02.0'), /"<prefix>\/<name>"/);
});

t.test('written atomically and read-only, read back, removed (missing is fine)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npx-devinfo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = dpDeviceInfoPath(join(dir, 'dp'), 'intel.com/a', '0000:03:02.0');
  const info = buildPciDeviceInfo({ pciAddress: '0000:03:02.0' });
  writeDeviceInfoFile(path, info);
  writeDeviceInfoFile(path, info); // overwrite is fine (re-Allocate after a kubelet restart)
  t.same(await readDeviceInfoFile(path), info);
  t.equal(statSync(path).mode & 0o777, 0o444);
  t.same(readdirSync(join(dir, 'dp')), ['intel.com-a-0000:03:02.0-device.json'], 'no temp files left behind');
  await removeDeviceInfoFile(path);
  await removeDeviceInfoFile(path);
  t.same(readdirSync(join(dir, 'dp')), []);
  rmSync(join(dir, 'dp'), { recursive: true });
  writeDeviceInfoFile(path, info);
  t.same(await readDeviceInfoFile(path), info, 'a directory removed under us is re-created');
});

t.test('parse errors name the file and JSON path', async (t) => {
  t.throws(() => parseDeviceInfo('{', 'f.json'), /f\.json: \$: not valid JSON/);
  t.throws(() => parseDeviceInfo('{"type":"usb","version":"1.1.0"}', 'f.json'), /\$\.type: expected one of pci, vdpa, vhost-user, memif/);
  t.throws(() => parseDeviceInfo('{"type":"pci","version":"1.1.0","pci":{}}', 'f.json'), /\$\.pci\.pci-address: is required/);
  t.throws(() => parseDeviceInfo('{"type":"pci","pci":{"pci-address":"x"}}', 'f.json'), /\$\.version: is required/);
  t.throws(() => parseDeviceInfo('{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa0","driver":"vhost","path":3}}', 'f.json'), /\$\.vdpa\.path: expected a string/);
  t.same(parseDeviceInfo('{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa0","driver":"vhost","path":"/dev/vhost-vdpa-0"},"future":1}', 'f.json'), {
    type: 'vdpa', version: '1.1.0', vdpa: { 'parent-device': 'vdpa0', driver: 'vhost', path: '/dev/vhost-vdpa-0' },
  }, 'unknown keys ignored');
});
