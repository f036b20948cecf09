"""Abuse limits: attempts per client address and per key, counted before any work.

The seed's registration outcomes are public ("provider does not exist",
"details do not match"), so the registration form answers questions about the
directory, and a ZIP code has only a few thousand values. The per-account
lockout does not help there, nor against one address trying one password on
every user name. These limits count per *client address* (IPv6 per /64 by
default) and per *key* (the Provider ID or NPI a registration names), and the
service checks them first: a refused attempt costs no hash and no directory
read.

The counters live in a :class:`~provider_identity.ports.LockoutStore`, the
contract the lockout already has in memory, SQL and Redis, with its race
tests: each window is a key of its own, counted with one atomic
``record_failure``; an attempt's count in its window is unique, so parallel
attempts can never admit more than the limit. An attempt that finds the
limit reached already is refused without being counted, so that hammering
does not lengthen the wait. A ``SLIDING`` window weighs the
previous window's count by how much of it still overlaps the last ``period``
(the "sliding window counter"); a ``FIXED`` window starts from zero at each
multiple of ``period``.
"""

from __future__ import annotations

import enum
import ipaddress
import math
from datetime import UTC, datetime, timedelta

import attrs

from provider_identity import _checks
from provider_identity.clock import Clock, SystemClock
from provider_identity.errors import (
    ConfigurationError,
    HumanCheckRequired,
    InvalidInput,
    TooManyAttempts,
)
from provider_identity.ports import HumanCheck, LockoutStore

