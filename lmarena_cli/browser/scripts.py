"""The scripts run in the site's page, as JavaScript source with ``%`` placeholders.

Values are spliced in with :func:`lmarena_cli.browser.cdp.js` (JSON literals), never as raw text.
"""

from __future__ import annotations

#: What the page shows: the site, Cloudflare's interstitial (and its Turnstile box) or a refusal.
STATE_JS = """(() => {
  const t = document.title || "";
  const err = document.getElementById("challenge-error-text");
  const box = document.querySelector(
    'iframe[src*="challenges.cloudflare.com"], #cf-turnstile, .cf-turnstile');
  let rect = null;
  if (box) { const r = box.getBoundingClientRect(); rect = [r.left, r.top, r.width, r.height]; }
  return {title: t, ready: document.readyState, url: location.href,
          challenge: t.startsWith("Just a moment") || !!window._cf_chl_opt
                     || !!document.getElementById("challenge-running"),
          refused: t.startsWith("Attention Required"),
          error: err && !err.hidden ? err.textContent.trim() : "",
          box: rect};
})()"""

#: A same-origin request from inside the page, with what it answered and when; ``%s`` method,
#: cache mode, accept, body (a string, or null for none), url. A same-origin GET carries no
#: Origin header in Chromium (the model catalog refuses requests that do). ``at`` is the page's
#: clock (ms) when the headers came, to compare with the site's ``Date`` header.
REQUEST_JS = """(async () => {
  const init = {method: %s, credentials: "include", cache: %s, headers: {accept: %s}};
  const body = %s;
  if (body !== null) { init.body = body; init.headers["content-type"] = "application/json"; }
  const r = await fetch(%s, init);
  const at = Date.now();
  return {status: r.status, text: await r.text(), at: at,
          date: r.headers.get("date") || "", type: r.headers.get("content-type") || ""};
})()"""

#: A button of the page whose text is one of ``%s`` (lower-case, a JSON list), visible: its
#: centre in the viewport, or null.
FIND_BUTTON_JS = """(() => {
  const wanted = %s;
  for (const b of document.querySelectorAll("button, [role=button]")) {
    const text = (b.textContent || "").trim().toLowerCase();
    if (!wanted.includes(text) || b.disabled) continue;
    b.scrollIntoView({block: "center"});
    const r = b.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) return [r.left + r.width / 2, r.top + r.height / 2];
  }
  return null;
})()"""

#: A server action called from the page, as the site's client calls it; ``%s`` url, action id,
#: accept, content type. No arguments.
ACTION_JS = """(async () => {
  const r = await fetch(%s, {method: "POST", credentials: "include",
    headers: {"next-action": %s, accept: %s, "content-type": %s}, body: "[]"});
  return {status: r.status, text: await r.text()};
})()"""

#: One reCAPTCHA Enterprise token in the page's main world; ``%s`` key, action, wait ms,
#: whether to wait for ``ready()`` first.
MINT_JS = """(async () => {
  const key = %s, action = %s, deadline = Date.now() + %d;
  const ready = () => window.grecaptcha && window.grecaptcha.enterprise
    && typeof window.grecaptcha.enterprise.execute === "function";
  while (!ready()) {
    if (Date.now() > deadline) return {error: "absent"};
    await new Promise(r => setTimeout(r, 100));
  }
  // ready() can hang on the real site: never wait on it for more than 5 s, and only once per
  // page load (a ready() that never calls back would otherwise cost 5 s on every message).
  if (%s) {
    await Promise.race([new Promise(r => grecaptcha.enterprise.ready(r)),
                        new Promise(r => setTimeout(r, 5000))]);
  }
  try {
    const token = await grecaptcha.enterprise.execute(key, {action});
    return {token: token};
  } catch (e) {
    return {error: "execute", message: String((e && e.message) || e)};
  }
})()"""

#: The anonymous sign-up the site's own script does on a first visit (protocol §5.3), for pages
#: that leave it to the client. The provisional id is kept where the site keeps it (cookie and
#: localStorage); one "User already exists" starts over with a fresh id, as the site does.
SIGN_UP_JS = """(async () => {
  const path = %s, key = %s, name = "provisional_user_id";
  let token = "";
  const g = window.grecaptcha && window.grecaptcha.enterprise;
  if (key && g && typeof g.execute === "function") {
    try {
      token = await Promise.race([g.execute(key, {action: "sign_up"}),
                                  new Promise(r => setTimeout(() => r(""), 5000))]) || "";
    } catch (e) { token = ""; }
  }
  const stored = (document.cookie.match(/(?:^|; )provisional_user_id=([^;]*)/) || [])[1];
  let pid = localStorage.getItem(name) || stored || crypto.randomUUID();
  for (let attempt = 0; ; attempt++) {
    localStorage.setItem(name, pid);
    document.cookie = name + "=" + pid + "; path=/; max-age=31536000; samesite=lax";
    const r = await fetch(path, {method: "POST", credentials: "include",
      body: JSON.stringify({recaptchaToken: token, provisionalUserId: pid})});
    const text = await r.text();
    if (r.status === 400 && /already exists/i.test(text) && attempt === 0) {
      pid = crypto.randomUUID();
      continue;
    }
    return {status: r.status, text: text};
  }
})()"""

