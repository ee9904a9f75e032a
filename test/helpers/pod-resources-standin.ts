// The kubelet's pod-resources v1 server (k8s.io/kubelet/pkg/apis/podresources/v1) for the kubelet stand-in: List, Get and
// GetAllocatableResources over what the stand-in allocated, with the kubelet's rate limit and the
// "Get disabled" feature-gate behaviour as toggles.
import * as grpc from '@grpc/grpc-js';
import {
  PodResourcesListerService,
  type AllocatableResourcesResponse,
  type ContainerDevices,
  type GetPodResourcesRequest,
  type GetPodResourcesResponse,
  type ListPodResourcesResponse,
  type PodResources,
} from '../../config/grpc/kubelet-api.js';
import { bindUnix, statusError, stopServer } from '../../deviceplugin/server/grpc-unix.js';

export const GET_DISABLED_MESSAGE = 'PodResources API Get method disabled';
export const RATE_LIMITED_MESSAGE = 'rejected by rate limit';

export interface PodResourcesSource {
  pods(): PodResources[];
  allocatable(): ContainerDevices[];
}

export interface RateLimit { qps: number; burst: number }

/** Token bucket as the kubelet's unary interceptor (100 QPS, burst 10 by default). */
class TokenBucket {
  private tokens: number;
  private last = Date.now();
  constructor(private readonly limit: RateLimit) {
    this.tokens = limit.burst;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * this.limit.qps);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class PodResourcesStandin {
  private server: grpc.Server | null = null;
  private getEnabled = true;
  private bucket: TokenBucket | null = new TokenBucket({ qps: 100, burst: 10 });
  /** Calls answered per method, so tests can see how a client used the API. */
  readonly calls = { List: 0, Get: 0, GetAllocatableResources: 0, rejected: 0 };

  constructor(readonly socketPath: string, private readonly source: PodResourcesSource) {}

  /** The `KubeletPodResourcesGet` feature gate: off makes Get fail as the kubelet does. */
  setGetEnabled(enabled: boolean): void {
    this.getEnabled = enabled;
  }

  /** null turns the limiter off; `{ qps: 0, burst: 0 }` rejects every call. */
  setRateLimit(limit: RateLimit | null): void {
    this.bucket = limit ? new TokenBucket(limit) : null;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    const limited = (callback: (error: grpc.ServiceError) => void): boolean => {
      if (this.bucket && !this.bucket.take()) {
        this.calls.rejected++;
        callback(statusError(grpc.status.RESOURCE_EXHAUSTED, RATE_LIMITED_MESSAGE));
        return true;
      }
      return false;
    };
    server.addService(PodResourcesListerService, {
      List: (_call: grpc.ServerUnaryCall<object, ListPodResourcesResponse>, callback: grpc.sendUnaryData<ListPodResourcesResponse>) => {
        if (limited(callback)) return;
        this.calls.List++;
        callback(null, { podResources: this.source.pods() });
      },
      Get: (call: grpc.ServerUnaryCall<GetPodResourcesRequest, GetPodResourcesResponse>, callback: grpc.sendUnaryData<GetPodResourcesResponse>) => {
        if (limited(callback)) return;
        this.calls.Get++;
        if (!this.getEnabled) return callback(statusError(grpc.status.UNKNOWN, GET_DISABLED_MESSAGE));
        const { podName, podNamespace } = call.request;
        const pod = this.source.pods().find((p) => p.name === podName && p.namespace === podNamespace);
        if (!pod) return callback(statusError(grpc.status.UNKNOWN, `pod ${podName} not found in namespace ${podNamespace}`));
        callback(null, { podResources: pod });
      },
      GetAllocatableResources: (_call: grpc.ServerUnaryCall<object, AllocatableResourcesResponse>, callback: grpc.sendUnaryData<AllocatableResourcesResponse>) => {
        if (limited(callback)) return;
        this.calls.GetAllocatableResources++;
        callback(null, { devices: this.source.allocatable(), cpuIds: [], memory: [] });
      },
    });
    await bindUnix(server, this.socketPath);
    this.server = server;
  }

  stop(): void {
    if (this.server) stopServer(this.server);
    this.server = null;
  }
}
