"""`oversight demo`: the whole system on embedded defaults, on real footage when present."""
