"""Private implementation of `acme.messages`; import the public names from there."""
