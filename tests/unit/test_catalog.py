"""Every service the wizard can name is written out with Suricata's app_proto and nDPI's protocol
name and category."""

from __future__ import annotations

from fathom.apps import wizard
from fathom.apps.catalog import CATALOG, app_name
from fathom.flow.flow import AppName


def test_every_service_the_wizard_names_has_an_entry() -> None:
    named = {m.service for m in (*wizard.SPELLS, *wizard.HEXES, *wizard.SIGNATURES, *wizard.CURSES)}
    named |= set(wizard.PORT_GUESSES.values()) | set(wizard.PROTOCOL_NAMES.values())
    assert named - CATALOG.keys() == set()


def test_suricata_and_ndpi_names_differ_where_the_two_projects_do() -> None:
    assert app_name("ssl") == AppName("tls", "TLS", "Web")
    assert app_name("kerberos") == AppName("krb5", "Kerberos", "Network")
    assert app_name("postgresql") == AppName("pgsql", "PostgreSQL", "Database")
    assert app_name("netbios-ssn") == AppName("smb", "NetBIOS", "System")
    assert app_name("smb") == AppName("smb", "SMBv23", "System")


def test_a_service_without_an_entry_keeps_its_name() -> None:
    assert app_name("gopher") == AppName("gopher", "gopher", "Unspecified")
