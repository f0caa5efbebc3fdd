"""nasfpn_cli.search"""
