"""Official content → services → passages → indexes → answers."""
