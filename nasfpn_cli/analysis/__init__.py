"""nasfpn_cli.analysis"""
