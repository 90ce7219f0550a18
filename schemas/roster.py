"""The roster: who holds the roles that rotate (CE leader, Security PM, the Security CE of each
region, Value Engineering).

It lives in our database (``roster_rotations``), set with ``dealcycle roster set``; until the
first rotation it is what the settings say (``DEALCYCLE_CE_LEADER`` and the rest). Workflows
look it up (activity ``look_up_roster``) when they need one of its people, so a rotation
reaches them from their next step; what a workflow carries (``SecurityRoster``,
``AccountConfig.value_engineering``) is only the last roster it knew, used when a lookup fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.common import Region, SecurityRoster

REGION_KEYS: dict[str, Region] = {
    "us-west-apac": Region.US_WEST_APAC,
    "us-east-emea": Region.US_EAST_EMEA,
}
"""How ``dealcycle roster set --security-ce REGION=U…`` names a region."""


@dataclass(frozen=True)
class Roster:
    """The roster as of one rotation (``look_up_roster``'s result)."""

    ce_leader: str
    security_pm: str
    security_ce_us_west_apac: str
    security_ce_us_east_emea: str
    value_engineering: str
    rotation: int = 0
    """The rotation that set it, from 1; 0 is the settings' roster (never rotated)."""

    def security_ce_for(self, region: Region) -> str:
        if region is Region.US_WEST_APAC:
            return self.security_ce_us_west_apac
        return self.security_ce_us_east_emea

    def security(self) -> SecurityRoster:
        """The part a security review or an opportunity carries."""
        return SecurityRoster(
            us_west_apac=self.security_ce_us_west_apac,
            us_east_emea=self.security_ce_us_east_emea,
            security_pm=self.security_pm,
            ce_leader=self.ce_leader,
        )

    @classmethod
    def carried(cls, security: SecurityRoster, value_engineering: str = "") -> Roster:
        """What a workflow carries, as a roster (Value Engineering is "" where not carried)."""
        return cls(
            ce_leader=security.ce_leader,
            security_pm=security.security_pm,
            security_ce_us_west_apac=security.us_west_apac,
            security_ce_us_east_emea=security.us_east_emea,
            value_engineering=value_engineering,
        )


ROLE_LABELS: dict[str, str] = {
    "ce_leader": "CE leader",
    "security_pm": "Security PM",
    "security_ce_us_west_apac": f"Security CE {Region.US_WEST_APAC.value}",
    "security_ce_us_east_emea": f"Security CE {Region.US_EAST_EMEA.value}",
    "value_engineering": "Value Engineering",
}
"""Each role of ``Roster`` (its field name) as people say it."""


@dataclass(frozen=True)
class RotateRoster:
    """``dealcycle roster set``: who takes over which roles; ``None`` leaves a role as it is."""

    by: str
    ce_leader: str | None = None
    security_pm: str | None = None
    security_ce_us_west_apac: str | None = None
    security_ce_us_east_emea: str | None = None
    value_engineering: str | None = None

    def changes(self) -> dict[str, str]:
        """The roles it names (field name to Slack member id)."""
        return {role: member for role in ROLE_LABELS if (member := getattr(self, role)) is not None}
