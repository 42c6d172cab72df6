"""All tables, re-exported from one private module per aggregate."""

from smartlic.storage.base import Base
from smartlic.storage.models._accounts import ApiKey, SmartAccount, VirtualAccount
from smartlic.storage.models._events import Event, SeenNonce
from smartlic.storage.models._instances import InstanceUsage, ProductInstance, RegistrationToken
from smartlic.storage.models._licenses import Holding, License, PoolCounter

__all__ = [
    "ApiKey",
    "Base",
    "Event",
    "Holding",
    "InstanceUsage",
    "License",
    "PoolCounter",
    "ProductInstance",
    "RegistrationToken",
    "SeenNonce",
    "SmartAccount",
    "VirtualAccount",
]
