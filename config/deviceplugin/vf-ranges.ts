// `pfNames` / `rootDevices` entries: `NAME` (every function of that PF, the PF included) or
// `NAME#a,b-c,...` (only the VFs with those 0-based, inclusive indexes).

export interface VfRangeSelector {
  /** The entry as written in the config. */
  raw: string;
  /** The part before `#`: a PF netdev name or PF PCI address, or a regular expression. */
  name: string;
  /** Inclusive [first, last] VF index ranges; null when the entry has no `#` (whole PF). */
  vfRanges: Array<[number, number]> | null;
}

export type VfRangeParse = { ok: true; value: VfRangeSelector } | { ok: false; message: string };

const index = /^\d+$/;

export function parseVfRangeSelector(raw: string): VfRangeParse {
  const parts = raw.split('#');
  const name = parts[0] ?? '';
  if (name.trim() === '') return { ok: false, message: `"${raw}": the name before "#" is empty; expected "NAME" or "NAME#0,3-5"` };
  if (parts.length === 1) return { ok: true, value: { raw, name, vfRanges: null } };
  if (parts.length > 2) return { ok: false, message: `"${raw}": more than one "#"; expected "NAME#0,3-5"` };
  const ranges: Array<[number, number]> = [];
  for (const item of (parts[1] ?? '').split(',')) {
    const bounds = item.split('-');
    if (bounds.length > 2 || !bounds.every((bound) => index.test(bound))) {
      return { ok: false, message: `"${raw}": "${item}" is not a VF index or range; expected non-negative integers like "0,3-5,7"` };
    }
    const first = Number(bounds[0]);
    const last = Number(bounds[bounds.length - 1]);
    if (last < first) return { ok: false, message: `"${raw}": range "${item}" ends before it starts` };
    ranges.push([first, last]);
  }
  return { ok: true, value: { raw, name, vfRanges: ranges } };
}

export function vfIndexInRanges(vfIndex: number, ranges: Array<[number, number]>): boolean {
  return ranges.some(([first, last]) => vfIndex >= first && vfIndex <= last);
}
