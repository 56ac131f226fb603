//! What one accepted request turns into: the events to store, attachments to keep, and the
//! counters to add (items by type, the SDK's own drops, release health, the items dropped here).
//!
//! Envelopes are accepted per item, as Sentry's Relay does: an item that does not read (bad JSON,
//! over its size limit, not an event) is dropped and counted with its reason, and the valid
//! items of the same envelope are kept. Only a broken envelope (header or framing, refused by
//! [`parse_envelope`](crate::envelope::parse_envelope)) or one where nothing valid remains is
//! refused as a whole.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client_report::{parse_client_report, Discard};
use crate::config::Config;
use crate::envelope::{check_item_size, Envelope, Item};
use crate::error::IngestError;
use crate::event::{normalize_event, normalize_event_id, normalize_user_report, NormalizedEvent};
use crate::item::ItemType;
use crate::session::{parse_session_item, SessionCounts};
use crate::time::clamp_event_time;

/// An attachment to keep, linked to an event id.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentPlan<'a> {
    /// The event it belongs to: the envelope's event, else an id generated for the envelope,
    /// so attachments without an event are still indexed and downloadable.
    pub event_id: String,
    /// `filename` header, sanitised.
    pub filename: String,
    /// `content_type` header, or `application/octet-stream`.
    pub content_type: String,
    /// The bytes.
    pub payload: &'a [u8],
}

/// An item that was dropped while the rest of its envelope was kept.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedItem {
    /// The item's type, as counted (`event`, `session`, `client_report`...).
    pub item: String,
    /// Why it was dropped.
    pub error: IngestError,
}

impl DroppedItem {
    /// The stats key it is counted under: `dropped:<reason>:<item type>`.
    pub fn stat_key(&self) -> String {
        crate::stats::key(
            crate::stats::Namespace::Dropped,
            &format!("{}:{}", self.error.code(), self.item),
        )
    }
}

/// Everything an accepted request stores and counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestPlan<'a> {
    /// Events to store (errors, messages, feedback, and transactions when configured).
    pub events: Vec<NormalizedEvent>,
    /// Attachments to keep.
    pub attachments: Vec<AttachmentPlan<'a>>,
    /// Kept items by type (`event`, `transaction`, `session`, `client_report`, `unsupported`...).
    pub item_counts: BTreeMap<String, u64>,
    /// What the SDK reported it dropped.
    pub discards: Vec<Discard>,
    /// Release-health counts.
    pub sessions: Vec<SessionCounts>,
    /// Items dropped here, with their reason.
    pub dropped: Vec<DroppedItem>,
}

impl IngestPlan<'_> {
    /// The id answered to the client: the first stored event's, else the id the attachments
    /// are filed under (`None` when neither was kept).
    pub fn response_id(&self) -> Option<&str> {
        self.events
            .first()
            .map(|e| e.summary.event_id.as_str())
            .or_else(|| self.attachments.first().map(|a| a.event_id.as_str()))
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
    let ev = normalize_event(body, &new_id(), now_ms, config.limits.max_json_depth)?;
    plan.events.push(indexed(ev, now_ms));
    plan.count(&ItemType::Event);
    Ok(plan)
}

/// Plans an envelope: reads every item by its type, keeping the valid ones and recording the
/// others in [`IngestPlan::dropped`]. Refuses the envelope (with the first item's error) only
/// when it had items and none of them could be kept.
pub fn plan_envelope<'a>(
    envelope: &Envelope<'a>,
    config: &Config,
    now_ms: u64,
    new_id: &mut dyn FnMut() -> String,
) -> Result<IngestPlan<'a>, IngestError> {
    let header_id = envelope.event_id().and_then(normalize_event_id);
    let mut plan = IngestPlan::default();
    let mut event_id_for_attachments = header_id.clone();
    for item in &envelope.items {
        match plan_item(
            &mut plan,
            item,
            header_id.as_deref(),
            config,
            now_ms,
            new_id,
        ) {
            Ok(Some(event_id)) => {
                event_id_for_attachments.get_or_insert(event_id);
                plan.count(&item.kind);
            }
            Ok(None) => plan.count(&item.kind),
            Err(error) => plan.dropped.push(DroppedItem {
                item: item.kind.stat_name().to_string(),
                error,
            }),
        }
    }
    if plan.item_counts.is_empty() {
        if let Some(first) = plan.dropped.first() {
            return Err(first.error.clone());
        }
    }
    if !plan.attachments.is_empty() {
        let link = event_id_for_attachments.unwrap_or_else(&mut *new_id);
        for a in &mut plan.attachments {
            a.event_id.clone_from(&link);
        }
    }
    Ok(plan)
}

