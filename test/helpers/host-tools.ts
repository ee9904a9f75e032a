// Whether the machine has a tool, asked the way a shell would find it (the name is passed as an
// argument, never spliced into the script).
import { spawnSync } from 'node:child_process';

export function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}