__all__ = [
    "LimitDecision",
    "LimitKind",
    "Limiter",
    "RateLimit",
    "RateLimits",
    "Window",
    "client_key",
    "provider_key",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class LimitKind(enum.StrEnum):
    """What a limit counts; the value names it in audit events and errors."""

    #: Registration attempts per client address.
    REGISTRATION = "registration"
    #: Registration attempts per Provider ID (or NPI) that reach the matcher: the oracle.
    REGISTRATION_PROVIDER = "registration_provider"
    #: Provider checks (step one of a step-by-step registration) per client address.
    CHECK_PROVIDER = "check_provider"
    #: Login attempts per client address, right or wrong.
    LOGIN = "login"
    #: Failed logins per client address (checked before, counted after a failure).
    LOGIN_FAILURE = "login_failure"
    #: Forgot-password requests per client address (silent).
    PASSWORD_RESET = "password_reset"
    #: Activation re-sends per client address (silent).
    RESEND_ACTIVATION = "resend_activation"
    #: User-name reminders per client address (silent).
    USERNAME_REMINDER = "username_reminder"


class Window(enum.StrEnum):
    """How a limit's period is measured."""

    #: Counts restart at every multiple of the period (cheapest, bursts at the edges).
    FIXED = "fixed"
    #: The previous period's count is weighed by its overlap with the last ``period``.
    SLIDING = "sliding"


def _below_limit(instance: RateLimit, attribute: object, value: int | None) -> None:
    if value is not None and value >= instance.limit:
        raise ConfigurationError("RateLimit.human_check_after must be below RateLimit.limit.")


@attrs.frozen(kw_only=True)
class RateLimit:
    """At most ``limit`` attempts per ``period``.

    Attributes:
        limit: Attempts admitted per period (at least 1).
        period: The period (at least one second).
        window: ``SLIDING`` (default) or ``FIXED``.
        human_check_after: With a :class:`~provider_identity.ports.HumanCheck`
            configured: attempts beyond this many in the period need a passed
            human check (below ``limit``; ``None``: never asked for).
    """

    limit: int = attrs.field(validator=_checks.integer(minimum=1))
    period: timedelta = attrs.field(
        validator=_checks.duration(minimum=timedelta(seconds=1), inclusive=True)
    )
    window: Window = attrs.field(default=Window.SLIDING, validator=_checks.instance_of(Window))
    human_check_after: int | None = attrs.field(
        default=None,
        validator=[_checks.optional(_checks.integer(minimum=0)), _below_limit],
    )


_PER_MINUTE = timedelta(minutes=1)
_limit = _checks.optional(_checks.instance_of(RateLimit))


@attrs.frozen(kw_only=True)
class RateLimits:
    """The abuse limits of every flow; ``None`` turns one off.

    Per-address limits apply only when the caller passes ``client_address``.
    The defaults follow django-allauth's where it has one (see ``docs/rules.md``).

    Attributes:
        registration: Registration attempts per client address (20 a minute).
        registration_provider: Registration attempts per Provider ID or NPI that
            reach the matcher (10 an hour): 402 ZIP guesses take 40 hours.
        check_provider: Provider checks per client address (20 a minute); a
            check also counts toward ``registration_provider``.
        login: Login attempts per client address, right or wrong (30 a minute).
        login_failure: Failed logins per client address (10 a minute).
        password_reset: Forgot-password requests per client address (20 a minute).
        resend_activation: Activation re-sends per client address (20 a minute).
        username_reminder: User-name reminders per client address (20 a minute).
        ipv6_prefix: IPv6 clients are counted per network of this length (64).
        ipv4_prefix: IPv4 clients are counted per network of this length (32).
    """

    registration: RateLimit | None = attrs.field(
        default=RateLimit(limit=20, period=_PER_MINUTE), validator=_limit
    )
    registration_provider: RateLimit | None = attrs.field(
        default=RateLimit(limit=10, period=timedelta(hours=1)), validator=_limit
    )
    check_provider: RateLimit | None = attrs.field(
        default=RateLimit(limit=20, period=_PER_MINUTE), validator=_limit
    )
    login: RateLimit | None = attrs.field(
        default=RateLimit(limit=30, period=_PER_MINUTE), validator=_limit
    )
    login_failure: RateLimit | None = attrs.field(
        default=RateLimit(limit=10, period=_PER_MINUTE), validator=_limit
    )
    password_reset: RateLimit | None = attrs.field(
        default=RateLimit(limit=20, period=_PER_MINUTE), validator=_limit
    )
    resend_activation: RateLimit | None = attrs.field(
        default=RateLimit(limit=20, period=_PER_MINUTE), validator=_limit
    )
    username_reminder: RateLimit | None = attrs.field(
        default=RateLimit(limit=20, period=_PER_MINUTE), validator=_limit
    )
    ipv6_prefix: int = attrs.field(default=64, validator=_checks.integer(minimum=1, maximum=128))
    ipv4_prefix: int = attrs.field(default=32, validator=_checks.integer(minimum=1, maximum=32))

    @classmethod
    def off(cls) -> RateLimits:
        """No abuse limit at all (the lockout and the mail throttle still apply)."""
        return cls(
            registration=None,
            registration_provider=None,
            check_provider=None,
            login=None,
            login_failure=None,
            password_reset=None,
            resend_activation=None,
            username_reminder=None,
        )

    def of(self, kind: LimitKind) -> RateLimit | None:
        """The limit of ``kind``, or ``None`` if it is off."""
        limit: RateLimit | None = getattr(self, kind.value)
        return limit


def client_key(address: str, *, ipv6_prefix: int = 64, ipv4_prefix: int = 32) -> str:
    """The network a client address is counted under, e.g. ``2001:db8:1:2::/64``.

    An IPv4-mapped IPv6 address counts as its IPv4 address; a zone index
    (``%eth0``) is ignored.

    Raises:
        InvalidInput: ``address`` is not an IPv4 or IPv6 address.
    """
    parsed: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if isinstance(address, str) and address.isascii():
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0] if ":" in address else address)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidInput.single(
            "client_address", "invalid", "Client address is not an IP address."
        )
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    prefix = ipv6_prefix if parsed.version == 6 else ipv4_prefix
    network = ipaddress.ip_network(f"{parsed}/{prefix}", strict=False)
    return str(network.network_address if network.prefixlen == network.max_prefixlen else network)


def provider_key(provider_id: str | None, npi: str | None) -> str:
    """The registration-oracle key of the (normalised) identifier a request gives."""
    return f"id:{provider_id}" if provider_id is not None else f"npi:{npi}"


