// The character devices a container needs to use an RDMA device (`mlx5_0` → /dev/infiniband/uverbsN,
// umadN, issmN, rdma_cm). The kernel names them under sysfs classes whose entries carry an `ibdev`
// file naming the RDMA device, which is what rdmamap (used by the reference plugin) reads too.
import { join } from 'node:path';
import type { DeviceSpec } from '../../config/grpc/kubelet-api.js';
import { listDir, readSmallText } from '../../native/index.js';

const CLASSES = ['infiniband_verbs', 'infiniband_mad'] as const;

export function rdmaCharDeviceSpecs(sysfsRoot: string, rdmaDevice: string): DeviceSpec[] {
  const specs: DeviceSpec[] = [];
  for (const className of CLASSES) {
    const classDir = join(sysfsRoot, 'class', className);
    for (const entry of (listDir(classDir) ?? []).sort()) {
      if (!/^(uverbs|umad|issm)\d+$/.test(entry)) continue;
      if (readSmallText(join(classDir, entry, 'ibdev')) !== rdmaDevice) continue;
      const path = `/dev/infiniband/${entry}`;
      specs.push({ hostPath: path, containerPath: path, permissions: 'rw' });
    }
  }
  if (specs.length > 0) specs.push({ hostPath: '/dev/infiniband/rdma_cm', containerPath: '/dev/infiniband/rdma_cm', permissions: 'rw' });
  return specs;
}
