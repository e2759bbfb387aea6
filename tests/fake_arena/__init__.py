"""A faithful local fake of arena.ai for the tests (see ``shared/arena-protocol.md`` §11).

Usage::

    async with FakeArena() as arena:
        arena.enqueue(Reply(text="Hello"), Fault.rate_limit(retry_after=3))
        ... point the client at arena.url ...
        assert arena.stream_requests()[0].json["mode"] == "direct-battle"

Facts a client writer needs (everything else follows the protocol document):

* Cloudflare gate: without a ``cf_clearance`` issued to the request's exact User-Agent, every page
  and API route answers 403 "Just a moment...". The interstitial's JS POSTs
  :data:`CHALLENGE_ENDPOINT` (``/cdn-cgi/challenge-platform/verify``) after ~300 ms and reloads. A
  User-Agent containing ``HeadlessChrome`` (or ``navigator.webdriver === true``) never passes.
  Outside the gate: ``/cdn-cgi/``, ``/recaptcha/`` (Google's host on the real site) and ``/r2/``
  (the R2 bucket, another host on the real site).
* reCAPTCHA: pages load ``/recaptcha/enterprise.js?render=<key>`` from the fake's own origin;
  ``grecaptcha.enterprise`` appears after ``recaptcha_delay``; each ``execute`` takes
  ``mint_delay`` s (default 0; ``mint_spans`` records when each ran). Tokens are single-use, live
  ``token_ttl`` s, and are bound to the User-Agent and ``cf_clearance`` of the minting browser.
* Sign-in: ``GET /login`` (email + password form) -> ``POST /nextjs-api/sign-in/email``; the
  accounts are ``FakeArena.accounts`` (default ``user@example.com`` / ``arena-test``). Signed-in
  cookies are split into ``arena-auth-prod-v1.0`` / ``.1``. Cookie values are ``base64-`` +
  base64url without padding (the @supabase/ssr encoding): decode leniently.
* Login gate (``login_gate=True``): anonymous users get 401 :data:`LOGIN_GATE_BODY` on
  ``direct-battle``/``side-by-side`` (and follow-ups of such sessions); ``battle`` stays open.
* Battle: the server picks the pair (stealth models included). Nothing in the stream names them;
  the conversation page ``/c/{id}`` (for its owner) embeds ``initialModelAId``/``initialModelBId``
  set to the session's models and ``GET /api/evaluation/{id}`` returns them too.
* Default answer: ``Echo (turn N): <prompt>`` (side B: ``Echo B (turn N): <prompt>``; a retry:
  ``Echo (turn N, retry K): <prompt>``); reasoning models add ``ag:`` lines, image models answer
  with an ``a2`` image (a signed URL on the fake), search models with an ``ac`` citation line.
* Follow-ups use the session's models; model ids in a post-to-evaluation body are ignored.
* ``Received.headers`` keys are lower-case.

The site as of Sep-Oct 2026 (protocol doc §14), behind switches (all off by default, except the
clock, which is always on; ``FakeArena.as_of_2026_10(**overrides)`` turns them all on, and
``python -m tests.fake_arena --site 2026-10 [--clock-skew SECONDS]`` serves that):

* ``tou_required``: users (anonymous and signed-in) start without Terms-of-Use consent (without the
  switch every user counts as having agreed when created). ``GET /api/me`` answers
  ``{"user": {"id", "email", "isAnonymous", "touConsentTimestamp": null | ISO}}`` (401
  ``{"message":"User not found"}`` without a session); ``POST /api/me/update-tou-consent`` with
  ``{}`` gives consent (idempotent; 401 without a session), as does the server action
  ``updateTouConsent`` (its id in the page's chunk, rotating with ``redeploy()``). The chat page
  shows a dialog (``#tou-dialog``) whose "Agree" button posts the consent. Until then a send to
  create-evaluation / post-to-evaluation is *held*: 200 and the stream headers, then nothing until
  the client leaves; its ``Received.held`` is True (``FakeArena.held_sends()``).
* ``clock_skew`` (seconds the fake's clock is ahead) and ``id_tolerance`` (default 300): every
  response carries ``Date`` from :meth:`FakeArena.now`; a session or message id whose UUIDv7 time
  is further than ``id_tolerance`` from it gets 400 ``{"error":"Evaluation session ID seems
  spoofed, offset too big"}`` (an id over a day old stays "Invalid ...: expected a UUIDv7").
* ``models_in_page``: ``"embedded"`` (default), ``"undefined"`` (``initialModels`` is the RSC
  placeholder ``"$undefined"``) or ``"absent"`` (no key), for anonymous pages; signed-in pages keep
  the list. (``embed_models=False`` leaves it out of every page.)
* ``catalog_2026``: ``GET /nextjs-api/model-catalog`` answers ``{"arenas": [{"arena", "complete",
  "models"}]}`` over text, vision, code, document, text-to-image, image-edit, text-to-video and
  search, a model in every arena it belongs to, plain-string entries in "text", and (unless
  ``models`` is given) a webdev-only and a video-only model (:data:`MODELS_2026`); a request with
  an ``Origin`` header gets 403 ``{"error":"Cross-origin catalog requests are not permitted"}``.
* ``bare_auth_cookie``: the session is one ``arena-auth-prod-v1`` cookie, never ``.0``/``.1``.
* ``soft_404``: an unknown path answers 200 with an HTML "404: This page could not be found." page.
* Always: ``GET /api/billing/balance`` -> ``{"creditsRemaining", "dailyFreeCredits"}`` and
  ``GET /api/me/pulse`` -> ``{"pulse"}`` (401 without a session; values are attributes of the
  fake). Statuses on demand, one per send: ``Fault.cloudflare_burst()`` (429 "Just a moment...",
  ``cf-mitigated: challenge``), ``Fault.prompt_failed()`` (429), ``Fault.user_not_found()`` (401),
  ``Fault.models_not_found(modality)`` (404 text), ``Fault.not_allowed()`` (403).

Every fact about the site that the fake serves or checks (paths, cookie and header names, markers,
error texts, site keys, action, mode and modality names) is in :mod:`.facts`, the fake's own copy:
the fake never imports the product (``lmarena_cli``).
"""

from .app import DEFAULT_SITE_KEY, DEFAULT_V2_SITE_KEY, FakeArena
from .facts import CHALLENGE_ENDPOINT, LOGIN_GATE_BODY
from .models import DEFAULT_MODELS, MODELS_2026, FakeModel
from .replies import Fault, Reply
from .state import EvaluationSession, Message, Received

__all__ = [
    "CHALLENGE_ENDPOINT",
    "DEFAULT_MODELS",
    "DEFAULT_SITE_KEY",
    "DEFAULT_V2_SITE_KEY",
    "LOGIN_GATE_BODY",
    "MODELS_2026",
    "EvaluationSession",
    "FakeArena",
    "FakeModel",
    "Fault",
    "Message",
    "Received",
    "Reply",
]
