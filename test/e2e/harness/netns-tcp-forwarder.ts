// Run as a program inside the node netns (`nsenter --net=... node netns-tcp-forwarder.js PORT SOCKET`):
// listens on 127.0.0.1:PORT there and pipes every connection to the unix socket SOCKET. Unix sockets
// live in the filesystem, which every netns shares, so this carries connections made inside the
// node netns (nicplex talking to its kubeconfig's API server) out to a server in the test process.
// Prints "ready" once listening; exits when its stdin closes, so it never outlives the test.
import { connect, createServer } from 'node:net';

function main(): void {
  const port = Number(process.argv[2]);
  const socketPath = process.argv[3];
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || !socketPath) {
    process.stderr.write('usage: netns-tcp-forwarder.js PORT UNIX_SOCKET\n');
    process.exit(2);
  }
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    client.pipe(upstream).pipe(client);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
  });
  server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

main();
