"""Fakes of the outside services suratbot talks to, as real HTTP servers on 127.0.0.1 for the tests."""
