from __future__ import annotations

import logging

import pytest

from otelkit import config


@pytest.mark.parametrize(
    ("setting", "raw", "expected"),
    [
        (config.OTELKIT_SELF_METRICS, "false", False),
        (config.OTELKIT_SELF_METRICS, "ON", True),
        (config.OTELKIT_SELF_METRICS, " 0 ", False),
        (config.OTELKIT_WARN_INTERVAL_S, "2.5", 2.5),
        (config.OTEL_BSP_MAX_QUEUE_SIZE, "4096", 4096),
        (config.OTELKIT_PROCESSOR, "STOCK", "stock"),
        (config.OTEL_EXPORTER_OTLP_COMPRESSION, "zstd", "zstd"),
        (config.OTEL_SERVICE_NAME, "checkout", "checkout"),
    ],
)
def test_valid_values_parse(setting: config.Setting[object], raw: str, expected: object) -> None:
    assert setting.get({setting.name: raw}) == expected


@pytest.mark.parametrize(
    ("setting", "raw", "allowed"),
    [
        (config.OTELKIT_SELF_METRICS, "maybe", "true or false"),
        (config.OTELKIT_WARN_INTERVAL_S, "abc", "a number >= 0"),
        (config.OTELKIT_WARN_INTERVAL_S, "-1", "a number >= 0"),
        (config.OTELKIT_WARN_INTERVAL_S, "nan", "a number >= 0"),
        (config.OTEL_BSP_MAX_QUEUE_SIZE, "0", "an integer >= 1"),
        (config.OTEL_BSP_MAX_QUEUE_SIZE, "1.5", "an integer >= 1"),
        (config.OTELKIT_PROCESSOR, "fast", "one of smart, stock"),
        (config.OTEL_EXPORTER_OTLP_COMPRESSION, "brotli", "one of none, gzip, deflate, zstd"),
    ],
)
def test_invalid_value_warns_and_uses_default(
    setting: config.Setting[object], raw: str, allowed: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.config"):
        assert setting.get({setting.name: raw}) == setting.default
    [record] = caplog.records
    assert setting.name in record.getMessage()
    assert repr(raw) in record.getMessage()
    assert allowed in record.getMessage()


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_or_blank_gives_default(raw: str | None) -> None:
    env = {} if raw is None else {"OTEL_BSP_MAX_QUEUE_SIZE": raw}
    assert config.OTEL_BSP_MAX_QUEUE_SIZE.get(env) == 2048


def test_explicit_argument_wins_over_env() -> None:
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "10"}
    assert config.OTEL_BSP_MAX_QUEUE_SIZE.resolve(99, env) == 99
    assert config.OTEL_BSP_MAX_QUEUE_SIZE.resolve(None, env) == 10


def test_parse_raises_value_error_naming_variable() -> None:
    with pytest.raises(ValueError, match="OTELKIT_PROCESSOR='x' is invalid: expected one of smart, stock"):
        config.OTELKIT_PROCESSOR.parse("x")


def test_secret_values_are_never_shown() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret"}
    rows = {r.name: r for r in config.effective(env)}
    assert rows["OTEL_EXPORTER_OTLP_HEADERS"].value == "<redacted>"
    assert "s3cret" not in config.markdown_table()


def test_repeated_bad_value_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    env = {"OTELKIT_SELF_METRICS": "perhaps"}
    with caplog.at_level(logging.WARNING, logger="otelkit.config"):
        for _ in range(5):
            config.OTELKIT_SELF_METRICS.get(env)
    assert len(caplog.records) == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1024", 1024), ("64KiB", 65536), ("4 MiB", 4 * 1024 * 1024), ("1kb", 1000), ("2GiB", 2 * 1024**3)],
)
def test_size_parser(raw: str, expected: int) -> None:
    assert config.parse_size(raw) == expected


@pytest.mark.parametrize("raw", ["", "MiB", "1.5MiB", "-3", "12 parsecs"])
def test_size_parser_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        config.parse_size(raw)


def test_every_setting_is_declared_once_with_doc_and_valid_default() -> None:
    for name, setting in config.SETTINGS.items():
        assert name == setting.name
        assert setting.doc and setting.allowed
        assert name.startswith("OTELKIT_") or setting.standard, name


def test_effective_reports_sources() -> None:
    env = {"OTELKIT_PROCESSOR": "stock", "OTELKIT_WARN_INTERVAL_S": "x"}
    rows = {r.name: r for r in config.effective(env)}
    assert (rows["OTELKIT_PROCESSOR"].value, rows["OTELKIT_PROCESSOR"].source) == ("stock", "env")
    assert rows["OTELKIT_WARN_INTERVAL_S"].source == "invalid"
    assert rows["OTELKIT_SELF_METRICS"].source == "default"
    assert [r.name for r in config.invalid(env)] == ["OTELKIT_WARN_INTERVAL_S"]


def test_docs_configuration_table_is_current() -> None:
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert config.markdown_table() in page.read_text(), (
        "docs/configuration.md is stale: regenerate with `otelkit config --markdown`"
    )


# --- the registry (issue 12: config beside its component) -----------------------------------


def test_config_imports_no_component_until_a_setting_is_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, otelkit.config as c\n"
        "before = sorted(m for m in sys.modules if m.startswith('otelkit.'))\n"
        "c.OTELKIT_TAIL_MAX_SPANS\n"
        "after = sorted(m for m in sys.modules if m.startswith('otelkit.'))\n"
        "print(before, after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after = out.split("] [")
    assert "otelkit.tail" not in before and "otelkit.batch" not in before
    assert "otelkit.tail._settings" in after and "otelkit.batch" not in after


def test_unknown_config_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError):
        config.OTELKIT_NO_SUCH_SETTING  # noqa: B018
    with pytest.raises(AttributeError):
        config.not_a_setting  # noqa: B018


def test_example_server_settings_are_not_library_settings() -> None:
    from examples import settings

    assert settings.OTELKIT_EXAMPLE_TRACING.name in settings.EXAMPLE_SETTINGS
    assert not [name for name in config.SETTINGS if name.startswith(config.EXAMPLE_PREFIX)]
    assert not config.problems({"OTELKIT_EXAMPLE_TRACING": "stock"})


def test_declaring_a_name_twice_is_refused() -> None:
    registry: dict[str, config.Setting[object]] = {}
    config.str_setting("OTELKIT_TWICE", "", "doc", registry=registry)
    with pytest.raises(ValueError, match="declared twice"):
        config.str_setting("OTELKIT_TWICE", "", "doc", registry=registry)


@pytest.mark.parametrize(
    ("setting", "raw"),
    [(config.OTEL_BSP_EXPORT_TIMEOUT, "99999999999999999999"), (config.OTELKIT_TAIL_MAX_WAIT_MS, "3600001")],
)
def test_millisecond_settings_stop_at_an_hour(setting: config.Setting[int], raw: str) -> None:
    # a larger wait overflowed the platform's timer in shutdown() (found by the fuzz)
    with pytest.raises(ValueError, match="expected an integer from"):
        setting.parse(raw)
