// The manifests under deploy/: every document of every *.yaml, parsed with `yaml`, and checked
// against the Kubernetes object schemas of kubernetes-models (the API server's OpenAPI definitions).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { repoRoot } from './paths.js';
import type { PolicyRule } from './rbac.js';

export const deployDir = join(repoRoot, 'deploy');

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

interface Validatable { validate(): void }
const models: Record<string, new (data: never) => Validatable> = {
  'apps/v1/DaemonSet': DaemonSet,
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

export function manifestFiles(dir = deployDir): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.yaml')).sort().map((name) => join(dir, name));
}

/** Every non-empty document of a multi-document YAML file; a YAML syntax error names the file. */
export function readManifests(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((document, index) => {
    if (document.errors.length > 0) throw new Error(`${path}: document ${index + 1}: ${document.errors[0]!.message}`);
    const value = document.toJS() as unknown;
    return value === null || value === undefined ? [] : [value as Manifest];
  });
}

/** Throws naming the file, the object and the schema violation; returns the objects checked. */
export function validateManifest(manifest: Manifest, where: string): void {
  const Model = models[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) throw new Error(`${where}: ${manifest.apiVersion} ${manifest.kind} has no schema here (add it to test/helpers/deploy-manifests.ts)`);
  try {
    new Model(manifest as never).validate();
  } catch (error) {
    throw new Error(`${where}: ${manifest.kind} ${manifest.metadata?.name}: ${(error as Error).message}`, { cause: error });
  }
}

export function validateManifestFile(path: string): Manifest[] {
  const manifests = readManifests(path);
  manifests.forEach((manifest, index) => validateManifest(manifest, `${path} document ${index + 1}`));
  return manifests;
}

export function findManifest(kind: string, name: string): Manifest {
  for (const path of manifestFiles()) {
    const found = readManifests(path).find((manifest) => manifest.kind === kind && manifest.metadata.name === name);
    if (found) return found;
  }
  throw new Error(`no ${kind} ${name} in ${deployDir}`);
}

/** The rules of deploy/rbac.yaml's ClusterRole `nicplex` (what the agent's service account may do). */
export function agentRbacRules(): PolicyRule[] {
  return (findManifest('ClusterRole', 'nicplex')['rules'] as PolicyRule[] | undefined) ?? [];
}