@attrs.frozen(kw_only=True)
class LimitDecision:
    """One limit's verdict on one attempt.

    Attributes:
        admitted: Whether the attempt is within the limit.
        count: The attempts counted in the window (weighted, for a sliding one),
            this one included when it was counted (admitted by :meth:`Limiter.hit`).
        retry_after: For a refused attempt: how long until one is admitted again,
            at the earliest; zero otherwise.
    """

    admitted: bool
    count: float
    retry_after: timedelta = timedelta(0)


@attrs.frozen(kw_only=True)
class Limiter:
    """Applies :class:`RateLimits` with counters in a LockoutStore.

    ``IdentityService`` builds one over its ``lockouts`` store; use one
    directly to limit a flow of your own.

    Attributes:
        store: Where the counters live (the lockout store will do).
        limits: The limits.
        clock: Where "now" comes from.
        human_check: Checks human-check answers; needed when a limit has
            ``human_check_after``.
        namespace: Prefixed to every counter's key.
    """

    store: LockoutStore = attrs.field(
        validator=_checks.implements("record_failure", "get", "clear")
    )
    limits: RateLimits = attrs.field(
        default=RateLimits(), validator=_checks.instance_of(RateLimits)
    )
    clock: Clock = attrs.field(default=SystemClock(), validator=_checks.implements("now"))
    human_check: HumanCheck | None = attrs.field(
        default=None, validator=_checks.optional(_checks.implements("verify"))
    )
    namespace: str = attrs.field(default="limit", validator=_checks.text())

    def __attrs_post_init__(self) -> None:
        if self.human_check is None and any(
            (limit := self.limits.of(kind)) is not None and limit.human_check_after is not None
            for kind in LimitKind
        ):
            raise ConfigurationError(
                "RateLimits: human_check_after needs a HumanCheck (IdentityService.human_check)."
            )

    def subject(self, kind: LimitKind, key: str | None) -> str | None:
        """The counted form of ``key`` for ``kind`` (a client address's network), or None.

        Raises:
            InvalidInput: a client address that is not an IP address.
        """
        if key is None or self.limits.of(kind) is None:
            return None
        if kind is LimitKind.REGISTRATION_PROVIDER:
            return key
        return client_key(
            key, ipv6_prefix=self.limits.ipv6_prefix, ipv4_prefix=self.limits.ipv4_prefix
        )

    def hit(self, kind: LimitKind, subject: str) -> LimitDecision:
        """Count one attempt of ``kind`` for ``subject`` atomically and decide on it."""
        return self._decide(kind, subject, count=True)

    def peek(self, kind: LimitKind, subject: str) -> LimitDecision:
        """Decide whether one more attempt would be admitted, counting nothing."""
        return self._decide(kind, subject, count=False)

    def clear(self, kind: LimitKind, subject: str) -> None:
        """Forget ``subject``'s attempts of ``kind`` in the current and previous windows."""
        limit = self.limits.of(kind)
        if limit is not None:
            index = _micros(self.clock.now()) // (limit.period // _MICROSECOND)
            for window in (index - 1, index):
                self.store.clear(self._key(kind, subject, window))

    def check(
        self,
        kind: LimitKind,
        key: str | None,
        detail: dict[str, str],
        *,
        count: bool = True,
        human_check: str | None = None,
        client_address: str | None = None,
    ) -> None:
        """Count (or, with ``count=False``, peek at) one attempt; refuse it if it is over.

        On a refusal ``detail`` (an audit event's) says which limit refused.
        With ``key=None`` or the limit off, nothing is counted.

        Raises:
            TooManyAttempts: over the limit.
            HumanCheckRequired: the limit's ``human_check_after`` is passed and
                ``human_check`` is missing or refused.
            InvalidInput: a client address that is not an IP address.
        """
        subject = self.subject(kind, key)
        if subject is None:
            return
        decision = self._decide(kind, subject, count=count)
        if not decision.admitted:
            detail["limit"] = kind.value
            detail["retry_after"] = str(math.ceil(decision.retry_after.total_seconds()))
            raise TooManyAttempts(kind.value, decision.retry_after)
        limit = self.limits.of(kind)
        assert limit is not None  # noqa: S101  # subject() returned None otherwise
        counted = decision.count if count else decision.count + 1
        passed = detail.get("human_check") == "passed"  # one answer serves one request
        if limit.human_check_after is not None and counted > limit.human_check_after and not passed:
            assert self.human_check is not None  # noqa: S101  # refused at construction
            if human_check is None or not self.human_check.verify(
                human_check, client_address=client_address
            ):
                detail["limit"] = kind.value
                raise HumanCheckRequired(kind.value)
            detail["human_check"] = "passed"

    def check_login(
        self, client_address: str | None, detail: dict[str, str], *, human_check: str | None = None
    ) -> None:
        """:meth:`check` for a login: count the attempt, peek at the failures.

        Raises:
            TooManyAttempts: over ``login`` or ``login_failure``.
            HumanCheckRequired: past a ``human_check_after`` without a passed check.
        """
        for kind, count in ((LimitKind.LOGIN, True), (LimitKind.LOGIN_FAILURE, False)):
            self.check(
                kind,
                client_address,
                detail,
                count=count,
                human_check=human_check,
                client_address=client_address,
            )

    def allow(self, kind: LimitKind, key: str | None, detail: dict[str, str]) -> bool:
        """:meth:`check` for the silent flows: False (and ``detail`` says why) when over."""
        try:
            self.check(kind, key, detail)
        except TooManyAttempts:
            return False
        return True

    def record(self, kind: LimitKind, key: str | None) -> None:
        """Count one attempt of ``kind`` (a failure, after it happened); decides nothing."""
        subject = self.subject(kind, key)
        if subject is not None:
            self._decide(kind, subject, count=True)

    def _key(self, kind: LimitKind, subject: str, window: int) -> str:
        return f"{self.namespace}:{kind.value}:{subject}:{window}"

    def _count(self, key: str, now: datetime, limit: RateLimit, *, count: bool) -> int:
        if count:
            # Kept for two periods after the latest attempt: a sliding window
            # reads the previous period's count during the whole next one.
            state = self.store.record_failure(
                key, now=now, max_failures=limit.limit, lock_for=2 * limit.period
            )
            return state.failures
        stored = self.store.get(key)
        return 0 if stored is None or stored.is_expired(now) else stored.failures

    def _decide(self, kind: LimitKind, subject: str, *, count: bool) -> LimitDecision:
        limit = self.limits.of(kind)
        if limit is None:
            return LimitDecision(admitted=True, count=0)
        now = self.clock.now()
        period = limit.period // _MICROSECOND
        index, offset = divmod(_micros(now), period)
        key = self._key(kind, subject, index)
        previous = 0
        if limit.window is Window.SLIDING:
            previous = self._count(self._key(kind, subject, index - 1), now, limit, count=False)
        carried = previous * (period - offset) / period
        current = self._count(key, now, limit, count=False)
        if count and current + carried + 1 <= limit.limit:
            # Room for one more: count it atomically and decide on the count it got,
            # which is unique among parallel attempts. A refused attempt is not counted.
            current = self._count(key, now, limit, count=True)
            if current + carried <= limit.limit:
                return LimitDecision(admitted=True, count=current + carried)
            current -= 1  # the count the refused attempt found
        elif not count and current + carried + 1 <= limit.limit:
            return LimitDecision(admitted=True, count=current + carried)
        return LimitDecision(
            admitted=False,
            count=current + carried,
            retry_after=_retry_after(limit, offset, current, previous),
        )


def _retry_after(limit: RateLimit, offset: int, current: int, previous: int) -> timedelta:
    """How long until the next attempt is within ``limit``, if nobody tries meanwhile."""
    period = limit.period // _MICROSECOND
    room = limit.limit - 1  # the count an attempt may find and still be admitted
    if limit.window is Window.FIXED or current > room:
        # Wait for the next window, in which ``current`` becomes the previous count.
        wait, carried, within = period - offset, current, 0
    else:
        wait, carried, within = 0, previous, current
    if limit.window is Window.SLIDING and carried > 0 and carried + within > room:
        # The carried count's weight falls to (room - within) / carried.
        share = 1 - (room - within) / carried
        start = offset if wait == 0 else 0
        wait += max(math.ceil(share * period) - start, 0)
    return max(wait, 1) * _MICROSECOND


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND
