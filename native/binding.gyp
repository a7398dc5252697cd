{
  "targets": [
    {
      "target_name": "wgts_native",
      "sources": ["addon.cc", "aead.cc", "aead_ad.cc", "blake2s.cc", "hs_crypto.cc", "notify.cc", "offload.cc", "offload_js.cc", "x25519.cc", "tun_fd.cc", "tun_handle.cc", "udp_cmsg.cc", "udp_fd.cc", "udp_handle.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
