"""document-service: the downstream HTTP dependency that stores documents in memory.

It is deliberately plain: experiments slow it, cut it off (Toxiproxy) or stop and kill
it (process signals); it needs no fault knobs of its own. Like the Redis apply, it keeps
the newest version of each document, so a late retry of an old version cannot roll a
document back here either.

    PUT /documents/{key}  {"content": str, "version": int >= 0, "event_id"?: str}
                          -> 200 the stored document, with "updated": bool
    GET /documents/{key}  -> 200 the stored document, or 404
    GET /health           -> 200 {"status": "ok"}
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from services.config import CommonConfig, Text, load_config
from services.log import JsonLog
from services.messages import MAX_ID_LENGTH, MAX_VERSION
from services.status_http import add_status_routes, serve_until_signalled

SERVICE = "document-service"


class DocumentServiceConfig(CommonConfig):
    """document-service keeps its documents in memory, so it only needs where to serve."""

    service_name: Text = SERVICE


def _bad_request(field: str, reason: str) -> web.Response:
    return web.json_response({"error": f"{field}: {reason}", "field": field}, status=400)


def build_app(log: JsonLog) -> web.Application:
    documents: dict[str, dict[str, Any]] = {}

    async def put_document(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _bad_request("body", "must be a JSON object")
        if not isinstance(body, dict):
            return _bad_request("body", "must be a JSON object")
        content, version, event_id = body.get("content"), body.get("version"), body.get("event_id")
        if not isinstance(content, str):
            return _bad_request("content", "must be a string")
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= MAX_VERSION:
            return _bad_request("version", f"must be an integer in [0, {MAX_VERSION}]")
        if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_LENGTH):
            return _bad_request("event_id", f"must be a non-empty string of at most {MAX_ID_LENGTH} characters")
        stored = documents.get(key)
        updated = stored is None or version > stored["version"]
        if updated:
            documents[key] = {"key": key, "content": content, "version": version, "event_id": event_id}
        log.info(
            "stored" if updated else "kept newer version",
            event_id=event_id,
            trace_id=request.headers.get("X-Trace-Id"),
            key=key,
            version=version,
            stored_version=documents[key]["version"],
        )
        return web.json_response({**documents[key], "updated": updated})

    async def get_document(request: web.Request) -> web.Response:
        stored = documents.get(request.match_info["key"])
        if stored is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(stored)

    app = web.Application()
    app.router.add_put("/documents/{key}", put_document)
    app.router.add_get("/documents/{key}", get_document)
    add_status_routes(app)
    return app


def main() -> None:
    config = load_config(DocumentServiceConfig.from_env)
    log = JsonLog(config.common.service_name)
    asyncio.run(serve_until_signalled(build_app(log), config.common, log))


if __name__ == "__main__":
    main()
