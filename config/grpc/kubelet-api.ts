// The kubelet's gRPC APIs as typed schemas: device plugin v1beta1, plugin-watcher registration v1
// and pod-resources v1. Each schema mirrors a message in config/proto/*.proto (a unit test checks
// names and numbers against those files). Property names are what proto-loader would produce
// (lowerCamelCase, `ID` kept upper case), so the objects look familiar to readers of other plugins.
import { messageSchema as schema, type MessageSchema } from './protowire.js';
import { defineService } from './service.js';

// ---- device plugin v1beta1 -------------------------------------------------------------

export type Empty = Record<string, never>;
export interface DevicePluginOptions { preStartRequired: boolean; getPreferredAllocationAvailable: boolean }
export interface RegisterRequest { version: string; endpoint: string; resourceName: string; options?: DevicePluginOptions | undefined }
export interface NUMANode { ID: number }
export interface TopologyInfo { nodes: NUMANode[] }
export interface Device { ID: string; health: string; topology?: TopologyInfo | undefined }
export interface ListAndWatchResponse { devices: Device[] }
export interface PreStartContainerRequest { devicesIds: string[] }
export type PreStartContainerResponse = Empty;
export interface ContainerPreferredAllocationRequest { availableDeviceIDs: string[]; mustIncludeDeviceIDs: string[]; allocationSize: number }
export interface PreferredAllocationRequest { containerRequests: ContainerPreferredAllocationRequest[] }
export interface ContainerPreferredAllocationResponse { deviceIDs: string[] }
export interface PreferredAllocationResponse { containerResponses: ContainerPreferredAllocationResponse[] }
export interface ContainerAllocateRequest { devicesIds: string[] }
export interface AllocateRequest { containerRequests: ContainerAllocateRequest[] }
export interface Mount { containerPath: string; hostPath: string; readOnly: boolean }
export interface DeviceSpec { containerPath: string; hostPath: string; permissions: string }
export interface CDIDevice { name: string }
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Mount[];
  devices: DeviceSpec[];
  annotations: Record<string, string>;
  cdiDevices: CDIDevice[];
}
export interface AllocateResponse { containerResponses: ContainerAllocateResponse[] }

