"""nasfpn_cli.render"""
