// Makes a server of the test process reachable at 127.0.0.1:PORT from inside the node netns, where
// the runtimes exec nicplex (whose kubeconfig names that address). The server also listens on a
// unix socket (FakeApiServer.listenUnix); the forwarder program (netns-tcp-forwarder.ts), started
// inside the node netns, carries each TCP connection to that socket. No link or address is added
// to any namespace.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
