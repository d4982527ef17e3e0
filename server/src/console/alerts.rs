//! Alerts: an urgent case with no recorded action [`AlertConfig::lead`] before its deadline (or
//! past it) is posted to a webhook the province wires to SMS or Zalo. A failed delivery is
//! retried with exponential backoff; every attempt is in the console's audit log. The payload
//! is routing metadata only: record id, commune, team and deadline.

use std::time::Duration;

use crate::params;
use serde::Serialize;

use super::data;
use crate::state::AppState;

/// Where and when to alert.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// `http(s)://...`, posted a JSON [`Alert`].
    pub webhook: String,
    /// Alert this long before the deadline.
    pub lead: Duration,
    /// How often to look for cases to alert about.
    pub poll: Duration,
    /// The first retry's delay; each further one doubles it, up to an hour.
    pub backoff: Duration,
    pub max_attempts: u32,
    /// Cases whose deadline passed longer ago than this are not alerted about (a server that
    /// starts alerting does not post the whole history).
    pub horizon: Duration,
}

impl AlertConfig {
    pub fn new(webhook: impl Into<String>, lead_hours: u32) -> AlertConfig {
        AlertConfig {
            webhook: webhook.into(),
            lead: Duration::from_secs(u64::from(lead_hours) * 3600),
            poll: Duration::from_secs(60),
            backoff: Duration::from_secs(60),
            max_attempts: 10,
            horizon: Duration::from_secs(7 * 86_400),
        }
    }
}

/// What the webhook receives.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub event: &'static str,
    pub record_id: String,
    pub commune: Option<String>,
    pub team: String,
    pub due_at_ms: i64,
    /// Negative once the deadline has passed.
    pub minutes_left: i64,
    pub attempt: i64,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The delay before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff_ms(base: Duration, attempts: i64) -> i64 {
    let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    ms(base).saturating_mul(1i64 << shift).min(3_600_000)
}

/// Run forever: every `poll`, alert about the cases that are due.
pub async fn run(state: AppState, config: AlertConfig) {
    let agent = agent(&config.webhook);
    let mut tick = tokio::time::interval(config.poll);
    loop {
        tick.tick().await;
        if let Err(e) = once(&state, &config, &agent).await {
            tracing::warn!(code = %e.body.code, "alert round failed");
        }
    }
}

/// One round: find the cases due an alert, post each, record each attempt.
pub async fn once(
    state: &AppState,
    config: &AlertConfig,
    agent: &ureq::Agent,
) -> Result<usize, crate::ApiError> {
    let now = state.now_ms();
    let (lead, horizon, max) =
        (ms(config.lead), ms(config.horizon), i64::from(config.max_attempts));
    let due = state
        .db
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT r.record_id, r.commune, r.team, r.due_at_ms, COALESCE(al.attempts, 0)
                 FROM submission_routing r LEFT JOIN case_alerts al ON al.record_id = r.record_id
                 WHERE r.risk_level = 'urgent' AND r.due_at_ms <= ?1 + ?2 AND r.due_at_ms >= ?1 - ?3
                   AND NOT EXISTS (SELECT 1 FROM case_actions a WHERE a.record_id = r.record_id)
                   AND (al.record_id IS NULL
                        OR (al.delivered_at_ms IS NULL AND al.next_attempt_ms <= ?1 AND al.attempts < ?4))
                 ORDER BY r.due_at_ms LIMIT 20",
            )?;
            let rows = stmt.query_map(params![now, lead, horizon, max], |r| {
                Ok(Alert {
                    event: "urgent_case_without_action",
                    record_id: r.get(0)?,
                    commune: r.get(1)?,
                    team: r.get(2)?,
                    due_at_ms: r.get(3)?,
                    minutes_left: (r.get::<_, i64>(3)? - now) / 60_000,
                    attempt: r.get::<_, i64>(4)? + 1,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let n = due.len();
    for alert in due {
        let (agent, url, body) =
            (agent.clone(), config.webhook.clone(), serde_json::to_vec(&alert).unwrap_or_default());
        let outcome = tokio::task::spawn_blocking(move || post(&agent, &url, &body))
            .await
            .unwrap_or_else(|_| Err("the sending task failed".into()));
        let now = state.now_ms();
        let next = now + backoff_ms(config.backoff, alert.attempt);
        let (ok, detail) = match &outcome {
            Ok(status) => (true, format!("attempt {}: HTTP {status}", alert.attempt)),
            Err(e) => (false, format!("attempt {}: {e}", alert.attempt)),
        };
        tracing::info!(record = %alert.record_id, attempt = alert.attempt, delivered = ok, "urgent-case alert");
        state
            .db
            .call(move |c| {
                c.execute(
                    "INSERT INTO case_alerts (record_id, attempts, next_attempt_ms, delivered_at_ms, last_outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (record_id) DO UPDATE SET attempts = ?2, next_attempt_ms = ?3,
                         delivered_at_ms = ?4, last_outcome = ?5",
                    params![alert.record_id, alert.attempt, next, ok.then_some(now), detail],
                )?;
                data::audit(
                    c,
                    now,
                    "system",
                    "alert_webhook",
                    Some(&alert.record_id),
                    if ok { "ok" } else { "failed" },
                    Some(&detail),
                )
            })
            .await?;
    }
    Ok(n)
}

/// A blocking client for the webhook: timeouts, no redirects, the system's roots for https.
pub fn agent(url: &str) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(15)))
        .user_agent("safehome-server-alerts");
    if url.starts_with("https://") {
        let found = rustls_native_certs::load_native_certs();
        let roots: Vec<Certificate<'static>> =
            found.certs.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()).collect();
        config = config
            .tls_config(TlsConfig::builder().root_certs(RootCerts::new_with_certs(&roots)).build());
    }
    config.build().into()
}

/// Post one alert; the status when it is 2xx.
fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> Result<u16, String> {
    let res = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| format!("not delivered ({})", error_kind(&e)))?;
    let status = res.status().as_u16();
    if (200..300).contains(&status) { Ok(status) } else { Err(format!("HTTP {status}")) }
}

/// A short, data-free description of a delivery failure.
fn error_kind(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Timeout(_) => "timeout",
        ureq::Error::Io(_) => "connection failed",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS",
        _ => "HTTP error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let base = Duration::from_secs(60);
        assert_eq!(backoff_ms(base, 1), 60_000);
        assert_eq!(backoff_ms(base, 2), 120_000);
        assert_eq!(backoff_ms(base, 4), 480_000);
        assert_eq!(backoff_ms(base, 40), 3_600_000);
    }
}
