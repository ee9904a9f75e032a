// GetPreferredAllocation's choice: NUMA first, then PF packing (or spreading), deterministic.
import t from 'tap';
import { preferredAllocation, type AllocationPolicy, type PlacementInfo } from '../../deviceplugin/server/preferred-allocation.js';

/** `pf<letter>-<n>` devices: letter → PF, NUMA from the table. */
function fixture(layout: Record<string, { numa: number | null; count: number }>) {
  const placement = new Map<string, PlacementInfo>();
  for (const [pf, { numa, count }] of Object.entries(layout)) {
    for (let i = 0; i < count; i++) placement.set(`${pf}-${i}`, { numaNode: numa, pfAddress: pf });
  }
  return { ids: [...placement.keys()], placement: (id: string) => placement.get(id) };
}

const twoNuma = () => fixture({ pfA: { numa: 0, count: 4 }, pfB: { numa: 0, count: 2 }, pfC: { numa: 1, count: 8 }, pfD: { numa: 1, count: 8 } });

function pick(size: number, policy: AllocationPolicy = 'pack', mustInclude: string[] = [], f = twoNuma(), available = f.ids) {
  return preferredAllocation({ available, mustInclude, size, policy, placement: f.placement });
}

const pfs = (ids: string[]) => [...new Set(ids.map((id) => id.split('-')[0]))].sort();

t.test('pack: best-fit PF on one NUMA node', async (t) => {
  t.same(pick(2), ['pfB-0', 'pfB-1'], 'the PF with exactly 2 free');
  t.same(pick(4), ['pfA-0', 'pfA-1', 'pfA-2', 'pfA-3']);
  t.same(pfs(pick(5)), ['pfC'], 'NUMA 1 fits 5 on one PF, NUMA 0 would need two');
  t.same(pfs(pick(8)), ['pfC']);
  t.same(pfs(pick(10)), ['pfC', 'pfD'], 'only NUMA 1 fits 10: fewest PFs there');
  t.equal(pick(1).length, 1);
});

t.test('spread: same NUMA rule, then one device per PF in turn', async (t) => {
  t.same(pfs(pick(2, 'spread')), ['pfA', 'pfB']);
  const five = pick(5, 'spread');
  t.same(five, ['pfA-0', 'pfB-0', 'pfA-1', 'pfB-1', 'pfA-2'], 'both nodes span 2 PFs: the smaller node (NUMA 0) is used, round-robin over its PFs');
  t.same(pfs(pick(10, 'spread')), ['pfC', 'pfD'], 'only NUMA 1 fits 10');
});

t.test('mustInclude comes first, pulls its NUMA node and PF', async (t) => {
  t.same(pick(3, 'pack', ['pfD-7']), ['pfD-7', 'pfD-0', 'pfD-1']);
  t.same(pick(2, 'pack', ['pfA-3', 'pfC-0']), ['pfA-3', 'pfC-0'], 'size reached by mustInclude alone');
  t.same(pick(1, 'pack', ['pfA-3', 'pfC-0']), ['pfA-3'], 'never more than the size');
});

t.test('no single NUMA node fits: the fewest nodes, largest first', async (t) => {
  const result = pick(20);
  t.equal(result.length, 20);
  t.equal(result.filter((id) => id.startsWith('pfC') || id.startsWith('pfD')).length, 16, 'all of NUMA 1 first');
});

t.test('unknown IDs are never suggested; too few available returns what there is', async (t) => {
  const f = twoNuma();
  t.same(pick(3, 'pack', [], f, ['ghost-1', 'pfB-0', 'pfB-1']), ['pfB-0', 'pfB-1']);
  t.same(pick(0), []);
});

t.test('deterministic: input order does not matter', async (t) => {
  const f = twoNuma();
  const shuffled = [...f.ids].reverse();
  for (const size of [1, 3, 5, 7, 11]) {
    t.same(pick(size, 'pack', [], f, shuffled), pick(size, 'pack', [], f, f.ids), `size ${size}`);
    t.same(pick(size, 'spread', [], f, shuffled), pick(size, 'spread', [], f, f.ids), `size ${size} spread`);
  }
});

t.test('devices without NUMA or PF (VMs, whole PFs) still get picked', async (t) => {
  const f = fixture({ x: { numa: null, count: 1 }, y: { numa: null, count: 1 } });
  const placement = (id: string) => (f.placement(id) ? { numaNode: null, pfAddress: null } : undefined);
  t.same(preferredAllocation({ available: ['y-0', 'x-0'], mustInclude: [], size: 1, policy: 'pack', placement }), ['x-0']);
});
