"""link layer of the hotpress daemon."""
