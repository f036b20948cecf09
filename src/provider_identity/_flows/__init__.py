"""The flows of :class:`~provider_identity.IdentityService`, one mixin per concept.

Private: import the service from :mod:`provider_identity.service`. ``base``
holds the plumbing every flow shares (the audit draft, mail hand-off,
account lookups); ``registration``, ``passwords``, ``account_life`` and
``directory`` hold the flows, as :mod:`provider_identity.mfa.flows` holds the
second factor's.
"""
