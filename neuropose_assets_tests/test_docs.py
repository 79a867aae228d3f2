"""The documentation: the generated files equal what the code generates, no link points nowhere, the README stays
short with a table of contents and the two commands."""

import re

from neuropose_assets import docs
from neuropose_assets_tests import REPO


def test_the_generated_documentation_is_what_the_code_generates():
    assert docs.stale() == [], "run: python -m neuropose_assets.docs"
    contracts = (REPO / "data_contracts/README.md").read_text()
    from data_contracts import SCHEMAS

    for name, schema in SCHEMAS.items():  # every table and column of the contracts, none that is not
        assert f"\n## {name}\n" in contracts
        for col in schema.columns:
            assert f"`{col.replace('|', chr(92) + '|')}`" in contracts, (name, col)
    assert "segmentation" not in re.findall(r"^## (\w+)", contracts, re.M)


def test_every_parameter_of_every_stage_is_documented():
    """The parameter reference lists each stage's config fields, each with a meaning (the model's docstring)."""
    text = (REPO / "docs/parameters.md").read_text()
    rows = [r for r in text.splitlines() if r.startswith("| `")]
    assert len(rows) >= 40 and not [r for r in rows if r.rstrip().endswith("|  |")]
    from neuropose_assets.core.analysis.events import EventsConfig

    for name in EventsConfig.model_fields:
        assert f"| `{name}` |" in text, name


def test_no_dead_links_in_the_documentation():
    assert docs.dead_links() == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "a.md").write_text(
        "# Top\n\n## Where outputs live\n\n[ok](#where-outputs-live) [ok](b.md#the-b-part)"
        " [web](https://example.org/x) `[code](nowhere.md)`\n\n```\n[x](gone.md)\n```\n"
        "[dead](gone.md) [bad anchor](b.md#nope) [self](#top-1)\n"
    )
    (tmp_path / "b.md").write_text("# B\n\n## The B part\n")
    found = docs.dead_links([tmp_path / "a.md"], repo=tmp_path)
    assert found == [
        "a.md: gone.md (no such file)",
        "a.md: b.md#nope (no such heading)",
        "a.md: #top-1 (no such heading)",
    ]
    assert docs.slug("Tasks, events and outcomes") == "tasks-events-and-outcomes"
    assert docs.slug("5-minute tour") == "5-minute-tour" and docs.slug("`sit_to_stand`") == "sit_to_stand"


def test_the_readme_is_short_with_contents_and_the_two_commands():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    own = set(re.findall(r"\]\(#([^)]+)\)", readme))
    assert len(own) >= 5 and own <= docs.anchors(readme)  # a table of contents
    assert "python3.11 tasks.py demo" in readme and "python3.11 tasks.py test" in readme
    for target in (
        "docs/user-guide.md",
        "docs/outcomes.md",
        "docs/deployment.md",
        "docs/validation.md",
        "docs/architecture.md",
        "data_contracts/README.md",
    ):
        assert f"]({target}" in readme, target
