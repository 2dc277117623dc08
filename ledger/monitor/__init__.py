"""The log monitor (spec §5.11): follows the log from its last verified checkpoint, checks every
checkpoint it sees for consistency, and finds events signed with a party's keys that the party's
journal does not list (a stolen key shows up the first time it is used)."""

from .monitor import Finding, Monitor, MonitorError, Report, State, load_state, save_state

__all__ = ["Finding", "Monitor", "MonitorError", "Report", "State", "load_state", "save_state"]
