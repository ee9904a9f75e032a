// Container images without a registry: a one-layer rootfs holding Debian's static busybox, as a
// plain tarball (for `podman import`) and as an OCI image archive (for `ctr images import`, which
// is how containerd's CRI plugin gets its sandbox image here).
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './run.js';

const busyboxPath = '/bin/busybox';
const appletNames = ['sh', 'ip', 'sleep', 'cat', 'ls', 'ping', 'true', 'readlink'];

/** Builds the rootfs under `workDir/rootfs` and returns the path of its tarball (`workDir/rootfs.tar`). */
export async function buildBusyboxRootfsTar(workDir: string): Promise<string> {
  const rootfs = join(workDir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  for (const dir of ['etc', 'proc', 'sys', 'dev', 'tmp', 'run']) mkdirSync(join(rootfs, dir), { recursive: true });
  copyFileSync(busyboxPath, join(rootfs, 'bin', 'busybox'));
  for (const applet of appletNames) symlinkSync('busybox', join(rootfs, 'bin', applet));
  const tarPath = join(workDir, 'rootfs.tar');
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', tarPath, '.'], { timeoutMs: 60_000 });
  return tarPath;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function ociArchitecture(): string {
  const byNodeArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x' };
  return byNodeArch[process.arch] ?? process.arch;
}

/**
 * Writes an OCI image layout around `layerTar` and packs it as `workDir/<name>.oci.tar`. The
 * `io.containerd.image.name` annotation is what makes `ctr images import` name the image `imageRef`.
 */
export async function buildOciArchive(workDir: string, layerTar: string, imageRef: string, cmd: string[]): Promise<string> {
  const layout = join(workDir, 'oci-layout-dir');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const putBlob = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest.slice('sha256:'.length)), data);
    return { digest, size: data.length };
  };
  const layer = putBlob(readFileSync(layerTar));
  const config = putBlob(
    Buffer.from(
      JSON.stringify({
        architecture: ociArchitecture(),
        os: 'linux',
        config: { Cmd: cmd, Env: ['PATH=/bin'], WorkingDir: '/' },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
        history: [{ created_by: 'nicplex e2e harness (busybox-static)' }],
      }),
    ),
  );
  const manifest = putBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  const tag = imageRef.slice(imageRef.lastIndexOf(':') + 1);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'io.containerd.image.name': imageRef, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const archive = join(workDir, 'image.oci.tar');
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', layout, '-cf', archive, '.'], { timeoutMs: 60_000 });
  return archive;
}