/// Adds one item to the plan; returns the id of the error event it stored, if it is one.
fn plan_item<'a>(
    plan: &mut IngestPlan<'a>,
    item: &Item<'a>,
    header_id: Option<&str>,
    config: &Config,
    now_ms: u64,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Option<String>, IngestError> {
    let depth = config.limits.max_json_depth;
    check_item_size(item, &config.limits)?;
    match &item.kind {
        ItemType::Event | ItemType::Feedback => {
            let id = header_id
                .filter(|_| item.kind == ItemType::Event)
                .map_or_else(&mut *new_id, str::to_string);
            let ev = indexed(normalize_event(item.payload, &id, now_ms, depth)?, now_ms);
            let event_id = ev.summary.event_id.clone();
            plan.events.push(ev);
            return Ok(Some(event_id));
        }
        ItemType::Transaction if config.ingest.store_transactions => {
            let ev = normalize_event(item.payload, &new_id(), now_ms, depth)?;
            plan.events.push(indexed(ev, now_ms));
        }
        ItemType::UserReport => {
            let ev = normalize_user_report(item.payload, &new_id(), now_ms, depth)?;
            plan.events.push(indexed(ev, now_ms));
        }
        ItemType::Session => plan
            .sessions
            .push(parse_session_item(item.payload, false, depth)?),
        ItemType::Sessions => plan
            .sessions
            .push(parse_session_item(item.payload, true, depth)?),
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
                .filter(|c| c.len() <= 100 && c.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
                .unwrap_or("application/octet-stream")
                .to_string(),
            payload: item.payload,
        }),
        ItemType::Transaction | ItemType::Span | ItemType::Unsupported(_) => {}
    }
    Ok(None)
}

