// One `/delegate` request (Multus thick's hot-plug API, used by multus-dynamic-networks-controller): the
// CNI environment of a running pod, one delegate config and its interface attributes. Validated here, each
// error naming the field; then run by cmdHotplugAdd/cmdHotplugDel with the agent's long-lived services.
import type { MultusNetConf } from '../config/multus-config.js';
import { parseAddressRequests } from './annotation.js';
import type { ClusterApi } from './cluster.js';
import { cmdHotplugAdd, cmdHotplugDel, type CommandDeps, type HotplugNetwork } from './commands.js';
import { toConfList } from './delegate-conf.js';
import { CniCode, CniError, asCniError } from './errors.js';
import type { PluginExecutor } from './exec.js';
import type { Logger } from './log.js';
import { readRequest } from './request.js';
import { CURRENT_VERSION } from './version.js';

/** The request body as Multus's api.Request carries it (`config` is a Go []byte, hence base64). */
export interface DelegateCall {
  env: Record<string, string>;
  /** The delegate's CNI config, decoded. */
  config: string;
  interfaceAttributes?: unknown;
}

export interface HotplugServices {
  log: Logger;
  executor: (searchPath: string[], timeoutMs: number, conf: MultusNetConf) => PluginExecutor;
  kubernetesApi?: ((conf: MultusNetConf) => Promise<ClusterApi>) | undefined;
}

const bad = (message: string) => new CniError(CniCode.decodeFailure, `/delegate request: ${message}`);

/** Parses the body; only CNI_* variables are taken from `env`. */
export function parseDelegateCall(body: string): DelegateCall {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (error) {
    throw bad(`the body is not JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('the body must be {"env": {...}, "config": "<base64>", "interfaceAttributes": {...}}');
  const object = raw as Record<string, unknown>;
  if (typeof object['env'] !== 'object' || object['env'] === null || Array.isArray(object['env'])) throw bad('"env" is required: an object of CNI_* variables');
  if (typeof object['config'] !== 'string' || object['config'] === '') throw bad('"config" is required: the delegate\'s CNI config, base64-encoded');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(object['config'])) throw bad('"config" is not base64 (Multus sends the CNI config bytes base64-encoded)');
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(object['env'] as Record<string, unknown>)) {
    if (key.startsWith('CNI_') && typeof value === 'string') env[key] = value;
  }
  const call: DelegateCall = { env, config: Buffer.from(object['config'], 'base64').toString('utf8') };
  if (object['interfaceAttributes'] !== undefined && object['interfaceAttributes'] !== null) call.interfaceAttributes = object['interfaceAttributes'];
  return call;
}

function hotplugNetwork(call: DelegateCall): HotplugNetwork {
  let raw: unknown;
  try {
    raw = JSON.parse(call.config);
  } catch (error) {
    throw bad(`"config" does not decode to JSON: ${(error as Error).message}`);
  }
  const list = toConfList(raw, '/delegate request: "config"');
  const network = { networkName: list.name, config: list, source: 'the /delegate request' };
  const attributes = call.interfaceAttributes;
  if (attributes === undefined) return { network, requests: {} };
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw bad('"interfaceAttributes" must be an object ({"ips": [...], "mac": "...", "cni-args": {...}})');
  const fields = attributes as Record<string, unknown>;
  let requests: HotplugNetwork['requests'];
  try {
    requests = parseAddressRequests({ ips: fields['ips'] ?? undefined, mac: fields['mac'] || undefined }, 'interfaceAttributes');
  } catch (error) {
    // parseAddressRequests words its errors for the pod annotation; here the field is the request's.
    throw bad((error as Error).message.replace(/^annotation \S+: /, ''));
  }
  const cniArgs = fields['cni-args'];
  if (cniArgs !== undefined && cniArgs !== null) {
    if (typeof cniArgs !== 'object' || Array.isArray(cniArgs)) throw bad('interfaceAttributes.cni-args: expected an object');
    requests.cniArgs = cniArgs as Record<string, unknown>;
  }
  return { network, requests };
}

/** Runs one /delegate call with `conf` (the agent's): ADD answers the result in CNI 1.0.0, DEL an empty body. */
export async function runHotplug(call: DelegateCall, conf: MultusNetConf, services: HotplugServices): Promise<{ exitCode: number; stdout: string }> {
  try {
    const request = readRequest(call.env);
    if (request.command !== 'ADD' && request.command !== 'DEL') throw bad(`CNI_COMMAND "${request.command}": /delegate runs ADD or DEL`);
    const hotplug = hotplugNetwork(call);
    let api: Promise<ClusterApi | undefined> | undefined;
    const deps: CommandDeps = {
      conf,
      log: services.log,
      executor: services.executor([conf.binDir, ...request.cniPath], conf.delegateTimeoutSeconds * 1000, conf),
      clusterApi: () => (api ??= conf.kubeconfig && services.kubernetesApi ? services.kubernetesApi(conf) : Promise.resolve(undefined)),
      // A hot-plugged network carries no resource name, so no device is looked up.
      podDevices: async () => new Map(),
    };
    if (request.command === 'ADD') return { exitCode: 0, stdout: `${JSON.stringify(await cmdHotplugAdd(request, deps, hotplug))}\n` };
    await cmdHotplugDel(request, deps, hotplug);
    return { exitCode: 0, stdout: '' };
  } catch (error) {
    return { exitCode: 1, stdout: `${JSON.stringify(asCniError(error).toJSON(CURRENT_VERSION))}\n` };
  }
}
