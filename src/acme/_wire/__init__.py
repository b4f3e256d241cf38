"""Pure data, no I/O: the RFC 8555 message classes behind `acme.messages`, X.509 helpers,
input coercion at the public boundary and the RFC 9773 certificate identifier."""
