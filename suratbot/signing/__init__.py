"""Electronic signatures with pyHanko (stamping the number, PAdES signing, verification): the signing issue."""
