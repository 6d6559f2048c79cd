{
  "targets": [
    {
      "target_name": "sdev_tap",
      "sources": ["src/tap.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"]
    }
  ]
}
