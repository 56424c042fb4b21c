"""Host names to applications: the bundled list, users' files on top, longest domain first, bad
lines reported with their place."""

from __future__ import annotations

from pathlib import Path

from fathom.apps.domains import Applications


def test_a_domain_covers_its_subdomains_and_the_longest_match_wins(tmp_path: Path) -> None:
    apps = Applications.load()
    assert apps.lookup("github.com") == ("Github", "Collaborative")
    assert apps.lookup("Codeload.GitHub.com.") == ("Github", "Collaborative")
    assert apps.lookup("teams.microsoft.com") == ("Teams", "Collaborative")
    assert apps.lookup("www.microsoft.com") == ("Microsoft", "Web")
    assert apps.lookup("notgithub.com") is None
    assert apps.lookup("") is None


def test_a_users_file_adds_and_overrides_and_its_bad_lines_are_named(tmp_path: Path) -> None:
    mine = tmp_path / "mine.txt"
    mine.write_text("# ours\nintranet.example  Intranet  Business\ngithub.com Forge Collaborative\noops\n")
    notes: list[str] = []
    apps = Applications.load([mine, tmp_path / "missing.txt"], note=notes.append)
    assert apps.lookup("wiki.intranet.example") == ("Intranet", "Business")
    assert apps.lookup("github.com") == ("Forge", "Collaborative")
    assert notes == [
        f"{mine}:4: want a domain, an application and a category",
        f"{tmp_path / 'missing.txt'}: No such file or directory; its applications are not used",
    ]
