"""Everything in the hub's process and the sabaq service."""
