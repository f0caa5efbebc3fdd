"""nasfpn_cli.data"""
