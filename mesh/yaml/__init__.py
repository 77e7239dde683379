"""YAML as the project reads it: safe tags only (``loader``), measured before it is parsed
(``limits``), ``${{ENV.VAR}}`` substituted."""

from mesh.yaml.limits import MAX_DEPTH, MAX_VALUES, check_yaml_size
from mesh.yaml.loader import Tagged, dump_yaml, load_yaml, substitute_env

__all__ = ["MAX_DEPTH", "MAX_VALUES", "Tagged", "check_yaml_size", "dump_yaml", "load_yaml",
           "substitute_env"]
