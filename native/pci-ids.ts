// Vendor and device names from the system's pci.ids (format: `VVVV  Vendor`, then
// `\tDDDD  Device` lines, `\t\tSSSS ssss  Subsystem` lines, and a class section of `C CC  Name`).
// The file is 1.3 MB; parsing all of it would cost more than a whole discovery, so it is read
// once as bytes and searched on demand, and each answer is cached.
import { readFileSync } from 'node:fs';

export const defaultPciIdsPaths = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'];

export interface PciNameLookup {
  /** Path of the pci.ids that was read, or null when none was found. */
  readonly source: string | null;
  vendorName(vendorId: string): string | null;
  deviceName(vendorId: string, deviceId: string): string | null;
}

interface VendorBlock {
  name: string;
  /** Byte range of this vendor's device and subsystem lines (from the newline ending the vendor line). */
  start: number;
  end: number;
}

const newline = 10;
const tab = 9;
const hash = 35;

/**
 * Searches the raw bytes: Buffer.indexOf is a memchr-speed scan, and only the names that are
 * asked for get decoded, so a lookup never pays for decoding the whole 1.3 MB.
 */
class PciIdsText implements PciNameLookup {
  private readonly vendors = new Map<string, VendorBlock | null>();
  private readonly devices = new Map<string, string | null>();

  constructor(
    readonly source: string | null,
    private readonly bytes: Buffer,
  ) {}

  private lineText(from: number): { text: string; end: number } {
    const end = this.bytes.indexOf(newline, from);
    const stop = end === -1 ? this.bytes.length : end;
    return { text: this.bytes.toString('utf8', from, stop).trim(), end: stop };
  }

  private vendorBlock(vendorId: string): VendorBlock | null {
    const id = vendorId.toLowerCase();
    const cached = this.vendors.get(id);
    if (cached !== undefined) return cached;
    let block: VendorBlock | null = null;
    if (/^[0-9a-f]{4}$/.test(id)) {
      // A vendor line is the only line kind that starts with four hex digits and two spaces.
      let start = -1;
      if (this.bytes.subarray(0, 6).toString('latin1') === `${id}  `) start = 0;
      else {
        const at = this.bytes.indexOf(`\n${id}  `, 0, 'latin1');
        if (at !== -1) start = at + 1;
      }
      if (start !== -1) {
        const { text, end } = this.lineText(start + 6);
        block = { name: text, start: end, end: this.endOfVendor(end) };
      }
    }
    this.vendors.set(id, block);
    return block;
  }

  /** Offset of the newline before the first line that leaves the vendor block (no tab, not a comment, not empty). */
  private endOfVendor(from: number): number {
    let lineStart = from + 1;
    while (lineStart < this.bytes.length) {
      const first = this.bytes[lineStart];
      if (first !== tab && first !== hash && first !== newline) return lineStart - 1;
      const next = this.bytes.indexOf(newline, lineStart);
      if (next === -1) return this.bytes.length;
      lineStart = next + 1;
    }
    return this.bytes.length;
  }

  vendorName(vendorId: string): string | null {
    return this.vendorBlock(vendorId)?.name ?? null;
  }

  deviceName(vendorId: string, deviceId: string): string | null {
    const key = `${vendorId.toLowerCase()}:${deviceId.toLowerCase()}`;
    const cached = this.devices.get(key);
    if (cached !== undefined) return cached;
    let name: string | null = null;
    const block = this.vendorBlock(vendorId);
    const id = deviceId.toLowerCase();
    if (block && /^[0-9a-f]{4}$/.test(id)) {
      const at = this.bytes.indexOf(`\n\t${id}  `, block.start, 'latin1');
      if (at !== -1 && at < block.end) name = this.lineText(at + 8).text;
    }
    this.devices.set(key, name);
    return name;
  }
}

/** A lookup that knows no names: callers then show hex IDs. */
export const noPciNames: PciNameLookup = { source: null, vendorName: () => null, deviceName: () => null };

/** Parse pci.ids text (exposed for tests). */
export function pciNamesFromText(text: string, source: string | null = null): PciNameLookup {
  return new PciIdsText(source, Buffer.from(text, 'utf8'));
}

/**
 * Open the first readable pci.ids among `paths` (default: the Debian locations). A missing
 * file is not an error: the lookup then returns null for every ID.
 */
export function openPciIds(paths: string[] = defaultPciIdsPaths): PciNameLookup {
  for (const path of paths) {
    try {
      return new PciIdsText(path, readFileSync(path));
    } catch {
      // try the next location
    }
  }
  return noPciNames;
}
