"""The committed JSON Schemas in schemas/ match what the pydantic models produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesh import schemas
from mesh.flow.spec import FlowDocument

pytestmark = pytest.mark.unit


def test_committed_schemas_match_the_models() -> None:
    drift = schemas.schema_drift()
    assert not drift, "schemas drifted; run `python -m mesh.schemas`:\n" + "\n".join(drift)


def test_flow_schema_describes_the_yaml_keys() -> None:
    schema = json.loads((schemas.SCHEMA_DIR / "flow.json").read_text())
    assert set(schema["properties"]) == {"version", "with", "env", "pods"}
    pod = schema["$defs"]["PodSpec"]
    assert pod["additionalProperties"] is False
    assert pod["properties"]["replicas"]["minimum"] == 1
    assert schemas.schema_text(FlowDocument).endswith("}\n")


def test_event_models_each_have_a_schema() -> None:
    expected = schemas.expected_schemas()
    events = [rel for rel in expected if rel.startswith("events/")]
    module = schemas._events_module()
    if module is None:
        pytest.skip("mesh.events.models is not installed")
    assert len(events) == len(schemas.event_models(module)) > 0


def test_check_reports_drift_without_touching_the_committed_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemas.main(["--dir", str(tmp_path)]) == 0
    assert schemas.main(["--dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "flow.json").write_text("{}\n")
    (tmp_path / "events").mkdir(exist_ok=True)
    (tmp_path / "events" / "Gone.json").write_text("{}\n")
    capsys.readouterr()
    assert schemas.main(["--dir", str(tmp_path), "--check"]) == 1
    out = capsys.readouterr().out
    assert "flow.json: differs from the models" in out
    assert "Gone.json: no model produces it any more" in out
