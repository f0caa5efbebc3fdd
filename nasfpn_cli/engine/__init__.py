"""nasfpn_cli.engine"""
