"""Next.js server actions and the R2-like bucket behind uploads (protocol doc §6).

A server action is a ``POST`` to a page URL with a ``Next-Action: <id>`` header and a JSON array of
arguments; the answer is RSC flight text whose line ``1:`` holds the return value. Ids come from the
current :class:`~tests.fake_arena.deploy.Deploy`; any other id gets the framework's 404.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from aiohttp import web

from .accounts import AccountsMixin, iso_time
from .facts import (
    ACTION_NOT_FOUND,
    ALLOWED_MIME,
    BAD_ACTION_ARGUMENTS,
    FILE_NOT_FOUND,
    GENERATE_UPLOAD_URL,
    GET_SIGNED_URL,
    KEY_REQUIRED,
    NEXT_ACTION,
    NEXT_ACTION_VARY,
    RSC_CONTENT_TYPE,
    S3_MESSAGES,
    STORAGE_PREFIX,
    TOU_CONSENT_FIELD,
    UNSUPPORTED_FILE_TYPE,
    UPDATE_TOU_CONSENT,
    UPLOAD_ARGS_REQUIRED,
    USER_NOT_FOUND_BODY,
)
from .storage import StoredObject, s3_error_xml

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class ActionsMixin(AccountsMixin):
    """Server-action and storage handlers of :class:`~tests.fake_arena.app.FakeArena`."""

    def _add_storage_routes(self, app: web.Application) -> None:
        app.router.add_put(STORAGE_PREFIX + "{key:.+}", self._storage_put)
        app.router.add_get(STORAGE_PREFIX + "{key:.+}", self._storage_get)

    async def _page_post(self, request: web.Request) -> web.StreamResponse:
        """A POST to a page runs the server action its ``Next-Action`` header names."""
        action_id = request.headers.get(NEXT_ACTION)
        if not action_id:
            return web.Response(status=405, text="Method Not Allowed")
        return await self._server_action(request, action_id)

    async def _server_action(self, request: web.Request, action_id: str) -> web.Response:
        name = self.deploy.action_name(action_id)
        if name is None:
            return web.Response(status=404, text=ACTION_NOT_FOUND)
        try:
            args = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            args = None
        if not isinstance(args, list):
            result: dict[str, Any] = {"success": False, "error": BAD_ACTION_ARGUMENTS}
        elif name == UPDATE_TOU_CONSENT:
            result = self._consent_action(request)
        else:
            result = self._run_action(name, args)
        text = (
            "0:"
            + orjson.dumps({"a": "$@1", "f": "", "b": self.deploy.build_id}).decode()
            + "\n1:"
            + orjson.dumps(result).decode()
            + "\n"
        )
        return web.Response(
            text=text,
            content_type=RSC_CONTENT_TYPE,
            headers={"Vary": NEXT_ACTION_VARY},
        )

    def _consent_action(self, request: web.Request) -> dict[str, Any]:
        """``updateTouConsent``: the same job as ``POST /api/me/update-tou-consent``."""
        state = self._auth_state(request)
        if state.status != "valid" or state.user is None:
            return {"success": False, "error": USER_NOT_FOUND_BODY["message"]}
        when = self.give_consent(state.user)
        return {"success": True, "data": {TOU_CONSENT_FIELD: iso_time(when)}}

    def _run_action(self, name: str, args: list[Any]) -> dict[str, Any]:
        if name == GENERATE_UPLOAD_URL:
            if len(args) < 2 or not all(isinstance(a, str) and a for a in args[:2]):
                return {"success": False, "error": UPLOAD_ARGS_REQUIRED}
            file_name, mime = args[0], args[1]
            if mime not in ALLOWED_MIME:
                return {"success": False, "error": UNSUPPORTED_FILE_TYPE.format(mime=mime)}
            key = f"{uuid.uuid4()}/{_SAFE_NAME.sub('_', file_name)[:100]}"
            url = self.store.presign(self.url, "PUT", key, self.upload_url_ttl)
            return {"success": True, "data": {"uploadUrl": url, "key": key}}
        if name == GET_SIGNED_URL:
            if not args or not isinstance(args[0], str):
                return {"success": False, "error": KEY_REQUIRED}
            if args[0] not in self.store.objects:
                return {"success": False, "error": FILE_NOT_FOUND}
            url = self.store.presign(self.url, "GET", args[0], self.download_url_ttl)
            return {"success": True, "data": {"url": url}}
        # Feedback, deletion...: accepted and ignored.
        return {"success": True, "data": None}

    def _storage_check(self, request: web.Request) -> web.Response | None:
        query = {k: v for k, v in request.query.items()}
        problem = self.store.check(request.method, request.rel_url.raw_path, query)
        if problem is None:
            return None
        message = S3_MESSAGES.get(problem, S3_MESSAGES["AuthorizationQueryParametersError"])
        return web.Response(
            status=403, body=s3_error_xml(problem, message), content_type="application/xml"
        )

    async def _storage_put(self, request: web.Request) -> web.Response:
        refused = self._storage_check(request)
        if refused is not None:
            return refused
        data = await request.read()
        if len(data) > self.max_upload_bytes:
            return web.Response(
                status=413,
                body=s3_error_xml("EntityTooLarge", S3_MESSAGES["EntityTooLarge"]),
                content_type="application/xml",
            )
        mime = request.headers.get("Content-Type", "application/octet-stream")
        self.store.objects[request.match_info["key"]] = StoredObject(data, mime)
        return web.Response(status=200, headers={"ETag": f'"{uuid.uuid4().hex}"'})

    async def _storage_get(self, request: web.Request) -> web.Response:
        refused = self._storage_check(request)
        if refused is not None:
            return refused
        obj = self.store.objects.get(request.match_info["key"])
        if obj is None:
            return web.Response(
                status=404,
                body=s3_error_xml("NoSuchKey", S3_MESSAGES["NoSuchKey"]),
                content_type="application/xml",
            )
        return web.Response(body=obj.data, headers={"Content-Type": obj.content_type})
