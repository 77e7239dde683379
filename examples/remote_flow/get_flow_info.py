"""Step 2 of the remote Flow walkthrough: where does the Flow's gateway listen?

    python get_flow_info.py HOST PORT FLOW_ID
"""

import sys

import requests


def get_flow_info(flow_url, flow_id):
    flow_info_api = f'{flow_url}/flow/{flow_id}'
    try:
        r = requests.get(url=flow_info_api)
        if r.status_code == requests.codes.ok:
            return str(r.json()["port"])
        else:
            print('Remote Flow info retrieval failed')
    except requests.exceptions.RequestException as ex:
        print(f'Exception raised: {ex!r}')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print('usage: python get_flow_info.py HOST PORT FLOW_ID')
        return 2
    host_ip, jinad_port, flow_id = argv
    flow_api = f'http://{host_ip}:{jinad_port}'
    flow_port = get_flow_info(flow_api, flow_id)
    if not flow_port:
        return 1
    print(f'Flow serves at {host_ip}:{flow_port}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