/// An event as indexed: its own time only when it lies in the window of [`clamp_event_time`]
/// (else `now_ms`), so no client-chosen number (`1e300`) reaches storage.
fn indexed(mut ev: NormalizedEvent, now_ms: u64) -> NormalizedEvent {
    ev.summary.timestamp = clamp_event_time(ev.summary.timestamp, now_ms);
    ev
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

/// The `Content-Disposition` of an attachment download (RFC 6266): an ASCII `filename` for old
/// clients and the exact name as `filename*=UTF-8''...` (RFC 8187). Header values must be
/// Latin-1 on the platform, so the raw name can never be put in the header as is.
pub fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::with_capacity(filename.len() * 3);
    for b in filename.bytes() {
        // RFC 8187 attr-char; everything else is percent-encoded.
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
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
            faults_json: None,
            retention_json: None,
            upload_tokens_json: None,
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
        plan_with(body, ingest, "{}")
    }

    fn plan_with(
        body: &str,
        ingest: &str,
        limits: &str,
    ) -> Result<IngestPlan<'static>, IngestError> {
        let body: &'static [u8] = Box::leak(body.as_bytes().to_vec().into_boxed_slice());
        let mut config = config(ingest);
        config.limits = serde_json::from_str(limits).unwrap();
        let env = parse_envelope(body, &config.limits)?;
        plan_envelope(&env, &config, 1_000, &mut ids())
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
    fn bad_items_are_dropped_and_the_rest_kept() {
        let ok_event = "{\"type\":\"event\"}\n{\"message\":\"ok\"}\n";
        // (name, items after the header, kept item counts, dropped stat keys)
        let cases: Vec<(&str, String, Vec<(&str, u64)>, Vec<&str>)> = vec![
            (
                "corrupt client report",
                format!("{ok_event}{{\"type\":\"client_report\"}}\nnot json\n"),
                vec![("event", 1)],
                vec!["dropped:invalid_json:client_report"],
            ),
            (
                "corrupt session before the event",
                format!("{{\"type\":\"session\"}}\n[1]\n{ok_event}"),
                vec![("event", 1)],
                vec!["dropped:invalid_event:session"],
            ),
            (
                "oversized attachment",
                format!("{ok_event}{{\"type\":\"attachment\",\"length\":5}}\n12345\n"),
                vec![("event", 1)],
                vec!["dropped:too_large:attachment"],
            ),
            (
                "bad event, good session",
                "{\"type\":\"event\"}\n{nope\n{\"type\":\"session\"}\n{\"init\":true}\n".into(),
                vec![("session", 1)],
                vec!["dropped:invalid_json:event"],
            ),
        ];
        for (name, items, kept, dropped) in cases {
            let body = format!("{{\"event_id\":\"{HEADER_ID}\"}}\n{items}");
            let p = plan_with(&body, "{}", r#"{"max_attachment_bytes":4}"#)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let got: Vec<(&str, u64)> = p
                .item_counts
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect();
            assert_eq!(got, kept, "{name}: kept");
            let got: Vec<String> = p.dropped.iter().map(DroppedItem::stat_key).collect();
            assert_eq!(got, dropped, "{name}: dropped");
            let has_event = kept.iter().any(|(k, _)| *k == "event");
            assert_eq!(
                p.response_id(),
                has_event.then_some(HEADER_ID),
                "{name}: id"
            );
        }
    }

    #[test]
    fn an_envelope_with_nothing_valid_is_refused() {
        let cases = [
            (
                "bad event",
                "{\"type\":\"event\"}\n{nope\n",
                "{}",
                "invalid_json",
            ),
            (
                "bad event and bad report: the first error",
                "{\"type\":\"event\"}\n[1]\n{\"type\":\"client_report\"}\nx\n",
                "{}",
                "invalid_event",
            ),
            (
                "oversized event",
                "{\"type\":\"event\",\"length\":7}\n{\"a\":1}\n",
                r#"{"max_event_bytes":4}"#,
                "too_large",
            ),
        ];
        for (name, items, limits, code) in cases {
            let err = plan_with(&format!("{{}}\n{items}"), "{}", limits).expect_err(name);
            assert_eq!(err.code(), code, "{name}");
        }
        let header_only = plan("{}\n", "{}").unwrap();
        assert_eq!(
            header_only.response_id(),
            None,
            "nothing to keep is not an error"
        );
    }

    #[test]
    fn attachments_without_an_event_get_a_generated_id() {
        let att = "{\"type\":\"attachment\",\"filename\":\"a.txt\"}\nA\n{\"type\":\"attachment\",\"filename\":\"b.txt\"}\nB\n";
        let p = plan(&format!("{{}}\n{att}"), "{}").unwrap();
        let owners: Vec<&str> = p.attachments.iter().map(|a| a.event_id.as_str()).collect();
        let generated = "00000000000000000000000000000001";
        assert_eq!(owners, vec![generated, generated], "one id per envelope");
        assert_eq!(
            p.response_id(),
            Some(generated),
            "the client learns where they are"
        );
        let p = plan(&format!("{{\"event_id\":\"{HEADER_ID}\"}}\n{att}"), "{}").unwrap();
        assert_eq!(
            p.attachments[1].event_id, HEADER_ID,
            "the header's event id wins"
        );
    }

    #[test]
    fn content_disposition_follows_rfc_6266() {
        let cases = [
            (
                "app.log",
                "attachment; filename=\"app.log\"; filename*=UTF-8''app.log",
            ),
            (
                "résumé 1.pdf",
                "attachment; filename=\"r_sum_ 1.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf",
            ),
            (
                "日本.txt",
                "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt",
            ),
            (
                "a\"b\\c%.txt",
                "attachment; filename=\"a_b_c_.txt\"; filename*=UTF-8''a%22b%5Cc%25.txt",
            ),
            (
                "😀",
                "attachment; filename=\"_\"; filename*=UTF-8''%F0%9F%98%80",
            ),
        ];
        for (name, want) in cases {
            let got = content_disposition(name);
            assert_eq!(got, want, "{name}");
            assert!(
                got.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                "{name}: header-safe"
            );
        }
    }

    #[test]
    fn event_times_outside_the_window_are_the_receive_time() {
        let c = config("{}");
        let now = 1_795_341_600_000;
        let cases = [
            ("1e13 s", r#"{"timestamp":1e13}"#, now),
            ("1e300 s", r#"{"timestamp":1e300}"#, now),
            ("an hour ahead", r#"{"timestamp":1795345200}"#, now),
            (
                "an hour ago",
                r#"{"timestamp":1795338000}"#,
                now - 3_600_000,
            ),
            ("in 1970", r#"{"timestamp":"1970-01-02T00:00:00Z"}"#, now),
        ];
        for (name, body, want) in cases {
            let p = plan_store(body.as_bytes(), &c, now, &mut ids()).unwrap();
            assert_eq!(p.events[0].summary.timestamp, want, "{name}: /store/");
            let env = format!("{{}}\n{{\"type\":\"event\"}}\n{body}\n");
            let env = parse_envelope(env.as_bytes(), &c.limits).unwrap();
            let p = plan_envelope(&env, &c, now, &mut ids()).unwrap();
            assert_eq!(p.events[0].summary.timestamp, want, "{name}: envelope");
        }
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
