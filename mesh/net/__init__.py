"""This machine's network: its interfaces and addresses, free ports, which hosts are local."""
