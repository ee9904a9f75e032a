// deploy/rbac.yaml grants exactly the agent's API calls: each call the agent's code makes is allowed,
// each rule is used by one of them, and calls it never makes are denied. (The Kubernetes-mode
// integration and e2e tests also run the fake API server with these rules, so a call the agent
// really makes and the role lacks fails there with a 403.)
import t from 'tap';
import { agentRbacRules } from '../helpers/deploy-manifests.js';
import { allowingRule, describeRequest, requestAttributes, type PolicyRule } from '../helpers/rbac.js';

const rules = agentRbacRules();

/** The agent's calls, as cni/informer.ts and cni/k8s-api.ts build them. */
const agentCalls: Array<[string, string]> = [
  ['GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a'],
  ['GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=7'],
  ['GET', '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions'],
  ['GET', '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions?watch=1&allowWatchBookmarks=true&timeoutSeconds=300'],
  ['GET', '/api/v1/namespaces/ns/pods/p'],
  ['GET', '/apis/k8s.cni.cncf.io/v1/namespaces/ns/network-attachment-definitions/macvlan-conf'],
  ['PATCH', '/api/v1/namespaces/ns/pods/p/status'],
  ['POST', '/api/v1/namespaces/ns/events'],
  ['GET', '/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims/claim'],
  ['GET', '/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName%3Dnode-a%2Cspec.driver%3Dsriov.example.com'],
];

t.test('requests become RBAC attributes as the API server derives them', async (t) => {
  t.same(requestAttributes('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn&watch=true'), { verb: 'watch', apiGroup: '', resource: 'pods' });
  t.same(requestAttributes('GET', '/api/v1/pods'), { verb: 'list', apiGroup: '', resource: 'pods' });
  t.same(requestAttributes('PATCH', '/api/v1/namespaces/ns/pods/p/status'), { verb: 'patch', apiGroup: '', resource: 'pods/status', namespace: 'ns', name: 'p' });
  t.same(requestAttributes('DELETE', '/apis/k8s.cni.cncf.io/v1/namespaces/ns/network-attachment-definitions'),
    { verb: 'deletecollection', apiGroup: 'k8s.cni.cncf.io', resource: 'network-attachment-definitions', namespace: 'ns' });
  t.throws(() => requestAttributes('GET', '/healthz'), /not a resource path/);
});

t.test('every call the agent makes is allowed, and every rule is used by one of them', async (t) => {
  const used = new Set<PolicyRule>();
  for (const [method, url] of agentCalls) {
    const attributes = requestAttributes(method, url);
    const rule = allowingRule(rules, attributes);
    t.ok(rule, `${method} ${url} (${describeRequest(attributes)}) is allowed`);
    if (rule) used.add(rule);
  }
  for (const rule of rules) {
    const unused = rule.verbs.filter((verb) => !agentCalls.some(([method, url]) => {
      const attributes = requestAttributes(method, url);
      return attributes.verb === verb && rule.resources?.includes(attributes.resource) && rule.apiGroups?.includes(attributes.apiGroup);
    }));
    t.same(unused, [], `rule ${JSON.stringify(rule)} grants no verb the agent does not use`);
  }
  t.notOk(rules.some((rule) => [rule.apiGroups, rule.resources, rule.verbs].some((list) => list?.includes('*'))), 'no wildcards');
});

t.test('calls the agent never makes are denied', async (t) => {
  const denied: Array<[string, string, string]> = [
    ['PATCH', '/api/v1/namespaces/ns/pods/p', 'the pod itself (only its status is patched)'],
    ['PUT', '/api/v1/namespaces/ns/pods/p/status', 'update of the status (patch only)'],
    ['DELETE', '/api/v1/namespaces/ns/pods/p', 'deleting a pod'],
    ['GET', '/api/v1/namespaces/kube-system/secrets/token', 'secrets'],
    ['GET', '/api/v1/nodes/node-a', 'nodes'],
    ['POST', '/apis/events.k8s.io/v1/namespaces/ns/events', 'events.k8s.io events (the agent writes core/v1 events)'],
    ['GET', '/apis/resource.k8s.io/v1/resourceslices?watch=1', 'watching ResourceSlices (listed per request)'],
    ['POST', '/apis/k8s.cni.cncf.io/v1/namespaces/ns/network-attachment-definitions', 'creating NADs'],
  ];
  for (const [method, url, what] of denied) {
    t.equal(allowingRule(rules, requestAttributes(method, url)), undefined, `${what}: ${method} ${url} is denied`);
  }
  const namedOnly: PolicyRule[] = [{ apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['p'] }];
  t.ok(allowingRule(namedOnly, requestAttributes('GET', '/api/v1/namespaces/ns/pods/p')), 'resourceNames allow the named object');
  t.notOk(allowingRule(namedOnly, requestAttributes('GET', '/api/v1/namespaces/ns/pods/q')), 'and no other');
});
