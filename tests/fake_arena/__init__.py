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
  ``grecaptcha.enterprise`` appears after ``recaptcha_delay``. Tokens are single-use, live
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

Every fact about the site that the fake serves or checks (paths, cookie and header names, markers,
error texts, site keys, action, mode and modality names) is in :mod:`.facts`, the fake's own copy:
the fake never imports the product (``lmarena_cli``).
"""

from .app import DEFAULT_SITE_KEY, DEFAULT_V2_SITE_KEY, FakeArena
from .facts import CHALLENGE_ENDPOINT, LOGIN_GATE_BODY
from .models import DEFAULT_MODELS, FakeModel
from .replies import Fault, Reply
from .state import EvaluationSession, Message, Received

__all__ = [
    "CHALLENGE_ENDPOINT",
    "DEFAULT_MODELS",
    "DEFAULT_SITE_KEY",
    "DEFAULT_V2_SITE_KEY",
    "LOGIN_GATE_BODY",
    "EvaluationSession",
    "FakeArena",
    "FakeModel",
    "Fault",
    "Message",
    "Received",
    "Reply",
]
