// Thin-mode CNI entry point. Placeholder until the meta-CNI lands: answers every command with a CNI error.
export async function runCniEntry(_argv: string[]): Promise<number> {
  const version = '1.1.0';
  process.stdout.write(JSON.stringify({ cniVersion: version, code: 4, msg: 'nicplex cni is not implemented yet' }) + '\n');
  return 1;
}
