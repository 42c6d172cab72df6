"""A device's on-box API (domain-notes 2.8) as a small real HTTP server, for collector-initiated
tests until the agent's own endpoint lands: basic auth, ``GET /smartlic-service/all-reports``
(the reports not yet acknowledged) and ``POST /smartlic-service/import`` (an ACK file)."""

import json
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from smartlic.formats.device_v1 import udi_json
from smartlic.formats.envelope import read_payload
from smartlic.formats.slp import read_file
from tests.devices import PolicyDevice


@dataclass
class OnBoxDevice:
    device: PolicyDevice
    username: str = "admin"
    password: str = "cisco123"
    reports: list[dict[str, Any]] = field(default_factory=list)
    imported: list[bytes] = field(default_factory=list)
    claimed_udi: Any = None  # what /all-reports names instead of the device's own udi_json

    def acknowledged(self) -> set[int]:
        out: set[int] = set()
        for data in self.imported:
            for section, env in read_file(data):
                if section == "smartLicenseRumAck":
                    out |= set(read_payload(env)["acknowledged"])
        return out

    def pending(self) -> list[dict[str, Any]]:
        acked = self.acknowledged()
        return [
            r
            for r in self.reports
            if json.loads(r["payload"])["asset_identification"]["report_id"] not in acked
        ]

    def app(self) -> FastAPI:
        app = FastAPI()
        basic = HTTPBasic()

        def login(creds: Annotated[HTTPBasicCredentials, Depends(basic)]) -> None:
            ok = secrets.compare_digest(creds.username, self.username) and secrets.compare_digest(
                creds.password, self.password
            )
            if not ok:
                raise HTTPException(401, headers={"WWW-Authenticate": "Basic"})

        @app.get("/smartlic-service/all-reports", dependencies=[Depends(login)])
        def all_reports() -> dict[str, Any]:
            udi = udi_json(self.device.udi) if self.claimed_udi is None else self.claimed_udi
            return {"udi": udi, "usage": self.pending()}

        @app.post("/smartlic-service/import", dependencies=[Depends(login)])
        async def import_file(request: Request) -> dict[str, str]:
            data = await request.body()
            read_file(data)  # refuse what is not a smart licensing file
            self.imported.append(data)
            return {"status": "OK"}

        return app
