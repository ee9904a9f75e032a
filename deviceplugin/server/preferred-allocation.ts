// GetPreferredAllocation: which `size` devices of the kubelet's candidates to suggest. Devices of one
// request should share a NUMA node (DPDK pins memory and cores there), then sit on as few PFs as
// possible ('pack', keeps whole PFs free for big requests) or on as many as possible ('spread', for
// PF-level redundancy). The answer depends only on the input, so retries get the same devices.

export type AllocationPolicy = 'pack' | 'spread';

export interface PlacementInfo {
  /** NUMA node, or null when unknown. */
  numaNode: number | null;
  /** The PF this function belongs to; null for a PF or a function without one. */
  pfAddress: string | null;
}

export interface PreferredAllocationInput {
  available: string[];
  mustInclude: string[];
  size: number;
  policy: AllocationPolicy;
  /** Placement of every device the pool knows; IDs it does not know are never suggested. */
  placement: (id: string) => PlacementInfo | undefined;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function groupBy(ids: string[], key: (id: string) => string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const k = key(id);
    const list = groups.get(k);
    if (list) list.push(id);
    else groups.set(k, [id]);
  }
  return groups;
}

/** Picks `need` devices from one NUMA group according to the policy, preferring PFs in `favouredPfs`. */
function pickWithinGroup(ids: string[], need: number, policy: AllocationPolicy, pfOf: (id: string) => string, favouredPfs: Set<string>): string[] {
  const byPf = [...groupBy([...ids].sort(byText), pfOf).entries()];
  if (policy === 'spread') {
    byPf.sort(([pfA, a], [pfB, b]) => b.length - a.length || byText(pfA, pfB));
    const picked: string[] = [];
    for (let round = 0; picked.length < need; round++) {
      let tookAny = false;
      for (const [, list] of byPf) {
        if (picked.length === need) break;
        const id = list[round];
        if (id !== undefined) {
          picked.push(id);
          tookAny = true;
        }
      }
      if (!tookAny) break;
    }
    return picked;
  }
  // pack: PFs already holding must-include devices first, then the smallest single PF that fits the
  // whole request (best fit), else the fullest PFs first so the request spans as few PFs as possible.
  const favoured = byPf.filter(([pf]) => favouredPfs.has(pf)).sort(([a], [b]) => byText(a, b));
  const others = byPf.filter(([pf]) => !favouredPfs.has(pf));
  const picked: string[] = [];
  for (const [, list] of favoured) for (const id of list) if (picked.length < need) picked.push(id);
  const stillNeeded = need - picked.length;
  if (stillNeeded === 0) return picked;
  const fitting = others.filter(([, list]) => list.length >= stillNeeded).sort(([pfA, a], [pfB, b]) => a.length - b.length || byText(pfA, pfB));
  const order = fitting.length > 0 ? [fitting[0]!] : [...others].sort(([pfA, a], [pfB, b]) => b.length - a.length || byText(pfA, pfB));
  for (const [, list] of order) for (const id of list) if (picked.length < need) picked.push(id);
  return picked;
}

function countPfs(ids: string[], pfOf: (id: string) => string): number {
  return new Set(ids.map(pfOf)).size;
}

export function preferredAllocation(input: PreferredAllocationInput): string[] {
  const size = Math.max(0, Math.trunc(input.size));
  const known = (id: string): boolean => input.placement(id) !== undefined;
  const result: string[] = [];
  for (const id of input.mustInclude) if (!result.includes(id)) result.push(id);
  if (result.length >= size) return result.slice(0, size);
  const remaining = [...new Set(input.available)].filter((id) => known(id) && !result.includes(id)).sort(byText);
  const need = size - result.length;
  if (remaining.length <= need) return [...result, ...remaining];

  const numaOf = (id: string): string => String(input.placement(id)?.numaNode ?? -1);
  const pfOf = (id: string): string => input.placement(id)?.pfAddress ?? id;
  const favouredNuma = new Set(result.filter(known).map(numaOf));
  const favouredPfs = new Set(result.filter(known).map(pfOf));
  const groups = [...groupBy(remaining, numaOf).entries()];

  // Every NUMA node that can hold the whole rest of the request is a candidate; rank them by:
  // shares a node with must-include devices, then PF count (policy), then fewest free devices
  // (keep big nodes for big requests), then node number.
  const candidates = groups
    .filter(([, ids]) => ids.length >= need)
    .map(([numa, ids]) => {
      const picked = pickWithinGroup(ids, need, input.policy, pfOf, favouredPfs);
      return { numa, ids, picked, pfs: countPfs([...result, ...picked], pfOf) };
    });
  if (candidates.length > 0) {
    candidates.sort((a, b) =>
      Number(favouredNuma.has(b.numa)) - Number(favouredNuma.has(a.numa))
      || (input.policy === 'pack' ? a.pfs - b.pfs : b.pfs - a.pfs)
      || a.ids.length - b.ids.length
      || Number(a.numa) - Number(b.numa));
    return [...result, ...candidates[0]!.picked];
  }
  // No single node fits: fill from the largest nodes first so as few nodes as possible are used.
  groups.sort(([numaA, a], [numaB, b]) => b.length - a.length || Number(numaA) - Number(numaB));
  const picked: string[] = [];
  for (const [, ids] of groups) {
    if (picked.length === need) break;
    picked.push(...pickWithinGroup(ids, Math.min(ids.length, need - picked.length), input.policy, pfOf, favouredPfs));
  }
  return [...result, ...picked];
}
