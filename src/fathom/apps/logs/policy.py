"""Which protocol logs a flow gets, from the Talos design's ``profiles`` (the applications to log)
and ``flows`` (traffic scopes by network, each bound to a profile)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from fathom.config import AppConfig
from fathom.flow.flow import Flow

_Scope = tuple[IPv4Network | IPv6Network, IPv4Network | IPv6Network, frozenset[str]]


class LogPolicy:
    """With no profiles every log is written; with profiles and no scopes, the applications of
    any profile; with scopes, those of the first scope holding the flow (client to server), and
    none for a flow outside every scope."""

    __slots__ = ("_any", "_scopes", "everything")

    def __init__(self, config: AppConfig) -> None:
        profiles = {profile.name: frozenset(profile.applications) for profile in config.profiles}
        self.everything = not profiles
        self._any = frozenset().union(*profiles.values())
        self._scopes: list[_Scope] = [
            (
                ip_network(scope.sourceNetwork, strict=False),
                ip_network(scope.destinationNetwork, strict=False),
                profiles[scope.profile],
            )
            for scope in config.flows
        ]

    def logs(self, flow: Flow, app_proto: str) -> bool:
        """Whether the flow's ``app_proto`` log is written."""
        if self.everything:
            return True
        if not self._scopes:
            return app_proto in self._any
        src, dst = ip_address(flow.src), ip_address(flow.dst)
        for source, destination, applications in self._scopes:
            if src in source and dst in destination:
                return app_proto in applications
        return False
