/*
 * The rescue desk (SPEC §13): the open alerts as a board, an alert's story (one lane per person,
 * WhatsApp-like ticks) and the service's health, refreshed every 3 s without a reload.
 *
 * It only reads: GET desk/api/alerts, desk/api/alerts/{alert_id} and desk/api/status, relative
 * to the service root (this page's path without its trailing /desk). Nothing here sends,
 * closes or changes anything. Settings come from window.DESK_CONFIG (functions/desk/page.py).
 *
 * Sections: settings and formatting; sign-in (only when DESK_CONFIG.auth is set); the API;
 * the status strip; the board; the story; polling and keyboard; start.
 */
(() => {
  'use strict';

  // ---------------------------------------------------------------- settings and formatting

  const CONFIG = window.DESK_CONFIG || {};
  const DEFAULT_TIMEZONE = 'Africa/Johannesburg';
  const POLL_MS = 3000;
  const FETCH_TIMEOUT_MS = 8000;
  const PAGE_LIMIT = 50;
  const MAX_PAGES = 10;
  const ROOT = serviceRoot(location.pathname);
  const TIMEZONE = validZone(CONFIG.timezone) || DEFAULT_TIMEZONE;

  const $ = (selector) => document.querySelector(selector);

  /** The service root: the page's path without a trailing /desk or /desk/. */
  function serviceRoot(path) {
    const root = path.replace(/\/desk\/?$/, '/');
    return root.endsWith('/') ? root : root.replace(/[^/]*$/, '');
  }

  function validZone(zone) {
    if (typeof zone !== 'string' || zone === '') return null;
    try {
      new Intl.DateTimeFormat('en-GB', { timeZone: zone });
      return zone;
    } catch {
      return null;
    }
  }

  const esc = (value) =>
    String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

  // Chromium names South African Standard Time "GMT+2" in most locales.
  const ZONE_ABBREVIATIONS = { 'Africa/Johannesburg': { 'GMT+2': 'SAST', 'UTC+2': 'SAST', 'GMT+02:00': 'SAST' } };
  const clockFormat = new Intl.DateTimeFormat('en-GB', {
    timeZone: TIMEZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
  });
  const dayFormat = new Intl.DateTimeFormat('en-GB', { timeZone: TIMEZONE, day: 'numeric', month: 'short' });
  const dayKeyFormat = new Intl.DateTimeFormat('en-CA', { timeZone: TIMEZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

  function parseTime(iso) {
    const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
    return Number.isFinite(ms) ? new Date(ms) : null;
  }

  /** "10:31:05 SAST" in the display time zone, with the day ("1 Oct, ") when not today. */
  function formatTime(iso, { seconds = true } = {}) {
    const date = parseTime(iso);
    if (!date) return '—';
    const parts = {};
    for (const part of clockFormat.formatToParts(date)) parts[part.type] = part.value;
    const zone = (ZONE_ABBREVIATIONS[TIMEZONE] || {})[parts.timeZoneName] || parts.timeZoneName;
    const clock = `${parts.hour}:${parts.minute}${seconds ? `:${parts.second}` : ''} ${zone}`;
    return dayKeyFormat.format(date) === dayKeyFormat.format(new Date()) ? clock : `${dayFormat.format(date)}, ${clock}`;
  }

  function timeHtml(iso, options) {
    return `<time datetime="${esc(iso)}">${esc(formatTime(iso, options))}</time>`;
  }

  const pad = (n) => String(n).padStart(2, '0');

  /** "45s", "4m 05s", "1h 02m", "2d 3h": time since, counting up. */
  function formatAge(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${pad(s % 60)}s`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h}h ${pad(m % 60)}m`;
    return `${Math.floor(h / 24)}d ${h % 24}h`;
  }

  /** "2 min ago": coarse, so the status strip (a live region) does not change every second. */
  function formatAgo(iso) {
    const date = parseTime(iso);
    if (!date) return '—';
    const s = Math.max(0, (Date.now() - date.getTime()) / 1000);
    if (s < 60) return 'under 1 min ago';
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    return `${Math.floor(s / 3600)} h ago`;
  }

  const ageHtml = (iso) => {
    const date = parseTime(iso);
    return date ? `<span class="age" data-since="${date.getTime()}">${formatAge(Date.now() - date.getTime())}</span>` : '—';
  };

  // Country codes of one and two digits (ITU E.164); every other code has three.
  const CODES_1 = new Set(['1', '7']);
  const CODES_2 = new Set(
    ('20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 ' +
      '81 82 84 86 90 91 92 93 94 95 98').split(' '),
  );

  /** A phone number as people read it: 27824537125 -> "+27 82 453 7125". */
  function formatPhone(value) {
    const digits = String(value ?? '').replace(/\D/g, '');
    if (digits.length < 8 || digits.length > 15) return value ? String(value) : '—';
    const cc = CODES_1.has(digits[0]) ? digits[0] : CODES_2.has(digits.slice(0, 2)) ? digits.slice(0, 2) : digits.slice(0, 3);
    const rest = digits.slice(cc.length);
    let groups;
    if (cc === '27' && rest.length === 9) groups = [rest.slice(0, 2), rest.slice(2, 5), rest.slice(5)];
    else if (cc === '1' && rest.length === 10) groups = [rest.slice(0, 3), rest.slice(3, 6), rest.slice(6)];
    else {
      groups = [];
      let i = 0;
      for (; rest.length - i > 4; i += 3) groups.push(rest.slice(i, i + 3));
      groups.push(rest.slice(i));
    }
    return `+${cc} ${groups.join(' ')}`;
  }

  const digitsOf = (value) => String(value ?? '').replace(/\D/g, '');
  const personName = (person) => (person && (person.name || formatPhone(person.wa_id))) || 'someone';
  const none = (words = 'none') => `<span class="none" aria-hidden="true">—</span><span class="sr-only">${esc(words)}</span>`;
  const capitalise = (text) => String(text ?? '').replace(/^./, (c) => c.toUpperCase()).replace(/_/g, ' ');

  const STATES = {
    awaiting_response: ['Awaiting response', 'warn', ''],
    answered: ['Answered', 'ok', ''],
    unanswered: ['Unanswered', 'bad', '⚠'],
    closed: ['Closed', 'muted', ''],
  };
  const OUTCOMES = {
    entrapment: ['Entrapment', 'bad', '⚠'],
    maintenance: ['Maintenance', 'warn', ''],
    test: ['Test', 'info', ''],
  };

  function badge(text, tone, icon = '') {
    const mark = icon ? `<span class="badge-icon" aria-hidden="true">${icon}</span>` : '';
    return `<span class="badge tone-${tone}">${mark}${esc(text)}</span>`;
  }
  const stateBadge = (state) => badge(...(STATES[state] || [capitalise(state || 'unknown'), 'muted', '']));
  const outcomeBadge = (outcome) => (outcome ? badge(...(OUTCOMES[outcome] || [capitalise(outcome), 'info', ''])) : none('no answer yet'));
  const choiceLabel = (choice, title) => (OUTCOMES[choice] || [title || capitalise(choice || 'unknown')])[0];

  const CLOCK_SVG =
    '<svg viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" focusable="false"><circle cx="8" cy="8" r="6.25" fill="none" ' +
    'stroke="currentColor" stroke-width="1.6"/><path d="M8 4.6V8l2.4 1.6" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round"/></svg>';
  // Delivery statuses as WhatsApp shows them: [mark, word]. Queued and accepted wait (a clock).
  const TICKS = {
    queued: [CLOCK_SVG, 'queued'],
    accepted: [CLOCK_SVG, 'accepted'],
    sent: ['✓', 'sent'],
    delivered: ['✓✓', 'delivered'],
    read: ['✓✓', 'read'],
    failed: ['✗', 'failed'],
  };
  const TICK_ORDER = ['read', 'delivered', 'sent', 'accepted', 'queued', 'failed'];
  const tickHtml = (status) => {
    const [mark] = TICKS[status] || ['•'];
    return `<span class="tick tick-${esc(status)}" aria-hidden="true">${mark}</span>`;
  };

  // ---------------------------------------------------------------- sign-in
  // Cognito's hosted sign-in with the OAuth 2.0 authorization code flow and PKCE (S256). Only
  // when DESK_CONFIG.auth is set ({domain, client_id, redirect_uri, scopes}); the local stack
  // has none. The tokens stay in this tab's sessionStorage; API calls carry the access token.

  const Auth = (() => {
    const cfg = CONFIG.auth || null;
    const TOKENS = 'desk.auth.tokens';
    const PENDING = 'desk.auth.pending';
    const domain = cfg ? String(cfg.domain || '').replace(/\/+$/, '').replace(/^(?!https?:\/\/)/, 'https://') : '';

    class AuthProblem extends Error {}

    const read = (key) => {
      try {
        return JSON.parse(sessionStorage.getItem(key) || 'null');
      } catch {
        return null;
      }
    };
    const base64url = (bytes) =>
      btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const randomText = (size) => base64url(crypto.getRandomValues(new Uint8Array(size)));
    const challengeOf = async (verifier) => base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const query = (params) =>
      Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const scopes = () => (Array.isArray(cfg.scopes) ? cfg.scopes.join(' ') : String(cfg.scopes || 'openid'));

    let leaving = null;

    /** Off to the hosted sign-in page, once however many calls ask; resolves never (the page is leaving). */
    function signIn() {
      leaving = leaving || redirect().then(() => new Promise(() => {}));
      return leaving;
    }

    async function redirect() {
      const state = randomText(16);
      const verifier = randomText(32);
      sessionStorage.removeItem(TOKENS);
      sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier, hash: location.hash }));
      const params = {
        response_type: 'code', client_id: cfg.client_id, redirect_uri: cfg.redirect_uri, scope: scopes(), state,
        code_challenge: await challengeOf(verifier), code_challenge_method: 'S256',
      };
      location.assign(`${domain}/oauth2/authorize?${query(params)}`);
    }

    /** Back from the hosted page with ?code=&state= (or ?error=): tokens for the code. */
    async function finish(params) {
      const pending = read(PENDING);
      sessionStorage.removeItem(PENDING);
      history.replaceState(null, '', location.pathname + ((pending && pending.hash) || ''));
      if (params.has('error')) throw new AuthProblem(`Sign-in failed: ${params.get('error_description') || params.get('error')}.`);
      if (!pending || params.get('state') !== pending.state) {
        throw new AuthProblem('Sign-in failed: the answer did not match this page’s request.');
      }
      const body = query({
        grant_type: 'authorization_code', client_id: cfg.client_id, code: params.get('code') || '',
        redirect_uri: cfg.redirect_uri, code_verifier: pending.verifier,
      });
      let tokens = null;
      try {
        const answer = await fetch(`${domain}/oauth2/token`, {
          method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body,
        });
        tokens = answer.ok ? await answer.json() : null;
      } catch {
        tokens = null;
      }
      if (!tokens || !tokens.access_token) throw new AuthProblem('Sign-in failed: the sign-in service did not hand out a token.');
      const now = Date.now();
      sessionStorage.setItem(TOKENS, JSON.stringify({
        access_token: tokens.access_token, id_token: tokens.id_token || null,
        expires_at: now + (Number(tokens.expires_in) || 3600) * 1000, obtained_at: now,
      }));
    }

    function who(tokens) {
      try {
        const claims = JSON.parse(atob(tokens.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
        return claims.email || claims['cognito:username'] || '';
      } catch {
        return '';
      }
    }

    function showAccount(tokens, problem) {
      const account = $('#account');
      const logout = `${domain}/logout?${query({ client_id: cfg.client_id, logout_uri: cfg.logout_uri || cfg.redirect_uri })}`;
      const name = tokens ? who(tokens) : '';
      account.innerHTML = problem
        ? `<span class="auth-problem" role="alert">${esc(problem)}</span> <button type="button" class="link" id="sign-in">Sign in again</button>`
        : `${name ? `Signed in as <strong>${esc(name)}</strong> · ` : ''}<a href="${esc(logout)}" id="sign-out">Sign out</a>`;
      account.hidden = false;
      const signInButton = $('#sign-in');
      if (signInButton) signInButton.addEventListener('click', () => signIn());
      const signOut = $('#sign-out');
      if (signOut) signOut.addEventListener('click', () => sessionStorage.removeItem(TOKENS));
    }

    /** True when the API may be called now; false while the page signs in or sign-in failed. */
    async function start() {
      if (!cfg) return true;
      if (!(window.crypto && crypto.subtle)) {
        showAccount(null, 'Sign-in needs a secure page (https): crypto.subtle is missing.');
        return false;
      }
      const params = new URLSearchParams(location.search);
      if (params.has('code') || params.has('error')) {
        try {
          await finish(params);
        } catch (problem) {
          if (!(problem instanceof AuthProblem)) throw problem;
          showAccount(null, problem.message);
          return false;
        }
      }
      const tokens = read(TOKENS);
      if (tokens && tokens.expires_at > Date.now() + 30000) {
        showAccount(tokens);
        return true;
      }
      await signIn();
      return false;
    }

    /** The Authorization header for an API call; an expired token signs in again first. */
    async function headers() {
      if (!cfg) return {};
      const tokens = read(TOKENS);
      if (!tokens || tokens.expires_at <= Date.now()) await signIn();
      return { Authorization: `Bearer ${tokens.access_token}` };
    }

    /** The API answered 401: sign in again, unless the token is brand new (then say so, no loop). */
    async function refused() {
      const tokens = read(TOKENS);
      if (tokens && Date.now() - tokens.obtained_at < 30000) {
        showAccount(null, 'Signed in, but the desk’s service refused this account (401).');
        return;
      }
      await signIn();
    }

    return { enabled: Boolean(cfg), start, headers, refused };
  })();

  // ---------------------------------------------------------------- the API

  /** The service could not be reached or answered with a 5xx: the desk retries. */
  class ConnectionProblem extends Error {}
  /** The service answered 4xx (an unknown alert: 404, with {"message"}). */
  class Refused extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
    }
  }

  async function getJson(path) {
    const headers = { Accept: 'application/json', ...(await Auth.headers()) };
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      let answer;
      try {
        answer = await fetch(ROOT + path, { headers, signal: abort.signal, cache: 'no-store', credentials: 'same-origin' });
      } catch {
        throw new ConnectionProblem(abort.signal.aborted ? 'no answer in time' : 'the service is unreachable');
      }
      if (answer.status === 401 && Auth.enabled) {
        await Auth.refused();
        throw new ConnectionProblem('not signed in');
      }
      let body = null;
      try {
        body = await answer.json();
      } catch {
        body = null;
      }
      if (answer.status >= 500) throw new ConnectionProblem(`the service answered ${answer.status}`);
      if (!answer.ok) throw new Refused(answer.status, body);
      if (body === null || typeof body !== 'object') throw new ConnectionProblem('the service answered without JSON');
      return body;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every open alert, newest first, following the `next` cursor (at most MAX_PAGES pages). */
  async function fetchOpenAlerts() {
    const alerts = [];
    const seen = new Set();
    let next = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const cursor = next ? `&next=${encodeURIComponent(next)}` : '';
      const body = await getJson(`desk/api/alerts?state=open&limit=${PAGE_LIMIT}${cursor}`);
      for (const alert of Array.isArray(body.alerts) ? body.alerts : []) {
        if (alert && alert.alert_id != null && !seen.has(String(alert.alert_id))) {
          seen.add(String(alert.alert_id));
          alerts.push(alert);
        }
      }
      next = body.next || null;
      if (!next) break;
    }
    return { alerts, more: Boolean(next) };
  }

  // ---------------------------------------------------------------- the status strip

  function statusItem(label, value, tone, detail = '') {
    return `<li class="st tone-${tone}"><span class="st-k">${esc(label)}</span> <span class="st-v">${value}</span>${
      detail ? ` <span class="st-d">${detail}</span>` : ''}</li>`;
  }
  const unknown = (label) => statusItem(label, 'unknown', 'warn', '<span class="sr-only">(see problems)</span>');
  const isNumber = (n) => typeof n === 'number' && Number.isFinite(n);

  function renderStatus(status) {
    const items = [];
    for (const [key, label] of [['queued', 'Queued'], ['parked', 'Parked']]) {
      const n = status[key];
      items.push(isNumber(n) ? statusItem(label, String(n), n > 0 ? 'warn' : 'ok') : unknown(label));
    }
    const dead = status.dead_letters;
    if (dead && typeof dead === 'object') {
      const full = Object.entries(dead).filter(([, n]) => isNumber(n) && n > 0);
      const total = full.reduce((sum, [, n]) => sum + n, 0);
      const names = full.map(([name, n]) => `${esc(name)} ${n}`).join(', ');
      items.push(statusItem('Dead letters', String(total), total > 0 ? 'bad' : 'ok', names ? `(${names})` : ''));
    } else items.push(unknown('Dead letters'));
    const sweep = status.sweep;
    if (sweep && typeof sweep === 'object') {
      const at = parseTime(sweep.last_run_at);
      const late = at ? (Date.now() - at.getTime()) / 1000 : Infinity;
      const tone = late > 600 ? 'bad' : late > 150 ? 'warn' : 'ok';
      items.push(statusItem('Sweep', at ? `ran ${esc(formatAgo(sweep.last_run_at))}` : 'no run yet', tone,
        at ? `(${esc(formatTime(sweep.last_run_at, { seconds: false }))})` : ''));
    } else items.push(unknown('Sweep'));
    const budget = status.send_budget;
    if (budget && typeof budget === 'object' && isNumber(budget.used_last_60s)) {
      const limit = isNumber(budget.limit) ? budget.limit : null;
      const tone = limit && budget.used_last_60s >= 0.8 * limit ? 'warn' : 'ok';
      items.push(statusItem('Send budget', `${budget.used_last_60s}${limit !== null ? ` / ${limit}` : ''}`, tone, 'in the last 60 s'));
    } else items.push(unknown('Send budget'));
    if (Array.isArray(status.alarms)) {
      items.push(status.alarms.length
        ? statusItem('In ALARM', status.alarms.map(esc).join(', '), 'bad')
        : statusItem('Alarms', 'none', 'ok'));
    } else items.push(unknown('Alarms'));
    setHtml($('#status-items'), items.join(''));

    const problems = Array.isArray(status.problems) ? status.problems : [];
    const problemsEl = $('#problems');
    setHtml(problemsEl, problems.map((p) => `<li><span aria-hidden="true">⚠</span> ${esc(problemText(p))}</li>`).join(''));
    problemsEl.hidden = problems.length === 0;
  }

  function problemText(problem) {
    if (problem && typeof problem === 'object') {
      const what = problem.part || problem.name || problem.source || '';
      const why = problem.message || problem.problem || problem.reason || problem.error || JSON.stringify(problem);
      return what ? `${what}: ${why}` : String(why);
    }
    return String(problem);
  }

  /** Replace an element's markup only when it changed: no flicker, no needless announcements. */
  function setHtml(element, html) {
    if (element._html !== html) {
      element.innerHTML = html;
      element._html = html;
    }
  }

  // ---------------------------------------------------------------- the board

  const rowsEl = $('#rows');
  const rows = new Map(); // alert_id -> <tr>, updated in place
  let rovingId = null; // the row that Tab reaches (roving tabindex)
  let selectedId = null;

  const CELLS = [
    ['age', 'Age'], ['lift', 'Lift'], ['site', 'Site'], ['floor', 'Floor'], ['state', 'State'], ['outcome', 'Outcome'],
    ['first', 'First answer'], ['reminders', 'Reminders'], ['confirmed', 'Entrapment confirmed'], ['deliveries', 'Deliveries'],
  ];

  function confirmationHtml(confirmation, outcome) {
    if (confirmation && confirmation.confirmed_at) return badge(`Confirmed ${formatTime(confirmation.confirmed_at, { seconds: false })}`, 'ok', '✓');
    if (confirmation && confirmation.missed_at) return badge('Missed: follow up', 'bad', '⚠');
    if (confirmation && confirmation.requested_at) return badge('Waiting for YES', 'warn');
    return outcome === 'entrapment' ? badge('Not asked yet', 'warn') : none('not an entrapment');
  }

  function deliveriesHtml(deliveries) {
    if (!deliveries || typeof deliveries !== 'object') return none('unknown');
    const parts = TICK_ORDER.filter((status) => isNumber(deliveries[status]) && deliveries[status] > 0).map(
      (status) => `<span class="dl dl-${status}">${tickHtml(status)}<span class="dl-n">${deliveries[status]}</span> ${TICKS[status][1]}</span>`,
    );
    const people = isNumber(deliveries.recipients) ? deliveries.recipients : 0;
    return `<span class="dls">${parts.join(' ') || none('nothing sent')}</span><span class="sub">${people} ${people === 1 ? 'person' : 'people'}</span>`;
  }

  function cellHtml(alert) {
    const first = alert.first_response;
    const rounds = isNumber(alert.rounds_sent) ? alert.rounds_sent : 0;
    return {
      age: ageHtml(alert.created_at),
      lift: `<strong class="lift">${esc(alert.lift_id)}</strong><span class="sub">${esc(alert.ticket_id)}</span>`,
      site: esc(alert.site) || none(),
      floor: esc(alert.floor) || none(),
      state: stateBadge(alert.state),
      outcome: outcomeBadge(alert.outcome),
      first: first
        ? `<span class="who">${esc(personName(first.responder))}</span><span class="sub">${esc(choiceLabel(first.choice, first.button_title))} · ${
          esc(formatTime(first.responded_at, { seconds: false }))}</span>`
        : none('no answer yet'),
      reminders: `<span class="num">${rounds}</span>${
        alert.next_due_at ? `<span class="sub">next ${esc(formatTime(alert.next_due_at, { seconds: false }))}</span>` : ''}`,
      confirmed: confirmationHtml(alert.confirmation, alert.outcome),
      deliveries: deliveriesHtml(alert.deliveries),
    };
  }

  function newRow(id) {
    const tr = document.createElement('tr');
    tr.className = 'row';
    tr.dataset.alertId = id;
    tr.tabIndex = -1;
    for (const [key, label] of CELLS) {
      const td = document.createElement('td');
      td.className = `c-${key}`;
      td.dataset.label = label;
      tr.append(td);
    }
    return tr;
  }

  function updateRow(tr, alert) {
    const html = cellHtml(alert);
    CELLS.forEach(([key], i) => {
      const td = tr.children[i];
      // The age counts up by itself (tickAges): only a new created_at replaces it.
      if (key === 'age' && td._since === alert.created_at) return;
      setHtml(td, html[key]);
      if (key === 'age') td._since = alert.created_at;
    });
    const urgent = alert.state === 'unanswered' || alert.outcome === 'entrapment';
    tr.classList.toggle('row-unanswered', alert.state === 'unanswered');
    tr.classList.toggle('row-entrapment', alert.outcome === 'entrapment');
    tr.classList.toggle('row-urgent', urgent);
  }

  function renderBoard({ alerts, more }) {
    const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.alertId : undefined;
    const focusedIndex = focusedId ? [...rowsEl.children].indexOf(rows.get(focusedId)) : -1;
    const wanted = new Set(alerts.map((a) => String(a.alert_id)));
    for (const [id, tr] of rows) {
      if (!wanted.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    let previous = null;
    for (const alert of alerts) {
      const id = String(alert.alert_id);
      let tr = rows.get(id);
      if (!tr) {
        tr = newRow(id);
        rows.set(id, tr);
      }
      updateRow(tr, alert);
      const place = previous ? previous.nextSibling : rowsEl.firstChild;
      if (place !== tr) rowsEl.insertBefore(tr, place); // new rows only, unless the order changed
      previous = tr;
    }
    markRows();
    // Keyboard focus stays where it was: on the same alert, or on its neighbour if it left.
    if (focusedId !== undefined) {
      const again = rows.get(focusedId) || rowsEl.children[Math.min(focusedIndex, rowsEl.children.length - 1)];
      if (again && document.activeElement !== again && isVisible(again)) again.focus({ preventScroll: true });
      else if (!again && document.activeElement === document.body) $('#board-title').focus({ preventScroll: true });
    }
    const unanswered = alerts.filter((a) => a.state === 'unanswered').length;
    const entrapments = alerts.filter((a) => a.outcome === 'entrapment').length;
    const awaiting = alerts.filter((a) => a.state === 'awaiting_response').length;
    $('#count').textContent = `(${alerts.length}${more ? '+' : ''})`;
    setHtml($('#tally'), [
      unanswered ? badge(`${unanswered} unanswered`, 'bad', '⚠') : '',
      entrapments ? badge(`${entrapments} entrapment${entrapments === 1 ? '' : 's'}`, 'bad', '⚠') : '',
      awaiting ? badge(`${awaiting} awaiting response`, 'warn') : '',
    ].join(' '));
    $('#empty').hidden = alerts.length > 0;
    const moreEl = $('#more');
    moreEl.hidden = !more;
    moreEl.textContent = more ? `Showing the newest ${alerts.length} open alerts; older ones are not shown.` : '';
    document.title = `${unanswered ? `(${unanswered} unanswered) ` : ''}Rescue desk · Lift alerts`;
  }

  /** One row in the Tab order (the focused, else the chosen, else the first); the chosen marked. */
  function markRows() {
    const active = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.alertId : undefined;
    if (active !== undefined && rows.has(active)) rovingId = active;
    if (!rows.has(rovingId)) rovingId = selectedId && rows.has(selectedId) ? selectedId : rowsEl.firstElementChild?.dataset.alertId ?? null;
    for (const [id, tr] of rows) {
      tr.tabIndex = id === rovingId ? 0 : -1;
      if (id === selectedId) tr.setAttribute('aria-current', 'true');
      else tr.removeAttribute('aria-current');
    }
  }

  const isVisible = (element) => element.offsetParent !== null;

  function tickAges() {
    const now = Date.now();
    for (const element of document.querySelectorAll('.age[data-since]')) {
      const text = formatAge(now - Number(element.dataset.since));
      if (element.textContent !== text) element.textContent = text;
    }
  }

  // ---------------------------------------------------------------- the story

  const storyEl = $('#story');
  const storyTitle = $('#story-title');
  const storyBody = $('#story-body');
  let storyRequest = 0;
  let storyMissing = null; // an id the service does not know: asked once, not every poll
  let storyLoading = null; // {id, promise} of the request in flight: a poll joins it

  const WHAT = {
    alert: 'Alert', reminder: 'Reminder', acknowledgement: 'Acknowledgement', notice: 'Notice',
    confirmation: 'Confirmation request', critical: 'Critical', fallback: 'Template fallback',
  };
  const REPLY_TYPES = {
    audio: 'a voice note', voice: 'a voice note', image: 'an image', video: 'a video', document: 'a document',
    sticker: 'a sticker', contacts: 'a contact card', contact: 'a contact card',
  };
  const PERSON_KINDS = new Set(['message', 'tap', 'reply']);

  function openStory(id, { focus = true } = {}) {
    selectedId = String(id);
    const hash = `#alert=${encodeURIComponent(selectedId)}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
    storyEl.hidden = false;
    $('#layout').classList.add('has-story');
    storyTitle.textContent = 'Alert';
    setHtml(storyBody, '<p class="loading">Loading the alert’s story…</p>');
    storyEl._key = null;
    storyMissing = null;
    markRows();
    if (focus) storyTitle.focus();
    refreshStory().catch(reportBug);
  }

  function closeStory() {
    const id = selectedId;
    selectedId = null;
    storyRequest += 1;
    storyLoading = null;
    storyEl.hidden = true;
    $('#layout').classList.remove('has-story');
    history.replaceState(null, '', location.pathname + location.search);
    markRows();
    if (rowOf(document.activeElement)) return; // focus stays on the row the keyboard is on
    const tr = id && rows.get(id);
    if (tr) focusRow(tr);
    else $('#board-title').focus();
  }

  /** Fetch and show the chosen alert; false when the service could not be reached. */
  function refreshStory() {
    if (!selectedId || storyMissing === selectedId) return Promise.resolve(true);
    if (storyLoading && storyLoading.id === selectedId) return storyLoading.promise;
    const loading = { id: selectedId, promise: loadStory(selectedId) };
    storyLoading = loading;
    loading.promise.finally(() => {
      if (storyLoading === loading) storyLoading = null;
    }).catch(() => {});
    return loading.promise;
  }

  async function loadStory(id) {
    const request = ++storyRequest;
    let alert;
    try {
      alert = await getJson(`desk/api/alerts/${encodeURIComponent(id)}`);
    } catch (problem) {
      if (request !== storyRequest) return true;
      if (problem instanceof Refused) {
        storyTitle.textContent = 'Alert not found';
        setHtml(storyBody, `<div class="notice tone-bad" role="alert"><p><strong>No alert with id “${esc(id)}”.</strong></p>
          <p>The service answered ${problem.status === 404 ? '404 (not found)' : problem.status}: ${esc(problem.message)}</p>
          <p>Check the link, or choose an alert on the board.</p></div>`);
        storyEl._key = null;
        storyMissing = id;
        return true;
      }
      if (problem instanceof ConnectionProblem) {
        if (!storyEl._key) setHtml(storyBody, '<p class="loading">Connection problem, retrying…</p>');
        return false;
      }
      throw problem;
    }
    if (request !== storyRequest) return true;
    const key = JSON.stringify(alert);
    if (storyEl._key !== key) {
      storyEl._key = key;
      const title = `${alert.lift_id ?? 'Lift'} · ${alert.site ?? ''}`.replace(/ · $/, '');
      if (storyTitle.textContent !== title) storyTitle.textContent = title;
      setHtml(storyBody, storyHtml(alert));
    }
    return true;
  }

  function storyHtml(alert) {
    const timeline = Array.isArray(alert.timeline) ? alert.timeline : [];
    const names = namesOf(alert, timeline);
    const lanes = lanesOf(alert, timeline);
    const alertEntries = [
      { kind: 'raised', at: alert.created_at },
      ...timeline.filter((e) => !(PERSON_KINDS.has(e.kind) && personOf(e))),
    ];
    const escalation = alert.escalation || {};
    const first = alert.first_response;
    const facts = [
      ['Ticket', esc(alert.ticket_id)],
      ['Where', `${esc(alert.site)}${alert.floor != null && alert.floor !== '' ? `, floor ${esc(alert.floor)}` : ''}`],
      ['Raised', `${timeHtml(alert.created_at)} · ${ageHtml(alert.created_at)} ago`],
      ['First answer', first
        ? `${esc(personName(first.responder))}: <strong>${esc(choiceLabel(first.choice, first.button_title))}</strong> at ${timeHtml(first.responded_at)}`
        : 'nobody yet'],
      ['Reminders', `${isNumber(escalation.rounds_sent) ? escalation.rounds_sent : 0}${
        isNumber(escalation.max_rounds) ? ` of ${escalation.max_rounds}` : ''} sent${
        escalation.next_due_at ? ` · next ${timeHtml(escalation.next_due_at)}` : ''}`],
      ['Entrapment confirmed', confirmationHtml(alert.confirmation, alert.outcome)],
    ];
    if (alert.note) facts.push(['Note', esc(alert.note)]);
    if (alert.close_reason) facts.push(['Closed', esc(capitalise(alert.close_reason))]);

    return `
      <div class="story-badges">${stateBadge(alert.state)} ${outcomeBadge(alert.outcome)}</div>
      <dl class="facts">${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>
      <section class="lane lane-alert" aria-labelledby="lane-alert">
        <h3 id="lane-alert" class="lane-title">Alert</h3>
        <ol class="entries">${alertEntries.map((e) => alertEntryHtml(e, alert, names)).join('')}</ol>
      </section>
      <h3 class="people-title">People <span class="count">(${lanes.length})</span></h3>
      <div class="lanes">${lanes.map((lane, i) => laneHtml(lane, i, names)).join('') || '<p class="none">No one was messaged.</p>'}</div>`;
  }

  /** The phone digits an entry belongs to, or '' for alert-wide entries. */
  function personOf(entry) {
    if (entry.kind === 'message') return digitsOf(entry.to);
    if (entry.kind === 'tap') return digitsOf(entry.responder && entry.responder.wa_id);
    if (entry.kind === 'reply') return digitsOf(entry.from && entry.from.wa_id);
    return '';
  }

  function namesOf(alert, timeline) {
    const names = new Map();
    const note = (person) => {
      if (person && person.name && person.wa_id) names.set(digitsOf(person.wa_id), person.name);
    };
    for (const tap of alert.responses || []) note(tap.responder);
    for (const reply of alert.messages_received || []) note(reply.from);
    for (const entry of timeline) note(entry.responder || entry.from || entry.by);
    return names;
  }

  /** One lane per person: recipients, then escalation recipients, then anyone else in the timeline. */
  function lanesOf(alert, timeline) {
    const lanes = new Map();
    const add = (to, role) => {
      const digits = digitsOf(to);
      if (digits && !lanes.has(digits)) lanes.set(digits, { digits, role, recipient: null, entries: [] });
      return lanes.get(digits);
    };
    for (const recipient of alert.recipients || []) {
      const lane = add(recipient.to, 'Recipient');
      if (lane) lane.recipient = recipient;
    }
    for (const to of (alert.escalation && alert.escalation.recipients) || []) add(to, 'Escalation contact');
    for (const entry of timeline) {
      const digits = PERSON_KINDS.has(entry.kind) ? personOf(entry) : '';
      if (!digits) continue;
      const lane = add(digits, entry.kind === 'message' ? 'Escalation contact' : 'Not messaged for this alert');
      lane.entries.push(entry);
    }
    return [...lanes.values()];
  }

  function laneHtml(lane, index, names) {
    const name = names.get(lane.digits);
    const phone = formatPhone(lane.digits);
    const r = lane.recipient;
    const status = r && r.delivery_status
      ? `<p class="lane-status">First message: ${tickHtml(r.delivery_status)} ${esc(r.delivery_status)}${
        r.channel ? ` · ${esc(r.channel)}` : ''}${r.fallback ? ' (template fallback)' : ''}</p>`
      : '';
    const skipped = r && isNumber(r.notices_skipped) && r.notices_skipped > 0
      ? `<p class="lane-warn">${r.notices_skipped} notice${r.notices_skipped === 1 ? '' : 's'} skipped: no open 24-hour window</p>`
      : '';
    const id = `lane-${index}`;
    return `<section class="lane" aria-labelledby="${id}" data-person="${esc(lane.digits)}">
      <header class="lane-head">
        <h4 class="lane-title" id="${id}">${esc(name || phone)}</h4>
        <p class="lane-meta">${name ? `<span class="phone">${esc(phone)}</span> · ` : ''}${esc(lane.role)}</p>
        ${status}${skipped}
      </header>
      <ol class="entries">${lane.entries.map(personEntryHtml).join('') || '<li class="entry none">Nothing yet.</li>'}</ol>
    </section>`;
  }

  function entry(kind, tone, time, title, body = '') {
    return `<li class="entry e-${esc(kind)}${tone ? ` tone-${tone}` : ''}">
      <div class="entry-top"><span class="entry-title">${title}</span>${time ? timeHtml(time) : ''}</div>${body}</li>`;
  }

  function personEntryHtml(e) {
    if (e.kind === 'message') {
      let what = WHAT[e.what] || capitalise(e.what || 'message');
      if (isNumber(e.round) && e.round > 0 && (e.what === 'reminder' || e.what === 'confirmation')) what += ` ${e.round}`;
      const status = e.status || 'accepted';
      const trail = (Array.isArray(e.statuses) ? e.statuses : [])
        .map((s) => `<li>${esc(s.status)} ${timeHtml(s.at)}</li>`).join('');
      const error = e.error
        ? `<p class="error"><span class="tick tick-failed" aria-hidden="true">✗</span> ${esc(e.error.title || 'failed')}${
          e.error.code ? ` <span class="code">(${esc(e.error.code)})</span>` : ''}</p>`
        : '';
      const body = `<p class="delivery">${tickHtml(status)} <span class="status-word">${esc(capitalise(status))}</span>${
        e.channel ? ` <span class="channel">${esc(e.channel)}</span>` : ''}</p>${
        trail ? `<ol class="trail" aria-label="Statuses">${trail}</ol>` : ''}${error}`;
      return entry('message', status === 'failed' ? 'bad' : '', e.at, esc(what), body);
    }
    if (e.kind === 'tap') {
      const label = choiceLabel(e.choice, e.button_title);
      const tone = e.choice === 'entrapment' ? 'bad' : '';
      const body = `<p class="tap"><strong class="choice choice-${esc(e.choice)}">${esc(label)}</strong>${
        e.first ? ` ${badge('First answer', 'first')}` : ''}</p>${
        e.matched_by ? `<p class="sub">matched by ${e.matched_by === 'context' ? 'the message it answers' : esc(e.matched_by)}</p>` : ''}`;
      return entry('tap', tone, e.at, 'Tapped', body);
    }
    return entry('reply', '', e.at, 'Replied', `<p class="reply">${replyText(e)}</p>`);
  }

  function replyText(e) {
    if (e.text) return `<q>${esc(e.text)}</q>`;
    if (e.type === 'location' && e.location) {
      const where = [e.location.name, e.location.address].filter(Boolean).join(', ');
      return `Shared a location${where ? `: ${esc(where)}` : ''}`;
    }
    return `Sent ${esc(REPLY_TYPES[e.type] || `a ${e.type || 'message'}`)}${e.mime_type ? ` (${esc(e.mime_type)})` : ''}`;
  }

  function alertEntryHtml(e, alert, names) {
    switch (e.kind) {
      case 'raised': {
        const n = (alert.recipients || []).length;
        return entry('raised', '', e.at, 'Alarm raised', `<p>Ticket ${esc(alert.ticket_id)}: sent to ${n} ${n === 1 ? 'person' : 'people'}</p>`);
      }
      case 'escalated':
        return entry('escalated', 'warn', e.at, `Reminder round ${esc(e.round ?? '')}`,
          `<p>${e.reason === 'all_deliveries_failed' ? 'Brought forward: every delivery of the last round failed' : 'Nobody had answered'}</p>`);
      case 'unanswered':
        return entry('unanswered', 'bad', e.at, '<span aria-hidden="true">⚠</span> Unanswered', '<p>Nobody answered any reminder: critical message sent to everyone</p>');
      case 'confirmation_requested':
        return entry('confirmation_requested', 'warn', e.at, 'Confirmation requested', '<p>Asked everyone to confirm the service provider was notified (YES)</p>');
      case 'confirmed': {
        const by = e.by ? `${names.get(digitsOf(e.by.wa_id)) || e.by.name || formatPhone(e.by.wa_id)}` : 'someone';
        return entry('confirmed', 'ok', e.at, '<span aria-hidden="true">✓</span> Service provider confirmed', `<p>YES from ${esc(by)}</p>`);
      }
      case 'confirmation_missed':
        return entry('confirmation_missed', 'bad', e.at, '<span aria-hidden="true">⚠</span> Confirmation missed', '<p>No YES after every reminder: follow up now</p>');
      case 'closed':
        return entry('closed', 'muted', e.at, 'Closed', e.reason ? `<p>${esc(capitalise(e.reason))}</p>` : '');
      case 'message':
      case 'tap':
      case 'reply':
        return personEntryHtml(e);
      default:
        return entry(String(e.kind || 'event'), '', e.at, esc(capitalise(e.kind || 'event')));
    }
  }

  // ---------------------------------------------------------------- polling and keyboard

  let lastUpdate = null;
  let troubleSince = null;

  function showConnection(problem) {
    const conn = $('#conn');
    if (!problem) {
      troubleSince = null;
      conn.hidden = true;
      conn.textContent = '';
      return;
    }
    troubleSince = troubleSince || new Date().toISOString();
    const text = `Connection problem, retrying every ${POLL_MS / 1000} s (${problem}; since ${formatTime(troubleSince)}).${
      lastUpdate ? ` The board shows what was known at ${formatTime(lastUpdate)}.` : ''}`;
    if (conn.textContent !== text) conn.textContent = text;
    conn.hidden = false;
  }

  async function refreshAll() {
    const results = await Promise.allSettled([
      fetchOpenAlerts().then(renderBoard),
      getJson('desk/api/status').then(renderStatus),
      refreshStory(),
    ]);
    let problem = null;
    for (const result of results) {
      if (result.status === 'fulfilled') {
        if (result.value === false) problem = problem || 'the service is unreachable';
      } else if (result.reason instanceof ConnectionProblem || result.reason instanceof Refused) {
        problem = problem || result.reason.message;
      } else {
        problem = problem || 'the page failed to read an answer';
        reportBug(result.reason);
      }
    }
    if (!problem) {
      lastUpdate = new Date().toISOString();
      $('#updated').textContent = `Updated ${formatTime(lastUpdate)}`;
    }
    showConnection(problem);
  }

  async function poll() {
    const started = Date.now();
    try {
      await refreshAll();
    } finally {
      setTimeout(poll, Math.max(250, POLL_MS - (Date.now() - started)));
    }
  }

  const reported = new Set();
  /** A bug in this page (never an expected failure): logged once per message. */
  function reportBug(error) {
    const text = String((error && error.stack) || error);
    if (reported.has(text)) return;
    reported.add(text);
    console.error('desk:', error);
  }

  function rowOf(target) {
    return target && target.closest ? target.closest('tr.row') : null;
  }

  function focusRow(tr) {
    if (!tr) return;
    rovingId = tr.dataset.alertId;
    markRows();
    tr.focus();
  }

  function onRowKey(event) {
    const tr = rowOf(event.target);
    if (!tr || event.altKey || event.ctrlKey || event.metaKey) return;
    const all = [...rowsEl.children];
    const moves = {
      ArrowDown: () => all[Math.min(all.indexOf(tr) + 1, all.length - 1)],
      ArrowUp: () => all[Math.max(all.indexOf(tr) - 1, 0)],
      Home: () => all[0],
      End: () => all[all.length - 1],
    };
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      openStory(tr.dataset.alertId);
    } else if (moves[event.key]) {
      event.preventDefault();
      focusRow(moves[event.key]());
    }
  }

  /** #alert=<id> opens that alert's story (a link a colleague can share). */
  function openFromHash({ focus = true } = {}) {
    const match = /^#alert=(.+)$/.exec(location.hash);
    if (!match) {
      if (selectedId) closeStory();
      return;
    }
    let id;
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      id = match[1];
    }
    if (id && id !== selectedId) openStory(id, { focus });
  }

  function wireEvents() {
    rowsEl.addEventListener('keydown', onRowKey);
    rowsEl.addEventListener('click', (event) => {
      const tr = rowOf(event.target);
      if (tr) {
        rovingId = tr.dataset.alertId;
        openStory(tr.dataset.alertId);
      }
    });
    $('#story-close').addEventListener('click', closeStory);
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && selectedId) {
        event.preventDefault();
        closeStory();
      }
    });
    window.addEventListener('hashchange', () => openFromHash());
  }

  // ---------------------------------------------------------------- start

  async function main() {
    wireEvents();
    if (!(await Auth.start())) return;
    openFromHash({ focus: false });
    setInterval(tickAges, 1000);
    poll();
  }

  main().catch(reportBug);
})();
