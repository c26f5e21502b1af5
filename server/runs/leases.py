"""Which web process owns a run that outlives its server (the Ray runner): a lease per run.

The owner writes the run's points and states to the store and records its end; every other
process that serves its watchers only mirrors it. The owner renews its leases every third of
their length; a process that dies stops renewing, and once a lease has lapsed another process
claims it and takes the run over (ray_runner.py). With one web process there is nobody to share
with: SoleLeases grants everything. With several, RedisLeases keeps them on the Redis server
that also carries the Socket.IO message queue.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
PREFIX = "layerlab:lease:"

# Claim a free lease or renew one's own, in one step: KEYS[1] the lease, ARGV the holder and
# the lease's length in ms. 1: held by ARGV[1] now; 0: someone else's.
HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class SoleLeases:
    """One web process: every run's lease is its own."""

    shared = False

    def hold(self, run_ids: list[str]) -> set[str]:
        """Renew (or claim) these leases; returns those held now."""
        return set(run_ids)

    def claim(self, run_id: str) -> bool:
        """Take a lapsed or free lease (or keep one's own)."""
        return True

    def release(self, run_id: str) -> None:
        """Give a lease up (the run ended, or this process is leaving)."""


class RedisLeases:
    """Leases as Redis keys `layerlab:lease:<run id>` holding the owner's name, with a TTL."""

    shared = True

    def __init__(self, url: str, holder: str, seconds: float):
        import redis

        self.holder = holder
        self.ms = max(1, int(seconds * 1000))
        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._hold = self.redis.register_script(HOLD)
        self._release = self.redis.register_script(RELEASE)

    def hold(self, run_ids: list[str]) -> set[str]:
        """Renew (or claim) these leases; returns those held now. With Redis unreachable nobody
        can claim anything, so every lease is still this process's."""
        import redis

        try:
            pipe = self.redis.pipeline(transaction=False)
            for run_id in run_ids:
                self._hold(keys=[PREFIX + run_id], args=[self.holder, self.ms], client=pipe)
            return {run_id for run_id, ok in zip(run_ids, pipe.execute(), strict=True) if ok}
        except redis.RedisError as e:
            log.warning("cannot renew leases on Redis: %s", e)
            return set(run_ids)

    def claim(self, run_id: str) -> bool:
        """Take a lapsed or free lease (or keep one's own)."""
        import redis

        try:
            return bool(self._hold(keys=[PREFIX + run_id], args=[self.holder, self.ms]))
        except redis.RedisError as e:
            log.warning("cannot claim run %s on Redis: %s", run_id, e)
            return False

    def release(self, run_id: str) -> None:
        """Give a lease up (the run ended, or this process is leaving)."""
        import redis

        try:
            self._release(keys=[PREFIX + run_id], args=[self.holder])
        except redis.RedisError as e:
            log.warning("cannot release run %s on Redis: %s", run_id, e)
