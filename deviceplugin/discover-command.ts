import type { DiscoverArgs } from './discover-cli.js';
export async function runDiscover(_args: DiscoverArgs): Promise<number> {
  process.stderr.write('nicplex discover: not implemented yet\n');
  return 1;
}
