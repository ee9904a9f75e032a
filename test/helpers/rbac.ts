// Kubernetes RBAC, as the API server decides it, for the calls the agent makes: a request (method,
// path, query) becomes its attributes (verb, API group, resource[/subresource], namespace, name), and
// a ClusterRole's rules allow it or not. Field selectors are not part of the decision (RBAC grants a
// list or watch whatever its selector).
export interface PolicyRule { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }

export interface RequestAttributes { verb: string; apiGroup: string; resource: string; namespace?: string; name?: string }

/** Attributes of a resource request, or an Error naming the path that is not a resource path. */
export function requestAttributes(method: string, url: string): RequestAttributes {
  const parsed = new URL(url, 'http://apiserver');
  const parts = parsed.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let rest: string[];
  let apiGroup: string;
  if (parts[0] === 'api' && parts.length >= 3) { apiGroup = ''; rest = parts.slice(2); }
  else if (parts[0] === 'apis' && parts.length >= 4) { apiGroup = parts[1]!; rest = parts.slice(3); }
  else throw new Error(`${method} ${url}: not a resource path (/api/v1/... or /apis/<group>/<version>/...)`);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) { namespace = rest[1]; rest = rest.slice(2); }
  const [resource, name, subresource] = rest;
  if (!resource) throw new Error(`${method} ${url}: no resource in the path`);
  const watch = ['1', 'true'].includes(parsed.searchParams.get('watch') ?? '');
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name ? 'delete' : 'deletecollection' };
  const verb = method === 'GET' || method === 'HEAD' ? (watch ? 'watch' : name ? 'get' : 'list') : verbs[method];
  if (!verb) throw new Error(`${method} ${url}: no RBAC verb for method ${method}`);
  return { verb, apiGroup, resource: subresource ? `${resource}/${subresource}` : resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

const matches = (list: string[] | undefined, value: string) => (list ?? []).some((entry) => entry === '*' || entry === value);

/** The first rule allowing the request, or undefined (denied). A ClusterRole's rules apply in every namespace. */
export function allowingRule(rules: PolicyRule[], request: RequestAttributes): PolicyRule | undefined {
  return rules.find((rule) => matches(rule.apiGroups, request.apiGroup) && matches(rule.resources, request.resource) && matches(rule.verbs, request.verb)
    && (!rule.resourceNames?.length || (request.name !== undefined && rule.resourceNames.includes(request.name))));
}

export const describeRequest = (request: RequestAttributes) =>
  `${request.verb} ${request.apiGroup || 'core'}/${request.resource}${request.namespace ? ` in ${request.namespace}` : ''}${request.name ? ` (${request.name})` : ''}`;

/** The distinct calls among recorded requests, as RBAC sees them (e.g. "watch core/pods"), sorted. */
export function distinctCalls(requests: Array<{ method: string; url: string }>): string[] {
  const seen = new Set<string>();
  for (const request of requests) {
    try {
      const { verb, apiGroup, resource } = requestAttributes(request.method, request.url);
      seen.add(`${verb} ${apiGroup || 'core'}/${resource}`);
    } catch (error) {
      seen.add(`not a resource request: ${(error as Error).message}`);
    }
  }
  return [...seen].sort();
}
