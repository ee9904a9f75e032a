// `nicplex agent`: yargs wiring only; the agent is imported when the command runs.
import type { Argv, CommandModule } from 'yargs';
import { devicepluginOptions, type DevicepluginArgs } from '../deviceplugin/server-cli.js';

export interface AgentArgs extends Omit<DevicepluginArgs, 'config'> {
  config?: string | undefined;
  'cni-conf'?: string | undefined;
  'multus-daemon-config'?: string | undefined;
  'socket-dir': string;
  kubeconfig?: string | undefined;
  'node-name'?: string | undefined;
  'metrics-address': string;
  'cni-bin-dir'?: string | undefined;
  'cni-conf-dir'?: string | undefined;
  'cleanup-config-on-exit': boolean;
  'max-concurrent-requests': number;
  shim?: string | undefined;
}

export const agentCommand: CommandModule<object, AgentArgs> = {
  command: 'agent',
  describe: 'The node agent: device plugin, meta-CNI server for the shim, metrics and health endpoints',
  builder: (y) =>
    (devicepluginOptions(y, false) as Argv)
      .option('cni-conf', { type: 'string', describe: 'meta-CNI conf to install and serve (00-nicplex.conf / 00-multus.conf); "auto" generates it from the primary conf in --cni-conf-dir' })
      .option('multus-daemon-config', { type: 'string', describe: "Multus thick's daemon-config.json, accepted unchanged (socketDir, cniConfigDir, multusConfigFile, readinessindicatorfile, …)" })
      .conflicts('cni-conf', 'multus-daemon-config')
      .option('socket-dir', { type: 'string', default: '/run/nicplex', describe: 'directory of the agent socket (nicplex.sock; multus.sock for a multus-shim conf)' })
      .option('kubeconfig', { type: 'string', describe: 'kubeconfig for the API server (Kubernetes mode), or a service-account directory (/var/run/secrets/kubernetes.io/serviceaccount: in-cluster); requests use it unless their conf names another' })
      .option('node-name', { type: 'string', default: process.env['NODE_NAME'], describe: 'this node (pod informer field selector spec.nodeName); default $NODE_NAME' })
      .option('metrics-address', { type: 'string', default: '127.0.0.1:9184', describe: 'HOST:PORT of /metrics, /healthz and /readyz; "" disables' })
      .option('cni-bin-dir', { type: 'string', describe: 'install the shim here (as the conf\'s "type") on start' })
      .option('cni-conf-dir', { type: 'string', describe: 'install the meta-CNI conf here on start' })
      .option('cleanup-config-on-exit', { type: 'boolean', default: false, describe: 'remove the installed conf on SIGTERM/SIGINT' })
      .option('max-concurrent-requests', { type: 'number', default: 32, describe: 'CNI requests run at once (one container\'s calls always run one after another); the rest queue' })
      .option('shim', { type: 'string', describe: 'the shim binary to install (default: build/Release/nicplex-shim of this package)' }) as unknown as Argv<AgentArgs>,
  handler: async (args) => {
    const { runAgent } = await import('./agent.js');
    process.exitCode = await runAgent(args);
  },
};
