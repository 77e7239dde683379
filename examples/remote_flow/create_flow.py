"""Step 1 of the remote Flow walkthrough: upload a Flow YAML to a jinad and get its id.

    python create_flow.py HOST [PORT] [FLOW_YAML]     # PORT 8000, FLOW_YAML ../dummy_flow.yml
"""

import sys
from pathlib import Path

import requests


def create_flow(flow_url, yamlspec):
    flow_creation_api = f'{flow_url}/flow/yaml/'
    with open(yamlspec, 'rb') as f:
        files = [('yamlspec', f)]
        try:
            r = requests.put(url=flow_creation_api, files=files, timeout=10)
            if r.status_code == requests.codes.ok:
                return r.json()['flow_id']
            else:
                print('Remote Flow creation failed')
        except requests.exceptions.RequestException as ex:
            print(f'Exception raised: {ex!r}')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    host_ip = argv[0] if argv else '127.0.0.1'
    jinad_port = argv[1] if len(argv) > 1 else '8000'
    yamlspec = argv[2] if len(argv) > 2 else str(Path(__file__).resolve().parent.parent / 'dummy_flow.yml')
    flow_api = f'http://{host_ip}:{jinad_port}'
    flow_id = create_flow(flow_api, yamlspec)
    if not flow_id:
        print('failed to create a remote flow')
        return 1
    print(f'flow is created: {flow_id}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
