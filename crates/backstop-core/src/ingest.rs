//! What one accepted request turns into: the events to store, attachments to keep, and the
//! counters to add (items by type, the SDK's own drops, release health). Everything is read and
//! validated before anything is stored, so one bad item refuses the whole request.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client_report::{parse_client_report, Discard};
use crate::config::Config;
use crate::envelope::Envelope;
use crate::error::IngestError;
use crate::event::{normalize_event, normalize_event_id, normalize_user_report, NormalizedEvent};
use crate::item::ItemType;
use crate::session::{parse_session_item, SessionCounts};

/// An attachment to keep, linked to an event id.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentPlan<'a> {
    /// The event it belongs to (empty when the envelope names none).
    pub event_id: String,
    /// `filename` header, sanitised.
    pub filename: String,
    /// `content_type` header, or `application/octet-stream`.
    pub content_type: String,
    /// The bytes.
    pub payload: &'a [u8],
}

/// Everything an accepted request stores and counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestPlan<'a> {
    /// Events to store (errors, messages, feedback, and transactions when configured).
    pub events: Vec<NormalizedEvent>,
    /// Attachments to keep.
    pub attachments: Vec<AttachmentPlan<'a>>,
    /// Items by type (`event`, `transaction`, `session`, `client_report`, `unsupported`...).
    pub item_counts: BTreeMap<String, u64>,
    /// What the SDK reported it dropped.
    pub discards: Vec<Discard>,
    /// Release-health counts.
    pub sessions: Vec<SessionCounts>,
}

impl IngestPlan<'_> {
    /// The id answered to the client: the first stored event's.
    pub fn response_id(&self) -> Option<&str> {
        self.events.first().map(|e| e.summary.event_id.as_str())
    }

    fn count(&mut self, item: &ItemType) {
        *self
            .item_counts
            .entry(item.stat_name().to_string())
            .or_default() += 1;
    }
}

/// Plans a `/store/` request: one event.
pub fn plan_store<'a>(
    body: &'a [u8],
    config: &Config,
    now_ms: u64,
    new_id: &mut dyn FnMut() -> String,
) -> Result<IngestPlan<'a>, IngestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::EmptyBody);
    }
    let mut plan = IngestPlan::default();
    plan.events.push(normalize_event(
        body,
        &new_id(),
        now_ms,
        config.limits.max_json_depth,
    )?);
    plan.count(&ItemType::Event);
    Ok(plan)
}

/// Plans an envelope: reads every item by its type.
pub fn plan_envelope<'a>(
    envelope: &Envelope<'a>,
    config: &Config,
    now_ms: u64,
    new_id: &mut dyn FnMut() -> String,
) -> Result<IngestPlan<'a>, IngestError> {
    let depth = config.limits.max_json_depth;
    let header_id = envelope.event_id().and_then(normalize_event_id);
    let mut plan = IngestPlan::default();
    let mut event_id_for_attachments = header_id.clone();
    for item in &envelope.items {
        plan.count(&item.kind);
        match &item.kind {
            ItemType::Event | ItemType::Feedback => {
                let id = header_id
                    .clone()
                    .filter(|_| item.kind == ItemType::Event)
                    .unwrap_or_else(&mut *new_id);
                let ev = normalize_event(item.payload, &id, now_ms, depth)?;
                event_id_for_attachments.get_or_insert_with(|| ev.summary.event_id.clone());
                plan.events.push(ev);
            }
            ItemType::Transaction if config.ingest.store_transactions => {
                plan.events
                    .push(normalize_event(item.payload, &new_id(), now_ms, depth)?);
            }
            ItemType::UserReport => plan.events.push(normalize_user_report(
                item.payload,
                &new_id(),
                now_ms,
                depth,
            )?),
            ItemType::Session => {
                plan.sessions
                    .push(parse_session_item(item.payload, false, depth)?)
            }
            ItemType::Sessions => {
                plan.sessions
                    .push(parse_session_item(item.payload, true, depth)?)
            }
            ItemType::ClientReport => plan
                .discards
                .extend(parse_client_report(item.payload, depth)?),
            ItemType::Attachment => plan.attachments.push(AttachmentPlan {
                event_id: String::new(),
                filename: sanitize_filename(
                    item.header
                        .get("filename")
                        .and_then(Value::as_str)
                        .unwrap_or("attachment"),
                ),
                content_type: item
                    .header
                    .get("content_type")
                    .and_then(Value::as_str)
                    .filter(|c| {
                        c.len() <= 100 && c.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                    })
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                payload: item.payload,
            }),
            ItemType::Transaction | ItemType::Span | ItemType::Unsupported(_) => {}
        }
    }
    let link = event_id_for_attachments.unwrap_or_default();
    for a in &mut plan.attachments {
        a.event_id.clone_from(&link);
    }
    Ok(plan)
}

