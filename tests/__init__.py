"""Tests of suratbot: unit tests per folder and service-layer tests on SQLite and PostgreSQL."""
