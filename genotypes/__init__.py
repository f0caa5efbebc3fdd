"""Genotypes bundled with nasfpn (data files, found by name)."""
