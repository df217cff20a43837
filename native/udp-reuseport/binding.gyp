{
  "targets": [
    {
      "target_name": "udp_reuseport",
      "sources": ["reuseport.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
