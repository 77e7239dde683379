"""Parsing of the ``mesh`` command line and of the Client parser user scripts build on."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

import mesh.client.client
from mesh import __version__, clients
from mesh.cli import main as cli
from mesh.cli import ping_cmd
from mesh.cli.pod_cmd import describe_pea, pod_kwargs
from mesh.errors import FlowConfigError, NotSupportedYetError, RequestTimeoutError, UnavailableError
from mesh.parsers import set_client_cli_parser
from mesh.runtime.config import PeaConfig, SocketSpec

pytestmark = pytest.mark.unit


# -- the Client parser of the seed's scripts ----------------------------------------------
def test_client_parser_takes_the_seed_arguments() -> None:
    args = set_client_cli_parser().parse_args(["--host", "3.16.166.3", "--port-expose", "51871"])

    client = clients.Client(args)

    assert client.address == "tcp://3.16.166.3:51871"
    assert (client.request_size, client.show_progress) == (100, False)


def test_client_parser_dials_this_machine_for_the_wildcard() -> None:
    default = set_client_cli_parser().parse_args(["--port-expose", "5555"])
    explicit = set_client_cli_parser().parse_args(["--host", "0.0.0.0", "--port-expose", "5555"])

    assert default.host == explicit.host == "127.0.0.1"


def test_client_parser_options() -> None:
    args = set_client_cli_parser().parse_args(["--port-expose", "5555", "--request-size", "7",
                                               "--show-progress"])

    client = clients.Client(args)

    assert (client.request_size, client.show_progress) == (7, True)


@pytest.mark.parametrize("argv", [["--port-expose", "0"], ["--port-expose", "70000"],
                                  ["--port-expose", "x"], ["--request-size", "0"]])
def test_client_parser_refuses_bad_numbers(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        set_client_cli_parser().parse_args(argv)

    assert exc.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_client_parser_extends_a_given_parser() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mine")

    args = set_client_cli_parser(parser).parse_args(["--mine", "1", "--port-expose", "5555"])

    assert (args.mine, args.port_expose) == ("1", 5555)


def test_clients_module_reexports_the_clients() -> None:
    assert clients.Client is mesh.client.client.Client
    assert clients.AsyncClient is mesh.client.client.AsyncClient


# -- the mesh command line --------------------------------------------------------------
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])

    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mesh {__version__}"


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([])

    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["ping", "127.0.0.1", "0"],
    ["ping", "127.0.0.1", "5555", "--timeout", "0"],
    ["ping", "127.0.0.1", "5555", "--retries", "0"],
    ["pod", "--uses-with", "[1, 2]"],
    ["pod", "--uses-with", "{not json"],
    ["pod", "--polling", "some"],
    ["pod", "--replicas", "0"],
    ["flow"],
    ["flow", "--uses", "f.yml", "--port-http", "65536"],
])
def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)

    assert exc.value.code == 2
    assert f"mesh {argv[0]}: error:" in capsys.readouterr().err


def test_ping_defaults_match_the_original() -> None:
    args = cli.build_parser().parse_args(["ping", "3.16.166.3", "49993"])

    assert (args.host, args.port, args.timeout, args.retries) == ("3.16.166.3", 49993, 3.0, 3)


def test_pod_arguments_become_pod_fields() -> None:
    args = cli.build_parser().parse_args([
        "pod", "--uses", "_logforward", "--name", "p", "--port-ctrl", "5000", "--replicas", "2",
        "--polling", "all", "--uses-with", '{"a": 1}'])

    assert pod_kwargs(args) == {"uses": "_logforward", "name": "p", "port_ctrl": 5000,
                                "replicas": 2, "polling": "all", "uses_with": {"a": 1}}


def test_pod_arguments_left_out_keep_the_defaults() -> None:
    args = cli.build_parser().parse_args(["pod"])

    assert pod_kwargs(args) == {"uses": "_pass", "replicas": 1, "polling": "any", "uses_with": {}}


def test_describe_pea_lists_its_sockets() -> None:
    pea = PeaConfig(name="pod0", pod="pod0", port_ctrl=49993,
                    inputs=[SocketSpec(mode="bind", port=55223)],
                    outputs=[SocketSpec(mode="connect", addresses=["127.0.0.1:55535"])])

    assert describe_pea(pea) == (
        "pod0: input tcp://0.0.0.0:55223 (PULL_BIND) output tcp://127.0.0.1:55535 (PUSH_CONNECT) "
        "control over tcp://0.0.0.0:49993 (ROUTER_BIND)")


# -- the error boundary -----------------------------------------------------------------
def test_remote_pod_needs_the_jinad_there(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    code = cli.main(["pod", "--uses", "_logforward", "--host", "127.0.0.1", "--port-expose", str(port)])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: cannot reach jinad at http://127.0.0.1:{port}")


def test_missing_flow_file_is_an_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yml"

    code = cli.main(["flow", "--uses", str(missing)])

    assert code == 2
    assert capsys.readouterr().err == f"error: flow file {missing} not found\n"


@pytest.mark.parametrize("raised, code", [(UnavailableError("down"), 1),
                                          (RequestTimeoutError("slow"), 1),
                                          (FlowConfigError("bad"), 2),
                                          (NotSupportedYetError("later"), 2)])
def test_mesh_errors_become_a_line_and_an_exit_code(
        raised: Exception, code: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise raised

    monkeypatch.setattr(ping_cmd, "run", fail)

    assert cli.main(["ping", "127.0.0.1", "5555"]) == code
    assert capsys.readouterr().err == f"error: {raised}\n"


def test_interrupt_exits_130_quietly(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(ping_cmd, "run", interrupted)

    assert cli.main(["ping", "127.0.0.1", "5555"]) == 130
    assert capsys.readouterr().err == ""


def test_unexpected_errors_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: argparse.Namespace) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(ping_cmd, "run", broken)

    with pytest.raises(ZeroDivisionError):
        cli.main(["ping", "127.0.0.1", "5555"])
