// Alerts: the head's alert rules, firing ones first, with how long each has been in its state.

import { Badge, Loading, PageHeader } from "../components/ui.js";
import { formatDateTime, formatDuration } from "../lib/format.js";
import { useStore } from "../lib/store.js";
import { alertsStore, eventsStore } from "../live.js";

export function AlertsPage() {
  const alerts = useStore(alertsStore);
  const events = useStore(eventsStore);
  if (alerts === null) return <Loading what="alerts" />;
  const sorted = alerts.slice().sort((a, b) => Number(b.firing) - Number(a.firing) || a.name.localeCompare(b.name));
  const firing = sorted.filter((alert) => alert.firing).length;
  const history = events.filter((event) => event.kind === "alert").slice(-50).reverse();
  const now = Date.now();
  return (
    <div class="page">
      <PageHeader title="Alerts" subtitle={firing === 0 ? "Nothing is firing." : `${firing} of ${alerts.length} firing`} />
      <section class="panel" aria-labelledby="alert-rules">
        <h2 id="alert-rules" class="visually-hidden">Alert rules</h2>
        {sorted.length === 0 ? (
          <p class="muted">The head defines no alerts.</p>
        ) : (
          <table class="plain alerts">
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col">Alert</th>
                <th scope="col">Since</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((alert) => (
                <tr key={alert.name} class={alert.firing ? "firing" : undefined}>
                  <td><Badge state={alert.firing ? "firing" : "resolved"} label={alert.firing ? "firing" : "ok"} /></td>
                  <td><strong>{alert.name}</strong></td>
                  <td class="num">
                    {alert.sinceMs > 0 ? <>{formatDuration(now - alert.sinceMs)} <span class="muted small">({formatDateTime(alert.sinceMs)})</span></> : "–"}
                  </td>
                  <td>{alert.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="panel" aria-labelledby="alert-history">
        <h2 id="alert-history">History</h2>
        {history.length === 0 ? <p class="muted">No alert events yet.</p> : (
          <ul class="event-list">
            {history.map((event) => (
              <li key={event.hlc}>
                <time class="num muted">{formatDateTime(event.tMs)}</time> <span>{event.message}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