export const EmptySchema: MessageSchema<Empty> = schema('v1beta1.Empty', []);
export const DevicePluginOptionsSchema: MessageSchema<DevicePluginOptions> = schema('v1beta1.DevicePluginOptions', [
  { name: 'preStartRequired', no: 1, kind: 'bool' },
  { name: 'getPreferredAllocationAvailable', no: 2, kind: 'bool' },
]);
export const RegisterRequestSchema: MessageSchema<RegisterRequest> = schema('v1beta1.RegisterRequest', [
  { name: 'version', no: 1, kind: 'string' },
  { name: 'endpoint', no: 2, kind: 'string' },
  { name: 'resourceName', no: 3, kind: 'string' },
  { name: 'options', no: 4, kind: 'message', message: () => DevicePluginOptionsSchema },
]);
export const NUMANodeSchema: MessageSchema<NUMANode> = schema('v1beta1.NUMANode', [{ name: 'ID', no: 1, kind: 'int64' }]);
export const TopologyInfoSchema: MessageSchema<TopologyInfo> = schema('v1beta1.TopologyInfo', [
  { name: 'nodes', no: 1, kind: 'message', repeated: true, message: () => NUMANodeSchema },
]);
export const DeviceSchema: MessageSchema<Device> = schema('v1beta1.Device', [
  { name: 'ID', no: 1, kind: 'string' },
  { name: 'health', no: 2, kind: 'string' },
  { name: 'topology', no: 3, kind: 'message', message: () => TopologyInfoSchema },
]);
export const ListAndWatchResponseSchema: MessageSchema<ListAndWatchResponse> = schema('v1beta1.ListAndWatchResponse', [
  { name: 'devices', no: 1, kind: 'message', repeated: true, message: () => DeviceSchema },
]);
export const PreStartContainerRequestSchema: MessageSchema<PreStartContainerRequest> = schema('v1beta1.PreStartContainerRequest', [
  { name: 'devicesIds', no: 1, kind: 'string', repeated: true },
]);
export const PreStartContainerResponseSchema: MessageSchema<PreStartContainerResponse> = schema('v1beta1.PreStartContainerResponse', []);
export const ContainerPreferredAllocationRequestSchema: MessageSchema<ContainerPreferredAllocationRequest> = schema(
  'v1beta1.ContainerPreferredAllocationRequest',
  [
    { name: 'availableDeviceIDs', no: 1, kind: 'string', repeated: true },
    { name: 'mustIncludeDeviceIDs', no: 2, kind: 'string', repeated: true },
    { name: 'allocationSize', no: 3, kind: 'int32' },
  ],
);
export const PreferredAllocationRequestSchema: MessageSchema<PreferredAllocationRequest> = schema('v1beta1.PreferredAllocationRequest', [
  { name: 'containerRequests', no: 1, kind: 'message', repeated: true, message: () => ContainerPreferredAllocationRequestSchema },
]);
export const ContainerPreferredAllocationResponseSchema: MessageSchema<ContainerPreferredAllocationResponse> = schema(
  'v1beta1.ContainerPreferredAllocationResponse',
  [{ name: 'deviceIDs', no: 1, kind: 'string', repeated: true }],
);
export const PreferredAllocationResponseSchema: MessageSchema<PreferredAllocationResponse> = schema('v1beta1.PreferredAllocationResponse', [
  { name: 'containerResponses', no: 1, kind: 'message', repeated: true, message: () => ContainerPreferredAllocationResponseSchema },
]);
export const ContainerAllocateRequestSchema: MessageSchema<ContainerAllocateRequest> = schema('v1beta1.ContainerAllocateRequest', [
  { name: 'devicesIds', no: 1, kind: 'string', repeated: true },
]);
export const AllocateRequestSchema: MessageSchema<AllocateRequest> = schema('v1beta1.AllocateRequest', [
  { name: 'containerRequests', no: 1, kind: 'message', repeated: true, message: () => ContainerAllocateRequestSchema },
]);
export const MountSchema: MessageSchema<Mount> = schema('v1beta1.Mount', [
  { name: 'containerPath', no: 1, kind: 'string' },
  { name: 'hostPath', no: 2, kind: 'string' },
  { name: 'readOnly', no: 3, kind: 'bool' },
]);
export const DeviceSpecSchema: MessageSchema<DeviceSpec> = schema('v1beta1.DeviceSpec', [
  { name: 'containerPath', no: 1, kind: 'string' },
  { name: 'hostPath', no: 2, kind: 'string' },
  { name: 'permissions', no: 3, kind: 'string' },
]);
export const CDIDeviceSchema: MessageSchema<CDIDevice> = schema('v1beta1.CDIDevice', [{ name: 'name', no: 1, kind: 'string' }]);
export const ContainerAllocateResponseSchema: MessageSchema<ContainerAllocateResponse> = schema('v1beta1.ContainerAllocateResponse', [
  { name: 'envs', no: 1, kind: 'map' },
  { name: 'mounts', no: 2, kind: 'message', repeated: true, message: () => MountSchema },
  { name: 'devices', no: 3, kind: 'message', repeated: true, message: () => DeviceSpecSchema },
  { name: 'annotations', no: 4, kind: 'map' },
  { name: 'cdiDevices', no: 5, kind: 'message', repeated: true, message: () => CDIDeviceSchema },
]);
export const AllocateResponseSchema: MessageSchema<AllocateResponse> = schema('v1beta1.AllocateResponse', [
  { name: 'containerResponses', no: 1, kind: 'message', repeated: true, message: () => ContainerAllocateResponseSchema },
]);

export const RegistrationService = defineService('v1beta1.Registration', {
  Register: { request: RegisterRequestSchema, response: EmptySchema },
});

export const DevicePluginService = defineService('v1beta1.DevicePlugin', {
  GetDevicePluginOptions: { request: EmptySchema, response: DevicePluginOptionsSchema },
  ListAndWatch: { request: EmptySchema, response: ListAndWatchResponseSchema, responseStream: true },
  GetPreferredAllocation: { request: PreferredAllocationRequestSchema, response: PreferredAllocationResponseSchema },
  Allocate: { request: AllocateRequestSchema, response: AllocateResponseSchema },
  PreStartContainer: { request: PreStartContainerRequestSchema, response: PreStartContainerResponseSchema },
});

