// Alerts (route #alerts): the project's rules (enable/disable, edit as JSON, add, delete), its
// destinations (add, delete, send a test) and the outbox with every attempt.
import { html, Fragment, S, update, api, projectPath, fail, info, str, count, Time, localTime } from './lib.js';

S.alerts = null; // GET /alerts answer
S.ruleEdit = null; // {index (null: new), text, error}
S.destForm = { id: '', kind: 'slack', url: '', secret: '', routing_key: '' };
S.openAlerts = new Set();

const KINDS = ['new_issue', 'regression', 'snooze_woke', 'escalating', 'event_volume', 'user_volume', 'spike', 'drop_rate', 'silent', 'webhook_hold', 'webhook_exhausted'];
const TEMPLATES = {
  event_volume: { events: 100, window_min: 60 },
  user_volume: { users: 10, window_min: 60 },
  spike: { factor_percent: 300 },
  drop_rate: { ratio_percent: 10 },
};

export async function loadAlerts() {
  const data = await api(projectPath('/alerts'));
  update({ alerts: data });
}

async function saveRules(rules, done) {
  update({ busy: true });
  try {
    await api(projectPath('/alerts/rules'), { method: 'PUT', body: { rules } });
    info(done);
    await loadAlerts();
    return true;
  } catch (err) {
    fail(err);
    return false;
  } finally {
    update({ busy: false });
  }
}

function rules() {
  return (S.alerts && Array.isArray(S.alerts.rules)) ? S.alerts.rules : [];
}

function toggleRule(index) {
  const list = rules().map((r, i) => (i === index ? { ...r, enabled: !r.enabled } : r));
  const r = list[index];
  // Shown at once (the checkbox follows the click); a refusal reloads the saved rules.
  update({ alerts: { ...S.alerts, rules: list } });
  saveRules(list, 'Rule "' + str(r.name) + '" ' + (r.enabled ? 'enabled.' : 'disabled.'))
    .then((ok) => { if (!ok) loadAlerts().catch(fail); });
}

function editRule(index) {
  const rule = index === null
    ? { id: 'my_rule', name: 'A new rule', kind: 'event_volume', ...TEMPLATES.event_volume, filter: { environment: 'production' }, enabled: true }
    : rules()[index];
  update({ ruleEdit: { index, text: JSON.stringify(rule, null, 2), error: null } });
}

async function submitRule(e) {
  e.preventDefault();
  const ed = S.ruleEdit;
  let rule;
  try {
    rule = JSON.parse(ed.text);
  } catch (err) {
    update({ ruleEdit: { ...ed, error: 'Not JSON: ' + err.message } });
    return;
  }
  const list = rules().slice();
  if (ed.index === null) list.push(rule);
  else list[ed.index] = rule;
  if (await saveRules(list, 'Rules saved.')) update({ ruleEdit: null });
}

async function deleteRule(index) {
  const list = rules().filter((_, i) => i !== index);
  if (await saveRules(list, 'Rule deleted.')) update({ ruleEdit: null });
}

function params(rule) {
  const skip = new Set(['id', 'name', 'kind', 'filter', 'enabled', 'reminder_ms']);
  const own = Object.keys(rule).filter((k) => !skip.has(k)).map((k) => k + '=' + str(rule[k]));
  const f = rule.filter || {};
  const filter = ['environment', 'level', 'release'].filter((k) => f[k]).map((k) => k + '=' + str(f[k]));
  if (rule.reminder_ms) own.push('reminder every ' + Math.round(rule.reminder_ms / 60000) + ' min');
  return { own: own.join(', '), filter: filter.join(', ') };
}

