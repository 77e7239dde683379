"""Step 3 of the remote Flow walkthrough: index a Document into the running Flow.

    python send_index_request.py HOST FLOW_PORT     # FLOW_PORT from get_flow_info.py
"""

import sys

from mesh import Document
from mesh.clients import Client
from mesh.parsers import set_client_cli_parser


def send_index_request(host, port):
    print(f'index request sent to {host}:{port}')
    args = set_client_cli_parser().parse_args(
        ['--host', host, '--port-expose', str(port)])
    grpc_client = Client(args)
    grpc_client.index(
        [Document(text='hello, jina'), ], on_done=print)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print('usage: python send_index_request.py HOST FLOW_PORT')
        return 2
    host_ip, flow_port = argv
    send_index_request(host_ip, flow_port)
    return 0


if __name__ == '__main__':
    sys.exit(main())
