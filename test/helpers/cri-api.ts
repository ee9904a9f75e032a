// The slice of the Kubernetes CRI API (runtime.v1.RuntimeService) that the e2e tests drive
// containerd with, as schemas for the project's proto codec. Mirrors
// test/e2e/cri-runtime-v1-excerpt.proto (field numbers are upstream's); test/e2e/cri-api-excerpt.test.ts compares both.
// Enums are plain numbers on the wire, so they are declared int32 here with named constants below.
import { messageSchema as schema, type MessageSchema } from '../../config/grpc/protowire.js';
import { defineService } from '../../config/grpc/service.js';

export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;
export const PodSandboxState = { SANDBOX_READY: 0, SANDBOX_NOTREADY: 1 } as const;
export const Protocol = { TCP: 0, UDP: 1, SCTP: 2 } as const;

export interface VersionRequest { version: string }
export interface VersionResponse { version: string; runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }
export interface PortMapping { protocol: number; containerPort: number; hostPort: number; hostIp: string }
export interface NamespaceOption { network: number; pid: number; ipc: number; targetId: string }
export interface LinuxSandboxSecurityContext { namespaceOptions?: NamespaceOption | undefined; readonlyRootfs: boolean; privileged: boolean }
export interface LinuxPodSandboxConfig { cgroupParent: string; securityContext?: LinuxSandboxSecurityContext | undefined; sysctls: Record<string, string> }
export interface PodSandboxMetadata { name: string; uid: string; namespace: string; attempt: number }
export interface PodSandboxConfig {
  metadata?: PodSandboxMetadata | undefined;
  hostname: string;
  logDirectory: string;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux?: LinuxPodSandboxConfig | undefined;
}
export interface RunPodSandboxRequest { config?: PodSandboxConfig | undefined; runtimeHandler: string }
export interface RunPodSandboxResponse { podSandboxId: string }
export interface PodSandboxIdRequest { podSandboxId: string }
export type EmptyResponse = Record<string, never>;
export interface PodSandboxStatusRequest { podSandboxId: string; verbose: boolean }
export interface PodIP { ip: string }
export interface PodSandboxNetworkStatus { ip: string; additionalIps: PodIP[] }
export interface Namespace { options?: NamespaceOption | undefined }
export interface LinuxPodSandboxStatus { namespaces?: Namespace | undefined }
export interface PodSandboxStatus {
  id: string;
  metadata?: PodSandboxMetadata | undefined;
  state: number;
  createdAt: number;
  network?: PodSandboxNetworkStatus | undefined;
  linux?: LinuxPodSandboxStatus | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}
export interface PodSandboxStatusResponse { status?: PodSandboxStatus | undefined; info: Record<string, string> }
export interface PodSandboxStateValue { state: number }
export interface PodSandboxFilter { id: string; state?: PodSandboxStateValue | undefined; labelSelector: Record<string, string> }
export interface ListPodSandboxRequest { filter?: PodSandboxFilter | undefined }
export interface PodSandbox {
  id: string;
  metadata?: PodSandboxMetadata | undefined;
  state: number;
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}
export interface ListPodSandboxResponse { items: PodSandbox[] }

