import type { DevicepluginArgs } from './server-cli.js';
export async function runDevicePlugin(_args: DevicepluginArgs): Promise<number> {
  process.stderr.write('nicplex deviceplugin: not implemented yet\n');
  return 1;
}