/// Keeps a filename printable and short; path separators are replaced.
fn sanitize_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .take(200)
        .collect();
    if cleaned.trim().is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawConfig, DEV_ADMIN_TOKEN};
    use crate::envelope::parse_envelope;

    fn config(ingest: &str) -> Config {
        Config::from_raw(&RawConfig {
            env: Some("local".into()),
            admin_token: Some(DEV_ADMIN_TOKEN.into()),
            projects_json: None,
            limits_json: None,
            ingest_json: Some(ingest.into()),
        })
        .unwrap()
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0u32;
        move || {
            n += 1;
            format!("{n:032x}")
        }
    }

    const HEADER_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

    fn plan(body: &str, ingest: &str) -> Result<IngestPlan<'static>, IngestError> {
        let body: &'static [u8] = Box::leak(body.as_bytes().to_vec().into_boxed_slice());
        let env = parse_envelope(
            body,
            &Config::from_raw(&RawConfig::default())
                .map_or_else(|_| Default::default(), |c| c.limits),
        )?;
        plan_envelope(&env, &config(ingest), 1_000, &mut ids())
    }

    #[test]
    fn plans_every_item_type() {
        let body = format!(
            "{{\"event_id\":\"{HEADER_ID}\"}}\n\
             {{\"type\":\"event\"}}\n{{\"message\":\"boom\"}}\n\
             {{\"type\":\"attachment\",\"filename\":\"../log.txt\",\"content_type\":\"text/plain\"}}\nhello\n\
             {{\"type\":\"transaction\"}}\n{{\"type\":\"transaction\",\"transaction\":\"/a\"}}\n\
             {{\"type\":\"span\"}}\n{{}}\n\
             {{\"type\":\"session\"}}\n{{\"init\":true,\"status\":\"crashed\",\"attrs\":{{\"release\":\"web@1\"}}}}\n\
             {{\"type\":\"client_report\"}}\n{{\"discarded_events\":[{{\"reason\":\"sample_rate\",\"category\":\"error\",\"quantity\":3}}]}}\n\
             {{\"type\":\"feedback\"}}\n{{\"contexts\":{{\"feedback\":{{\"message\":\"bad\"}}}}}}\n\
             {{\"type\":\"replay_recording\"}}\nxyz\n"
        );
        let p = plan(&body, "{}").unwrap();
        let kinds: Vec<(&str, &str)> = p
            .events
            .iter()
            .map(|e| (e.summary.event_id.as_str(), e.summary.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (HEADER_ID, "message"),
                ("00000000000000000000000000000001", "feedback")
            ]
        );
        assert_eq!(p.response_id(), Some(HEADER_ID));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(
            (
                p.attachments[0].event_id.as_str(),
                p.attachments[0].filename.as_str(),
                p.attachments[0].payload
            ),
            (HEADER_ID, ".._log.txt", &b"hello"[..])
        );
        let counts: Vec<(&str, u64)> = p
            .item_counts
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("attachment", 1),
                ("client_report", 1),
                ("event", 1),
                ("feedback", 1),
                ("session", 1),
                ("span", 1),
                ("transaction", 1),
                ("unsupported", 1)
            ]
        );
        assert_eq!(p.discards[0].quantity, 3);
        assert_eq!(
            (p.sessions[0].release.as_str(), p.sessions[0].crashed),
            ("web@1", 1)
        );
    }

    #[test]
    fn stores_transactions_only_when_configured() {
        let body =
            "{}\n{\"type\":\"transaction\"}\n{\"type\":\"transaction\",\"transaction\":\"/a\"}\n";
        assert!(plan(body, "{}").unwrap().events.is_empty());
        let p = plan(body, r#"{"store_transactions":true}"#).unwrap();
        assert_eq!(p.events[0].summary.kind, "transaction");
    }

    #[test]
    fn one_bad_item_refuses_the_request() {
        let body = "{}\n{\"type\":\"event\"}\n{\"message\":\"ok\"}\n{\"type\":\"client_report\"}\nnot json\n";
        assert_eq!(plan(body, "{}").unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn store_endpoint_plans_one_event() {
        let c = config("{}");
        let p = plan_store(br#"{"message":"m"}"#, &c, 1, &mut ids()).unwrap();
        assert_eq!(p.events.len(), 1);
        assert_eq!(
            plan_store(b"  ", &c, 1, &mut ids()).unwrap_err().code(),
            "empty_body"
        );
    }
}
