// Builds @grpc/grpc-js service definitions from our message schemas. Type-only import of
// grpc-js: the definitions are plain objects, so loading this module costs nothing.
import type { ServiceDefinition, MethodDefinition } from '@grpc/grpc-js';
import { decodeMessage, encodeMessage, type MessageSchema } from './protowire.js';

export interface MethodSpec<Req extends object, Res extends object> {
  request: MessageSchema<Req>;
  response: MessageSchema<Res>;
  responseStream?: boolean;
}

export function defineService<M extends Record<string, MethodSpec<object, object>>>(fullServiceName: string, methods: M): ServiceDefinition {
  const definition: Record<string, MethodDefinition<object, object>> = {};
  for (const [method, spec] of Object.entries(methods)) {
    definition[method] = {
      path: `/${fullServiceName}/${method}`,
      requestStream: false,
      responseStream: spec.responseStream ?? false,
      requestSerialize: (value: object) => encodeMessage(spec.request, value),
      requestDeserialize: (bytes: Buffer) => decodeMessage(spec.request, bytes),
      responseSerialize: (value: object) => encodeMessage(spec.response, value),
      responseDeserialize: (bytes: Buffer) => decodeMessage(spec.response, bytes),
      originalName: method.charAt(0).toLowerCase() + method.slice(1),
    };
  }
  return definition as ServiceDefinition;
}