function RulesSection() {
  const list = rules();
  const ed = S.ruleEdit;
  return html`<section class="panel" id="alert-rules">
    <div class="panel-head">
      <h2>Rules</h2>
      <span class="muted">${S.alerts && S.alerts.defaults ? 'the default rules (not saved yet)' : list.length + ' saved'}</span>
    </div>
    <table class="data">
      <thead><tr><th scope="col">On</th><th scope="col">Rule</th><th scope="col">Kind</th><th scope="col">Parameters</th><th scope="col">Filter</th><th scope="col"></th></tr></thead>
      <tbody>
        ${list.map((r, i) => {
          const p = params(r);
          return html`<tr key=${str(r.id)} data-rule-id=${str(r.id)} class=${r.enabled ? '' : 'disabled-row'}>
            <td><input type="checkbox" class="rule-enabled" checked=${!!r.enabled} disabled=${S.busy} onChange=${() => toggleRule(i)} aria-label=${'Enable ' + str(r.name)} /></td>
            <td><div class="rule-name">${str(r.name)}</div><div class="mono muted small">${str(r.id)}</div></td>
            <td class="mono">${str(r.kind)}</td>
            <td class="small">${p.own || '—'}</td>
            <td class="small">${p.filter || 'any event'}</td>
            <td class="nowrap"><button type="button" class="secondary small-button" onClick=${() => editRule(i)}>Edit</button></td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${ed ? html`<form class="rule-editor" id="rule-editor" onSubmit=${submitRule}>
      <h3>${ed.index === null ? 'New rule' : 'Edit rule'} <span class="muted">(JSON)</span></h3>
      <p class="muted small">kind: ${KINDS.join(', ')}. Thresholds: ${Object.entries(TEMPLATES).map(([k, v]) => k + ' ' + JSON.stringify(v)).join('; ')}. filter: environment, level, release. reminder_ms ≥ 300000.</p>
      <textarea id="rule-json" rows="10" spellcheck="false" value=${ed.text}
        onInput=${(e) => update({ ruleEdit: { ...S.ruleEdit, text: e.currentTarget.value, error: null } })}></textarea>
      ${ed.error ? html`<p class="form-error">${ed.error}</p>` : null}
      <div class="inline-form">
        <button type="submit" disabled=${S.busy}>Save rules</button>
        <button type="button" class="secondary" onClick=${() => update({ ruleEdit: null })}>Cancel</button>
        ${ed.index !== null ? html`<button type="button" class="danger" disabled=${S.busy} onClick=${() => deleteRule(ed.index)}>Delete rule</button>` : null}
      </div>
    </form>` : html`<div class="inline-form section-foot"><button type="button" class="secondary" id="add-rule" onClick=${() => editRule(null)}>Add rule</button></div>`}
  </section>`;
}

async function saveDestination(e) {
  e.preventDefault();
  const f = S.destForm;
  const body = { kind: f.kind, url: f.url.trim() };
  if (f.kind === 'webhook' && f.secret) body.secret = f.secret;
  if (f.kind === 'pagerduty' && f.routing_key) body.routing_key = f.routing_key.trim();
  update({ busy: true });
  try {
    await api(projectPath('/alerts/destinations/' + encodeURIComponent(f.id.trim())), { method: 'PUT', body });
    info('Destination "' + f.id.trim() + '" saved.');
    update({ destForm: { id: '', kind: f.kind, url: '', secret: '', routing_key: '' } });
    await loadAlerts();
  } catch (err) {
    fail(err);
  } finally {
    update({ busy: false });
  }
}

async function destinationCall(id, method, suffix, done) {
  update({ busy: true });
  try {
    await api(projectPath('/alerts/destinations/' + encodeURIComponent(id) + suffix), { method });
    info(done);
    await loadAlerts();
  } catch (err) {
    fail(err);
  } finally {
    update({ busy: false });
  }
}

function DestinationsSection() {
  const list = (S.alerts && Array.isArray(S.alerts.destinations)) ? S.alerts.destinations : [];
  const f = S.destForm;
  const set = (k) => (e) => update({ destForm: { ...S.destForm, [k]: e.currentTarget.value } });
  return html`<section class="panel" id="alert-destinations">
    <div class="panel-head"><h2>Destinations</h2><span class="muted">${list.length ? list.length + ' configured' : 'none yet: alerts have nowhere to go'}</span></div>
    ${list.length ? html`<table class="data">
      <thead><tr><th scope="col">Id</th><th scope="col">Kind</th><th scope="col">URL</th><th scope="col">Secret / key</th><th scope="col"></th></tr></thead>
      <tbody>${list.map((d) => html`<tr key=${str(d.id)} data-destination-id=${str(d.id)}>
        <td class="mono">${str(d.id)}</td>
        <td>${str(d.kind)}</td>
        <td class="mono wrap">${str(d.url)}</td>
        <td class="small">${d.kind === 'webhook' ? (d.secret_set ? 'signed (secret set)' : 'unsigned') : d.kind === 'pagerduty' ? 'routing key ' + str(d.routing_key) : '—'}</td>
        <td class="nowrap">
          <button type="button" class="secondary small-button" data-action="test" disabled=${S.busy}
            onClick=${() => destinationCall(str(d.id), 'POST', '/test', 'Test alert queued for "' + str(d.id) + '": see the outbox below.')}>Send test</button>
          <button type="button" class="secondary small-button" data-action="delete" disabled=${S.busy}
            onClick=${() => destinationCall(str(d.id), 'DELETE', '', 'Destination "' + str(d.id) + '" deleted.')}>Delete</button>
        </td>
      </tr>`)}</tbody>
    </table>` : null}
    <form class="dest-form" id="destination-form" autocomplete="off" onSubmit=${saveDestination}>
      <h3>Add or replace a destination</h3>
      <div class="filters">
        <label><span>Id</span><input id="dest-id" type="text" required size="10" pattern="[a-z0-9_\\-]{1,64}" placeholder="ops-slack" value=${f.id} onInput=${set('id')} /></label>
        <label><span>Kind</span><select id="dest-kind" value=${f.kind} onChange=${set('kind')}>
          <option value="slack">Slack (incoming webhook)</option>
          <option value="webhook">Webhook (signed JSON)</option>
          <option value="pagerduty">PagerDuty (Events v2)</option>
        </select></label>
        <label class="grow"><span>URL</span><input id="dest-url" type="url" required placeholder="https://hooks.slack.com/services/…" value=${f.url} onInput=${set('url')} /></label>
        ${f.kind === 'webhook' ? html`<label><span>Secret</span><input id="dest-secret" type="password" value=${f.secret} onInput=${set('secret')} /></label>` : null}
        ${f.kind === 'pagerduty' ? html`<label><span>Routing key</span><input id="dest-routing-key" type="text" size="34" value=${f.routing_key} onInput=${set('routing_key')} /></label>` : null}
        <button type="submit" disabled=${S.busy}>Save destination</button>
      </div>
    </form>
  </section>`;
}

function toggleAttempts(id) {
  const open = new Set(S.openAlerts);
  if (open.has(id)) open.delete(id);
  else open.add(id);
  update({ openAlerts: open });
}

function OutboxSection() {
  const list = (S.alerts && Array.isArray(S.alerts.alerts)) ? S.alerts.alerts : [];
  const badge = { pending: 'badge-pending', delivered: 'badge-ok', failed: 'badge-bad' };
  return html`<section class="panel" id="alert-outbox">
    <div class="panel-head"><h2>Outbox</h2><span class="muted">the latest ${list.length} alerts; a refused one is kept and retried</span></div>
    ${list.length ? html`<table class="data">
      <thead><tr><th scope="col">Created</th><th scope="col">To</th><th scope="col">Alert</th><th scope="col">Status</th><th scope="col" class="num">Attempts</th><th scope="col">Next / delivered</th></tr></thead>
      <tbody>${list.map((a) => {
        const id = str(a.id);
        const open = S.openAlerts.has(id);
        const log = Array.isArray(a.attempt_log) ? a.attempt_log : [];
        return html`<${Fragment} key=${id}><tr data-alert-id=${id} data-alert-status=${str(a.status)} class="clickable" onClick=${() => toggleAttempts(id)}>
            <td class="nowrap"><${Time} ms=${a.created_at} /></td>
            <td><span class="mono">${str(a.destination_id)}</span><div class="muted small">${str(a.kind)}</div></td>
            <td class="wrap"><div class="alert-summary">${str(a.summary)}</div>
              <div class="muted small">${a.rule_id ? 'rule ' + str(a.rule_id) : ''}${a.issue_id ? html` · <a href=${'#issue=' + encodeURIComponent(str(a.issue_id))} onClick=${(e) => e.stopPropagation()}>issue ${str(a.issue_id)}</a>` : null}</div>
              ${a.last_error ? html`<div class="alert-error small">${str(a.last_error)}</div>` : null}</td>
            <td><span class=${'badge ' + (badge[a.status] || 'badge-page')}>${str(a.status)}</span></td>
            <td class="num"><button type="button" class="link attempts-toggle" aria-expanded=${open ? 'true' : 'false'}>${count(a.attempts)}</button></td>
            <td class="nowrap small">${a.status === 'delivered' ? html`<${Time} ms=${a.delivered_at} />` : a.status === 'pending' && a.next_attempt_at ? html`next <${Time} ms=${a.next_attempt_at} />` : '—'}</td>
          </tr>
          ${open ? html`<tr class="attempt-log-row" data-attempts-for=${id}><td colspan="6">
            ${log.length ? html`<ol class="attempt-log">${log.map((t) => html`<li key=${str(t.number)}>
              <span class="mono">#${str(t.number)}</span> <span>${localTime(t.at)}</span> <span class="mono">${str(t.status)}</span>
              ${t.error ? html` <span class="alert-error">${str(t.error)}</span>` : null}</li>`)}</ol>` : html`<span class="muted">No attempt yet.</span>`}
          </td></tr>` : null}<//>`;
      })}</tbody>
    </table>` : html`<p class="muted">No alerts sent yet.</p>`}
  </section>`;
}

export function AlertsPage() {
  return html`<main class="alerts-page" id="alerts-page">
    <a class="back" href="#" onClick=${(e) => { e.preventDefault(); location.hash = ''; }}>← Issues</a>
    ${S.alerts ? null : html`<p class="muted">Loading alerts…</p>`}
    <${RulesSection} />
    <${DestinationsSection} />
    <${OutboxSection} />
  </main>`;
}
