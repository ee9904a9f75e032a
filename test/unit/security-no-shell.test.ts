// Nothing nicplex runs goes through a shell: the compiled product code (dist/, tests excluded) and the
// C/C++ sources are scanned for the ways a command string reaches /bin/sh. The scanner is checked first
// on lines that must be caught and lines that must not, so a scan that finds nothing means something.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const JS_RULES: Array<[string, RegExp]> = [
  ['spawn/exec option shell: true', /\bshell\s*:\s*(true|['"`])/],
  ['child_process exec/execSync imported', /import\s*\{[^}]*\b(exec|execSync)\b(?!\w)[^}]*\}\s*from\s*['"](node:)?child_process['"]/],
  ['child_process exec/execSync called', /\b(child_process|childProcess|cp)\s*\.\s*(exec|execSync)\s*\(/],
  ['a bare exec(…)/execSync(…) call', /(?<![.\w])(exec|execSync)\s*\(\s*['"`]/],
  ['/bin/sh or /bin/bash named', /['"`]\/(usr\/)?bin\/(ba|da)?sh['"`]/],
  ['sh -c', /['"`](ba|da)?sh['"`]\s*,\s*\[\s*['"`]-c['"`]/],
];
const C_RULES: Array<[string, RegExp]> = [
  ['system()', /(?<![\w.])system\s*\(/],
  ['popen()', /(?<![\w.])popen\s*\(/],
  ['/bin/sh', /\/bin\/(ba|da)?sh\b/],
];

function findings(text: string, rules: Array<[string, RegExp]>): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, index) => {
    for (const [name, rule] of rules) if (rule.test(line)) out.push(`${index + 1}: ${name}: ${line.trim().slice(0, 160)}`);
  });
  return out;
}

function filesUnder(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return [];
  }
  return names.filter((name) => pattern.test(name)).map((name) => join(dir, name));
}

t.test('the scanner catches each way into a shell and passes what is not one', async (t) => {
  const caught = [
    "spawn(cmd, args, { shell: true })",
    "const child = spawn('ip', ['link'], { shell: '/bin/bash' });",
    "import { exec } from 'node:child_process';",
    "import { spawn, execSync } from 'child_process';",
    "child_process.exec('ip link');",
    "execSync('rm -rf x');",
    "spawn('/bin/sh', ['-c', line]);",
    "spawnSync('sh', ['-c', 'ls']);",
  ];
  for (const line of caught) t.not(findings(line, JS_RULES).length, 0, `caught: ${line}`);
  const passed = [
    "const match = /x/.exec(text);",
    "const m = PATTERN.exec(name)",
    "import { execFile, spawn } from 'node:child_process';",
    "spawn(binary, [], { env, shell: false, detached: true });",
    "// prefer a name readable from a shell",
  ];
  for (const line of passed) t.same(findings(line, JS_RULES), [], `passed: ${line}`);
  t.not(findings('if (system("ip link") != 0)', C_RULES).length, 0, 'C: system() caught');
  t.same(findings('execve(path, argv, envp);', C_RULES), [], 'C: execve passes');
});

t.test('no shell in the compiled product code or the native sources', async (t) => {
  const dist = join(repoRoot, 'dist');
  const jsFiles = ['cni', 'config', 'deviceplugin', 'deploy', 'native'].flatMap((dir) => filesUnder(join(dist, dir), /\.js$/));
  const cFiles = filesUnder(join(repoRoot, 'native'), /\.(c|cc|h)$/);
  t.ok(jsFiles.length > 50, `scanned ${jsFiles.length} compiled files`);
  t.ok(cFiles.length > 3, `scanned ${cFiles.length} C/C++ files`);
  const found = [
    ...jsFiles.flatMap((file) => findings(readFileSync(file, 'utf8'), JS_RULES).map((finding) => `${file.slice(repoRoot.length + 1)}:${finding}`)),
    ...cFiles.flatMap((file) => findings(readFileSync(file, 'utf8'), C_RULES).map((finding) => `${file.slice(repoRoot.length + 1)}:${finding}`)),
  ];
  t.same(found, [], 'no finding');
});
