"""Everything that touches a socket, a thread or the real clock: transports, the request
watchdog, TLS plumbing, the connection gate, the network probes and the network-object base."""
