// The lab's kernel is resolved from what apt offers, never pinned (test/lab/kernel-choice.ts).
import t from 'tap';
import {
  chooseKernel, compareDebianVersions, describeNoChoice, imageAbis, kernelPackages, parseMadison,
} from '../lab/kernel-choice.js';
import { qemuMajor } from '../lab/prepare.js';

const sec = 'http://deb.debian.org/debian-security bookworm-security/main amd64 Packages';
const main = 'http://deb.debian.org/debian bookworm/main amd64 Packages';
const row = (name: string, version: string, from = sec) => `${name.padStart(30)} | ${version} | ${from}`;

/** What the archive offered on 2026-12-01: ABI 56's kbuild (6.1.192-2) was already gone. */
const december = [
  row('linux-image-6.1.0-56-amd64', '6.1.192-2'),
  row('linux-image-6.1.0-57-amd64', '6.1.192-3'),
  row('linux-image-6.1.0-47-amd64', '6.1.176-1', main),
  row('linux-headers-6.1.0-56-amd64', '6.1.192-2'), row('linux-headers-6.1.0-56-common', '6.1.192-2'),
  row('linux-headers-6.1.0-57-amd64', '6.1.192-3'), row('linux-headers-6.1.0-57-common', '6.1.192-3'),
  row('linux-headers-6.1.0-47-amd64', '6.1.176-1', main), row('linux-headers-6.1.0-47-common', '6.1.176-1', main),
  row('linux-kbuild-6.1', '6.1.192-3'), row('linux-kbuild-6.1', '6.1.176-1', main),
  row('linux-source-6.1', '6.1.192-3'), row('linux-source-6.1', '6.1.192-2'), row('linux-source-6.1', '6.1.176-1', main),
].join('\n');
const abis = imageAbis(['linux-image-6.1.0-47-amd64', 'linux-image-6.1.0-56-amd64', 'linux-image-6.1.0-57-amd64', 'linux-image-6.1.0-57-amd64-unsigned', 'linux-image-6.1.0-57-rt-amd64', 'linux-image-6.1.0-57-amd64-dbg']);

t.test('Debian version order is dpkg\'s', async (t) => {
  const ascending = ['6.1.0-9', '6.1.0-47', '6.1.0-57', '6.1.176-1', '6.1.192-2', '6.1.192-3', '6.1.192-10'];
  for (let i = 1; i < ascending.length; i++) t.ok(compareDebianVersions(ascending[i]!, ascending[i - 1]!) > 0, `${ascending[i]} > ${ascending[i - 1]}`);
  t.ok(compareDebianVersions('1.0~rc1-1', '1.0-1') < 0, 'a tilde sorts before the release');
  t.ok(compareDebianVersions('1:10.0.2+ds-1~bpo12+1', '1:9.2.0+ds-1') > 0, 'epochs, then numbers, not text');
  t.ok(compareDebianVersions('1:7.2+dfsg-7', '10.0.2') > 0, 'an epoch outranks the upstream version');
  t.equal(compareDebianVersions('6.1.192-3', '6.1.192-3'), 0);
  t.equal(qemuMajor('1:10.0.2+ds-1~bpo12+1'), 10);
  t.equal(qemuMajor('1:7.2+dfsg-7+deb12u18+b3'), 7);
});

t.test('only the plain amd64 image packages are candidates', async (t) => {
  t.same(abis, ['6.1.0-47', '6.1.0-56', '6.1.0-57']);
});

t.test('the newest complete set wins; sets that lack a package at that version are passed over', async (t) => {
  const offers = parseMadison(december);
  t.same(offers.get('linux-source-6.1'), ['6.1.192-3', '6.1.192-2', '6.1.176-1']);
  const choice = chooseKernel(abis, offers);
  t.same(choice.kernel, { abi: '6.1.0-57', debianVersion: '6.1.192-3' });
  t.same(kernelPackages(choice.kernel!), [
    'linux-image-6.1.0-57-amd64=6.1.192-3', 'linux-headers-6.1.0-57-amd64=6.1.192-3', 'linux-headers-6.1.0-57-common=6.1.192-3',
    'linux-kbuild-6.1=6.1.192-3', 'linux-source-6.1=6.1.192-3',
  ]);

  // The day the newest image is published before its kbuild: fall back to the next complete set.
  const withoutNewKbuild = parseMadison(december.split('\n').filter((line) => !line.includes('linux-kbuild-6.1 | 6.1.192-3')).join('\n'));
  const fallback = chooseKernel(abis, withoutNewKbuild);
  t.same(fallback.kernel, { abi: '6.1.0-47', debianVersion: '6.1.176-1' });
  t.same(fallback.incomplete.map(({ kernel, missing }) => [kernel.abi, kernel.debianVersion, missing]), [
    ['6.1.0-57', '6.1.192-3', ['linux-kbuild-6.1']],
    ['6.1.0-56', '6.1.192-2', ['linux-kbuild-6.1']],
  ]);
});

t.test('a forced version is honoured, and a forced version apt lacks is one clear line', async (t) => {
  const offers = parseMadison(december);
  t.same(chooseKernel(abis, offers, { debianVersion: '6.1.176-1' }).kernel, { abi: '6.1.0-47', debianVersion: '6.1.176-1' });
  const stale = chooseKernel(abis, offers, { abi: '6.1.0-56', debianVersion: '6.1.192-2' });
  t.equal(stale.kernel, undefined);
  const line = describeNoChoice(stale, abis, offers, { abi: '6.1.0-56', debianVersion: '6.1.192-2' });
  t.notMatch(line, '\n');
  t.match(line, 'the forced kernel 6.1.0-56 6.1.192-2 is not complete');
  t.match(line, '6.1.0-56 6.1.192-2 lacks linux-kbuild-6.1');
  t.match(line, 'linux-kbuild-6.1 6.1.192-3/6.1.176-1');
});

t.test('nothing offered at all says so', async (t) => {
  const choice = chooseKernel([], new Map());
  t.equal(choice.kernel, undefined);
  t.match(describeNoChoice(choice, [], new Map(), {}), 'no complete Debian 6.1 kernel set (no linux-image-6.1.0-*-amd64 offered); apt offers linux-kbuild-6.1 none');
});
