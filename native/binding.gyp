{
  "targets": [
    {
      "target_name": "vcr_udp",
      "sources": ["src/vcr_udp.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources!": ["src/vcr_udp.c"] }]
      ]
    }
  ]
}
