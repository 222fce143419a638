"""Site configuration: the YAML a city writes, validated with file/line error reporting."""

from oversight.config.loader import ConfigError, ConfigIssue, load_config, parse_config
from oversight.config.schema import CameraConfig, SiteConfig

__all__ = ["CameraConfig", "ConfigError", "ConfigIssue", "SiteConfig", "load_config", "parse_config"]
