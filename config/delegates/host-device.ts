// The host-device plugin's config (containernetworking/plugins v1.9.1), every key with its validation.
import { DelegateConfigError, optionalString, parseMacValue, runtimeConfigOf } from './errors.js';

export interface HostDeviceConf {
  device?: string;
  hwaddr?: string;
  kernelpath?: string;
  pciBusID?: string;
  /** runtimeConfig.deviceID (capability deviceID): overrides every selector above. */
  runtimeDeviceID?: string;
}

export function parseHostDeviceConf(raw: Record<string, unknown>): HostDeviceConf {
  const conf: HostDeviceConf = {};
  const device = optionalString(raw, 'device');
  const hwaddr = optionalString(raw, 'hwaddr');
  const kernelpath = optionalString(raw, 'kernelpath');
  const pciBusID = optionalString(raw, 'pciBusID');
  const runtimeDeviceID = optionalString(runtimeConfigOf(raw), 'deviceID', 'runtimeConfig.deviceID');
  if (device) conf.device = device;
  if (hwaddr) conf.hwaddr = parseMacValue('hwaddr', hwaddr);
  if (kernelpath) {
    if (!kernelpath.startsWith('/sys/devices/')) {
      throw new DelegateConfigError('kernelpath', `kernel device path "${kernelpath}" must be absolute and begin with /sys/devices/`, 'use the device directory, e.g. /sys/devices/pci0000:00/0000:00:03.0');
    }
    conf.kernelpath = kernelpath;
  }
  if (pciBusID) conf.pciBusID = pciBusID;
  if (runtimeDeviceID) conf.runtimeDeviceID = runtimeDeviceID;
  if (!conf.device && !conf.hwaddr && !conf.kernelpath && !conf.pciBusID && !conf.runtimeDeviceID) {
    throw new DelegateConfigError('device', 'is not set: specify either "device", "hwaddr", "kernelpath" or "pciBusID"', 'name the host interface to move into the pod');
  }
  return conf;
}
