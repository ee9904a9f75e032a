// The kubelet's `kubelet_internal_checkpoint` (pkg/kubelet/cm/devicemanager/checkpoint), as the kubelet stand-in writes it.
import { encodeMessage } from '../../config/grpc/protowire.js';
import { ContainerAllocateResponseSchema, type ContainerAllocateResponse } from '../../config/grpc/kubelet-api.js';
import { writeFileAtomic } from '../../config/atomic-file.js';

export interface PodDeviceEntry {
  PodUID: string;
  ContainerName: string;
  ResourceName: string;
  /** NUMA node id as a string key (`"-1"` = no topology) → device IDs. */
  DeviceIDs: Record<string, string[]>;
  /** base64 of the protobuf-encoded ContainerAllocateResponse. */
  AllocResp: string;
}

export interface CheckpointData {
  PodDeviceEntries: PodDeviceEntry[];
  RegisteredDevices: Record<string, string[]>;
}

export interface Checkpoint {
  Data: CheckpointData;
  Checksum: number;
}

export function encodeAllocResp(response: ContainerAllocateResponse): string {
  return encodeMessage(ContainerAllocateResponseSchema, response).toString('base64');
}

// The kubelet hashes a Go-specific dump of Data with FNV-32a; readers must not verify it, so an
// FNV-32a over our JSON is a faithful enough stand-in (same type, same range).
function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function buildCheckpoint(data: CheckpointData): Checkpoint {
  return { Data: data, Checksum: fnv32a(JSON.stringify(data)) };
}

export async function writeCheckpoint(path: string, data: CheckpointData): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(buildCheckpoint(data)));
}
