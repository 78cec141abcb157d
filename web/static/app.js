// PassMan web console. Everything here goes through the JSON API under /v1
// with the session cookie; the server decides what is allowed, the page
// only leaves out what the user could not do anyway.
//
// Data from the server is always set as text (textContent), never parsed
// as HTML. Secrets are held in local variables for as long as a dialog
// shows them and are dropped when it closes: never in the URL, storage,
// or the console's log.
'use strict';

(() => {
  const PAGE = 50;
  const TYPE_LABEL = { password: 'Password', 'ssh-key': 'SSH key', pin: 'PIN' };
  const NEW_LABEL = { password: 'New password', 'ssh-key': 'New SSH private key', pin: 'New PIN' };
  const STATUSES = ['InSync', 'NotInSync', 'Unknown', 'Changing'];

  const state = {
    session: null, // {user, csrf_token, ops, idle_seconds}
    folder: '', // '' is the root, Vault
    tab: 'accounts',
  };

  // ---- DOM helpers -------------------------------------------------------

  // h builds an element. Keys of attrs that start with "on" add listeners;
  // other keys are attributes, or properties for value and checked.
  // Children are nodes or strings, strings always becoming text.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, kids);
    return el;
  }

  // append adds a node, a string, or an array of them (nested at will).
  function append(el, kids) {
    for (const k of [kids].flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.firstChild.remove();
    return el;
  }

  const ICONS = {
    folder: 'M3 6.5A1.5 1.5 0 0 1 4.5 5h4l2 2h9A1.5 1.5 0 0 1 21 8.5v9a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 17.5z',
    vault: 'M4 5h16v14H4zM12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM12 12h3',
    dots: 'M6 12h.01M12 12h.01M18 12h.01',
    eye: 'M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12zm10-3a3 3 0 1 0 0 6 3 3 0 0 0 0-6z',
    eyeOff: 'M3 3l18 18M10.6 6.1A10 10 0 0 1 12 6c6.5 0 10 6 10 6a17 17 0 0 1-3.2 3.9M6.6 6.6C3.9 8.4 2 12 2 12s3.5 7 10 7a9.7 9.7 0 0 0 4.4-1',
    close: 'M6 6l12 12M18 6L6 18',
    warn: 'M12 3l10 18H2zM12 10v5M12 18h.01',
    copy: 'M8 8h12v12H8zM4 16V4h12',
    download: 'M12 3v12m0 0l-5-5m5 5l5-5M4 19h16',
    refresh: 'M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7',
    lock: 'M7 11V8a5 5 0 0 1 10 0v3M5 11h14v10H5z',
    ok: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8 12l3 3 5-6',
  };

  function icon(name) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('fill', 'none');
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', name === 'dots' ? '3.2' : '1.8');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
    svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', ICONS[name]);
    svg.append(p);
    return svg;
  }

  function mount(...nodes) {
    closeMenu();
    const app = clear(document.getElementById('app'));
    append(app, nodes);
  }

  function pill(status, text) {
    return h('span', { class: 'pill ' + status }, text || status);
  }

  function when(t) {
    if (!t) return 'never';
    const d = new Date(t);
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < 0) return d.toLocaleString();
    if (s < 60) return 'just now';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return d.toLocaleDateString() + ' ' + d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function timeCell(t) {
    return h('td', { class: 'sub', title: t ? new Date(t).toLocaleString() : '' }, when(t));
  }

  function dirname(p) {
    const i = p.lastIndexOf('/');
    return i < 0 ? '' : p.slice(0, i);
  }

  function basename(p) {
    return p.slice(p.lastIndexOf('/') + 1);
  }

  function toast(text, bad) {
    let box = document.querySelector('.toasts');
    if (!box) {
      box = h('div', { class: 'toasts', role: 'status' });
      document.body.append(box);
    }
    const t = h('div', { class: 'toast' + (bad ? ' bad' : '') }, text);
    box.append(t);
    setTimeout(() => t.remove(), bad ? 7000 : 4000);
  }

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
    const s = q.toString();
    return s ? '?' + s : '';
  }

  async function api(method, path, body) {
    const opts = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && state.session) opts.headers['X-CSRF-Token'] = state.session.csrf_token;
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new APIError(0, 'unreachable', 'The server does not answer. Check that it runs.');
    }
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const err = new APIError(res.status, (data && data.code) || 'internal',
        (data && data.message) || res.statusText);
      if (err.code === 'unauthenticated' && state.session && path !== '/v1/session') {
        state.session = null;
        showLogin('Your session has ended. Log in again.');
      } else if (err.code === 'vault_closed' && state.session) {
        showVault();
      }
      throw err;
    }
    return data;
  }

  const can = (op) => !!state.session && state.session.ops.includes(op);

  // follow waits for a job to end, calling onStep with each state seen.
  async function follow(id, onStep) {
    for (;;) {
      const j = await api('GET', '/v1/jobs/' + encodeURIComponent(id) + '/wait?timeout=25s');
      onStep(j);
      if (j.state === 'succeeded' || j.state === 'failed') return j;
    }
  }

  // ---- Login and vault ---------------------------------------------------

  function brand() {
    return h('div', { class: 'brand' }, h('img', { src: '/assets/favicon.svg', alt: '' }), 'PassMan');
  }

  function showLogin(message) {
    const user = h('input', { type: 'text', id: 'login-user', autocomplete: 'username', required: true });
    const pass = h('input', { type: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
    const err = h('p', { class: 'form-error', role: 'alert', id: 'login-error' }, message || '');
    const submit = h('button', { class: 'btn primary', type: 'submit', id: 'login-submit' }, 'Log in');
    const form = h('form', {
      class: 'card gate',
      onsubmit: async (ev) => {
        ev.preventDefault();
        submit.disabled = true;
        err.textContent = '';
        try {
          state.session = await api('POST', '/v1/session', { user: user.value, password: pass.value });
          pass.value = '';
          await enter();
        } catch (e) {
          pass.value = '';
          err.textContent = e.message;
          submit.disabled = false;
          pass.focus();
        }
      },
    },
    brand(),
    h('h1', {}, 'Log in'),
    h('p', { class: 'lead' }, 'Privileged credentials of your servers, databases and devices.'),
    h('label', { for: 'login-user' }, 'User name'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    err, submit);
    mount(h('main', { class: 'center-page' }, form));
    user.focus();
  }

  async function logout() {
    try {
      await api('POST', '/v1/session/end', {});
    } catch (e) {
      // The session may have ended already; the login page follows anyway.
    }
    state.session = null;
    showLogin('You have logged out.');
  }

  function showVault() {
    const parts = [brand(), h('div', { class: 'notice warn' }, icon('lock'),
      h('div', {}, h('strong', {}, 'The vault is closed'),
        'Nothing can be read or changed until someone opens it with a vault key.'))];
    if (can('open_vault')) {
      const key = h('input', { type: 'password', id: 'vault-key', autocomplete: 'off', required: true });
      const err = h('p', { class: 'form-error', role: 'alert', id: 'vault-error' });
      const submit = h('button', { class: 'btn primary', type: 'submit', id: 'vault-open' }, 'Open the vault');
      parts.push(h('form', {
        onsubmit: async (ev) => {
          ev.preventDefault();
          submit.disabled = true;
          err.textContent = '';
          try {
            await api('POST', '/v1/vault/open', { key: key.value });
            key.value = '';
            await enter();
          } catch (e) {
            key.value = '';
            if (e.code !== 'unauthenticated') err.textContent = e.message;
            submit.disabled = false;
          }
        },
      }, h('label', { for: 'vault-key' }, 'Vault key'), key, err, submit));
    } else {
      parts.push(h('p', { class: 'hint' }, 'Ask a user with the Open Vault permission to open it.'));
    }
    parts.push(h('div', { class: 'gate-foot' }, h('span', {}, 'Logged in as ' + state.session.user),
      h('button', { class: 'btn ghost small', id: 'logout', onclick: logout }, 'Log out')));
    mount(h('main', { class: 'center-page' }, h('div', { class: 'card gate', id: 'vault-page' }, parts)));
    const k = document.getElementById('vault-key');
    if (k) k.focus();
  }

  async function enter() {
    const vs = await api('GET', '/v1/vault/status');
    if (!vs.open) {
      showVault();
      return;
    }
    showHome();
  }

  // ---- Home --------------------------------------------------------------

  const TABS = [
    { id: 'accounts', label: 'Accounts', shown: () => true, render: renderAccountsTab },
    { id: 'targets', label: 'Targets', shown: () => true, render: renderTargetsTab },
    { id: 'jobs', label: 'Jobs', shown: () => true, render: renderJobsTab },
    { id: 'agents', label: 'Agents', shown: () => can('manage_agents') || can('read'), render: renderAgentsTab },
    { id: 'audit', label: 'Audit', shown: () => can('read_audit'), render: renderAuditTab },
  ];

  function showHome() {
    const closeVault = can('open_vault') ? h('button', {
      class: 'btn', id: 'close-vault',
      onclick: () => confirmDialog('Close the vault?',
        'Every user loses access to every credential until someone opens it again with a vault key.',
        'Close the vault', async () => {
          await api('POST', '/v1/vault/close', {});
          showVault();
        }),
    }, 'Close vault') : null;
    const top = h('header', { class: 'topbar' }, brand(), h('span', { class: 'vault-pill' }, 'Vault open'),
      h('span', { class: 'spacer' }), h('span', { class: 'who', id: 'who' }, state.session.user), closeVault,
      h('button', { class: 'btn', id: 'logout', onclick: logout }, 'Log out'));
    const tree = h('nav', { class: 'sidebar', 'aria-label': 'Folders' }, h('h2', {}, 'Folders'),
      h('ul', { class: 'tree', id: 'tree' }));
    const content = h('section', { class: 'content', id: 'content' });
    mount(h('div', { class: 'shell' }, top, h('div', { class: 'main' }, tree, content)));
    loadTree();
    renderContent();
  }

  async function loadTree() {
    const ul = document.getElementById('tree');
    let folders = [];
    try {
      folders = (await api('GET', '/v1/folders')).folders.map((f) => f.path);
    } catch (e) {
      toast(e.message, true);
    }
    const kids = {};
    for (const p of folders) (kids[dirname(p)] = kids[dirname(p)] || []).push(p);
    const item = (path) => {
      const btn = h('button', {
        class: 'tree-item' + (state.folder === path ? ' active' : ''),
        'data-folder': path,
        onclick: () => {
          state.folder = path;
          for (const b of ul.querySelectorAll('.tree-item')) b.classList.toggle('active', b === btn);
          renderContent();
        },
      }, icon(path === '' ? 'vault' : 'folder'), path === '' ? 'Vault' : basename(path));
      const sub = (kids[path] || []).sort();
      return h('li', {}, btn, sub.length ? h('ul', {}, sub.map(item)) : null);
    };
    append(clear(ul), [item('')]);
  }

  function renderContent() {
    const content = document.getElementById('content');
    if (!content) return;
    const tabs = TABS.filter((t) => t.shown());
    if (!tabs.some((t) => t.id === state.tab)) state.tab = 'accounts';
    const bar = h('div', { class: 'tabs', role: 'tablist' }, tabs.map((t) => h('button', {
      class: 'tab', role: 'tab', id: 'tab-' + t.id, 'aria-selected': String(t.id === state.tab),
      onclick: () => {
        state.tab = t.id;
        renderContent();
      },
    }, t.label)));
    const body = h('div', { id: 'tab-body' });
    const where = state.folder === '' ? 'Vault' : 'Vault / ' + state.folder.split('/').join(' / ');
    append(clear(content), [h('div', { class: 'crumbs' }, where),
      h('h1', {}, tabs.find((t) => t.id === state.tab).label), bar, body]);
    tabs.find((t) => t.id === state.tab).render(body);
  }

  // ---- Accounts ----------------------------------------------------------

  function renderAccountsTab(body) {
    append(body, [accountsTable({ folder: state.folder })]);
  }

  // accountsTable is the account list with its filters, paging, bulk check
  // and per-row actions, for a folder or for one target.
  function accountsTable(scope) {
    const view = { offset: 0, q: '', status: '', selected: new Set(), rows: [], total: 0, seq: 0 };
    const search = h('input', { type: 'search', id: 'acct-search', placeholder: 'Search accounts by name or path', 'aria-label': 'Search accounts' });
    const status = h('select', { id: 'acct-status', 'aria-label': 'Filter by status' },
      h('option', { value: '' }, 'All statuses'), STATUSES.map((s) => h('option', { value: s }, s)));
    const checkBtn = h('button', { class: 'btn', id: 'check-selected', disabled: true }, 'Check Credentials');
    const count = h('span', { class: 'count', id: 'acct-count' });
    const tbody = h('tbody', { id: 'acct-rows' });
    const all = h('input', { type: 'checkbox', 'aria-label': 'Select all on this page' });
    const pager = h('div', { class: 'pager' });
    const el = h('div', { class: 'accounts' },
      h('div', { class: 'toolbar' }, search, status, checkBtn, h('span', { class: 'spacer' }), count),
      h('div', { class: 'table-wrap' }, h('table', { id: 'accounts-table' },
        h('thead', {}, h('tr', {}, h('th', { class: 'sel' }, all), h('th', {}, 'Account'), h('th', {}, 'Target'),
          h('th', {}, 'Folder'), h('th', {}, 'Credentials'), h('th', {}, 'Status'), h('th', {}, 'Compliance'),
          h('th', {}, 'Last checked'), h('th', { class: 'actions' }, 'Actions'))),
        tbody)),
      pager);

    let timer = null;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        view.q = search.value.trim();
        view.offset = 0;
        load();
      }, 200);
    });
    status.addEventListener('change', () => {
      view.status = status.value;
      view.offset = 0;
      load();
    });
    all.addEventListener('change', () => {
      for (const r of view.rows) {
        if (all.checked && r.allowed.includes('check')) view.selected.add(r.path);
        else view.selected.delete(r.path);
      }
      draw();
    });
    checkBtn.addEventListener('click', () => checkDialog([...view.selected], () => {
      view.selected.clear();
      load();
    }));

    async function load() {
      const seq = ++view.seq;
      el.setAttribute('aria-busy', 'true');
      try {
        const res = await api('GET', '/v1/accounts' + query({
          folder: scope.folder, target: scope.target, q: view.q, status: view.status,
          limit: PAGE, offset: view.offset,
        }));
        if (seq !== view.seq) return; // a newer request answers the newer filter
        view.rows = res.accounts.map((a) => Object.assign(a, { allowed: a.allowed || [] }));
        view.total = res.total || 0;
        draw();
      } catch (e) {
        if (seq === view.seq) {
          append(clear(tbody), h('tr', {}, h('td', { colspan: 9, class: 'empty' }, e.message)));
        }
      } finally {
        if (seq === view.seq) el.removeAttribute('aria-busy');
      }
    }

    function draw() {
      const rows = view.rows.map((a) => accountRow(a, view, draw, load));
      if (!rows.length) {
        rows.push(h('tr', {}, h('td', { colspan: 9, class: 'empty' },
          view.q || view.status ? 'No account matches.' : 'No accounts here yet.')));
      }
      append(clear(tbody), rows);
      const checkable = view.rows.filter((r) => r.allowed.includes('check'));
      all.checked = checkable.length > 0 && checkable.every((r) => view.selected.has(r.path));
      checkBtn.disabled = view.selected.size === 0;
      checkBtn.textContent = view.selected.size ? `Check Credentials (${view.selected.size})` : 'Check Credentials';
      const from = view.total ? view.offset + 1 : 0;
      const to = view.offset + view.rows.length;
      count.textContent = `${view.total.toLocaleString()} account${view.total === 1 ? '' : 's'}`;
      const pages = Math.max(1, Math.ceil(view.total / PAGE));
      const page = Math.floor(view.offset / PAGE) + 1;
      append(clear(pager), [
        h('span', { id: 'acct-range' }, `${from.toLocaleString()}–${to.toLocaleString()} of ${view.total.toLocaleString()}`),
        h('button', {
          class: 'btn small', id: 'page-prev', disabled: view.offset === 0,
          onclick: () => { view.offset = Math.max(0, view.offset - PAGE); load(); },
        }, 'Previous'),
        h('span', {}, `Page ${page} of ${pages}`),
        h('button', {
          class: 'btn small', id: 'page-next', disabled: to >= view.total,
          onclick: () => { view.offset += PAGE; load(); },
        }, 'Next'),
      ]);
    }

    load();
    return el;
  }

  function worst(creds, field, order) {
    let out = order[0];
    for (const c of creds) if (order.indexOf(c[field]) > order.indexOf(out)) out = c[field];
    return out;
  }

  function accountRow(a, view, redraw, reload) {
    const box = h('input', {
      type: 'checkbox', 'aria-label': 'Select ' + a.path, checked: view.selected.has(a.path),
      disabled: !a.allowed.includes('check'),
      onchange: (ev) => {
        if (ev.target.checked) view.selected.add(a.path);
        else view.selected.delete(a.path);
        redraw();
      },
    });
    const reasons = [...new Set(a.credentials.filter((c) => c.status === 'NotInSync' && c.reason).map((c) => c.reason))];
    const checked = a.credentials.map((c) => c.checked_at).filter(Boolean).sort();
    const compliance = worst(a.credentials, 'compliance', ['Compliant', 'Noncompliant']);
    const folder = dirname(a.target);
    return h('tr', { 'data-path': a.path, class: view.selected.has(a.path) ? 'selected' : '' },
      h('td', { class: 'sel' }, box),
      h('td', { class: 'name' }, a.name),
      h('td', {}, basename(a.target)),
      h('td', { class: 'sub' }, folder || 'Vault'),
      h('td', {}, a.credentials.map((c) => h('span', { class: 'chip' }, c.type))),
      h('td', { class: 'status' }, pill(a.status), reasons.length ? h('span', { class: 'reason' }, reasons.join(', ')) : null),
      h('td', { class: 'compliance ' + compliance }, compliance),
      timeCell(checked.length ? checked[0] : null),
      h('td', { class: 'actions' }, h('button', {
        class: 'icon-btn', 'aria-label': 'Actions for ' + a.path, 'data-actions': a.path,
        onclick: (ev) => openMenu(ev.currentTarget, accountActions(a, reload)),
      }, icon('dots'))));
  }

  // accountActions lists the menu of one account: the operations the user
  // holds on it, and Details for everyone who can see it.
  function accountActions(a, reload) {
    const has = (op) => a.allowed.includes(op);
    const items = [];
    if (has('check')) items.push(['Check Credentials', () => checkDialog([a.path], reload)]);
    if (has('checkout')) items.push(['CheckOut', () => checkoutDialog(a, reload)]);
    if (has('checkin') && a.credentials.some((c) => c.checkout)) items.push(['CheckIn', () => checkinDialog(a, reload)]);
    if (has('reset')) items.push(['Reset Credentials', () => resetDialog(a, reload)]);
    if (has('update_credentials')) items.push(['Update Credentials', () => updateDialog(a, reload)]);
    if (has('read_revisions')) items.push(['Revisions', () => revisionsDialog(a, reload)]);
    if (items.length) items.push(null);
    items.push(['Details', () => detailsDialog(a.path)]);
    return items;
  }

  // ---- Menus and dialogs -------------------------------------------------

  let menuEl = null;

  function closeMenu() {
    if (menuEl) {
      menuEl.remove();
      menuEl = null;
    }
  }

  function openMenu(anchor, items) {
    closeMenu();
    const menu = h('div', { class: 'menu', role: 'menu', id: 'menu' }, items.map((it) => it === null
      ? h('hr', {})
      : h('button', {
        role: 'menuitem',
        onclick: () => {
          closeMenu();
          it[1]();
        },
      }, it[0])));
    document.body.append(menu);
    const r = anchor.getBoundingClientRect();
    const top = Math.min(r.bottom + 4, window.innerHeight - menu.offsetHeight - 8);
    menu.style.top = top + 'px';
    menu.style.left = Math.max(8, r.right - menu.offsetWidth) + 'px';
    menuEl = menu;
    const first = menu.querySelector('button');
    if (first) first.focus();
  }

  document.addEventListener('click', (ev) => {
    if (menuEl && !menuEl.contains(ev.target) && !ev.target.closest('[data-actions]')) closeMenu();
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closeMenu();
  });

  // dialog opens a modal. onClose runs when it closes, however it closes.
  function dialog(title, { id, wide, onClose } = {}) {
    const body = h('div', { class: 'body' });
    const foot = h('footer', {});
    const titleId = (id || 'dialog') + '-title';
    const box = h('div', { class: 'dialog' + (wide ? ' wide' : ''), role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, id: id || null },
      h('header', {}, h('h2', { id: titleId }, title),
        h('button', { class: 'icon-btn', 'aria-label': 'Close', onclick: () => close() }, icon('close'))),
      body, foot);
    const back = h('div', { class: 'backdrop' }, box);
    const keys = (ev) => {
      if (ev.key === 'Escape' && !menuEl) close();
    };
    back.addEventListener('mousedown', (ev) => {
      if (ev.target === back) close();
    });
    document.addEventListener('keydown', keys);
    document.body.append(back);
    let closed = false;
    function close() {
      if (closed) return;
      closed = true;
      document.removeEventListener('keydown', keys);
      back.remove();
      if (onClose) onClose();
    }
    return { body, foot, close, box };
  }

  function confirmDialog(title, text, label, action) {
    const d = dialog(title, { id: 'confirm' });
    const err = h('p', { class: 'form-error', role: 'alert' });
    append(d.body, [h('p', {}, text), err]);
    const go = h('button', {
      class: 'btn danger', id: 'confirm-yes',
      onclick: async () => {
        go.disabled = true;
        try {
          await action();
          d.close();
        } catch (e) {
          err.textContent = e.message;
          go.disabled = false;
        }
      },
    }, label);
    append(d.foot, [h('button', { class: 'btn', onclick: d.close }, 'Cancel'), go]);
  }

  function typeSelect(id, a) {
    return h('select', { id }, a.credentials.map((c) => h('option', { value: c.type }, TYPE_LABEL[c.type] || c.type)));
  }

  function credOf(a, type) {
    return a.credentials.find((c) => c.type === type);
  }

  // secretInput is a field for a new credential with an eye button that
  // shows what was typed. SSH keys take several lines.
  function secretInput(id, type) {
    const multi = type === 'ssh-key';
    const input = multi
      ? h('textarea', { id, class: 'masked', spellcheck: 'false', autocomplete: 'off' })
      : h('input', { type: 'password', id, autocomplete: 'new-password', spellcheck: 'false' });
    const eye = h('button', {
      type: 'button', class: 'icon-btn', id: id + '-eye', 'aria-label': 'Show what was typed', 'aria-pressed': 'false',
      onclick: () => {
        const shown = eye.getAttribute('aria-pressed') !== 'true';
        eye.setAttribute('aria-pressed', String(shown));
        eye.setAttribute('aria-label', shown ? 'Hide what was typed' : 'Show what was typed');
        if (multi) input.classList.toggle('masked', !shown);
        else input.type = shown ? 'text' : 'password';
        clear(eye).append(icon(shown ? 'eyeOff' : 'eye'));
      },
    }, icon('eye'));
    return { input, row: h('div', { class: 'field-row' }, input, eye) };
  }

  function notice(kind, title, text, id) {
    return h('div', { class: 'notice ' + kind, id: id || null, role: kind === 'bad' ? 'alert' : null },
      icon(kind === 'ok' ? 'ok' : 'warn'), h('div', {}, title ? h('strong', {}, title) : null, text));
  }

  // jobProgress follows a job in a dialog and then shows the account's new
  // status; a change whose outcome was unknown is followed by the check
  // that settles it.
  async function jobProgress(area, job, path, type) {
    const line = h('div', { class: 'job-line', id: 'job-line' }, h('span', { class: 'spinner' }),
      h('span', { id: 'job-state' }, describeJob(job)));
    append(area, line);
    let j = job;
    try {
      j = await follow(job.id, (step) => {
        line.lastChild.textContent = describeJob(step);
      });
      let a = await api('GET', '/v1/accounts/show' + query({ path }));
      let c = credOf(a, type);
      if (c && c.pending_job && c.pending_job !== job.id) {
        line.lastChild.textContent = 'Checking which value the target holds…';
        await follow(c.pending_job, () => {});
        a = await api('GET', '/v1/accounts/show' + query({ path }));
        c = credOf(a, type);
      }
      line.remove();
      const ok = j.state === 'succeeded';
      append(area, h('div', { class: 'notice ' + (ok ? 'ok' : 'bad'), id: 'job-outcome' }, icon(ok ? 'ok' : 'warn'),
        h('div', {}, h('strong', {}, ok ? 'Done' : 'Failed' + (j.reason ? ': ' + j.reason : '')), j.outcome || '')));
      append(area, h('p', { id: 'new-status' }, 'Status now: ', pill(c ? c.status : a.status),
        c && c.reason ? h('span', { class: 'reason' }, c.reason) : null));
    } catch (e) {
      line.remove();
      append(area, notice('bad', 'Could not follow the job', e.message));
    }
    return j;
  }

  function describeJob(j) {
    switch (j.state) {
      case 'waiting_agent': return `Job ${j.id}: waiting for an agent of zone ${j.zone || '?'}…`;
      case 'running': return `Job ${j.id}: an agent is changing the credential on the target…`;
      case 'succeeded': return `Job ${j.id}: succeeded`;
      default: return `Job ${j.id}: ${j.state}`;
    }
  }

  // confirmPanel asks to confirm a database-only change that makes an
  // InSync account lose InSync; the server refuses it without force.
  function confirmPanel(a, what) {
    const back = h('button', { class: 'btn', id: 'confirm-back' }, 'Back');
    const yes = h('button', { class: 'btn danger', id: 'confirm-lose-insync' }, 'Lose InSync and save');
    const panel = notice('warn', `Confirm: ${a.name} will lose InSync`,
      `${what} only in the database leaves the target with its current credential, so PassMan will no longer ` +
      'hold one that is known to work. Do it only if you know the target already has the new value, or mean to set it by hand.',
      'confirm-panel');
    return { panel, back, yes };
  }

  // ---- Reset Credentials -------------------------------------------------

  function resetDialog(a, reload) {
    const d = dialog('Reset credential for ' + a.name, { id: 'reset-dialog', onClose: reload });
    const type = typeSelect('reset-type', a);
    const valueLabel = h('label', { for: 'reset-value', id: 'reset-value-label' });
    const slot = h('div', {});
    let field = null;
    const onTarget = h('input', { type: 'checkbox', id: 'reset-on-target', checked: true });
    const warning = notice('warn', 'The account will lose InSync',
      'It is InSync now. A value saved only in the database is not the one the target holds, so PassMan ' +
      'will no longer know a credential that works. Use this only when you know the value the target has.',
      'reset-warning');
    const err = h('p', { class: 'form-error', role: 'alert', id: 'reset-error' });
    const result = h('div', { id: 'reset-result' });
    const save = h('button', { class: 'btn', id: 'reset-save' }, 'Save');
    const gen = h('button', { class: 'btn primary', id: 'reset-generate' }, 'Generate and Save');
    const cancel = h('button', { class: 'btn', onclick: d.close }, 'Cancel');

    function setType() {
      const t = type.value;
      valueLabel.textContent = NEW_LABEL[t] || 'New value';
      field = secretInput('reset-value', t);
      append(clear(slot), field.row);
      refresh();
    }
    function losesInSync() {
      const c = credOf(a, type.value);
      return !onTarget.checked && c && c.status === 'InSync';
    }
    function refresh() {
      warning.classList.toggle('hidden', !losesInSync());
    }
    type.addEventListener('change', setType);
    onTarget.addEventListener('change', refresh);

    const form = h('div', { id: 'reset-form' },
      h('label', { for: 'reset-type' }, 'Credential type'), type,
      valueLabel, slot,
      h('p', { class: 'hint' }, 'Type a value and Save, or let Generate and Save make one from the policy.'),
      h('label', { class: 'check' }, onTarget, 'Change on target'),
      h('p', { class: 'hint' }, 'Unchecked: the value is saved in the database only and the target is not touched.'),
      warning, err);
    append(d.body, [form, result]);
    const buttons = [cancel, h('span', { class: 'spacer' }), save, gen];
    append(d.foot, buttons);
    setType();

    async function send(generate, force) {
      err.textContent = '';
      const body = { path: a.path, type: type.value, database_only: !onTarget.checked };
      if (generate) body.generate = true;
      else body.value = field.input.value;
      if (force) body.force = true;
      if (!generate && !body.value) {
        err.textContent = 'Type the new value, or use Generate and Save.';
        return;
      }
      if (losesInSync() && !force) {
        askConfirm(generate);
        return;
      }
      save.disabled = gen.disabled = true;
      try {
        const res = await api('POST', '/v1/accounts/reset', body);
        field.input.value = '';
        body.value = null;
        showResult(res);
      } catch (e) {
        save.disabled = gen.disabled = false;
        if (e.code === 'needs_force') askConfirm(generate);
        else err.textContent = e.message;
      }
    }

    function askConfirm(generate) {
      const c = confirmPanel(a, 'Saving');
      form.classList.add('hidden');
      append(result, c.panel);
      append(clear(d.foot), [c.back, h('span', { class: 'spacer' }), c.yes]);
      c.back.addEventListener('click', () => {
        c.panel.remove();
        form.classList.remove('hidden');
        append(clear(d.foot), buttons);
      });
      c.yes.addEventListener('click', () => {
        c.panel.remove();
        form.classList.remove('hidden');
        append(clear(d.foot), buttons);
        send(generate, true);
      });
    }

    function showResult(res) {
      form.classList.add('hidden');
      append(clear(d.foot), h('button', { class: 'btn primary', id: 'reset-close', onclick: d.close }, 'Close'));
      for (const w of res.warnings || []) append(result, notice('warn', 'Noncompliant value', w));
      const j = res.job;
      if (j && j.change_on_target && !(j.state === 'succeeded' || j.state === 'failed')) {
        jobProgress(result, j, a.path, type.value);
        return;
      }
      const c = credOf(res.account, type.value);
      append(result, notice('ok', 'Saved in the database', j && j.outcome ? j.outcome : ''));
      append(result, h('p', { id: 'new-status' }, 'Status now: ', pill(c ? c.status : res.account.status),
        c && c.reason ? h('span', { class: 'reason' }, c.reason) : null));
    }

    save.addEventListener('click', () => send(false, false));
    gen.addEventListener('click', () => send(true, false));
    field.input.focus();
  }

  // ---- Update Credentials ------------------------------------------------

  function updateDialog(a, reload) {
    const d = dialog('Update credential for ' + a.name, { id: 'update-dialog', onClose: reload });
    const type = typeSelect('update-type', a);
    const slot = h('div', {});
    let field = null;
    const setType = () => {
      field = secretInput('update-value', type.value);
      append(clear(slot), field.row);
    };
    type.addEventListener('change', setType);
    const err = h('p', { class: 'form-error', role: 'alert', id: 'update-error' });
    const result = h('div', {});
    const form = h('div', {}, h('p', { class: 'hint' },
      'Record a value that was already changed by hand on the target. Nothing is changed on the target.'),
    h('label', { for: 'update-type' }, 'Credential type'), type,
    h('label', { for: 'update-value' }, 'Value the target holds'), slot, err);
    append(d.body, [form, result]);
    const save = h('button', { class: 'btn primary', id: 'update-save' }, 'Save');
    const buttons = [h('button', { class: 'btn', onclick: d.close }, 'Cancel'), save];
    append(d.foot, buttons);
    setType();
    async function send(force) {
      err.textContent = '';
      if (!field.input.value) {
        err.textContent = 'Type the value the target holds.';
        return;
      }
      save.disabled = true;
      try {
        const res = await api('POST', '/v1/accounts/update', { path: a.path, type: type.value, value: field.input.value, force });
        field.input.value = '';
        form.classList.add('hidden');
        append(clear(d.foot), h('button', { class: 'btn primary', onclick: d.close }, 'Close'));
        for (const w of res.warnings || []) append(result, notice('warn', 'Noncompliant value', w));
        const c = credOf(res.account, type.value);
        append(result, notice('ok', 'Saved in the database', 'Run Check Credentials to prove it works on the target.'));
        append(result, h('p', {}, 'Status now: ', pill(c ? c.status : res.account.status)));
      } catch (e) {
        save.disabled = false;
        if (e.code !== 'needs_force') {
          err.textContent = e.message;
          return;
        }
        const c = confirmPanel(a, 'Updating');
        form.classList.add('hidden');
        append(result, c.panel);
        append(clear(d.foot), [c.back, h('span', { class: 'spacer' }), c.yes]);
        const restore = () => {
          c.panel.remove();
          form.classList.remove('hidden');
          append(clear(d.foot), buttons);
        };
        c.back.addEventListener('click', restore);
        c.yes.addEventListener('click', () => {
          restore();
          send(true);
        });
      }
    }
    save.addEventListener('click', () => send(false));
  }

  // ---- CheckOut and CheckIn ----------------------------------------------

  function checkoutDialog(a, reload) {
    let value = null;
    let url = null;
    const d = dialog('CheckOut ' + a.name, {
      id: 'checkout-dialog',
      onClose: () => {
        // Drop every trace of the secret: the text node, the variable and
        // the download link.
        value = null;
        if (url) URL.revokeObjectURL(url);
        clear(d.body);
        reload();
      },
    });
    const type = typeSelect('checkout-type', a);
    const hold = h('select', { id: 'checkout-for' },
      h('option', { value: '0' }, 'No, show it only'),
      h('option', { value: '900' }, 'Exclusively for 15 minutes'),
      h('option', { value: '3600' }, 'Exclusively for 1 hour'),
      h('option', { value: '14400' }, 'Exclusively for 4 hours'));
    const reason = h('input', { type: 'text', id: 'checkout-reason', placeholder: 'Optional: why you need it' });
    const err = h('p', { class: 'form-error', role: 'alert', id: 'checkout-error' });
    const form = h('div', {}, h('label', { for: 'checkout-type' }, 'Credential type'), type,
      h('label', { for: 'checkout-for' }, 'Hold it'), hold,
      h('p', { class: 'hint' }, 'An exclusive checkout keeps others from checking it out until you check it in or it expires; then AutoReset changes it.'),
      h('label', { for: 'checkout-reason' }, 'Reason'), reason, err);
    const result = h('div', { id: 'checkout-result' });
    append(d.body, [form, result]);
    const go = h('button', { class: 'btn primary', id: 'checkout-go' }, 'CheckOut');
    append(d.foot, [h('button', { class: 'btn', onclick: d.close }, 'Cancel'), go]);
    go.addEventListener('click', async () => {
      go.disabled = true;
      err.textContent = '';
      try {
        const res = await api('POST', '/v1/accounts/checkout', {
          path: a.path, type: type.value, for_seconds: Number(hold.value), reason: reason.value,
        });
        value = res.value;
        form.remove();
        const pre = h('pre', { id: 'checkout-value' }, value);
        const copy = h('button', {
          class: 'btn small', id: 'checkout-copy',
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(value);
              toast('Copied to the clipboard.');
            } catch (e) {
              toast('The browser refused the clipboard; select the text and copy it.', true);
            }
          },
        }, icon('copy'), 'Copy');
        const tools = [copy];
        if (res.type === 'ssh-key') {
          url = URL.createObjectURL(new Blob([value + (value.endsWith('\n') ? '' : '\n')], { type: 'application/octet-stream' }));
          tools.push(h('a', { class: 'btn small', id: 'checkout-download', href: url, download: a.name + '.key' }, icon('download'), 'Download'));
        }
        const until = res.checkout && res.checkout.exclusive
          ? 'Checked out to you until ' + new Date(res.checkout.until).toLocaleString() + '. Check it in when you are done.'
          : 'Not held: others may check it out too.';
        append(result, [h('p', { class: 'hint' }, `${TYPE_LABEL[res.type] || res.type}, version ${res.version}. Shown once: it leaves the page when you close this window.`),
          h('div', { class: 'secret-box' }, pre, h('div', {}, tools)),
          h('p', { class: 'hint', id: 'checkout-expiry' }, until)]);
        append(clear(d.foot), h('button', { class: 'btn primary', id: 'checkout-close', onclick: d.close }, 'Close'));
      } catch (e) {
        go.disabled = false;
        err.textContent = e.message;
      }
    });
  }

  function checkinDialog(a, reload) {
    const held = a.credentials.filter((c) => c.checkout);
    const c = held[0];
    confirmDialog('CheckIn ' + a.name,
      `Ends the checkout of the ${TYPE_LABEL[c.type] || c.type} held by ${c.checkout.user}. AutoReset then changes it on the target.`,
      'CheckIn', async () => {
        await api('POST', '/v1/accounts/checkin', { path: a.path, type: c.type });
        toast('Checked in ' + a.path + '.');
        reload();
      });
  }

  // ---- Check Credentials -------------------------------------------------

  function checkDialog(paths, reload) {
    const d = dialog(paths.length === 1 ? 'Check Credentials of ' + basename(paths[0]) : `Check Credentials of ${paths.length} accounts`,
      { id: 'check-dialog', wide: paths.length > 1, onClose: reload });
    const bar = h('div', {});
    const summary = h('p', { id: 'check-summary' }, 'Starting…');
    const tbody = h('tbody', {});
    append(d.body, [summary, h('div', { class: 'progress' }, bar),
      h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Account'), h('th', {}, 'Type'),
        h('th', {}, 'Job'), h('th', {}, 'Result'))), tbody))]);
    append(d.foot, h('button', { class: 'btn primary', id: 'check-close', onclick: d.close }, 'Close'));
    run();

    async function run() {
      let res;
      try {
        res = await api('POST', '/v1/accounts/check', { paths });
      } catch (e) {
        summary.textContent = e.message;
        return;
      }
      const jobs = res.jobs;
      let done = 0;
      let good = 0;
      const show = () => {
        summary.textContent = `${done} of ${jobs.length} checks finished: ${good} log in, ${done - good} do not.`;
        bar.style.width = (jobs.length ? (100 * done) / jobs.length : 100) + '%';
      };
      show();
      const cells = new Map();
      for (const j of jobs) {
        const cell = h('td', {}, h('span', { class: 'pill waiting_agent' }, 'waiting'));
        cells.set(j.id, cell);
        tbody.append(h('tr', {}, h('td', {}, j.path), h('td', {}, h('span', { class: 'chip' }, j.type)),
          h('td', { class: 'mono sub' }, j.id), cell));
      }
      let next = 0;
      const worker = async () => {
        while (next < jobs.length) {
          const j = jobs[next++];
          const cell = cells.get(j.id);
          try {
            const end = await follow(j.id, (s) => {
              if (s.state === 'running') append(clear(cell), h('span', { class: 'pill running' }, 'running'));
            });
            const ok = end.state === 'succeeded';
            if (ok) good++;
            append(clear(cell), pill(ok ? 'InSync' : 'NotInSync', ok ? 'logs in' : 'fails'),
              end.reason ? h('span', { class: 'reason' }, end.reason) : null);
          } catch (e) {
            append(clear(cell), h('span', { class: 'reason' }, e.message));
          }
          done++;
          show();
        }
      };
      await Promise.all(Array.from({ length: Math.min(6, jobs.length) }, worker));
    }
  }

  // ---- Revisions and details ---------------------------------------------

  function revisionsDialog(a, reload) {
    const d = dialog('Revisions of ' + a.name, { id: 'revisions-dialog', wide: true, onClose: reload });
    const type = typeSelect('revisions-type', a);
    const list = h('div', {});
    const err = h('p', { class: 'form-error', role: 'alert' });
    append(d.body, [h('label', { for: 'revisions-type' }, 'Credential type'), type, err, list]);
    append(d.foot, h('button', { class: 'btn primary', onclick: d.close }, 'Close'));
    const canRestore = a.allowed.includes('restore');
    async function load() {
      clear(list);
      try {
        const res = await api('GET', '/v1/accounts/revisions' + query({ path: a.path, type: type.value }));
        const rows = res.revisions.map((r) => h('tr', {},
          h('td', { class: 'num' }, r.n), timeCell(r.created), h('td', {}, r.created_by), h('td', { class: 'sub' }, r.source),
          h('td', { class: 'compliance ' + r.compliance }, r.compliance),
          h('td', {}, r.current ? pill('InSync', 'current') : null, r.pending ? pill('Changing', 'pending') : null),
          h('td', { class: 'actions' }, canRestore && !r.current ? h('button', {
            class: 'btn small', onclick: () => restore(r.n),
          }, 'Restore') : null)));
        append(list, h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
          h('th', {}, '#'), h('th', {}, 'Created'), h('th', {}, 'By'), h('th', {}, 'Source'), h('th', {}, 'Compliance'),
          h('th', {}, ''), h('th', { class: 'actions' }, ''))), h('tbody', {}, rows))));
      } catch (e) {
        err.textContent = e.message;
      }
    }
    function restore(n) {
      const c = credOf(a, type.value);
      const inSync = c && c.status === 'InSync';
      const r = dialog(`Restore revision ${n} of ${a.name}`, { id: 'restore-dialog', onClose: load });
      const onTarget = h('input', { type: 'checkbox', id: 'restore-on-target', checked: true });
      const warn = notice('warn', 'The account will lose InSync',
        'Restoring in the database only leaves the target with its current credential.', 'restore-warning');
      const rerr = h('p', { class: 'form-error', role: 'alert' });
      const out = h('div', {});
      const refresh = () => warn.classList.toggle('hidden', !(inSync && !onTarget.checked));
      onTarget.addEventListener('change', refresh);
      append(r.body, [h('p', {}, `Revision ${n} becomes the ${TYPE_LABEL[type.value] || type.value} again.`),
        h('label', { class: 'check' }, onTarget, 'Change on target'), warn, rerr, out]);
      refresh();
      const go = h('button', { class: 'btn primary', id: 'restore-go' }, 'Restore');
      append(r.foot, [h('button', { class: 'btn', onclick: r.close }, 'Cancel'), go]);
      go.addEventListener('click', async () => {
        go.disabled = true;
        rerr.textContent = '';
        const dbOnly = !onTarget.checked;
        try {
          const res = await api('POST', '/v1/accounts/restore', {
            path: a.path, type: type.value, revision: n, database_only: dbOnly, force: dbOnly && inSync,
          });
          append(clear(r.foot), h('button', { class: 'btn primary', onclick: r.close }, 'Close'));
          if (res.job && res.job.change_on_target && !(res.job.state === 'succeeded' || res.job.state === 'failed')) {
            jobProgress(out, res.job, a.path, type.value);
          } else {
            append(out, notice('ok', 'Restored in the database', ''));
          }
        } catch (e) {
          go.disabled = false;
          rerr.textContent = e.message;
        }
      });
    }
    type.addEventListener('change', load);
    load();
  }

  async function detailsDialog(path) {
    const d = dialog('Details of ' + basename(path), { id: 'details-dialog', wide: true });
    append(d.foot, h('button', { class: 'btn primary', onclick: d.close }, 'Close'));
    let a;
    try {
      a = await api('GET', '/v1/accounts/show' + query({ path }));
    } catch (e) {
      append(d.body, notice('bad', 'Cannot show the account', e.message));
      return;
    }
    const last = a.last_action;
    append(d.body, h('dl', { class: 'facts' },
      h('dt', {}, 'Path'), h('dd', { class: 'mono' }, a.path),
      h('dt', {}, 'Target'), h('dd', {}, a.target),
      h('dt', {}, 'Status'), h('dd', {}, pill(a.status)),
      h('dt', {}, 'Created'), h('dd', {}, new Date(a.created).toLocaleString()),
      h('dt', {}, 'Last action'), h('dd', { id: 'details-last-action' },
        last ? `${last.op} by ${last.by}, ${when(last.at)}${last.note ? ' (' + last.note + ')' : ''}` : 'none')));
    for (const c of a.credentials) {
      append(d.body, h('div', { class: 'cred-card', 'data-type': c.type },
        h('h3', {}, TYPE_LABEL[c.type] || c.type, pill(c.status), c.reason ? h('span', { class: 'reason' }, c.reason) : null),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Last checked'), h('dd', {}, c.checked_at ? new Date(c.checked_at).toLocaleString() : 'never'),
          h('dt', {}, 'Last changed'), h('dd', {}, c.changed_at ? new Date(c.changed_at).toLocaleString() : 'never'),
          h('dt', {}, 'Policy'), h('dd', {}, c.policy),
          h('dt', {}, 'Compliance'), h('dd', { class: 'compliance ' + c.compliance }, c.compliance,
            (c.violations || []).length ? ': ' + c.violations.join('; ') : ''),
          h('dt', {}, 'Revision'), h('dd', {}, `current ${c.version}` + (c.pending ? `, pending ${c.pending} (job ${c.pending_job})` : '')),
          h('dt', {}, 'Checkout'), h('dd', {}, c.checkout
            ? `${c.checkout.user} until ${new Date(c.checkout.until).toLocaleString()}${c.checkout.exclusive ? ', exclusive' : ''}`
            : 'none')),
        revisionsSummary(a, c)));
    }
  }

  // revisionsSummary lists the latest revisions of one credential in the
  // details window, for users who may read them.
  function revisionsSummary(a, c) {
    if (!(a.allowed || []).includes('read_revisions')) return null;
    const box = h('div', { class: 'revisions', 'data-type': c.type }, h('h4', {}, 'Revisions'));
    api('GET', '/v1/accounts/revisions' + query({ path: a.path, type: c.type })).then((res) => {
      const latest = res.revisions.slice(0, 5); // newest first
      append(box, h('table', { class: 'compact' }, h('tbody', {}, latest.map((r) => h('tr', {},
        h('td', { class: 'num' }, r.n), h('td', {}, when(r.created)), h('td', {}, r.created_by),
        h('td', { class: 'sub' }, r.source), h('td', { class: 'compliance ' + r.compliance }, r.compliance),
        h('td', {}, r.current ? pill('InSync', 'current') : null, r.pending ? pill('Changing', 'pending') : null))))));
      if (res.revisions.length > latest.length) {
        append(box, h('p', { class: 'hint' }, `${res.revisions.length - latest.length} older revisions: see Revisions.`));
      }
    }).catch((e) => append(box, h('p', { class: 'form-error' }, e.message)));
    return box;
  }

  // ---- Targets -----------------------------------------------------------

  async function renderTargetsTab(body) {
    const search = h('input', { type: 'search', id: 'target-search', placeholder: 'Search targets', 'aria-label': 'Search targets' });
    const tbody = h('tbody', { id: 'target-rows' });
    const count = h('span', { class: 'count' });
    append(body, [h('div', { class: 'toolbar' }, search, h('span', { class: 'spacer' }), count),
      h('div', { class: 'table-wrap' }, h('table', { id: 'targets-table' }, h('thead', {}, h('tr', {},
        h('th', {}, 'Target'), h('th', {}, 'Folder'), h('th', {}, 'Type'), h('th', {}, 'Address'), h('th', {}, 'Zone'),
        h('th', { class: 'num' }, 'Acc.#'), h('th', { class: 'actions' }, 'Actions'))), tbody))]);
    let targets = [];
    try {
      targets = (await api('GET', '/v1/targets' + query({ path: state.folder }))).targets;
    } catch (e) {
      append(tbody, h('tr', {}, h('td', { colspan: 7, class: 'empty' }, e.message)));
      return;
    }
    const draw = () => {
      const q = search.value.trim().toLowerCase();
      const shown = targets.filter((t) => !q || t.path.toLowerCase().includes(q));
      count.textContent = `${shown.length} target${shown.length === 1 ? '' : 's'}`;
      const rows = shown.slice(0, 500).map((t) => h('tr', { 'data-path': t.path },
        h('td', { class: 'name' }, basename(t.path)), h('td', { class: 'sub' }, dirname(t.path) || 'Vault'),
        h('td', {}, h('span', { class: 'chip' }, t.type)), h('td', { class: 'mono' }, t.address), h('td', {}, t.zone),
        h('td', { class: 'num' }, t.accounts),
        h('td', { class: 'actions' }, h('button', {
          class: 'icon-btn', 'aria-label': 'Actions for ' + t.path, 'data-actions': t.path,
          onclick: (ev) => openMenu(ev.currentTarget, [['Accounts', () => targetAccounts(t)]]),
        }, icon('dots')))));
      if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No targets here.')));
      append(clear(tbody), rows);
    };
    search.addEventListener('input', draw);
    draw();
  }

  function targetAccounts(t) {
    const d = dialog('Accounts of ' + basename(t.path), { id: 'target-accounts', wide: true });
    append(d.body, [h('p', { class: 'hint' }, `${t.type} target at ${t.address}, zone ${t.zone}`), accountsTable({ target: t.path })]);
    append(d.foot, h('button', { class: 'btn primary', onclick: d.close }, 'Close'));
  }

  // ---- Jobs, agents, audit -----------------------------------------------

  async function simpleTable(body, id, heads, load, row) {
    const tbody = h('tbody', {});
    const refresh = h('button', { class: 'btn small', onclick: () => fill() }, icon('refresh'), 'Refresh');
    append(body, [h('div', { class: 'toolbar' }, h('span', { class: 'spacer' }), refresh),
      h('div', { class: 'table-wrap' }, h('table', { id }, h('thead', {}, h('tr', {}, heads.map((x) => h('th', {}, x)))), tbody))]);
    async function fill() {
      try {
        const items = await load();
        const rows = items.map(row);
        if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: heads.length, class: 'empty' }, 'Nothing yet.')));
        append(clear(tbody), rows);
      } catch (e) {
        append(clear(tbody), h('tr', {}, h('td', { colspan: heads.length, class: 'empty' }, e.message)));
      }
    }
    fill();
  }

  function renderJobsTab(body) {
    simpleTable(body, 'jobs-table', ['Created', 'Kind', 'Account', 'Type', 'State', 'Outcome', 'By'], async () => {
      const jobs = (await api('GET', '/v1/jobs')).jobs;
      return jobs.filter((j) => !state.folder || j.path.startsWith(state.folder + '/'))
        .sort((x, y) => (x.created < y.created ? 1 : -1)).slice(0, 300);
    }, (j) => h('tr', {}, timeCell(j.created), h('td', {}, j.kind), h('td', {}, j.path),
      h('td', {}, h('span', { class: 'chip' }, j.type)), h('td', {}, h('span', { class: 'pill ' + j.state }, j.state.replace('_', ' ')),
        j.reason ? h('span', { class: 'reason' }, j.reason) : null),
      h('td', { class: 'sub' }, (j.outcome || '').slice(0, 90)), h('td', {}, j.requested_by)));
  }

  function renderAgentsTab(body) {
    simpleTable(body, 'agents-table', ['Agent', 'Zone', 'State', 'Last seen', 'Version', 'Drivers', 'Jobs in flight'],
      async () => (await api('GET', '/v1/agents')).agents,
      (g) => h('tr', {}, h('td', { class: 'name' }, g.name || g.id), h('td', {}, g.zone),
        h('td', {}, h('span', { class: 'pill ' + (g.online ? 'online' : 'offline') }, g.online ? 'online' : 'offline')),
        timeCell(g.last_seen), h('td', { class: 'sub' }, g.version || ''),
        h('td', {}, (g.drivers || []).map((x) => h('span', { class: 'chip' }, x))), h('td', { class: 'num' }, g.in_flight)));
  }

  function renderAuditTab(body) {
    simpleTable(body, 'audit-table', ['Time', 'Actor', 'Operation', 'Path', 'Outcome', 'Detail'],
      async () => (await api('GET', '/v1/audit' + query({ path: state.folder, limit: 200 }))).records.slice().reverse(),
      (r) => h('tr', {}, timeCell(r.time), h('td', {}, r.actor), h('td', { class: 'mono' }, r.op), h('td', {}, r.path || ''),
        h('td', {}, h('span', { class: 'pill ' + (r.outcome === 'ok' ? 'succeeded' : 'failed') }, r.outcome),
          r.code ? h('span', { class: 'reason' }, r.code) : null),
        h('td', { class: 'sub' }, (r.detail || '').slice(0, 100))));
  }

  // ---- Start -------------------------------------------------------------

  async function boot() {
    try {
      state.session = await api('GET', '/v1/session');
    } catch (e) {
      showLogin(e.code === 'unreachable' ? e.message : '');
      return;
    }
    try {
      await enter();
    } catch (e) {
      if (state.session) mount(h('main', { class: 'center-page' }, notice('bad', 'The console cannot start', e.message)));
    }
  }

  boot();
})();
