// The ipvlan plugin's config (containernetworking/plugins v1.9.1), every key with its validation.
import { DelegateConfigError, optionalBoolean, optionalInteger, optionalString } from './errors.js';

export type IpvlanModeName = 'l2' | 'l3' | 'l3s';

export interface IpvlanConf {
  /** Parent link; empty = chained prevResult's single interface, else the default-route interface. */
  master: string;
  mode: IpvlanModeName;
  /** 0 = the kernel default (the parent's MTU). */
  mtu: number;
  linkInContainer: boolean;
}

export function parseIpvlanConf(raw: Record<string, unknown>): IpvlanConf {
  const modeText = optionalString(raw, 'mode') ?? '';
  const mode = modeText === '' ? 'l2' : modeText;
  if (mode !== 'l2' && mode !== 'l3' && mode !== 'l3s') {
    throw new DelegateConfigError('mode', `unknown ipvlan mode: "${modeText}"`, 'use "l2" (default), "l3" or "l3s"');
  }
  const mtu = optionalInteger(raw, 'mtu') ?? 0;
  if (mtu < 0 || mtu > 65535 * 4) throw new DelegateConfigError('mtu', `${mtu} is out of range`, 'use 0 (the parent\'s MTU) or a value from 68 to the parent\'s MTU');
  return { master: optionalString(raw, 'master') ?? '', mode, mtu, linkInContainer: optionalBoolean(raw, 'linkInContainer') ?? false };
}
