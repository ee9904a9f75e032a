// Which Debian kernel the lab boots, chosen from what apt offers today. Debian replaces its security
// kernel every few weeks and removes the old packages, so no version is pinned: the lab takes the
// newest linux-image-6.1.0-*-amd64 for which the headers, the -common headers, linux-kbuild-6.1 and
// linux-source-6.1 are all offered at the same Debian version. Pure: the apt queries live in prepare.ts.

export const kernelSeries = '6.1';
export const kernelFlavour = 'amd64';

export interface LabKernel {
  /** e.g. 6.1.0-57 */
  abi: string;
  /** e.g. 6.1.192-3 */
  debianVersion: string;
}

export function kernelRelease(kernel: LabKernel): string {
  return `${kernel.abi}-${kernelFlavour}`;
}

/** The five packages of one complete set, without versions. */
export function kernelPackageNames(abi: string): string[] {
  return [
    `linux-image-${abi}-${kernelFlavour}`, `linux-headers-${abi}-${kernelFlavour}`, `linux-headers-${abi}-common`,
    `linux-kbuild-${kernelSeries}`, `linux-source-${kernelSeries}`,
  ];
}

export function kernelPackages(kernel: LabKernel): string[] {
  return kernelPackageNames(kernel.abi).map((name) => `${name}=${kernel.debianVersion}`);
}

const imagePattern = new RegExp(`^linux-image-(${kernelSeries.replace('.', '\\.')}\\.0-\\d+)-${kernelFlavour}$`);

/** ABIs of the image packages among `names` (the output of `apt-cache pkgnames linux-image-6.1.0-`). */
export function imageAbis(names: string[]): string[] {
  return names.map((name) => imagePattern.exec(name.trim())?.[1]).filter((abi): abi is string => abi !== undefined);
}

/** `apt-cache madison A B …` → package → versions offered (any suite). */
export function parseMadison(text: string): Map<string, string[]> {
  const offers = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [name, version] = line.split('|').map((cell) => cell.trim());
    if (!name || !version) continue;
    const versions = offers.get(name) ?? [];
    if (!versions.includes(version)) versions.push(version);
    offers.set(name, versions);
  }
  return offers;
}

// Debian version comparison (deb-version(7)): epoch, then upstream and revision compared with
// dpkg's rule: non-digit runs by character ('~' sorts before everything, letters before other
// characters), digit runs numerically.
const isDigit = (char: string): boolean => char >= '0' && char <= '9';

function order(char: string): number {
  if (char === '' || isDigit(char)) return 0;
  if (char === '~') return -1;
  if (/[A-Za-z]/.test(char)) return char.charCodeAt(0);
  return char.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp, over strings: `charAt` past the end is '' (C's terminating NUL). */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charAt(i))) || (j < b.length && !isDigit(b.charAt(j)))) {
      const difference = order(a.charAt(i)) - order(b.charAt(j));
      if (difference !== 0) return difference;
      i++;
      j++;
    }
    while (a.charAt(i) === '0') i++;
    while (b.charAt(j) === '0') j++;
    while (isDigit(a.charAt(i)) && isDigit(b.charAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charAt(i))) return 1;
    if (isDigit(b.charAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

function splitVersion(version: string): [number, string, string] {
  const colon = version.indexOf(':');
  const epoch = colon > 0 ? Number(version.slice(0, colon)) : 0;
  const rest = colon > 0 ? version.slice(colon + 1) : version;
  const dash = rest.lastIndexOf('-');
  return dash > 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, '0'];
}

/** < 0, 0, > 0 like `dpkg --compare-versions a lt|eq|gt b`. */
export function compareDebianVersions(a: string, b: string): number {
  const [ea, ua, ra] = splitVersion(a);
  const [eb, ub, rb] = splitVersion(b);
  if (ea !== eb) return ea - eb;
  return compareFragment(ua, ub) || compareFragment(ra, rb);
}

export interface KernelChoice {
  kernel?: LabKernel;
  /** Newer candidates passed over, each with the packages apt lacks at that version. */
  incomplete: Array<{ kernel: LabKernel; missing: string[] }>;
}

/**
 * The newest complete set. Candidates are every (ABI, version) offered for an image package, newest
 * version first. `forced` (from the environment) narrows them to one version, and optionally one ABI.
 */
export function chooseKernel(abis: string[], offers: Map<string, string[]>, forced: Partial<LabKernel> = {}): KernelChoice {
  const candidates: LabKernel[] = [];
  for (const abi of abis) {
    if (forced.abi !== undefined && abi !== forced.abi) continue;
    for (const debianVersion of offers.get(kernelPackageNames(abi)[0]!) ?? []) {
      if (forced.debianVersion !== undefined && debianVersion !== forced.debianVersion) continue;
      candidates.push({ abi, debianVersion });
    }
  }
  candidates.sort((x, y) => compareDebianVersions(y.debianVersion, x.debianVersion) || compareDebianVersions(y.abi, x.abi));
  const incomplete: KernelChoice['incomplete'] = [];
  for (const kernel of candidates) {
    const missing = kernelPackageNames(kernel.abi).filter((name) => !(offers.get(name) ?? []).includes(kernel.debianVersion));
    if (missing.length === 0) return { kernel, incomplete };
    incomplete.push({ kernel, missing });
  }
  return { incomplete };
}

/** One line: what was looked for, what each candidate lacked, and what apt offers of each package. */
export function describeNoChoice(choice: KernelChoice, abis: string[], offers: Map<string, string[]>, forced: Partial<LabKernel>): string {
  const wanted = forced.debianVersion === undefined ? 'no complete Debian 6.1 kernel set' : `the forced kernel ${forced.abi ?? '6.1.0-*'} ${forced.debianVersion} is not complete`;
  const lacks = choice.incomplete.slice(0, 3).map(({ kernel, missing }) => `${kernel.abi} ${kernel.debianVersion} lacks ${missing.join(', ')}`);
  const shared = [`linux-kbuild-${kernelSeries}`, `linux-source-${kernelSeries}`];
  const offered = [...shared, ...abis.slice(-2).map((abi) => `linux-image-${abi}-${kernelFlavour}`)]
    .map((name) => `${name} ${(offers.get(name) ?? []).join('/') || 'none'}`);
  return `${wanted} (${lacks.length > 0 ? lacks.join('; ') : 'no linux-image-6.1.0-*-amd64 offered'}); apt offers ${offered.join(', ')}`;
}
