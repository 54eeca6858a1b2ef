"""The Redis cache backend, made to forgive a Redis that is down.

Every storefront request reads the cache (a store's custom domain, the page cache, the
catalogue). With Flask-Caching's plain Redis backend a stopped or unreachable Redis
turned each of those reads into an exception, so every shop page answered 500. A cache
is an optimisation: here a failed call is logged and answers like a miss, and Redis is
left alone for a few seconds before the next try, so a dead server costs one refused
connection per process every few seconds rather than one per cache call.
"""

from __future__ import annotations

import functools
import logging
import time

from flask_caching.backends.rediscache import RedisCache

log = logging.getLogger(__name__)

#: Seconds to skip Redis after a failure before trying again.
RETRY_AFTER = 5.0


def _miss(value_for_keys):
    """What a method answers while Redis is away; ``value_for_keys(args)`` builds it."""

    def decorator(method):
        @functools.wraps(method)
        def forgiving(self, *args, **kwargs):
            if time.monotonic() < self._redis_down_until:
                return value_for_keys(args)
            try:
                return method(self, *args, **kwargs)
            except (OSError, self._redis_errors) as exc:
                if not self._redis_down_until:
                    log.warning("Redis cache unavailable, serving without it: %s", exc)
                self._redis_down_until = time.monotonic() + RETRY_AFTER
                return value_for_keys(args)

        return forgiving

    return decorator


def _none(args):
    return None


def _false(args):
    return False


def _nones(args):
    return [None] * len(args)


def _empty(args):
    return []


class ForgivingRedisCache(RedisCache):
    """Redis, where a failed call is a logged cache miss instead of an exception."""

    _redis_down_until = 0.0

    def __init__(self, *args, **kwargs):
        from redis.exceptions import RedisError

        super().__init__(*args, **kwargs)
        self._redis_errors = RedisError

    get = _miss(_none)(RedisCache.get)
    get_many = _miss(_nones)(RedisCache.get_many)
    set = _miss(_false)(RedisCache.set)
    add = _miss(_false)(RedisCache.add)
    set_many = _miss(_empty)(RedisCache.set_many)
    delete = _miss(_false)(RedisCache.delete)
    delete_many = _miss(_empty)(RedisCache.delete_many)
    has = _miss(_false)(RedisCache.has)
    clear = _miss(_false)(RedisCache.clear)
    inc = _miss(_none)(RedisCache.inc)
    dec = _miss(_none)(RedisCache.dec)
    unlink = _miss(_none)(RedisCache.unlink)

    def get_dict(self, *keys):
        return dict(zip(keys, self.get_many(*keys), strict=True))
