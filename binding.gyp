{
  "targets": [
    {
      "target_name": "nicplex_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/nl_wire.cc",
        "native/src/nl_socket.cc",
        "native/src/ops.cc",
        "native/src/netns_thread.cc",
        "native/src/sysfs_dir.cc",
        "native/src/spawn.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O2",
        "-Wall",
        "-Wextra",
        "-fno-exceptions"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-std=gnu++17"
      ]
    },
    {
      "target_name": "nicplex-shim",
      "type": "executable",
      "sources": [
        "native/shim/nicplex-shim.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra",
        "-std=c11"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "ldflags": [
        "-static"
      ],
      "libraries": []
    },
    {
      "target_name": "nicplex-cni",
      "type": "executable",
      "sources": [
        "native/shim/nicplex-cni.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra",
        "-std=c11"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "ldflags": [
        "-static"
      ],
      "libraries": []
    }
  ]
}
