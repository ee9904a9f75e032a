// `nicplex cni`: documented here for --help; the real dispatch happens in deploy/nicplex.ts before yargs loads.
import type { CommandModule } from 'yargs';

export const CNI_HELP_EPILOG = `Install: symlink dist/deploy/nicplex.js (chmod +x) into the CNI bin dir as "nicplex" and write a
Multus-format 00-nicplex.conf (existing 00-multus.conf files work unchanged; "type" names the binary).

Kubernetes mode ("kubeconfig" set): networks come from the pod annotation k8s.v1.cni.cncf.io/networks,
NADs from the API server, devices from the kubelet pod-resources API.

Standalone mode ("standalone": {"nadDir", "devicePools", "allocationDir"}): NADs are YAML/JSON manifests in
nadDir; a runtime selects networks (same syntax as the annotation, comma or JSON form) by, first match wins:
  1. args.cni.networks in the network config (string or JSON array),
  2. CNI_ARGS NICPLEX_NETWORKS=ns/nad@ifname,other  (podman: CNI_ARGS=... podman run ...),
  3. the pod annotation through the io.kubernetes.cri.pod-annotations capability (containerd CRI),
  4. else the config's defaultNetworks only.
Devices of a NAD's k8s.v1.cni.cncf.io/resourceName come from devicePools, one claim file per device (created
atomically with its owner). "nicplex reconcile" releases what crashed or never-deleted containers left behind.`;

export const cniCommand: CommandModule = {
  command: 'cni',
  describe: 'Thin-mode CNI entry: reads CNI_* from the environment and the network config from stdin (also run when installed under a CNI binary name)',
  builder: (y) => y.epilog(CNI_HELP_EPILOG),
  handler: () => {
    // Unreachable: `nicplex cni` is dispatched before yargs parses.
  },
};
