// The CNI request as the runtime hands it over: CNI_* environment variables and the config on stdin.
// Container IDs and ifnames are validated here, before anything turns them into file or link names.
import { CniCode, CniError } from './errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
const COMMANDS: CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];

export interface PodRef { namespace: string; name: string; uid: string; infraContainerId: string }

export interface CniRequest {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS pairs in their original order (duplicates kept). */
  args: Array<[string, string]>;
  cniPath: string[];
  pod?: PodRef | undefined;
}

export const CONTAINER_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Same rules as libcni skel: non-empty, at most 15 bytes, not "." or "..", no "/", ":" or whitespace. */
export function ifnameProblem(ifname: string): string | undefined {
  if (ifname === '') return 'is empty';
  if (Buffer.byteLength(ifname) > 15) return `"${ifname}" is longer than 15 bytes`;
  if (ifname === '.' || ifname === '..') return `"${ifname}" is not a valid interface name`;
  if (/[/:\s]/.test(ifname)) return `"${ifname}" contains "/", ":" or whitespace`;
  return undefined;
}

export function containerIdProblem(containerId: string): string | undefined {
  if (containerId === '') return 'is empty';
  if (!CONTAINER_ID_PATTERN.test(containerId)) return `"${containerId}" does not match ${CONTAINER_ID_PATTERN.source}`;
  if (containerId.length > 255) return 'is longer than 255 characters';
  return undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Kubernetes' rules: a namespace is a DNS-1123 label (≤ 63), a pod name a DNS-1123 subdomain (≤ 253). */
export function podRefProblem(namespace: string, name: string): string | undefined {
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) return `K8S_POD_NAMESPACE ${JSON.stringify(namespace)} is not a Kubernetes namespace (a DNS-1123 label: lower-case letters, digits and "-", at most 63)`;
  if (name.length > 253 || !name.split('.').every((label) => DNS_LABEL.test(label))) return `K8S_POD_NAME ${JSON.stringify(name)} is not a Kubernetes pod name (a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", at most 253)`;
  return undefined;
}

export function parseCniArgs(text: string | undefined): Array<[string, string]> {
  if (!text) return [];
  const pairs: Array<[string, string]> = [];
  for (const item of text.split(';')) {
    if (item.trim() === '') continue;
    const equals = item.indexOf('=');
    if (equals <= 0) throw new CniError(CniCode.invalidEnvironment, `CNI_ARGS: "${item}" is not KEY=VALUE`);
    pairs.push([item.slice(0, equals), item.slice(equals + 1)]);
  }
  return pairs;
}

export function formatCniArgs(pairs: Array<[string, string]>): string {
  return pairs.map(([key, value]) => `${key}=${value}`).join(';');
}

export function cniArg(pairs: Array<[string, string]>, key: string): string | undefined {
  for (const [name, value] of pairs) if (name === key) return value;
  return undefined;
}

export function readRequest(env: NodeJS.ProcessEnv): CniRequest {
  const commandText = env['CNI_COMMAND'] ?? '';
  if (!COMMANDS.includes(commandText as CniCommand)) {
    throw new CniError(CniCode.invalidEnvironment, `CNI_COMMAND: "${commandText}" is not one of ${COMMANDS.join(', ')}`);
  }
  const command = commandText as CniCommand;
  const args = parseCniArgs(env['CNI_ARGS']);
  const request: CniRequest = {
    command,
    containerId: env['CNI_CONTAINERID'] ?? '',
    netns: env['CNI_NETNS'] ?? '',
    ifname: env['CNI_IFNAME'] ?? '',
    args,
    cniPath: (env['CNI_PATH'] ?? '').split(':').filter((dir) => dir !== ''),
  };
  if (command === 'ADD' || command === 'DEL' || command === 'CHECK') {
    const idProblem = containerIdProblem(request.containerId);
    if (idProblem) throw new CniError(CniCode.invalidEnvironment, `CNI_CONTAINERID ${idProblem}`);
    const nameProblem = ifnameProblem(request.ifname);
    if (nameProblem) throw new CniError(CniCode.invalidEnvironment, `CNI_IFNAME ${nameProblem}`);
    if (command !== 'DEL' && request.netns === '') throw new CniError(CniCode.invalidEnvironment, `CNI_NETNS is required for ${command}`);
  }
  const namespace = cniArg(args, 'K8S_POD_NAMESPACE');
  const name = cniArg(args, 'K8S_POD_NAME');
  if (namespace && name) {
    // Both become API paths (/api/v1/namespaces/<ns>/pods/<name>): "..", "/" or "%" must never get there.
    // DEL goes on without the pod (from the cache): a DEL that fails forever would leak what ADD took.
    const problem = podRefProblem(namespace, name);
    if (problem && command !== 'DEL') throw new CniError(CniCode.invalidEnvironment, `CNI_ARGS: ${problem}`);
    if (!problem) request.pod = {
      namespace,
      name,
      uid: cniArg(args, 'K8S_POD_UID') ?? '',
      infraContainerId: cniArg(args, 'K8S_POD_INFRA_CONTAINER_ID') ?? request.containerId,
    };
  }
  return request;
}
