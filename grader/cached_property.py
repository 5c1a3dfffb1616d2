"""`cached_property` without the lock that Python 3.11's `functools.cached_property` holds across
every instance of a class (gone in 3.12): with it, one team's slow probe (a workspace that never
answers, the team's test session) would hold up every other team's. A team's checks run one at a
time, so at worst an abandoned check and the next one both compute a value; nothing needs a lock.
"""

from __future__ import annotations

import functools


class cached_property(functools.cached_property):  # named as the one it replaces
    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        cache = instance.__dict__
        if self.attrname not in cache:
            cache[self.attrname] = self.func(instance)
        return cache[self.attrname]
