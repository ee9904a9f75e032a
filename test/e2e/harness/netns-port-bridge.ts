// Makes a server of the test process reachable at 127.0.0.1:PORT from inside the node netns, where
// the runtimes exec nicplex (whose kubeconfig names that address). The server also listens on a
// unix socket (FakeApiServer.listenUnix); the forwarder program (netns-tcp-forwarder.ts), started
// inside the node netns, carries each TCP connection to that socket. No link or address is added
// to any namespace.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { agentRbacRules } from '../../helpers/deploy-manifests.js';
import { FakeApiServer } from '../../helpers/fake-apiserver.js';
import type { NodeNetns } from './node-netns.js';

const forwarderPath = join(dirname(fileURLToPath(import.meta.url)), 'netns-tcp-forwarder.js');

export interface PortForwarder {
  close(): Promise<void>;
}

export async function forwardNetnsPortToUnixSocket(node: NodeNetns, port: number, socketPath: string): Promise<PortForwarder> {
  // nsenter without --fork execs node in place, so child.pid is the forwarder itself.
  const child = spawn('nsenter', [...node.enterArgs, process.execPath, forwarderPath, String(port), socketPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    child.stdin?.end();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`port forwarder into ${node.name} did not start within 10 s`)), 10_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`port forwarder into ${node.name} exited with ${code}`));
      });
    });
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}

/**
 * A fake API server for the runtimes in the node netns: started, listening on `<workDir>/apiserver.sock`,
 * forwarded to 127.0.0.1:PORT inside the node, with a kubeconfig naming that address at
 * `<workDir>/kubeconfig`. Both are stopped when the test ends. It answers 403 to any call deploy/rbac.yaml
 * does not allow (kept in `apiServer.denied`).
 */
export async function fakeApiServerForNode(t: Test, node: NodeNetns, workDir: string): Promise<{ apiServer: FakeApiServer; kubeconfig: string }> {
  const apiServer = new FakeApiServer();
  // As the cluster would: only what deploy/rbac.yaml grants the agent's service account.
  apiServer.rbac = agentRbacRules();
  await apiServer.start();
  t.teardown(() => apiServer.stop());
  const apiSocket = join(workDir, 'apiserver.sock');
  await apiServer.listenUnix(apiSocket);
  const forwarder = await forwardNetnsPortToUnixSocket(node, apiServer.port, apiSocket);
  t.teardown(() => forwarder.close());
  const kubeconfig = join(workDir, 'kubeconfig');
  apiServer.writeKubeconfig(kubeconfig);
  return { apiServer, kubeconfig };
}