export const VersionRequestSchema: MessageSchema<VersionRequest> = schema('runtime.v1.VersionRequest', [
  { name: 'version', no: 1, kind: 'string' },
]);
export const VersionResponseSchema: MessageSchema<VersionResponse> = schema('runtime.v1.VersionResponse', [
  { name: 'version', no: 1, kind: 'string' },
  { name: 'runtimeName', no: 2, kind: 'string' },
  { name: 'runtimeVersion', no: 3, kind: 'string' },
  { name: 'runtimeApiVersion', no: 4, kind: 'string' },
]);
export const PortMappingSchema: MessageSchema<PortMapping> = schema('runtime.v1.PortMapping', [
  { name: 'protocol', no: 1, kind: 'int32' },
  { name: 'containerPort', no: 2, kind: 'int32' },
  { name: 'hostPort', no: 3, kind: 'int32' },
  { name: 'hostIp', no: 4, kind: 'string' },
]);
export const NamespaceOptionSchema: MessageSchema<NamespaceOption> = schema('runtime.v1.NamespaceOption', [
  { name: 'network', no: 1, kind: 'int32' },
  { name: 'pid', no: 2, kind: 'int32' },
  { name: 'ipc', no: 3, kind: 'int32' },
  { name: 'targetId', no: 4, kind: 'string' },
]);
export const LinuxSandboxSecurityContextSchema: MessageSchema<LinuxSandboxSecurityContext> = schema('runtime.v1.LinuxSandboxSecurityContext', [
  { name: 'namespaceOptions', no: 1, kind: 'message', message: () => NamespaceOptionSchema },
  { name: 'readonlyRootfs', no: 4, kind: 'bool' },
  { name: 'privileged', no: 6, kind: 'bool' },
]);
export const LinuxPodSandboxConfigSchema: MessageSchema<LinuxPodSandboxConfig> = schema('runtime.v1.LinuxPodSandboxConfig', [
  { name: 'cgroupParent', no: 1, kind: 'string' },
  { name: 'securityContext', no: 2, kind: 'message', message: () => LinuxSandboxSecurityContextSchema },
  { name: 'sysctls', no: 3, kind: 'map' },
]);
export const PodSandboxMetadataSchema: MessageSchema<PodSandboxMetadata> = schema('runtime.v1.PodSandboxMetadata', [
  { name: 'name', no: 1, kind: 'string' },
  { name: 'uid', no: 2, kind: 'string' },
  { name: 'namespace', no: 3, kind: 'string' },
  { name: 'attempt', no: 4, kind: 'uint32' },
]);
export const PodSandboxConfigSchema: MessageSchema<PodSandboxConfig> = schema('runtime.v1.PodSandboxConfig', [
  { name: 'metadata', no: 1, kind: 'message', message: () => PodSandboxMetadataSchema },
  { name: 'hostname', no: 2, kind: 'string' },
  { name: 'logDirectory', no: 3, kind: 'string' },
  { name: 'portMappings', no: 5, kind: 'message', repeated: true, message: () => PortMappingSchema },
  { name: 'labels', no: 6, kind: 'map' },
  { name: 'annotations', no: 7, kind: 'map' },
  { name: 'linux', no: 8, kind: 'message', message: () => LinuxPodSandboxConfigSchema },
]);
export const RunPodSandboxRequestSchema: MessageSchema<RunPodSandboxRequest> = schema('runtime.v1.RunPodSandboxRequest', [
  { name: 'config', no: 1, kind: 'message', message: () => PodSandboxConfigSchema },
  { name: 'runtimeHandler', no: 2, kind: 'string' },
]);
export const RunPodSandboxResponseSchema: MessageSchema<RunPodSandboxResponse> = schema('runtime.v1.RunPodSandboxResponse', [
  { name: 'podSandboxId', no: 1, kind: 'string' },
]);
export const StopPodSandboxRequestSchema: MessageSchema<PodSandboxIdRequest> = schema('runtime.v1.StopPodSandboxRequest', [
  { name: 'podSandboxId', no: 1, kind: 'string' },
]);
export const StopPodSandboxResponseSchema: MessageSchema<EmptyResponse> = schema('runtime.v1.StopPodSandboxResponse', []);
export const RemovePodSandboxRequestSchema: MessageSchema<PodSandboxIdRequest> = schema('runtime.v1.RemovePodSandboxRequest', [
  { name: 'podSandboxId', no: 1, kind: 'string' },
]);
export const RemovePodSandboxResponseSchema: MessageSchema<EmptyResponse> = schema('runtime.v1.RemovePodSandboxResponse', []);
export const PodSandboxStatusRequestSchema: MessageSchema<PodSandboxStatusRequest> = schema('runtime.v1.PodSandboxStatusRequest', [
  { name: 'podSandboxId', no: 1, kind: 'string' },
  { name: 'verbose', no: 2, kind: 'bool' },
]);
export const PodIPSchema: MessageSchema<PodIP> = schema('runtime.v1.PodIP', [{ name: 'ip', no: 1, kind: 'string' }]);
export const PodSandboxNetworkStatusSchema: MessageSchema<PodSandboxNetworkStatus> = schema('runtime.v1.PodSandboxNetworkStatus', [
  { name: 'ip', no: 1, kind: 'string' },
  { name: 'additionalIps', no: 2, kind: 'message', repeated: true, message: () => PodIPSchema },
]);
export const NamespaceSchema: MessageSchema<Namespace> = schema('runtime.v1.Namespace', [
  { name: 'options', no: 2, kind: 'message', message: () => NamespaceOptionSchema },
]);
export const LinuxPodSandboxStatusSchema: MessageSchema<LinuxPodSandboxStatus> = schema('runtime.v1.LinuxPodSandboxStatus', [
  { name: 'namespaces', no: 1, kind: 'message', message: () => NamespaceSchema },
]);
export const PodSandboxStatusSchema: MessageSchema<PodSandboxStatus> = schema('runtime.v1.PodSandboxStatus', [
  { name: 'id', no: 1, kind: 'string' },
  { name: 'metadata', no: 2, kind: 'message', message: () => PodSandboxMetadataSchema },
  { name: 'state', no: 3, kind: 'int32' },
  { name: 'createdAt', no: 4, kind: 'int64' },
  { name: 'network', no: 5, kind: 'message', message: () => PodSandboxNetworkStatusSchema },
  { name: 'linux', no: 6, kind: 'message', message: () => LinuxPodSandboxStatusSchema },
  { name: 'labels', no: 7, kind: 'map' },
  { name: 'annotations', no: 8, kind: 'map' },
  { name: 'runtimeHandler', no: 9, kind: 'string' },
]);
export const PodSandboxStatusResponseSchema: MessageSchema<PodSandboxStatusResponse> = schema('runtime.v1.PodSandboxStatusResponse', [
  { name: 'status', no: 1, kind: 'message', message: () => PodSandboxStatusSchema },
  { name: 'info', no: 2, kind: 'map' },
]);
export const PodSandboxStateValueSchema: MessageSchema<PodSandboxStateValue> = schema('runtime.v1.PodSandboxStateValue', [
  { name: 'state', no: 1, kind: 'int32' },
]);
export const PodSandboxFilterSchema: MessageSchema<PodSandboxFilter> = schema('runtime.v1.PodSandboxFilter', [
  { name: 'id', no: 1, kind: 'string' },
  { name: 'state', no: 2, kind: 'message', message: () => PodSandboxStateValueSchema },
  { name: 'labelSelector', no: 3, kind: 'map' },
]);
export const ListPodSandboxRequestSchema: MessageSchema<ListPodSandboxRequest> = schema('runtime.v1.ListPodSandboxRequest', [
  { name: 'filter', no: 1, kind: 'message', message: () => PodSandboxFilterSchema },
]);
export const PodSandboxSchema: MessageSchema<PodSandbox> = schema('runtime.v1.PodSandbox', [
  { name: 'id', no: 1, kind: 'string' },
  { name: 'metadata', no: 2, kind: 'message', message: () => PodSandboxMetadataSchema },
  { name: 'state', no: 3, kind: 'int32' },
  { name: 'createdAt', no: 4, kind: 'int64' },
  { name: 'labels', no: 5, kind: 'map' },
  { name: 'annotations', no: 6, kind: 'map' },
  { name: 'runtimeHandler', no: 7, kind: 'string' },
]);
export const ListPodSandboxResponseSchema: MessageSchema<ListPodSandboxResponse> = schema('runtime.v1.ListPodSandboxResponse', [
  { name: 'items', no: 1, kind: 'message', repeated: true, message: () => PodSandboxSchema },
]);

export const runtimeServiceMethods = {
  Version: { request: VersionRequestSchema, response: VersionResponseSchema },
  RunPodSandbox: { request: RunPodSandboxRequestSchema, response: RunPodSandboxResponseSchema },
  StopPodSandbox: { request: StopPodSandboxRequestSchema, response: StopPodSandboxResponseSchema },
  RemovePodSandbox: { request: RemovePodSandboxRequestSchema, response: RemovePodSandboxResponseSchema },
  PodSandboxStatus: { request: PodSandboxStatusRequestSchema, response: PodSandboxStatusResponseSchema },
  ListPodSandbox: { request: ListPodSandboxRequestSchema, response: ListPodSandboxResponseSchema },
};

export const RuntimeServiceDefinition = defineService('runtime.v1.RuntimeService', runtimeServiceMethods);
