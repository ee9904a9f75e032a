// Small typed helpers over @grpc/grpc-js for unix-socket servers and unary calls; shared by the
// device plugin and the kubelet stand-in so both sides use the sockets the same way.
import * as grpc from '@grpc/grpc-js';
import { chmod, unlink } from 'node:fs/promises';

export function unixTarget(socketPath: string): string {
  return `unix:${socketPath}`;
}

/** Removes a stale socket file (a listener cannot bind over one) and binds `server` to `socketPath`, mode 0600. */
export async function bindUnix(server: grpc.Server, socketPath: string): Promise<void> {
  await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(unixTarget(socketPath), grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
  });
  // Only the kubelet (root) talks to it; the umask would leave it readable by everyone.
  await chmod(socketPath, 0o600);
}

/** Stops a server at once: open streams are cancelled, so the peer sees the disconnect immediately. */
export function stopServer(server: grpc.Server): void {
  server.forceShutdown();
}

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: unknown) => void) => grpc.ClientUnaryCall;

/** Calls a unary method of a generic client; rejects with the gRPC ServiceError. */
export function callUnary<Res>(client: grpc.Client, method: string, request: object, timeoutMs: number): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  if (typeof fn !== 'function') return Promise.reject(new Error(`gRPC client has no method ${method}`));
  return new Promise<Res>((resolve, reject) => {
    fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error) reject(error);
      else resolve(response as Res);
    });
  });
}

export function openServerStream<Res>(client: grpc.Client, method: string, request: object): grpc.ClientReadableStream<Res> {
  const fn = (client as unknown as Record<string, (request: unknown, options?: grpc.CallOptions) => grpc.ClientReadableStream<Res>>)[method];
  if (typeof fn !== 'function') throw new Error(`gRPC client has no method ${method}`);
  return fn.call(client, request, {});
}

/** A gRPC error with a status code, as unary handlers pass to their callback. */
export function statusError(code: grpc.status, details: string): grpc.ServiceError {
  const error = new Error(details) as grpc.ServiceError;
  error.code = code;
  error.details = details;
  error.metadata = new grpc.Metadata();
  return error;
}

export function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number';
}