export const DEVICE_PLUGIN_API_VERSION = 'v1beta1';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';

// ---- plugin-watcher registration (package `pluginregistration`) ------------------------

export type InfoRequest = Empty;
export interface PluginInfo { type: string; name: string; endpoint: string; supportedVersions: string[] }
export interface RegistrationStatus { pluginRegistered: boolean; error: string }
export type RegistrationStatusResponse = Empty;

export const InfoRequestSchema: MessageSchema<InfoRequest> = schema('pluginregistration.InfoRequest', []);
export const PluginInfoSchema: MessageSchema<PluginInfo> = schema('pluginregistration.PluginInfo', [
  { name: 'type', no: 1, kind: 'string' },
  { name: 'name', no: 2, kind: 'string' },
  { name: 'endpoint', no: 3, kind: 'string' },
  { name: 'supportedVersions', no: 4, kind: 'string', repeated: true },
]);
export const RegistrationStatusSchema: MessageSchema<RegistrationStatus> = schema('pluginregistration.RegistrationStatus', [
  { name: 'pluginRegistered', no: 1, kind: 'bool' },
  { name: 'error', no: 2, kind: 'string' },
]);
export const RegistrationStatusResponseSchema: MessageSchema<RegistrationStatusResponse> = schema('pluginregistration.RegistrationStatusResponse', []);

export const PluginRegistrationService = defineService('pluginregistration.Registration', {
  GetInfo: { request: InfoRequestSchema, response: PluginInfoSchema },
  NotifyRegistrationStatus: { request: RegistrationStatusSchema, response: RegistrationStatusResponseSchema },
});

// ---- pod-resources v1 --------------------------------------------------------------------

export type ListPodResourcesRequest = Empty;
export interface PodNUMANode { ID: number }
export interface PodTopologyInfo { nodes: PodNUMANode[] }
export interface ContainerDevices { resourceName: string; deviceIds: string[]; topology?: PodTopologyInfo | undefined }
export interface ContainerMemory { memoryType: string; size: number; topology?: PodTopologyInfo | undefined }
export interface ClaimResource { cdiDevices: CDIDevice[]; driverName: string; poolName: string; deviceName: string; shareId: string }
export interface DynamicResource { claimName: string; claimNamespace: string; claimResources: ClaimResource[] }
export interface ContainerResources {
  name: string;
  devices: ContainerDevices[];
  cpuIds: number[];
  memory: ContainerMemory[];
  dynamicResources: DynamicResource[];
}
export interface PodResources { name: string; namespace: string; containers: ContainerResources[]; cpuIds: number[]; memory: ContainerMemory[] }
export interface ListPodResourcesResponse { podResources: PodResources[] }
export type AllocatableResourcesRequest = Empty;
export interface AllocatableResourcesResponse { devices: ContainerDevices[]; cpuIds: number[]; memory: ContainerMemory[] }
export interface GetPodResourcesRequest { podName: string; podNamespace: string }
export interface GetPodResourcesResponse { podResources?: PodResources | undefined }

