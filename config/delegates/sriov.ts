// The sriov-cni (v2.10.0) config, every key with its defaults and validation, plus the MAC precedence
// (runtimeConfig.mac > CNI_ARGS MAC > conf mac).
import { DelegateConfigError, optionalInteger, optionalString, parseMacValue, runtimeConfigOf } from './errors.js';

export type VfLinkStateName = 'auto' | 'enable' | 'disable';

export interface SriovConf {
  deviceID: string;
  vlan?: number;
  vlanQoS?: number;
  vlanProto?: '802.1Q' | '802.1ad';
  /** The MAC to give the VF, after precedence; lower case. */
  mac?: string;
  spoofchk?: boolean;
  trust?: boolean;
  linkState?: VfLinkStateName;
  minTxRate?: number;
  maxTxRate?: number;
}

/** "on" → true, any other non-empty string → false (sriov-cni does no other validation). */
function onOff(raw: Record<string, unknown>, key: string): boolean | undefined {
  const value = optionalString(raw, key);
  return value === undefined || value === '' ? undefined : value === 'on';
}

export function parseSriovConf(raw: Record<string, unknown>, cniArgsMac?: string): SriovConf {
  const deviceID = optionalString(raw, 'deviceID') ?? '';
  if (deviceID === '') throw new DelegateConfigError('deviceID', 'is empty: VF pci addr is required', 'give the NAD a k8s.v1.cni.cncf.io/resourceName so the device plugin\'s VF is injected, or set "deviceID"');
  const conf: SriovConf = { deviceID };
  const vlan = optionalInteger(raw, 'vlan');
  const qos = optionalInteger(raw, 'vlanQoS');
  const protoText = optionalString(raw, 'vlanProto');
  if (vlan !== undefined) {
    if (vlan < 0 || vlan > 4094) throw new DelegateConfigError('vlan', `vlan id ${vlan} invalid: value must be in the range 0-4094`, 'use 0 (no VLAN) to 4094');
    conf.vlan = vlan;
  }
  if (qos !== undefined) {
    if (vlan === undefined) throw new DelegateConfigError('vlanQoS', 'vlan id must be configured to set vlan QoS to a non-nil value', 'set "vlan" too');
    if (qos < 0 || qos > 7) throw new DelegateConfigError('vlanQoS', `vlan QoS PCP ${qos} invalid: value must be in the range 0-7`, 'use 0 to 7');
    if (qos !== 0 && vlan === 0) throw new DelegateConfigError('vlanQoS', 'non-zero vlan id must be configured to set vlan QoS to a non-zero value', 'set a non-zero "vlan"');
    conf.vlanQoS = qos;
  } else if (vlan !== undefined) conf.vlanQoS = 0;
  if (protoText !== undefined) {
    if (vlan === undefined) throw new DelegateConfigError('vlanProto', 'vlan id must be configured to set vlan proto to a non-nil value', 'set "vlan" too');
    const lower = protoText.toLowerCase();
    if (lower !== '802.1q' && lower !== '802.1ad') throw new DelegateConfigError('vlanProto', `vlan Proto ${protoText} invalid: value must be '802.1Q' or '802.1ad'`, 'use "802.1Q" or "802.1ad"');
    if (lower === '802.1ad' && vlan === 0) throw new DelegateConfigError('vlanProto', 'non-zero vlan id must be configured to set vlan proto 802.1ad', 'set a non-zero "vlan"');
    conf.vlanProto = lower === '802.1ad' ? '802.1ad' : '802.1Q';
  } else if (vlan !== undefined) conf.vlanProto = '802.1Q';
  const runtimeMac = optionalString(runtimeConfigOf(raw), 'mac', 'runtimeConfig.mac');
  const confMac = optionalString(raw, 'mac');
  if (runtimeMac) conf.mac = parseMacValue('runtimeConfig.mac', runtimeMac);
  else if (cniArgsMac) conf.mac = parseMacValue('CNI_ARGS MAC', cniArgsMac);
  else if (confMac) conf.mac = parseMacValue('mac', confMac);
  const spoofchk = onOff(raw, 'spoofchk');
  const trust = onOff(raw, 'trust');
  if (spoofchk !== undefined) conf.spoofchk = spoofchk;
  if (trust !== undefined) conf.trust = trust;
  const linkState = optionalString(raw, 'link_state');
  if (linkState !== undefined && linkState !== '') {
    if (linkState !== 'auto' && linkState !== 'enable' && linkState !== 'disable') throw new DelegateConfigError('link_state', `invalid link_state value: ${linkState}`, 'use "auto", "enable" or "disable"');
    conf.linkState = linkState;
  }
  const min = optionalInteger(raw, 'min_tx_rate');
  const max = optionalInteger(raw, 'max_tx_rate');
  for (const [key, value] of [['min_tx_rate', min], ['max_tx_rate', max]] as const) {
    if (value !== undefined && value < 0) throw new DelegateConfigError(key, `${value} is negative`, 'use Mb/s from 0 (no limit)');
  }
  if (min !== undefined) conf.minTxRate = min;
  if (max !== undefined) conf.maxTxRate = max;
  return conf;
}
