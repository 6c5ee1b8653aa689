"Shared pytest settings: `--quick` skips tests and notebook cells marked slow (CI runs everything)."
import pytest

def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", help="skip slow tests and notebook cells flagged `#| slow`")

def pytest_collection_modifyitems(config, items):
    if not config.getoption("--quick"): return
    skip = pytest.mark.skip(reason="--quick given")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)