const podNumaNodeSchema: MessageSchema<PodNUMANode> = schema('v1.NUMANode', [{ name: 'ID', no: 1, kind: 'int64' }]);
const podTopologySchema: MessageSchema<PodTopologyInfo> = schema('v1.TopologyInfo', [
  { name: 'nodes', no: 1, kind: 'message', repeated: true, message: () => podNumaNodeSchema },
]);
const podCdiDeviceSchema: MessageSchema<CDIDevice> = schema('v1.CDIDevice', [{ name: 'name', no: 1, kind: 'string' }]);
export const ContainerDevicesSchema: MessageSchema<ContainerDevices> = schema('v1.ContainerDevices', [
  { name: 'resourceName', no: 1, kind: 'string' },
  { name: 'deviceIds', no: 2, kind: 'string', repeated: true },
  { name: 'topology', no: 3, kind: 'message', message: () => podTopologySchema },
]);
export const ContainerMemorySchema: MessageSchema<ContainerMemory> = schema('v1.ContainerMemory', [
  { name: 'memoryType', no: 1, kind: 'string' },
  { name: 'size', no: 2, kind: 'uint64' },
  { name: 'topology', no: 3, kind: 'message', message: () => podTopologySchema },
]);
export const ClaimResourceSchema: MessageSchema<ClaimResource> = schema('v1.ClaimResource', [
  { name: 'cdiDevices', no: 1, kind: 'message', repeated: true, message: () => podCdiDeviceSchema },
  { name: 'driverName', no: 2, kind: 'string' },
  { name: 'poolName', no: 3, kind: 'string' },
  { name: 'deviceName', no: 4, kind: 'string' },
  { name: 'shareId', no: 5, kind: 'string' },
]);
export const DynamicResourceSchema: MessageSchema<DynamicResource> = schema('v1.DynamicResource', [
  { name: 'claimName', no: 2, kind: 'string' },
  { name: 'claimNamespace', no: 3, kind: 'string' },
  { name: 'claimResources', no: 4, kind: 'message', repeated: true, message: () => ClaimResourceSchema },
]);
export const ContainerResourcesSchema: MessageSchema<ContainerResources> = schema('v1.ContainerResources', [
  { name: 'name', no: 1, kind: 'string' },
  { name: 'devices', no: 2, kind: 'message', repeated: true, message: () => ContainerDevicesSchema },
  { name: 'cpuIds', no: 3, kind: 'int64', repeated: true },
  { name: 'memory', no: 4, kind: 'message', repeated: true, message: () => ContainerMemorySchema },
  { name: 'dynamicResources', no: 5, kind: 'message', repeated: true, message: () => DynamicResourceSchema },
]);
export const PodResourcesSchema: MessageSchema<PodResources> = schema('v1.PodResources', [
  { name: 'name', no: 1, kind: 'string' },
  { name: 'namespace', no: 2, kind: 'string' },
  { name: 'containers', no: 3, kind: 'message', repeated: true, message: () => ContainerResourcesSchema },
  { name: 'cpuIds', no: 4, kind: 'int64', repeated: true },
  { name: 'memory', no: 5, kind: 'message', repeated: true, message: () => ContainerMemorySchema },
]);
export const ListPodResourcesRequestSchema: MessageSchema<ListPodResourcesRequest> = schema('v1.ListPodResourcesRequest', []);
export const ListPodResourcesResponseSchema: MessageSchema<ListPodResourcesResponse> = schema('v1.ListPodResourcesResponse', [
  { name: 'podResources', no: 1, kind: 'message', repeated: true, message: () => PodResourcesSchema },
]);
export const AllocatableResourcesRequestSchema: MessageSchema<AllocatableResourcesRequest> = schema('v1.AllocatableResourcesRequest', []);
export const AllocatableResourcesResponseSchema: MessageSchema<AllocatableResourcesResponse> = schema('v1.AllocatableResourcesResponse', [
  { name: 'devices', no: 1, kind: 'message', repeated: true, message: () => ContainerDevicesSchema },
  { name: 'cpuIds', no: 2, kind: 'int64', repeated: true },
  { name: 'memory', no: 3, kind: 'message', repeated: true, message: () => ContainerMemorySchema },
]);
export const GetPodResourcesRequestSchema: MessageSchema<GetPodResourcesRequest> = schema('v1.GetPodResourcesRequest', [
  { name: 'podName', no: 1, kind: 'string' },
  { name: 'podNamespace', no: 2, kind: 'string' },
]);
export const GetPodResourcesResponseSchema: MessageSchema<GetPodResourcesResponse> = schema('v1.GetPodResourcesResponse', [
  { name: 'podResources', no: 1, kind: 'message', message: () => PodResourcesSchema },
]);

export const PodResourcesListerService = defineService('v1.PodResourcesLister', {
  List: { request: ListPodResourcesRequestSchema, response: ListPodResourcesResponseSchema },
  GetAllocatableResources: { request: AllocatableResourcesRequestSchema, response: AllocatableResourcesResponseSchema },
  Get: { request: GetPodResourcesRequestSchema, response: GetPodResourcesResponseSchema },
});
