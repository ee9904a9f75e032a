// vfio-probe GROUP BDF: does what a DPDK-style VFIO user does first, so the lab can prove that a
// device bound to vfio-pci is usable from userspace, not merely bound: open the container, check
// the type1v2 IOMMU, attach the group, get the device fd and its info, map 2 MiB of DMA memory.
// Prints one "key=value" line per step and VFIO_PROBE_OK at the end; exits 1 naming the failed step.
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(const char *step) {
  perror(step);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IOMMU_GROUP PCI_BDF\n", argv[0]);
    return 2;
  }
  const char *group_number = argv[1];
  const char *bdf = argv[2];
  for (const char *c = group_number; *c; c++) {
    if (*c < '0' || *c > '9') {
      fprintf(stderr, "IOMMU_GROUP must be a number, got '%s'\n", group_number);
      return 2;
    }
  }

  int container = open("/dev/vfio/vfio", O_RDWR);
  if (container < 0) return fail("open /dev/vfio/vfio");
  printf("api_version=%d\n", ioctl(container, VFIO_GET_API_VERSION));
  if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
    fprintf(stderr, "VFIO_CHECK_EXTENSION: type1v2 IOMMU not supported\n");
    return 1;
  }

  char group_path[64];
  snprintf(group_path, sizeof group_path, "/dev/vfio/%s", group_number);
  int group = open(group_path, O_RDWR);
  if (group < 0) return fail(group_path);
  struct vfio_group_status status = {.argsz = sizeof status};
  if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0) return fail("VFIO_GROUP_GET_STATUS");
  printf("group_viable=%d\n", !!(status.flags & VFIO_GROUP_FLAGS_VIABLE));
  if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
    fprintf(stderr, "group %s is not viable: another device in it is not bound to vfio-pci\n", group_number);
    return 1;
  }
  if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) return fail("VFIO_GROUP_SET_CONTAINER");
  if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) return fail("VFIO_SET_IOMMU");

  int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
  if (device < 0) return fail("VFIO_GROUP_GET_DEVICE_FD");
  struct vfio_device_info info = {.argsz = sizeof info};
  if (ioctl(device, VFIO_DEVICE_GET_INFO, &info) < 0) return fail("VFIO_DEVICE_GET_INFO");
  printf("device=%s pci=%d regions=%u irqs=%u\n", bdf, !!(info.flags & VFIO_DEVICE_FLAGS_PCI), info.num_regions,
         info.num_irqs);

  size_t size = 2u << 20;
  void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return fail("mmap");
  struct vfio_iommu_type1_dma_map map = {.argsz = sizeof map,
                                         .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                                         .vaddr = (unsigned long)memory,
                                         .iova = 0x100000,
                                         .size = size};
  if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0) return fail("VFIO_IOMMU_MAP_DMA");
  printf("dma_map=2MiB@0x100000\n");
  printf("VFIO_PROBE_OK\n");
  return 0;
}
