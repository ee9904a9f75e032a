// PCI addresses as config values: `0000:3b:02.1`, or the short `3b:02.1` that means domain 0000.

const fullAddress = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const shortAddress = /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** The canonical lower-case `dddd:bb:dd.f` form, or null when `text` is not a PCI address. */
export function normalizePciAddress(text: string): string | null {
  const lower = text.trim().toLowerCase();
  if (fullAddress.test(lower)) return lower;
  if (shortAddress.test(lower)) return `0000:${lower}`;
  return null;
}
