// What the agent exposes by default, and how it finds the API server in a pod: metrics and health
// on loopback only, the CNI socket under /run/nicplex, and the service-account directory as kubeconfig.
import t from 'tap';
import yargs from 'yargs';
import { agentCommand } from '../../deploy/agent-cli.js';
import type { AgentArgs } from '../../deploy/agent-cli.js';
import { inClusterKubeconfig } from '../../cni/kube-client.js';

async function parsedDefaults(argv: string[]): Promise<AgentArgs> {
  let seen: AgentArgs | undefined;
  await yargs(['agent', ...argv])
    .command({ ...agentCommand, handler: (args) => { seen = args; } })
    .strict()
    .fail((message) => { throw new Error(message); })
    .parseAsync();
  return seen!;
}

t.test('metrics, /healthz and /readyz listen on loopback unless told otherwise; the socket is under /run/nicplex', async (t) => {
  const args = await parsedDefaults([]);
  t.equal(args['metrics-address'], '127.0.0.1:9184');
  t.equal(args['socket-dir'], '/run/nicplex');
  t.equal((await parsedDefaults(['--metrics-address', '0.0.0.0:9184']))['metrics-address'], '0.0.0.0:9184', 'an explicit address is kept');
});

t.test('a service-account directory is the in-cluster kubeconfig: $KUBERNETES_SERVICE_HOST/PORT, its ca.crt and token', async (t) => {
  const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
  t.same(inClusterKubeconfig(dir, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }), {
    'current-context': 'in-cluster',
    clusters: [{ name: 'in-cluster', cluster: { server: 'https://10.96.0.1:443', 'certificate-authority': `${dir}/ca.crt` } }],
    users: [{ name: 'in-cluster', user: { tokenFile: `${dir}/token` } }],
    contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'in-cluster' } }],
  });
  const v6 = inClusterKubeconfig(dir, { KUBERNETES_SERVICE_HOST: 'fd00::1' }) as { clusters: Array<{ cluster: { server: string } }> };
  t.equal(v6.clusters[0]!.cluster.server, 'https://[fd00::1]:443', 'an IPv6 service address is bracketed; the port defaults to 443');
  t.throws(() => inClusterKubeconfig(dir, {}), /KUBERNETES_SERVICE_HOST is not set .*pass a kubeconfig file instead/, 'outside a pod the error says what to pass');
});