#: The page transport's streaming fetch (see :mod:`.fetch`): installs ``window.__lmarenaFetch``
#: once per page load and starts request ``%s`` (id) with url, init (a fetch init object), body
#: (base64 or null) and the wait for headers (ms). The body is read by a pump as it arrives, its
#: bytes kept as they came, and handed over in batches by ``next``: a batch of ASCII bytes as
#: ``text`` (DevTools carries it as it is), any other as ``b64`` (base64: DevTools would escape
#: every other character as six), so that Python gets the body's exact bytes whatever they are.
#: The pump stops reading ahead past READ_AHEAD bytes not taken, so a slow reader never makes the
#: page hold a whole answer; one batch is at most BATCH bytes, so that the first bytes never wait
#: for a large backlog to be serialized over DevTools (about 30 ns a byte, the cost that bounds
#: this path). ``abort`` aborts the fetch (the server sees the connection close).
FETCH_START_JS = """(() => {
  const lm = window.__lmarenaFetch || (window.__lmarenaFetch = (() => {
    const live = new Map(), READ_AHEAD = 4194304, BATCH = 262144;
    const ascii = new TextDecoder();
    const wake = (s) => { const w = s.waiter; s.waiter = null; if (w) w(); };
    const pump = async (s) => {
      try {
        for (;;) {
          while (s.size > READ_AHEAD && live.has(s.id)) {
            await new Promise((r) => { s.drained = r; });
          }
          const {value, done} = await s.reader.read();
          if (done) { s.done = true; break; }
          if (value && value.length) { s.parts.push(value); s.size += value.length; wake(s); }
        }
      } catch (e) {
        s.error = (e && e.name === "AbortError") ? "aborted" : String((e && e.message) || e);
      }
      wake(s);
    };
    const base64 = (bytes) => {
      if (bytes.toBase64) return bytes.toBase64();
      let text = "";
      for (let i = 0; i < bytes.length; i += 32768) {
        text += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
      }
      return btoa(text);
    };
    const encode = (bytes) => {
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] > 127) return {b64: base64(bytes)};
      }
      return {text: ascii.decode(bytes)};
    };
    const take = (s) => {  // at most BATCH bytes; the rest leaves with the next read
      let n = 0, k = 0;
      while (k < s.parts.length && n + s.parts[k].length <= BATCH) { n += s.parts[k].length; k++; }
      let bytes;
      if (k === 0 && s.parts.length) {  // the first part alone is larger than a batch
        bytes = s.parts[0].subarray(0, BATCH); s.parts[0] = s.parts[0].subarray(BATCH);
      } else if (k === 1) {
        bytes = s.parts.shift();
      } else {
        bytes = new Uint8Array(n);
        let at = 0;
        for (const part of s.parts.splice(0, k)) { bytes.set(part, at); at += part.length; }
      }
      s.size -= bytes.length;
      const d = s.drained; s.drained = null; if (d) d();
      const more = s.parts.length > 0;
      const end = !more && (s.done || s.error !== null);
      if (end) live.delete(s.id);
      return {...encode(bytes), done: !more && s.done,
              error: more ? null : s.error};
    };
    return {
      async start(id, url, init, body, waitMs) {
        const controller = new AbortController();
        const s = {id, controller, parts: [], size: 0, done: false, error: null,
                   waiter: null, drained: null, reader: null};
        live.set(id, s);
        if (body !== null) init.body = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
        init.signal = controller.signal;
        let timer = null;
        const late = new Promise((r) => { timer = setTimeout(() => r(null), waitMs); });
        let r;
        try {
          r = await Promise.race([fetch(url, init), late]);
        } catch (e) {
          live.delete(id);
          return {error: String((e && e.message) || e)};
        } finally { clearTimeout(timer); }
        if (r === null || !live.has(id)) {
          controller.abort(); live.delete(id);
          return {timeout: true};
        }
        const headers = {};
        r.headers.forEach((v, k) => { headers[k] = v; });
        if (r.body) { s.reader = r.body.getReader(); pump(s); } else { s.done = true; }
        return {status: r.status, headers, at: Date.now()};
      },
      async next(id, waitMs) {
        const s = live.get(id);
        if (!s) return {gone: true};
        if (!s.parts.length && !s.done && s.error === null) {
          let timer = null;
          await new Promise((r) => { s.waiter = r; timer = setTimeout(r, waitMs); });
          clearTimeout(timer); s.waiter = null;
          if (!s.parts.length && !s.done && s.error === null) return {timeout: true};
        }
        return take(s);
      },
      abort(id) {
        const s = live.get(id);
        live.delete(id);
        if (s) { s.controller.abort(); wake(s); const d = s.drained; if (d) d(); }
        return !!s;
      },
    };
  })());
  return lm.start(%s, %s, %s, %s, %d);
})()"""

#: The next batch of request ``%s``'s body, waiting up to ``%d`` ms for one.
FETCH_NEXT_JS = "window.__lmarenaFetch ? window.__lmarenaFetch.next(%s, %d) : {gone: true}"

#: Abort request ``%s`` (true if it was still open).
FETCH_ABORT_JS = "window.__lmarenaFetch ? window.__lmarenaFetch.abort(%s) : false"


__all__ = [
    "ACTION_JS",
    "FETCH_ABORT_JS",
    "FETCH_NEXT_JS",
    "FETCH_START_JS",
    "FIND_BUTTON_JS",
    "MINT_JS",
    "REQUEST_JS",
    "SIGN_UP_JS",
    "STATE_JS",
]
