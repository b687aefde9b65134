"""The emulator: FE and BE listening sites over one shared state (see core and the route modules).

All FEs of one emulator share its BE and state; an FE can be stopped and started again on its port.
"""

from __future__ import annotations

from aiohttp import web

from tests.emulator.control import ControlRoutes
from tests.emulator.core import HOST, EmulatorConfig, Site, free_port
from tests.emulator.dialects import Flavor
from tests.emulator.frontend import FrontendRoutes
from tests.emulator.mysql_fe import MariaDBTarget, MysqlFrontend
from tests.emulator.stream_load import StreamLoadRoutes
from tests.emulator.transactions import StarRocksTransactionRoutes
from tests.emulator.two_phase import DorisTwoPhaseRoutes

__all__ = ["HOST", "Emulator", "EmulatorConfig", "free_port"]


class Emulator(
    FrontendRoutes, StreamLoadRoutes, DorisTwoPhaseRoutes, StarRocksTransactionRoutes, ControlRoutes
):
    """One emulated cluster: its FEs, its BE and their routes."""

    query: MysqlFrontend | None = None

    async def start(self, fe_ports: list[int], be_port: int, query_port: int | None = 0) -> None:
        """Start the BE, the FEs and (unless `query_port` is None) the MySQL query port; 0 = a free port."""
        self.be = Site(be_port or free_port())
        await self._start_site(self.be, self.be_app())
        for port in fe_ports:
            site = Site(port or free_port())
            self.fes.append(site)
            await self._start_site(site, self.fe_app())
        if query_port is not None:
            c = self.config
            target = (
                None
                if c.count_only
                else MariaDBTarget(c.mysql_host, c.mysql_port, c.mysql_user, c.mysql_password)
            )
            self.query = MysqlFrontend(self.registry, c.user, c.password, target, HOST)
            await self.query.start(query_port)

    async def _start_site(self, site: Site, app: web.Application) -> None:
        # Bodies are decompressed by the load path (Content-Encoding and compress_type name one layer).
        runner = web.AppRunner(app, access_log=None, handle_signals=False, auto_decompress=False)
        await runner.setup()
        await web.TCPSite(runner, HOST, site.port, reuse_address=True).start()
        site.runner = runner

    async def stop_fe(self, index: int = 0) -> None:
        site = self.fes[index]
        if site.runner is not None:
            await site.runner.cleanup()
            site.runner = None

    async def start_fe(self, index: int = 0) -> None:
        site = self.fes[index]
        if site.runner is None:
            await self._start_site(site, self.fe_app())

    async def stop_be(self) -> None:
        """Close the BE port: redirects then point at a port that refuses connections."""
        if self.be.runner is not None:
            await self.be.runner.cleanup()
            self.be.runner = None

    async def start_be(self) -> None:
        if self.be.runner is None:
            await self._start_site(self.be, self.be_app())

    async def stop(self) -> None:
        if self.query is not None:
            await self.query.stop()
        for index in range(len(self.fes)):
            await self.stop_fe(index)
        await self.stop_be()
        for task in list(self._tasks):
            task.cancel()
        if self.db is not None:
            self.db.close()

    def _control_routes(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/faults", self.control_add_fault)
        app.router.add_get("/_emulator/faults", self.control_list_faults)
        app.router.add_delete("/_emulator/faults", self.control_clear_faults)
        app.router.add_get("/_emulator/stats", self.control_stats)
        app.router.add_post("/_emulator/clock", self.control_clock)
        app.router.add_get("/_emulator/txns", self.control_txns)
        app.router.add_post("/_emulator/config", self.control_config)
        app.router.add_post("/_emulator/reset", self.control_reset)

    def fe_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 34)
        no_continue = self._fe_expect
        app.router.add_route(
            "PUT", "/api/{db}/{table}/_stream_load", self.fe_stream_load, expect_handler=no_continue
        )
        if self.dialect.flavor is Flavor.DORIS:
            app.router.add_route("PUT", "/api/{db}/_stream_load_2pc", self.fe_2pc, expect_handler=no_continue)
            app.router.add_route(
                "PUT", "/api/{db}/{table}/_stream_load_2pc", self.fe_2pc, expect_handler=no_continue
            )
            app.router.add_get("/api/backends", self.fe_backends)
            app.router.add_post("/api/query/default_cluster/{db}", self.fe_query)
        else:
            for method in ("POST", "PUT"):
                app.router.add_route(
                    method, "/api/transaction/{op}", self.fe_transaction, expect_handler=no_continue
                )
        app.router.add_get("/api/{db}/get_load_state", self.fe_load_state)
        app.router.add_get("/api/{db}/{table}/_schema", self.fe_schema)
        self._control_routes(app)
        return app

    def be_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 34)
        cont = self._be_expect
        app.router.add_route(
            "PUT", "/api/{db}/{table}/_stream_load", self.be_stream_load, expect_handler=cont
        )
        if self.dialect.flavor is Flavor.DORIS:
            app.router.add_route("PUT", "/api/{db}/_stream_load_2pc", self.be_2pc, expect_handler=cont)
            app.router.add_route(
                "PUT", "/api/{db}/{table}/_stream_load_2pc", self.be_2pc, expect_handler=cont
            )
        else:
            for method in ("POST", "PUT"):
                app.router.add_route(
                    method, "/api/transaction/{op}", self.be_transaction, expect_handler=cont
                )
        app.router.add_get("/api/_load_error_log", self.be_error_log)
        self._control_routes(app)
        return app
