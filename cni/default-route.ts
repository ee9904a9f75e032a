// `default-route` from the networks annotation (multi-net spec §4.1.2.1.9, Multus semantics): in the pod's
// netns, the default routes of the requested families are removed and re-added via the requested gateway on
// the requesting attachment's interface. Done through native/ (netlink on a dedicated thread that enters the
// netns), loaded only when a pod asks for it.
import { isIP } from 'node:net';
import { CniCode, CniError } from './errors.js';
import type { PlannedAttachment } from './plan.js';

export async function applyDefaultRoutesInNetns(netns: string, attachments: PlannedAttachment[]): Promise<void> {
  const requests = attachments.flatMap((attachment) => (attachment.defaultRoute ?? []).map((gateway) => ({ attachment, gateway, family: isIP(gateway) as 4 | 6 })));
  if (requests.length === 0) return;
  const native = await import('../native/index.js');
  for (const { attachment, gateway, family } of requests) {
    try {
      const existing = await native.listRoutes({ family }, { netns });
      for (const route of existing.filter((candidate) => candidate.dst === (family === 4 ? '0.0.0.0/0' : '::/0'))) {
        await native.deleteRoute({ dst: route.dst, ...(route.gw ? { gw: route.gw } : {}), ...(route.dev ? { dev: route.dev } : {}) }, { netns });
      }
      await native.addRoute({ dst: family === 4 ? '0.0.0.0/0' : '::/0', gw: gateway, dev: attachment.ifname }, { netns });
    } catch (error) {
      throw new CniError(CniCode.internal, `network "${attachment.networkName}": cannot move the default route to ${gateway} via ${attachment.ifname}: ${(error as Error).message}`);
    }
  }
}
