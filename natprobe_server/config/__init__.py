"""The echo server's configuration: STUN/echo options, the HTTP API's, the TOML file, the systemd unit."""
