"""Step 4 of the remote Flow walkthrough: stop the Flow and every Pea it runs.

    python delete_flow.py HOST PORT FLOW_ID
"""

import sys

import requests


def delete_flow(flow_api, flow_id):
    flow_deletion_api = f'{flow_api}/flow?flow_id={flow_id}'
    try:
        r = requests.delete(url=flow_deletion_api)
        if r.status_code == requests.codes.ok:
            print('Remote Flow deletion succeeded')
        else:
            print('Remote Flow deletion failed')
    except requests.exceptions.RequestException as ex:
        print(f'Exception raised: {ex!r}')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print('usage: python delete_flow.py HOST PORT FLOW_ID')
        return 2
    host_ip, jinad_port, flow_id = argv
    flow_api = f'http://{host_ip}:{jinad_port}'
    delete_flow(flow_api, flow_id)
    return 0


if __name__ == '__main__':
    sys.exit(main())
