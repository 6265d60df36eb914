"""recipe layer of the hotpress daemon."""
